//! `valuelab user add`: the first admin, with the password from standard input.

use crate::common::text;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn user_add(args: &[&str], database: &str, password: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_valuelab"))
        .args(["user", "add"])
        .args(args)
        .args(["--database-url", database])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the valuelab binary runs");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_first_admin_is_created_with_a_password_from_stdin_and_names_are_unique() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("nested/app.db").display());

    let created = user_add(
        &["--role", "admin", "--username", "root"],
        &db,
        "a long enough password",
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    assert!(
        text(&created.stdout).contains("created admin 'root'"),
        "{}",
        text(&created.stdout)
    );
    assert!(
        dir.path().join("nested/app.db").is_file(),
        "the database is created on first use"
    );

    let again = user_add(
        &["--role", "member", "--username", "root"],
        &db,
        "a long enough password",
    );
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("username 'root' is taken"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn bad_roles_names_and_passwords_are_refused_with_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("app.db").display());
    let cases = [
        (
            ["--role", "root", "--username", "x"],
            "a long enough password",
            "expected one of: admin, member, annotator",
        ),
        (
            ["--role", "admin", "--username", "a b"],
            "a long enough password",
            "not allowed",
        ),
        (
            ["--role", "admin", "--username", "x"],
            "short",
            "at least 8",
        ),
    ];
    for (args, password, expected) in cases {
        let out = user_add(&args, &db, password);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // a PostgreSQL server that is not there: its URL named, the password not
    let pg = user_add(
        &["--role", "admin", "--username", "x"],
        "postgres://u:secret@127.0.0.1:1/db",
        "a long enough password",
    );
    assert!(!pg.status.success());
    assert!(
        text(&pg.stderr).contains("cannot open the database postgres://u:***@127.0.0.1:1/db"),
        "{}",
        text(&pg.stderr)
    );
    assert!(!text(&pg.stderr).contains("secret"));
}
