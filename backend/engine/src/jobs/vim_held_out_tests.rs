//! Per-group VIM for the protocol on a tiny random model: one adapter per held-out and
//! sign-check profile, kept when the job runs again, and scored by the protocol with its
//! shuffled control (other groups' adapters) and sign check; no ESS runs.

use super::*;
use crate::conditioning::profiles::SplitOptions;
use crate::data::testdata::shared_data;
use crate::eval::{Method, TaskKind};
use crate::jobs::model::ModelRun;
use crate::jobs::protocol::{ProtocolJob, ProtocolMethod};
use crate::jobs::tests::{tiny_model, tiny_train_job};
use crate::jobs::{run, Job, JobOutput, NullSink};
use crate::protocol::profiles::SIGN_BASE;
use std::path::Path;

const HELD_OUT: [&str; 3] = ["Albania", "Group_12", "Group_3"];

/// A split record holding three held-out profiles, as a conditioner writes it.
fn split_file(dir: &Path) -> PathBuf {
    let split = SplitRecord {
        held_out: HELD_OUT.iter().map(|s| s.to_string()).collect(),
        validation: vec!["Group_5".into()],
        train_groups: vec!["Group_7".into()],
        train_respondents: 0,
        options: SplitOptions::default(),
    };
    let folder = dir.join("conditioner");
    split.write(&folder).unwrap();
    folder
}

fn held_out_job(model: &str, split: &Path, out: &Path) -> VimHeldOutJob {
    // The one-group training settings of the job tests: three steps of QA.
    let one = tiny_train_job(model, "unused", out);
    VimHeldOutJob {
        split: split.to_path_buf(),
        data_dir: one.examples.data_dir,
        groups_file: None,
        sign_check: true,
        method: one.examples.method,
        rule: one.examples.rule,
        threshold: one.examples.threshold,
        seed: one.examples.seed,
        training: one.training,
    }
}

#[test]
fn every_held_out_and_sign_profile_gets_an_adapter_that_the_protocol_scores() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let split = split_file(dir.path());
    let out = dir.path().join("vim");
    let job = Job::VimHeldOut(held_out_job(&model, &split, &out));
    let done = run(&job, &NullSink, &CancelToken::new()).unwrap();
    let JobOutput::VimHeldOut(output) = &done.output else {
        panic!("not a per-group VIM training")
    };
    assert_eq!(
        (output.trained, output.profiles),
        (14, 14),
        "3 held out and 11 sign"
    );
    assert!(!output.cancelled);
    for name in HELD_OUT.iter().chain(&[SIGN_BASE, "sign_Power"]) {
        let adapter = out.join(name);
        assert!(adapter.join(CONFIG_FILE).is_file(), "{name}");
        crate::adapter::provenance::check_group(&adapter, name).unwrap();
    }
    let table = read_groups(&out.join(GROUPS_FILE)).unwrap();
    assert_eq!(table.len(), 14);
    let power = valuelab_common::Value::Power.index();
    let raised = table.iter().find(|g| g.name == "sign_Power").unwrap();
    let base = table.iter().find(|g| g.name == SIGN_BASE).unwrap();
    assert!(raised.values.scores()[power] > base.values.scores()[power]);
    let lines = || {
        std::fs::read_to_string(out.join(TRAINED_FILE))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(lines(), 14);
    assert!(out.join(crate::jobs::profile_split::SPLIT_FILE).is_file());

    // Run again: every adapter is in place, none is trained again.
    let again = run(&job, &NullSink, &CancelToken::new()).unwrap();
    let JobOutput::VimHeldOut(again) = &again.output else {
        panic!("not a per-group VIM training")
    };
    assert_eq!(again.trained, 14);
    assert_eq!(lines(), 14, "nothing trained twice");

    let protocol = Job::Protocol(ProtocolJob {
        // The split beside the adapters, as `valuelab protocol --vim DIR` takes it.
        split: out.clone(),
        methods: vec![ProtocolMethod {
            method: Method::Vim,
            adapter: Some(out.clone()),
        }],
        model: ModelRun {
            model: model.clone(),
            cuda: false,
            threads: Some(1),
        },
        data_dir: Some(shared_data().root().to_path_buf()),
        groups_file: None,
        tasks: vec![TaskKind::Pvq, TaskKind::Ess],
        limit_items: Some(10),
        batch_size: 8,
        bootstrap: 20,
        seed: 1,
        ess_microdata: Some(vec![shared_data().root().join("ess/microdata/ess9_no.csv")]),
        ess_groups: 2,
        weight: None,
        out: dir.path().join("protocol"),
    });
    let done = run(&protocol, &NullSink, &CancelToken::new()).unwrap();
    let JobOutput::Protocol(report) = &done.output else {
        panic!("not a protocol")
    };
    let vim = &report.report.as_ref().unwrap().methods[0];
    assert_eq!(vim.method, "vim");
    assert_eq!(vim.task(TaskKind::Pvq).unwrap().profiles, 3);
    assert!(
        vim.shuffled_mean_r.is_some(),
        "other groups' adapters' answers"
    );
    assert!(
        !dir.path().join("protocol/runs/vim/pvq-shuffled").exists(),
        "no second run: a group's adapter is its profile"
    );
    assert_eq!(vim.sign.as_ref().unwrap().of, 10);
    assert!(
        vim.opinions.is_empty(),
        "no adapters for the countries' groups"
    );
}

#[test]
fn without_sign_adapters_the_protocol_skips_the_sign_check_and_says_how_to_train_them() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let split = split_file(dir.path());
    let out = dir.path().join("vim");
    let mut spec = held_out_job(&model, &split, &out);
    spec.sign_check = false;
    run(&Job::VimHeldOut(spec), &NullSink, &CancelToken::new()).unwrap();
    assert_eq!(read_groups(&out.join(GROUPS_FILE)).unwrap().len(), 3);
    let method = ProtocolMethod {
        method: Method::Vim,
        adapter: Some(out.clone()),
    };
    let sign = sign_profiles(&read_groups(&out.join(GROUPS_FILE)).unwrap()).unwrap();
    let why = super::super::protocol::missing_sign_adapters(&method, &sign).unwrap();
    assert!(
        why.contains("sign_base") && why.contains("--held-out-of"),
        "{why}"
    );
}
