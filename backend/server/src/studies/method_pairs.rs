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
use std::collections::BTreeMap;
use valuelab_common::agreement::{agreement, BOOTSTRAP_RESAMPLES};
use valuelab_common::api::studies::MethodPairReport;
use valuelab_common::pairwise::{win_tie_lose, Canonical};
use valuelab_engine::output::stable_hash;

#[derive(Default)]
struct Pooled {
    studies: Vec<i32>,
    counts: Vec<Vec<f64>>,
    choices: Vec<Canonical>,
}

/// Every method pair that has a study, in the order of their first study.
pub fn method_pairs(conn: &mut Db) -> ApiResult<Vec<MethodPairReport>> {
    let all: Vec<Study> = studies::table
        .order(studies::id)
        .select(Study::as_select())
        .load(conn)?;
    let mut order: Vec<(String, String)> = Vec::new();
    let mut pooled: BTreeMap<(String, String), Pooled> = BTreeMap::new();
    for study in &all {
        let forward = (study.method_a.clone(), study.method_b.clone());
        let reversed = (study.method_b.clone(), study.method_a.clone());
        // The first study of a pair sets which method is A.
        let swap = !pooled.contains_key(&forward) && pooled.contains_key(&reversed);
        let key = if swap { reversed } else { forward };
        if !pooled.contains_key(&key) {
            order.push(key.clone());
        }
        let rows = load_judgements(conn, study.id)?;
        let excluded = excluded_annotators(study, &rows);
        let entry = pooled.entry(key).or_default();
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
    Ok(order
        .into_iter()
        .filter_map(|key| {
            let pair = pooled.remove(&key)?;
            let seed = stable_hash(&format!("{} vs {}", key.0, key.1));
            Some(MethodPairReport {
                items: pair.counts.len(),
                judgements: pair.choices.len(),
                agreement: agreement(&pair.counts, BOOTSTRAP_RESAMPLES, seed),
                win_tie_lose: win_tie_lose(&pair.choices),
                studies: pair.studies,
                method_a: key.0,
                method_b: key.1,
            })
        })
        .collect())
}

fn swapped(choice: Canonical) -> Canonical {
    match choice {
        Canonical::A => Canonical::B,
        Canonical::B => Canonical::A,
        Canonical::Tie => Canonical::Tie,
    }
}
