//! Figures per method pair over all studies: the paper's Figure 3 compares several pairs (VIM,
//! VIM-AG and VIM-QA each against the long prompt), and a pair is often judged in more than one
//! study (a pilot, then the main one). Each study's counted judgements (its own attention
//! threshold applied) are pooled; items of different studies stay different items.

use super::report::{
    canonical_choices, counted, counts_table, excluded_annotators, load_judgements,
};
use crate::db::models::Study;
use crate::db::schema::studies;
use crate::db::Db;
use crate::error::ApiResult;
use diesel::prelude::*;
use valuelab_common::agreement::{agreement, BOOTSTRAP_RESAMPLES};
use valuelab_common::api::studies::MethodPairReport;
use valuelab_common::pairwise::{win_tie_lose, Canonical, WinTieLose};
use valuelab_engine::output::stable_hash;

#[derive(Default)]
struct Pooled {
    studies: Vec<i32>,
    counts: Vec<Vec<f64>>,
    choices: Vec<Canonical>,
}

/// Each method pair's counted judgements over all its studies, in the order of the pair's first
/// study (which also sets which method is A).
fn pooled_pairs(conn: &mut Db) -> ApiResult<Vec<((String, String), Pooled)>> {
    let all: Vec<Study> = studies::table
        .order(studies::id)
        .select(Study::as_select())
        .load(conn)?;
    let mut pooled: Vec<((String, String), Pooled)> = Vec::new();
    for study in &all {
        let forward = (study.method_a.clone(), study.method_b.clone());
        let reversed = (study.method_b.clone(), study.method_a.clone());
        let position = |key: &(String, String)| pooled.iter().position(|(k, _)| k == key);
        let (index, swap) = match (position(&forward), position(&reversed)) {
            (Some(i), _) => (i, false),
            (None, Some(i)) => (i, true),
            (None, None) => {
                pooled.push((forward, Pooled::default()));
                (pooled.len() - 1, false)
            }
        };
        let rows = load_judgements(conn, study.id)?;
        let excluded = excluded_annotators(study, &rows);
        let entry = &mut pooled[index].1;
        entry.studies.push(study.id);
        let counts = counts_table(counted(&rows, &excluded));
        let choices = canonical_choices(counted(&rows, &excluded));
        if swap {
            // Counts are (A, B, tie): the pair's A is this study's B.
            entry
                .counts
                .extend(counts.into_iter().map(|c| vec![c[1], c[0], c[2]]));
            entry.choices.extend(choices.into_iter().map(swapped));
        } else {
            entry.counts.extend(counts);
            entry.choices.extend(choices);
        }
    }
    Ok(pooled)
}

/// Every method pair that has a study, with agreement (bootstrap intervals) and win/tie/lose.
pub fn method_pairs(conn: &mut Db) -> ApiResult<Vec<MethodPairReport>> {
    Ok(pooled_pairs(conn)?
        .into_iter()
        .map(|((method_a, method_b), pair)| {
            let seed = stable_hash(&format!("{method_a} vs {method_b}"));
            MethodPairReport {
                items: pair.counts.len(),
                judgements: pair.choices.len(),
                agreement: agreement(&pair.counts, BOOTSTRAP_RESAMPLES, seed),
                win_tie_lose: win_tie_lose(&pair.choices),
                studies: pair.studies,
                method_a,
                method_b,
            }
        })
        .collect())
}

/// Win/tie/lose of each judged pair, for the chart (no bootstrap: the chart needs no more).
pub fn method_pairs_win_tie_lose(conn: &mut Db) -> ApiResult<Vec<(String, String, WinTieLose)>> {
    Ok(pooled_pairs(conn)?
        .into_iter()
        .filter_map(|((a, b), pair)| Some((a, b, win_tie_lose(&pair.choices)?)))
        .collect())
}

fn swapped(choice: Canonical) -> Canonical {
    match choice {
        Canonical::A => Canonical::B,
        Canonical::B => Canonical::A,
        Canonical::Tie => Canonical::Tie,
    }
}
