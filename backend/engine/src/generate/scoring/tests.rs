//! Tests of `scoring`.

use super::*;
use crate::models::testing::tiny_model;
use candle_core::{DType, IndexOp};

/// Brute force for tests: the option's log-probability from one full forward pass without cache.
fn brute_force_logprob(model: &LoadedModel, persona: &str, prompt: &str, option: &str) -> f64 {
    let parts = model.prompt_parts(persona, prompt);
    let mut tokens = model.tokenizer.encode(&parts.prefix, true).unwrap();
    tokens.extend(model.tokenizer.encode(&parts.rest, false).unwrap());
    let context = tokens.len();
    tokens.extend(
        model
            .tokenizer
            .encode(&model.answer_surface(option), false)
            .unwrap(),
    );
    let input = Input::from_tokens(&tokens, 0, model.device()).unwrap();
    let hidden = model
        .llama
        .forward_hidden(&input, None, Mode::Inference)
        .unwrap();
    let logprobs = candle_nn::ops::log_softmax(
        &model.llama.logits(&hidden.i(0).unwrap()).unwrap(),
        D::Minus1,
    )
    .unwrap();
    let table = logprobs.to_vec2::<f32>().unwrap();
    (context..tokens.len())
        .map(|p| table[p - 1][tokens[p] as usize] as f64)
        .sum()
}

fn items() -> Vec<ChoiceItem> {
    let pvq: Vec<String> = (1..=6).map(|i| i.to_string()).collect();
    vec![
        ChoiceItem {
            prompt: "Statement: short. Answer:".into(),
            options: pvq.clone(),
            subject: None,
        },
        ChoiceItem {
            prompt:
                "Statement: a much longer statement about the things the person values. Answer:"
                    .into(),
            options: vec![
                "Not like me at all".into(),
                "Like me".into(),
                "Very much like me".into(),
            ],
            subject: None,
        },
        ChoiceItem {
            prompt: "Do you agree?".into(),
            options: vec!["I agree".into(), "I disagree".into(), "a".into()],
            subject: None,
        },
        ChoiceItem {
            prompt: "Medium statement here. Answer:".into(),
            options: pvq,
            subject: None,
        },
    ]
}

#[test]
fn option_scores_equal_brute_force_full_string_logprobs() {
    for chat in [false, true] {
        let model = tiny_model(chat, 21).unwrap();
        let persona = "Let's roleplay. Value Score: - Power: 2";
        let items = items();
        let scores = score_items(&model, persona, &items, Normalisation::Sum).unwrap();
        for (item, s) in items.iter().zip(&scores) {
            for (o, option) in item.options.iter().enumerate() {
                let expected = brute_force_logprob(&model, persona, &item.prompt, option);
                assert!(
                    (s.logprob_sum[o] - expected).abs() < 1e-4,
                    "chat {chat}, {option:?}: {} vs {expected}",
                    s.logprob_sum[o]
                );
                let n = model
                    .tokenizer
                    .encode(&model.answer_surface(option), false)
                    .unwrap()
                    .len();
                assert!((s.logprob_mean[o] - expected / n as f64).abs() < 1e-4);
            }
            assert!((s.probs.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }
}

#[test]
fn items_with_a_common_preamble_score_as_if_asked_alone() {
    // The shared instructions move into the prefix; the scores must not change.
    let preamble = "Indicate whether it is 1, 2 or 3 as a description of you. Statement: ";
    let option_sets: [Vec<String>; 3] = [
        vec!["1".into(), "2".into(), "Not at all".into()],
        // Options that share their first tokens take the batched path.
        vec!["12".into(), "13".into(), "14".into()],
        vec!["xa".into(), "xb".into()],
    ];
    let items: Vec<ChoiceItem> = ["short.", "a longer one here.", "short again."]
        .iter()
        .zip(option_sets)
        .map(|(s, options)| ChoiceItem {
            prompt: format!("{preamble}{s} Answer:"),
            options,
            subject: None,
        })
        .collect();
    for (chat, persona) in [(false, ""), (true, "A persona.")] {
        let model = tiny_model(chat, 5).unwrap();
        let prefix = PrefixState::new(&model, persona).unwrap();
        for item in &items[1..] {
            assert!(!prepare(&model, &prefix, 0, item).unwrap().shared.is_empty());
        }
        let together = score_items(&model, persona, &items, Normalisation::Sum).unwrap();
        for (item, s) in items.iter().zip(&together) {
            for (o, option) in item.options.iter().enumerate() {
                let alone = brute_force_logprob(&model, persona, &item.prompt, option);
                assert!((s.logprob_sum[o] - alone).abs() < 1e-4, "{option}");
            }
        }
    }
}

#[test]
fn a_shared_option_start_is_found_only_before_one_token_each() {
    assert_eq!(shared_option_start(&[vec![5, 1], vec![5, 2]]), vec![5]);
    assert_eq!(
        shared_option_start(&[vec![5, 6, 1], vec![5, 6, 2]]),
        vec![5, 6]
    );
    // Different lengths, different starts, or one option: the general path.
    assert!(shared_option_start(&[vec![5, 1], vec![5, 2, 3]]).is_empty());
    assert!(shared_option_start(&[vec![5, 1], vec![6, 1]]).is_empty());
    assert!(shared_option_start(&[vec![5, 1]]).is_empty());
    assert!(shared_option_start(&[vec![1], vec![2]]).is_empty());
}

#[test]
fn probabilities_are_a_softmax_of_the_chosen_normalisation() {
    let model = tiny_model(false, 4).unwrap();
    let items = items();
    for norm in [Normalisation::Sum, Normalisation::Mean] {
        for s in score_items(&model, "", &items, norm).unwrap() {
            let chosen = if norm == Normalisation::Sum {
                &s.logprob_sum
            } else {
                &s.logprob_mean
            };
            let z: f64 = chosen.iter().map(|x| x.exp()).sum();
            for (p, x) in s.probs.iter().zip(chosen) {
                assert!((p - x.exp() / z).abs() < 1e-9);
            }
        }
    }
}

#[test]
fn a_reused_prefix_gives_the_same_scores() {
    let model = tiny_model(true, 8).unwrap();
    let prefix = PrefixState::new(&model, "A persona.").unwrap();
    let items = items();
    let once = score_items_with_prefix(&model, &prefix, &items, Normalisation::Mean).unwrap();
    let again = score_items_with_prefix(&model, &prefix, &items[1..], Normalisation::Mean).unwrap();
    for (a, b) in once[1..].iter().zip(&again) {
        for (x, y) in a.logprob_sum.iter().zip(&b.logprob_sum) {
            assert!((x - y).abs() < 1e-4);
        }
    }
}

#[test]
fn expected_index_weights_indices_by_probability() {
    assert_eq!(expected_index(&[0.0, 0.0, 1.0]), 2.0);
    assert!((expected_index(&[0.5, 0.0, 0.5]) - 1.0).abs() < 1e-12);
}

#[test]
fn items_without_options_are_rejected() {
    let model = tiny_model(false, 4).unwrap();
    let bad = [ChoiceItem {
        prompt: "x".into(),
        options: vec![],
        subject: None,
    }];
    assert!(score_items(&model, "", &bad, Normalisation::Sum)
        .unwrap_err()
        .to_string()
        .contains("no answer options"));
}

#[test]
fn shifted_items_in_one_batch_score_as_each_alone_under_a_readout_with_its_shift() {
    use crate::models::{Readout, ResidualOffsets};
    let mut model = tiny_model(true, 13).unwrap();
    let hidden = model.llama.config().hidden_size;
    let direction = (Tensor::randn(0f32, 1.0, (1, hidden), model.device()).unwrap() * 3.0).unwrap();
    let prefix = PrefixState::new(&model, "A persona.").unwrap();
    // Single-token options (batched), multi-token ones (one at a time) and a shared start.
    let items = items();
    let amounts = [1.5f32, -2.0, 0.7, -0.4];
    let shifts = ItemShifts {
        amounts: &amounts,
        direction: &direction,
    };
    let together =
        score_items_shifted(&model, &prefix, &items, Normalisation::Mean, Some(shifts)).unwrap();
    let plain = score_items_with_prefix(&model, &prefix, &items, Normalisation::Mean).unwrap();
    for (i, item) in items.iter().enumerate() {
        let readout = Readout {
            gate: None,
            shift: Some(Tensor::new(&[[amounts[i]]], model.device()).unwrap()),
            direction: direction.clone(),
        };
        model
            .llama
            .set_residual_offsets(ResidualOffsets::default().with_readout(readout))
            .unwrap();
        let alone = score_items_with_prefix(
            &model,
            &prefix,
            std::slice::from_ref(item),
            Normalisation::Mean,
        )
        .unwrap();
        let moved = together[i]
            .logprob_sum
            .iter()
            .zip(&plain[i].logprob_sum)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(moved > 1e-3, "item {i}: the shift moved nothing");
        for (x, y) in together[i].logprob_sum.iter().zip(&alone[0].logprob_sum) {
            assert!((x - y).abs() < 1e-4, "item {i}: {x} batched, {y} alone");
        }
    }
}

#[test]
fn item_shifts_must_match_the_items() {
    let model = tiny_model(false, 4).unwrap();
    let prefix = PrefixState::new(&model, "").unwrap();
    let direction = Tensor::zeros(
        (1, model.llama.config().hidden_size),
        DType::F32,
        model.device(),
    )
    .unwrap();
    let shifts = ItemShifts {
        amounts: &[1.0],
        direction: &direction,
    };
    let err = score_items_shifted(&model, &prefix, &items(), Normalisation::Sum, Some(shifts))
        .unwrap_err()
        .to_string();
    assert!(err.contains("1 item shifts for 4 items"), "{err}");
}
