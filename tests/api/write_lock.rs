//! The write lock between servers (issue 8): a write transaction waits until another server's
//! has ended, on either backend (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: the advisory lock). The
//! writers of one process also queue on a mutex (`state::write_transaction`); this test calls
//! the lock below it, through two pools that stand for two servers.

use crate::database::TestDatabase;
use diesel::QueryResult;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use valuelab_server::db;

/// How long the first server holds its write transaction open.
const HOLD: Duration = Duration::from_millis(300);

#[test]
fn a_write_transaction_waits_for_another_servers_writer() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let database = TestDatabase::new(dir.path());
    let one = db::open(&database.url).expect("first server's pool");
    let other = db::open(&database.url).expect("second server's pool");
    let (holding, held) = mpsc::channel();
    let writer = std::thread::spawn(move || {
        let mut conn = one.get().expect("connection");
        db::write_locked_transaction(&mut conn, |_| -> QueryResult<()> {
            holding.send(Instant::now()).expect("test waits");
            std::thread::sleep(HOLD);
            Ok(())
        })
    });
    let since = held.recv().expect("the first writer holds the lock");
    let mut conn = other.get().expect("connection");
    db::write_locked_transaction(&mut conn, |_| -> QueryResult<()> { Ok(()) })
        .expect("the second writer gets the lock once the first is done");
    assert!(
        since.elapsed() >= HOLD,
        "the second writer ran after {:?}, inside the first's transaction",
        since.elapsed()
    );
    writer
        .join()
        .expect("first writer")
        .expect("its transaction");
}
