//! A study's pairs from two `eval args` runs: method A's and method B's argument for the same
//! target group and conclusion. Runs that do not match are refused with the reason; pairs with a
//! side that cannot be judged (`argument_quality`) are left out and listed. Attention checks
//! are built here too: a real pair whose one side's premise contradicts its own stance.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use valuelab_common::api::studies::DroppedPair;
use valuelab_common::pairwise::Canonical;
use valuelab_common::VALUE_COUNT;
use valuelab_engine::data::groups::read_groups;
use valuelab_engine::eval::argument_quality;
use valuelab_engine::eval::result::{ArgumentGeneration, RunInfo};
use valuelab_engine::eval::runner::{read_items, ITEMS_FILE, RUN_FILE};
use valuelab_engine::eval::TaskKind;

/// Differences listed in a refusal before "and N more".
const SHOWN_DIFFERENCES: usize = 5;

/// One `eval args` run folder, read.
pub struct ArgsRun {
    pub dir: PathBuf,
    pub info: RunInfo,
    /// (group, argument id) → the generated argument.
    pub arguments: BTreeMap<(String, String), ArgumentGeneration>,
}

/// A pair to store: what the annotator sees, and which side is A.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub group: String,
    pub item: String,
    pub conclusion: String,
    pub profile: [f64; VALUE_COUNT],
    pub a: (String, String),
    pub b: (String, String),
    /// `Some(side)` for an attention check: the side a careful reader picks.
    pub attention_answer: Option<Canonical>,
}

#[derive(Debug)]
pub struct BuiltStudy {
    pub method_a: String,
    pub method_b: String,
    pub pairs: Vec<Pair>,
    pub attention_checks: Vec<Pair>,
    pub dropped: Vec<DroppedPair>,
}

/// Reads `field`'s run folder (`run.json` + `items.jsonl`); the error names the field and file.
pub fn read_run(field: &str, dir: &str) -> Result<ArgsRun, String> {
    let dir = PathBuf::from(dir.trim());
    if !dir.join(RUN_FILE).is_file() {
        return Err(format!(
            "{field}: {} has no {RUN_FILE} (expected the --out folder of `valuelab eval args`)",
            dir.display()
        ));
    }
    let text = std::fs::read_to_string(dir.join(RUN_FILE))
        .map_err(|e| format!("{field}: cannot read {}: {e}", dir.join(RUN_FILE).display()))?;
    let info: RunInfo = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{field}: {} is not a valuelab run.json ({e})",
            dir.join(RUN_FILE).display()
        )
    })?;
    if info.task != TaskKind::Args {
        return Err(format!(
            "{field}: {} is a {} run; a study compares the arguments of two `eval args` runs",
            dir.display(),
            info.task
        ));
    }
    let records = read_items(&dir.join(ITEMS_FILE)).map_err(|e| format!("{field}: {e}"))?;
    let arguments = records
        .into_iter()
        .filter_map(|(key, record)| record.generation.map(|g| (key, g)))
        .collect();
    Ok(ArgsRun {
        dir,
        info,
        arguments,
    })
}

/// Pairs the two runs. Refused (with every reason found) when they are the same folder, cover
/// different groups, or hold different conclusions for the same argument id.
pub fn pair_runs(
    a: &ArgsRun,
    b: &ArgsRun,
    profiles: &HashMap<String, [f64; VALUE_COUNT]>,
) -> Result<(Vec<Pair>, Vec<DroppedPair>), String> {
    if same_folder(&a.dir, &b.dir) {
        return Err(format!(
            "run_a and run_b are the same folder ({}); a study compares two different runs",
            a.dir.display()
        ));
    }
    let keys_a: BTreeSet<&(String, String)> = a.arguments.keys().collect();
    let keys_b: BTreeSet<&(String, String)> = b.arguments.keys().collect();
    let groups_a: BTreeSet<&str> = keys_a.iter().map(|(g, _)| g.as_str()).collect();
    let groups_b: BTreeSet<&str> = keys_b.iter().map(|(g, _)| g.as_str()).collect();
    let mut problems = Vec::new();
    if groups_a != groups_b {
        problems.push(format!(
            "the runs cover different target groups (only in run_a: {}; only in run_b: {})",
            listed(groups_a.difference(&groups_b)),
            listed(groups_b.difference(&groups_a))
        ));
    } else if keys_a != keys_b {
        let only = |x: &BTreeSet<&(String, String)>, y: &BTreeSet<&(String, String)>| {
            listed(x.difference(y).map(|(g, i)| format!("{g}/{i}")))
        };
        problems.push(format!(
            "the runs hold different arguments (only in run_a: {}; only in run_b: {}); run both with the same --limit-items",
            only(&keys_a, &keys_b),
            only(&keys_b, &keys_a)
        ));
    }
    let differing: Vec<String> = a
        .arguments
        .iter()
        .filter_map(|(key, ga)| {
            let gb = b.arguments.get(key)?;
            (ga.conclusion.trim() != gb.conclusion.trim()).then(|| format!("{}/{}", key.0, key.1))
        })
        .collect();
    if !differing.is_empty() {
        problems.push(format!(
            "the same argument ids hold different conclusions ({})",
            listed(differing.iter())
        ));
    }
    if !problems.is_empty() {
        return Err(format!(
            "run_a and run_b do not match: {}",
            problems.join("; ")
        ));
    }

    let mut pairs = Vec::new();
    let mut dropped = Vec::new();
    for (key, ga) in &a.arguments {
        let gb = &b.arguments[key];
        let flaw = |side: &str, g: &ArgumentGeneration| {
            argument_quality::check(g).map(|f| format!("{side}: {}", f.describe()))
        };
        let reasons: Vec<String> = [flaw("A", ga), flaw("B", gb)]
            .into_iter()
            .flatten()
            .collect();
        if !reasons.is_empty() {
            dropped.push(DroppedPair {
                group: key.0.clone(),
                item: key.1.clone(),
                reason: reasons.join("; "),
            });
            continue;
        }
        let profile = *profiles.get(&key.0).ok_or_else(|| {
            format!(
                "group {} is not in the groups file {} of run_a",
                key.0, a.info.groups_file
            )
        })?;
        let side = |g: &ArgumentGeneration| {
            (
                g.stance.clone().unwrap_or_default(),
                g.premise_text().unwrap_or_default(),
            )
        };
        pairs.push(Pair {
            group: key.0.clone(),
            item: key.1.clone(),
            conclusion: ga.conclusion.trim().to_string(),
            profile,
            a: side(ga),
            b: side(gb),
            attention_answer: None,
        });
    }
    Ok((pairs, dropped))
}

/// The target groups' profiles, from the groups file named in run_a's `run.json`.
pub fn read_profiles(run: &ArgsRun) -> Result<HashMap<String, [f64; VALUE_COUNT]>, String> {
    let path = Path::new(&run.info.groups_file);
    let groups = read_groups(path).map_err(|e| {
        format!(
            "run_a: cannot read its groups file {} for the target profiles: {e}",
            path.display()
        )
    })?;
    Ok(groups
        .into_iter()
        .map(|g| (g.name, *g.values.scores()))
        .collect())
}

/// `count` attention checks from randomly chosen real pairs: one side keeps its argument, the
/// other keeps its stance but gets a premise that argues the opposite stance, so a careful reader
/// picks the coherent side.
pub fn attention_checks(pairs: &[Pair], count: usize, seed: u64) -> Vec<Pair> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sources: Vec<&Pair> = pairs.iter().collect();
    sources.shuffle(&mut rng);
    sources
        .into_iter()
        .take(count)
        .map(|pair| {
            let broken_is_a = rng.random_bool(0.5);
            let mut check = pair.clone();
            let broken = if broken_is_a {
                &mut check.a
            } else {
                &mut check.b
            };
            broken.1 = contradiction(&broken.0, &pair.conclusion);
            check.attention_answer = Some(if broken_is_a {
                Canonical::B
            } else {
                Canonical::A
            });
            check
        })
        .collect()
}

/// A premise that argues against its own stance.
fn contradiction(stance: &str, conclusion: &str) -> String {
    let conclusion = conclusion.trim().trim_end_matches('.');
    if stance == "against" {
        format!("I fully support this: {conclusion}. It is the right thing to do and I am for it.")
    } else {
        format!("I am firmly against this: {conclusion}. It is wrong and I oppose it completely.")
    }
}

/// Attention checks for a study: one per `every` pairs (at least one when `every` > 0).
pub fn attention_count(pairs: usize, every: u32) -> usize {
    match every {
        0 => 0,
        every => pairs.div_ceil(every as usize).max(1).min(pairs),
    }
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn listed<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let items: Vec<String> = items.map(|i| i.to_string()).collect();
    if items.is_empty() {
        return "none".to_string();
    }
    let shown = items[..items.len().min(SHOWN_DIFFERENCES)].join(", ");
    match items.len().saturating_sub(SHOWN_DIFFERENCES) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}
