//! The ESS part of `valuelab protocol`: for every whole-country microdata file, k-means value
//! groups of its own respondents, their gold answers (weighted by the survey weight), and the
//! questions the file asked, written under `OUT/ess/<file stem>/` as ordinary groups, gold and
//! question tables — the same files `groups build` and `groups gold` write, so each method's ESS
//! runs there are plain `eval ess` runs. Then the model-free yardsticks of every country.

use super::progress::{JobEvent, ProgressSink};
use crate::data::ess::{
    read_ess_csv, read_pvq21_key, read_questions, read_weights, write_questions,
};
use crate::data::groups::{write_groups, TargetGroup};
use crate::data::DataDir;
use crate::groups::{build_gold, build_groups, score_respondents, write_gold, KMeansSettings};
use crate::protocol::opinions::{ridge_yardsticks, CountryBaseline, CountryGold};
use crate::{Error, Result, ResultExt};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One prepared country: the files its runs read, and its gold for scoring them.
#[derive(Debug, Clone)]
pub(super) struct Country {
    pub gold: CountryGold,
    pub baseline: CountryBaseline,
    pub group_names: Vec<String>,
    /// The run folder name: the microdata file's stem (`ess9_no`).
    pub label: String,
    pub groups_file: PathBuf,
    pub gold_file: PathBuf,
    pub questions_file: PathBuf,
}

pub(super) struct CountrySettings<'a> {
    pub files: &'a [PathBuf],
    /// k-means groups per country.
    pub groups: usize,
    pub seed: u64,
    pub weight: Option<&'a str>,
    pub data: &'a DataDir,
    pub out: &'a Path,
}

pub(super) fn prepare_countries(
    settings: &CountrySettings,
    sink: &dyn ProgressSink,
) -> Result<Vec<Country>> {
    if settings.groups < 2 {
        return Err(Error::invalid(format!(
            "{} value groups per country leave no between-group r to measure (give at least 2; the issue's scale is 8)",
            settings.groups
        )));
    }
    let key = read_pvq21_key(&settings.data.ess_pvq21_key_tsv())?;
    let questions = read_questions(&settings.data.ess_questions_tsv())?;
    let mut countries = Vec::new();
    for file in settings.files {
        let country = prepare_one(settings, file, &key, &questions)
            .context(|| format!("ESS opinions of {}", file.display()))?;
        sink.event(&JobEvent::message(format!(
            "ESS {}: {} respondents in {} groups, {} questions with gold{}",
            country.gold.country,
            country.baseline.respondents,
            country.baseline.groups,
            country.baseline.items,
            country
                .baseline
                .weighted_by
                .as_ref()
                .map_or(String::new(), |w| format!(", weighted by {w}"))
        )));
        countries.push(country);
    }
    let golds: Vec<CountryGold> = countries.iter().map(|c| c.gold.clone()).collect();
    for (country, (other, within)) in countries.iter_mut().zip(ridge_yardsticks(&golds)) {
        country.baseline.ridge_other_countries = other;
        country.baseline.ridge_within = within;
    }
    Ok(countries)
}

fn prepare_one(
    settings: &CountrySettings,
    file: &Path,
    key: &[(String, valuelab_common::Value)],
    questions: &[crate::data::ess::EssQuestion],
) -> Result<Country> {
    let table = read_ess_csv(file)?;
    let scored = score_respondents(&table, key)?;
    let built = build_groups(
        &scored,
        settings.groups,
        settings.seed,
        &KMeansSettings::default(),
    )?;
    // The value groups only: the country's own group is its population mean, the blind guess.
    let groups: Vec<TargetGroup> = built.groups[..settings.groups].to_vec();
    let weights = settings
        .weight
        .map(|column| read_weights(file, column))
        .transpose()?;
    let gold = build_gold(&table, &scored, &groups, questions, weights.as_deref())?;

    // The questions with gold for every group, in question-table order.
    let mut by_cell: HashMap<(&str, &str), f64> = HashMap::new();
    for row in &gold.rows {
        by_cell.insert((row.group.as_str(), row.code.as_str()), row.mean);
    }
    let population: HashMap<&str, f64> = gold
        .population
        .iter()
        .map(|(c, m)| (c.as_str(), *m))
        .collect();
    let asked: Vec<_> = questions
        .iter()
        .filter(|q| {
            population.contains_key(q.code.as_str())
                && groups
                    .iter()
                    .all(|g| by_cell.contains_key(&(g.name.as_str(), q.code.as_str())))
        })
        .cloned()
        .collect();
    if asked.is_empty() {
        return Err(Error::file(
            file,
            None,
            "no question has answers in every value group (expected opinion columns such as ppltrst)",
        ));
    }
    let label = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ess".into());
    let dir = settings.out.join("ess").join(&label);
    std::fs::create_dir_all(&dir).context(|| format!("cannot create {}", dir.display()))?;
    let (groups_file, gold_file, questions_file) = (
        dir.join("groups.csv"),
        dir.join("gold.tsv"),
        dir.join("questions.tsv"),
    );
    write_groups(&groups_file, &groups)?;
    write_questions(&questions_file, &asked)?;
    let kept: Vec<_> = gold
        .rows
        .iter()
        .filter(|r| asked.iter().any(|q| q.code == r.code))
        .cloned()
        .collect();
    write_gold(&gold_file, &kept)?;

    let code = table
        .countries
        .as_ref()
        .and_then(|c| c.iter().find(|c| !c.is_empty()).cloned())
        .unwrap_or_else(|| label.clone());
    let codes: Vec<String> = asked.iter().map(|q| q.code.clone()).collect();
    let country_gold = CountryGold {
        country: code.clone(),
        values: groups.iter().map(|g| *g.values.scores()).collect(),
        targets: groups
            .iter()
            .map(|g| {
                codes
                    .iter()
                    .map(|c| by_cell.get(&(g.name.as_str(), c.as_str())).copied())
                    .collect()
            })
            .collect(),
        population: codes
            .iter()
            .map(|c| population.get(c.as_str()).copied())
            .collect(),
        codes,
    };
    let blind = crate::protocol::opinions::yardstick(&country_gold, &country_gold.value_blind());
    Ok(Country {
        baseline: CountryBaseline {
            country: code,
            file: file.display().to_string(),
            respondents: scored.points.len(),
            groups: groups.len(),
            items: asked.len(),
            weighted_by: settings.weight.map(str::to_string),
            value_blind_nmse: blind.nmse,
            ridge_other_countries: Default::default(),
            ridge_within: Default::default(),
        },
        group_names: groups.iter().map(|g| g.name.clone()).collect(),
        gold: country_gold,
        label,
        groups_file,
        gold_file,
        questions_file,
    })
}
