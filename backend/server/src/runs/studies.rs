//! The annotation studies built on a run's arguments (an `eval args` run is side A or B of a
//! study), with how this run fared: its wins, ties and losses over the study's counted
//! judgements (the study report's own win / tie / lose, seen from this run's side).

use crate::db::models::{Run, Study};
use crate::db::schema::studies;
use crate::db::Db;
use crate::error::ApiResult;
use crate::studies::report::{load_judgements, study_win_tie_lose};
use diesel::prelude::*;
use std::path::Path;
use valuelab_common::api::runs::RunStudy;

/// Studies whose run A or B is `run`'s folder. A study names its runs as they were given, so
/// each path is resolved before it is compared (a few file-system lookups, one per study).
pub fn studies_of(conn: &mut Db, run: &Run) -> ApiResult<Vec<RunStudy>> {
    let all: Vec<Study> = studies::table
        .order(studies::id.asc())
        .select(Study::as_select())
        .load(conn)?;
    let this = Path::new(&run.path);
    let is_this =
        |given: &str| given == run.path || Path::new(given).canonicalize().is_ok_and(|p| p == this);
    let mut found = Vec::new();
    for study in all {
        let side_a = if is_this(&study.run_a) {
            true
        } else if is_this(&study.run_b) {
            false
        } else {
            continue;
        };
        let rows = load_judgements(conn, study.id)?;
        let wtl = study_win_tie_lose(&study, &rows);
        let (wins, losses) = match &wtl {
            Some(w) if side_a => (Some(w.a_wins.share), Some(w.b_wins.share)),
            Some(w) => (Some(w.b_wins.share), Some(w.a_wins.share)),
            None => (None, None),
        };
        found.push(RunStudy {
            id: study.id,
            name: study.name.clone(),
            side: if side_a { "A" } else { "B" }.to_string(),
            other_method: if side_a {
                study.method_b
            } else {
                study.method_a
            },
            judgements: wtl.as_ref().map_or(0, |w| w.n),
            wins,
            ties: wtl.map(|w| w.ties.share),
            losses,
        });
    }
    Ok(found)
}
