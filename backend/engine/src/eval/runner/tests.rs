//! The runner on fixtures and a test double that answers from the persona: hand-computed
//! results, resuming, sample mode, ESS gold, argument generation and predictions.

use super::*;
use crate::data::pvq::PvqItem;
use crate::eval::result::RunInfo;
use crate::eval::testing::PersonaFollower;
use crate::eval::{ess, pvq};
use std::fs::OpenOptions;
use std::io::Write;
use valuelab_common::{Value, ValueDistribution};

const ALBANIA: [f64; 10] = [4.65, 5.23, 4.56, 4.52, 3.89, 5.15, 4.69, 3.76, 4.91, 5.0];
const STEPS: [f64; 10] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 2.0, 3.0, 4.0];

fn groups() -> Vec<TargetGroup> {
    vec![
        TargetGroup {
            name: "Albania".into(),
            values: ValueDistribution::parse(ALBANIA).unwrap(),
            size: None,
        },
        TargetGroup {
            name: "Steps".into(),
            values: ValueDistribution::parse(STEPS).unwrap(),
            size: Some(12),
        },
    ]
}

/// Three items: two score Power, one Benevolence; each names its value so the test double
/// can answer from the persona.
fn tiny_pvq() -> Task {
    let item = |number, value: Value| PvqItem {
        number,
        value,
        text: format!("{} matters to him.", value.name()),
    };
    pvq::task(&[
        item(1, Value::Power),
        item(2, Value::Benevolence),
        item(3, Value::Power),
    ])
    .unwrap()
}

fn spec(method: Method) -> RunSpec {
    RunSpec {
        method,
        answer_mode: AnswerMode::Expect,
        samples: 3,
        seed: 1,
        batch_size: 2,
        shots: 0,
        adapter: None,
        groups_file: "fixture.tsv".into(),
        gold: None,
        limit_items: None,
    }
}

fn run_to_end(dir: &Path, task: &Task, spec: &RunSpec, fake: &mut PersonaFollower) -> RunResult {
    match run(
        dir,
        task,
        &groups(),
        spec,
        fake,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap()
    {
        Outcome::Finished(r) => r,
        other => panic!("run did not finish: {other:?}"),
    }
}

fn assert_close(actual: &[Option<f64>], expected: &[Option<f64>]) {
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(expected) {
        match (a, e) {
            (Some(a), Some(e)) => assert!((a - e).abs() < 1e-9, "{actual:?} != {expected:?}"),
            (None, None) => {}
            _ => panic!("{actual:?} != {expected:?}"),
        }
    }
}

/// Per value in `ALL_VALUES` order, only Benevolence (1) and Power (4) set.
fn ben_pow(ben: f64, pow: f64) -> Vec<Option<f64>> {
    let mut v = vec![None; 10];
    v[1] = Some(ben);
    v[4] = Some(pow);
    v
}

#[test]
fn runner_turns_answers_into_the_hand_computed_run_result() {
    let dir = tempfile::tempdir().unwrap();
    let mut fake = PersonaFollower::default();
    let result = run_to_end(
        dir.path(),
        &tiny_pvq(),
        &spec(Method::PromptShort),
        &mut fake,
    );
    assert_eq!(result.task, "pvq");
    assert_eq!(result.method, "prompt-short");
    assert_eq!(result.model, "persona-follower");
    assert_eq!(result.answer_mode, "expect");
    assert_eq!(result.keys[6], "Self-direction");
    let [albania, steps] = &result.groups[..] else {
        panic!("two groups")
    };
    // The double answers each item with the persona's score: Albania's Power 3.89 → (3.89 − 1)/5.
    assert_close(
        &albania.predicted,
        &ben_pow((5.23 - 1.0) / 5.0, (3.89 - 1.0) / 5.0),
    );
    assert_close(&steps.predicted, &ben_pow(0.2, 0.8));
    let target: Vec<Option<f64>> = STEPS.iter().map(|s| Some((s - 1.0) / 5.0)).collect();
    assert_close(&steps.target, &target);
    assert_eq!(
        (steps.answered, steps.parse_failures, steps.refusals),
        (3, 0, 0)
    );
    assert_eq!((steps.size, steps.values), (Some(12), STEPS));
    // Files: one record per (group, item), results.json equals the returned result.
    let lines = std::fs::read_to_string(dir.path().join(ITEMS_FILE)).unwrap();
    assert_eq!(lines.lines().count(), 6);
    assert_eq!(RunResult::load(dir.path()).unwrap(), result);
    let info: RunInfo =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(RUN_FILE)).unwrap()).unwrap();
    assert!(info.finished.is_some());
    assert_eq!(info.speed.len(), 1);
    assert_eq!((info.speed[0].items, info.speed[0].tokens), (6, 60));
}

#[test]
fn without_a_persona_the_double_answers_the_middle_of_the_scale() {
    let dir = tempfile::tempdir().unwrap();
    let result = run_to_end(
        dir.path(),
        &tiny_pvq(),
        &spec(Method::Base),
        &mut PersonaFollower::default(),
    );
    // Uniform over 1..6: expected answer 3.5 → 0.5 for every value with items.
    assert_close(&result.groups[0].predicted, &ben_pow(0.5, 0.5));
}

#[test]
fn an_interrupted_run_resumes_without_asking_finished_items_again() {
    let dir = tempfile::tempdir().unwrap();
    let task = tiny_pvq();
    let spec = spec(Method::PromptLong);
    let stop = AtomicBool::new(false);
    let mut fake = PersonaFollower::default();
    let outcome = run(
        dir.path(),
        &task,
        &groups(),
        &spec,
        &mut fake,
        &stop,
        &mut |_| stop.store(true, Ordering::SeqCst),
    )
    .unwrap();
    assert_eq!(outcome, Outcome::Interrupted { done: 2, total: 6 });
    assert_eq!(fake.items_scored, 2);
    assert!(!dir.path().join(RESULTS_FILE).exists());
    // A crash mid-line leaves half a record: it is dropped and its item asked again.
    let items = dir.path().join(ITEMS_FILE);
    let mut f = OpenOptions::new().append(true).open(&items).unwrap();
    write!(f, "{{\"group\":\"Albania\",\"item\":\"3\",\"pro").unwrap();
    drop(f);

    let mut fake = PersonaFollower::default();
    let resumed = run_to_end(dir.path(), &task, &spec, &mut fake);
    assert_eq!(
        fake.items_scored, 4,
        "only the four unfinished items are asked"
    );
    let fresh_dir = tempfile::tempdir().unwrap();
    assert_eq!(
        resumed,
        run_to_end(
            fresh_dir.path(),
            &task,
            &spec,
            &mut PersonaFollower::default()
        )
    );
    assert_eq!(read_items(&items).unwrap().len(), 6);
    assert!(std::fs::read_to_string(&items)
        .unwrap()
        .lines()
        .all(|l| serde_json::from_str::<ItemRecord>(l).is_ok()));
    let info: RunInfo =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(RUN_FILE)).unwrap()).unwrap();
    assert_eq!(info.speed.len(), 2, "one speed entry per invocation");
}

#[test]
fn a_folder_of_another_run_is_not_mixed_in() {
    let dir = tempfile::tempdir().unwrap();
    run_to_end(
        dir.path(),
        &tiny_pvq(),
        &spec(Method::Base),
        &mut PersonaFollower::default(),
    );
    let err = run(
        dir.path(),
        &tiny_pvq(),
        &groups(),
        &spec(Method::PromptShort),
        &mut PersonaFollower::default(),
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(err.field(), Some(crate::Field::Out));
    assert!(err.to_string().contains("another run folder"), "{err}");
}

#[test]
fn sample_mode_averages_parsed_answers_and_counts_failures_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let mut fake =
        PersonaFollower::with_canned(&["4", "As an AI, I cannot answer this.", "banana"]);
    let spec = RunSpec {
        answer_mode: AnswerMode::Sample,
        ..spec(Method::PromptShort)
    };
    let result = run_to_end(dir.path(), &tiny_pvq(), &spec, &mut fake);
    assert_eq!(result.answer_mode, "sample");
    for g in &result.groups {
        // Every item: "4" → 0.6, one refusal, one parse failure, out of 3 samples.
        assert_close(&g.predicted, &ben_pow(0.6, 0.6));
        assert_eq!((g.answered, g.parse_failures, g.refusals), (9, 3, 3));
    }
    assert_eq!(fake.generate_calls, 6, "one call of 3 samples per item");
    let records = read_items(&dir.path().join(ITEMS_FILE)).unwrap();
    let r = &records[&("Steps".to_string(), "2".to_string())];
    assert_eq!(r.samples.as_ref().unwrap().len(), 3);
    assert!(r.probs.is_none());
}

#[test]
fn every_sample_unparseable_gives_no_prediction() {
    let dir = tempfile::tempdir().unwrap();
    let mut fake = PersonaFollower::with_canned(&["no idea"]);
    let spec = RunSpec {
        answer_mode: AnswerMode::Sample,
        samples: 2,
        ..spec(Method::Base)
    };
    let result = run_to_end(dir.path(), &tiny_pvq(), &spec, &mut fake);
    assert_eq!(result.groups[0].predicted, vec![None; 10]);
    assert_eq!(result.groups[0].parse_failures, 6);
}

#[test]
fn ess_runs_compare_with_gold_where_it_exists() {
    use crate::data::ess::EssQuestion;
    use crate::groups::gold::GoldRow;
    use valuelab_common::scale::AnswerScale;
    let q = |code: &str, scale: &str, text: &str| EssQuestion {
        code: code.into(),
        chapter: "politics".into(),
        scale: AnswerScale::parse(scale).unwrap(),
        question: text.into(),
    };
    let questions = vec![
        q(
            "pow",
            "0-10",
            "How much is Power worth? Answer: my answer is",
        ),
        q("tra", "Yes|No", "Is Tradition dull? Answer: my answer is"),
    ];
    let gold = vec![GoldRow {
        group: "Steps".into(),
        code: "pow".into(),
        mean: 0.7,
        n: 30,
    }];
    let task = ess::task(&questions, Some(&gold)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let result = run_to_end(
        dir.path(),
        &task,
        &spec(Method::PromptShort),
        &mut PersonaFollower::default(),
    );
    assert_eq!(result.keys, ["pow", "tra"]);
    assert_eq!(result.categories, ["politics", "politics"]);
    let steps = &result.groups[1];
    // Power 5 → 0.8 on 0..10; Tradition 3 → 0.4 on Yes|No (probability 0.4 of "No").
    assert_close(&steps.predicted, &[Some(0.8), Some(0.4)]);
    assert_close(&steps.target, &[Some(0.7), None]);
    assert_close(&result.groups[0].target, &[None, None]);
}

#[test]
fn argument_generation_stores_stance_and_premise_for_human_evaluation() {
    use crate::data::touche::{Argument, Stance};
    let arg = |id, conclusion: &str| Argument {
        id,
        conclusion: conclusion.into(),
        stance: Stance::Against,
        premise: "p".into(),
        values: [false; 10],
    };
    let task = crate::eval::argument_generation::task(&[
        arg(4, "We should ban cars"),
        arg(9, "We should ban cars"),
        arg(11, "We should fly"),
    ])
    .unwrap();
    assert_eq!(task.items.len(), 2);
    let dir = tempfile::tempdir().unwrap();
    let mut fake = PersonaFollower::with_canned(&["I disagree.", "Cars give people freedom."]);
    let sampling = RunSpec {
        answer_mode: AnswerMode::Sample,
        ..spec(Method::PromptLong)
    };
    let result = run_to_end(dir.path(), &task, &sampling, &mut fake);
    assert_eq!(
        (result.task.name(), result.answer_mode.name()),
        ("args", "sample")
    );
    assert!(result.keys.is_empty() && result.groups[0].predicted.is_empty());
    assert_eq!(
        result.groups[0].answered, 4,
        "two generations per conclusion"
    );
    let records = read_items(&dir.path().join(ITEMS_FILE)).unwrap();
    let g = records[&("Steps".to_string(), "4".to_string())]
        .generation
        .clone()
        .unwrap();
    assert_eq!(g.conclusion, "We should ban cars");
    assert_eq!(g.method, "prompt-long");
    assert_eq!(g.stance.as_deref(), Some("against"));
    assert_eq!(g.premise.as_deref(), Some("Cars give people freedom."));
    assert_eq!(g.premise_lead_in, None);
    assert!(fake.answer_starts.iter().all(String::is_empty));
}

#[test]
fn expect_mode_chooses_the_stance_by_likelihood_and_continues_a_lead_in() {
    use crate::data::touche::{Argument, Stance};
    // The test double reads the persona's Power score for a prompt naming Power: Steps has
    // Power 5, so it puts 0.8 on the second answer, "I disagree".
    let task = crate::eval::argument_generation::task(&[Argument {
        id: 7,
        conclusion: "Power should be shared".into(),
        stance: Stance::InFavorOf,
        premise: "p".into(),
        values: [false; 10],
    }])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut fake = PersonaFollower::with_canned(&["it corrupts.\n"]);
    let result = run_to_end(dir.path(), &task, &spec(Method::PromptLong), &mut fake);
    assert_eq!(result.answer_mode, AnswerMode::Expect);
    let records = read_items(&dir.path().join(ITEMS_FILE)).unwrap();
    let steps = &records[&("Steps".to_string(), "7".to_string())];
    let probs = steps.probs.clone().unwrap();
    assert!((probs[1] - 0.8).abs() < 1e-9, "{probs:?}");
    assert_eq!(steps.parse_failures, 0);
    let g = steps.generation.clone().unwrap();
    assert_eq!(g.stance.as_deref(), Some("against"));
    assert_eq!(g.stance_text, "I disagree");
    let lead_in = "I disagree that power should be shared, because";
    assert_eq!(g.premise_lead_in.as_deref(), Some(lead_in));
    assert_eq!(g.premise.as_deref(), Some("it corrupts."));
    assert_eq!(
        g.premise_text().as_deref(),
        Some("I disagree that power should be shared, because it corrupts.")
    );
    // One generation per conclusion and group, each continuing its lead-in.
    assert_eq!(fake.generate_calls, 2);
    assert!(fake.answer_starts.iter().any(|s| s == lead_in));
}

#[test]
fn expect_mode_asks_the_shortest_prompts_first_and_keeps_answers_by_item() {
    let dir = tempfile::tempdir().unwrap();
    let item = |number, value: Value, text: &str| PvqItem {
        number,
        value,
        text: text.into(),
    };
    let task = pvq::task(&[
        item(
            1,
            Value::Power,
            "Power, money and a long list of other things matter to him.",
        ),
        item(2, Value::Benevolence, "Benevolence matters."),
        item(3, Value::Power, "Power matters to him."),
    ])
    .unwrap();
    let mut fake = PersonaFollower::default();
    let result = run_to_end(dir.path(), &task, &spec(Method::PromptLong), &mut fake);
    let asked: Vec<usize> = fake.prompts_scored[..3]
        .iter()
        .map(|p| task.items.iter().position(|i| &i.prompt == p).unwrap())
        .collect();
    assert_eq!(asked, [1, 2, 0]);
    // Each answer stays with its item: Albania's Benevolence 5.23 and Power 3.89.
    assert_close(
        &result.groups[0].predicted,
        &ben_pow((5.23 - 1.0) / 5.0, (3.89 - 1.0) / 5.0),
    );
}

#[test]
fn predict_ess_answers_groups_and_questions_it_has_never_seen() {
    let dir = tempfile::tempdir().unwrap();
    let groups_tsv = dir.path().join("groups.tsv");
    std::fs::write(
        &groups_tsv,
        "\tCountry\tAchievement\tBenevolence\tConformity\tHedonism\tPower\tSecurity\tSelf-direction\tStimulation\tTradition\tUniversalism\n\
         0\tAtlantis\t2\t3\t4\t5\t3.0\t1\t6\t2\t2\t2\n",
    )
    .unwrap();
    let questions_tsv = dir.path().join("questions.tsv");
    std::fs::write(
        &questions_tsv,
        "code\tchapter\tscale\tquestion\n\
         zz1\tnew_chapter\t0-4\tHow much Power should the sea have? Please answer 0 to 4. Answer: my answer is\n\
         zz2\tnew_chapter\tLow|Middle|High\tHow much Self-direction do fish need? Answer: my answer is\n",
    )
    .unwrap();
    let groups = crate::data::groups::read_groups(&groups_tsv).unwrap();
    let questions = crate::data::ess::read_questions(&questions_tsv).unwrap();
    let task = ess::task(&questions, None).unwrap();
    let records = predict(
        &task,
        &groups,
        &spec(Method::PromptShort),
        &mut PersonaFollower::default(),
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap()
    .unwrap();
    let out = dir.path().join("predictions.tsv");
    ess::write_predictions(&out, &records).unwrap();
    // Power 3.0 → 0.4 of the way up 0..4; Self-direction 6 → the top of Low|Middle|High.
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "group\tcode\tprediction\nAtlantis\tzz1\t0.400000\nAtlantis\tzz2\t1.000000\n"
    );
}
