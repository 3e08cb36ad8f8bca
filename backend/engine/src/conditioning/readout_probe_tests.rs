//! Probe arguments: the value probe of a relevance readout fit on further arguments' texts,
//! none of them the readout's own (so never a validation argument), saved and read again.

use super::relevance_tests::{relevance_training, LAYER};
use super::tests::{example_set, profiles};
use super::*;
use crate::conditioning::probe_texts::PROBE_TAG;
use crate::conditioning::relevance::RelevanceText;
use crate::conditioning::testing::Quiet;
use crate::conditioning::train_offset::TrainingProfiles;
use crate::conditioning::train_readout::*;
use crate::conditioning::ProfileConditioner;
use crate::models::testing::{max_abs_diff, tiny_model};
use std::collections::HashSet;
use valuelab_common::VALUE_COUNT;

type Reports = Vec<(StatesPhase, usize, usize)>;

/// Trains on 30 arguments' set with `opts`, saving states in `dir`: the conditioner, its
/// report and the states' progress reports.
fn train(
    model: &mut LoadedModel,
    set: &mut ExampleSet,
    opts: &ReadoutTraining,
    dir: &Path,
) -> Result<(ProfileConditioner, ReadoutReport, Reports)> {
    let profiles = profiles();
    let mut reports = Vec::new();
    let (conditioner, report) = train_profile_readout(
        model,
        "tiny",
        set,
        TrainingProfiles {
            train: &profiles,
            validation: &[],
            mean: [3.5; VALUE_COUNT],
        },
        opts,
        Some(dir),
        &mut Quiet,
        &mut |phase, done, total| reports.push((phase, done, total)),
    )?;
    Ok((conditioner, report, reports))
}

fn tagged_arguments(path: &Path) -> HashSet<u64> {
    let tag: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    tag["arguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_u64().unwrap())
        .collect()
}

#[test]
fn probe_arguments_fit_the_probe_on_further_texts_and_never_on_the_readouts_own() {
    let mut model = tiny_model(true, 3).unwrap();
    let mut set = example_set(&model, 30);
    let plain = ReadoutTraining {
        arguments: 10,
        relevance_text: RelevanceText::Subject,
        ..relevance_training(0.01)
    };
    let with = ReadoutTraining {
        probe_arguments: 15,
        ..plain.clone()
    };
    let dir = tempfile::tempdir().unwrap();
    let (conditioner, report, reports) = train(&mut model, &mut set, &with, dir.path()).unwrap();
    assert_eq!(report.probe_arguments, 15);
    assert_eq!(
        reports.last(),
        Some(&(StatesPhase::ProbeTexts, 15, 15)),
        "one premise per further argument: {reports:?}"
    );
    let own = tagged_arguments(&dir.path().join(STATES_TAG));
    let further = tagged_arguments(&dir.path().join(PROBE_TAG));
    assert_eq!((own.len(), further.len()), (10, 15));
    assert!(own.is_disjoint(&further), "{own:?} {further:?}");

    // The further texts change the probe: a readout without them reads other relevance.
    let texts: Vec<String> = (0..4)
        .map(|i| format!("it matters for reason {i}"))
        .collect();
    let relevance =
        |m: &LoadedModel, c: &ProfileConditioner| c.relevance_of(m, &texts).unwrap().unwrap();
    let without_dir = tempfile::tempdir().unwrap();
    let (without, without_report, _) =
        train(&mut model, &mut set, &plain, without_dir.path()).unwrap();
    assert_eq!(without_report.probe_arguments, 0);
    assert!(!without_dir.path().join(PROBE_TAG).exists());
    assert!(
        max_abs_diff(
            &relevance(&model, &conditioner),
            &relevance(&model, &without)
        ) > 1e-4
    );

    // Trained again from the same folder: the further texts are read, and give the same probe.
    let (again, _, reports) = train(&mut model, &mut set, &with, dir.path()).unwrap();
    let probe_reports: Vec<_> = reports
        .iter()
        .filter(|r| r.0 == StatesPhase::ProbeTexts)
        .collect();
    assert_eq!(probe_reports, [&(StatesPhase::ProbeTexts, 15, 15)]);
    assert_eq!(
        max_abs_diff(&relevance(&model, &conditioner), &relevance(&model, &again)),
        0.0
    );

    // Reading prompts: each further argument's QA and AG prompts, saved beside the premises.
    let prompts = ReadoutTraining {
        relevance_text: RelevanceText::Prompt,
        ..with.clone()
    };
    let (_, _, reports) = train(&mut model, &mut set, &prompts, dir.path()).unwrap();
    assert_eq!(reports.last(), Some(&(StatesPhase::ProbeTexts, 30, 30)));
    let tag: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(PROBE_TAG)).unwrap())
            .unwrap();
    assert_eq!(
        tag["read"],
        serde_json::json!([["subject", LAYER], ["prompt", LAYER]])
    );
}

#[test]
fn probe_arguments_beyond_the_split_or_without_a_relevance_layer_are_refused() {
    let mut model = tiny_model(true, 3).unwrap();
    let mut set = example_set(&model, 30);
    let dir = tempfile::tempdir().unwrap();
    let too_many = ReadoutTraining {
        arguments: 10,
        probe_arguments: 21,
        ..relevance_training(0.01)
    };
    let err = train(&mut model, &mut set, &too_many, dir.path())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("give at most 20"), "{err}");
    let gate = ReadoutTraining {
        relevance_layer: None,
        probe_arguments: 5,
        ..too_many
    };
    let err = train(&mut model, &mut set, &gate, dir.path())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("give a relevance layer"), "{err}");
}
