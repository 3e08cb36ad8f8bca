//! VIM examples for many profiles at once (`vim-cond`): the same prompts and answers as
//! Algorithms 1 and 2, each drawn for a random (profile, argument) pair and preceded by a persona
//! text that states the profile. One adapter trained on them has to read the profile from the
//! prompt, since no single answer fits every profile; a one-group adapter can instead memorise
//! its group's answers.
//!
//! Draws (all from one seed): a profile, uniformly; an argument that expresses a value,
//! uniformly; the task (argument generation or question answering, for `vim` with the paper's
//! share: one question per expressed value against one argument-generation example per
//! argument); for question answering one of the argument's expressed values, uniformly, and the
//! stochastic rounding of the profile's score on it.

use super::ag::{ag_answer, ag_prompt, would_say};
use super::qa::{qa_answer, qa_prompt, stochastic_round};
use super::{Rule, Task, TrainingExample, TrainingMethod};
use crate::data::touche::Argument;
use crate::{Error, Result};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use valuelab_common::ValueDistribution;

/// What to draw: which tasks, argument generation's rule and γ, how many examples, the seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draws {
    pub method: TrainingMethod,
    pub rule: Rule,
    pub threshold: f64,
    pub count: usize,
    pub seed: u64,
}

/// `draws.count` examples over `profiles`, each with `persona(profile)` before its prompt.
pub fn profile_conditioned_examples(
    arguments: &[Argument],
    profiles: &[ValueDistribution],
    persona: &dyn Fn(&ValueDistribution) -> String,
    draws: Draws,
) -> Result<Vec<TrainingExample>> {
    let Draws {
        method,
        rule,
        threshold,
        count,
        seed,
    } = draws;
    let labelled: Vec<&Argument> = arguments.iter().filter(|a| a.has_values()).collect();
    if labelled.is_empty() || profiles.is_empty() {
        return Err(Error::invalid(format!(
            "profile-conditioned examples need arguments with value labels and profiles (got {} labelled arguments, {} profiles)",
            labelled.len(),
            profiles.len()
        )));
    }
    // The paper's mix: question answering has one example per expressed value.
    let questions: usize = labelled.iter().map(|a| a.expressed_values().count()).sum();
    let qa_share = questions as f64 / (questions + labelled.len()) as f64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut examples = Vec::with_capacity(count);
    for _ in 0..count {
        let profile = &profiles[rng.random_range(0..profiles.len())];
        let argument = labelled[rng.random_range(0..labelled.len())];
        let task = match method {
            TrainingMethod::Ag => Task::Ag,
            TrainingMethod::Qa => Task::Qa,
            TrainingMethod::Vim if rng.random_bool(qa_share) => Task::Qa,
            TrainingMethod::Vim => Task::Ag,
        };
        let (prompt, answer) = match task {
            Task::Ag => {
                let say = would_say(argument, profile, rule, threshold)
                    .expect("a labelled argument has a rule score");
                (ag_prompt(argument), ag_answer(argument, say))
            }
            Task::Qa => {
                let values: Vec<_> = argument.expressed_values().collect();
                let value = values[rng.random_range(0..values.len())];
                let score = stochastic_round(profile.score(value), &mut rng);
                (qa_prompt(argument), qa_answer(value, score))
            }
        };
        examples.push(TrainingExample {
            persona: persona(profile),
            prompt,
            answer,
            task,
            argument_id: argument.id,
        });
    }
    Ok(examples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::touche::Stance;
    use crate::vim::qa::EXPRESSIONS;
    use valuelab_common::{Value, ALL_VALUES, VALUE_COUNT};

    fn argument(id: usize, values: &[Value]) -> Argument {
        let mut flags = [false; VALUE_COUNT];
        for v in values {
            flags[v.index()] = true;
        }
        Argument {
            id,
            conclusion: format!("claim {id}"),
            stance: Stance::InFavorOf,
            premise: format!("reason {id}"),
            values: flags,
        }
    }

    fn profile(power: f64, security: f64) -> ValueDistribution {
        let mut scores = [3.5; VALUE_COUNT];
        scores[Value::Power.index()] = power;
        scores[Value::Security.index()] = security;
        ValueDistribution::parse(scores).unwrap()
    }

    fn draws(method: TrainingMethod, count: usize, seed: u64) -> Draws {
        Draws {
            method,
            rule: Rule::Mean,
            threshold: 3.0,
            count,
            seed,
        }
    }

    fn persona(p: &ValueDistribution) -> String {
        format!(
            "Power {} Security {}",
            p.score(Value::Power),
            p.score(Value::Security)
        )
    }

    /// Every answer is the one its own persona's profile calls for: "say" exactly when the
    /// profile's score reaches γ, and a QA digit that is the floor or ceiling of its score.
    #[test]
    fn each_answer_follows_the_profile_named_in_its_persona() {
        let arguments = vec![
            argument(1, &[Value::Power]),
            argument(2, &[Value::Security]),
            argument(3, &[]),
            argument(4, &[Value::Power, Value::Security]),
        ];
        let profiles = [profile(1.5, 5.5), profile(5.0, 2.2)];
        let examples = profile_conditioned_examples(
            &arguments,
            &profiles,
            &persona,
            draws(TrainingMethod::Vim, 400, 7),
        )
        .unwrap();
        assert_eq!(examples.len(), 400);
        let (mut ag, mut qa) = (0, 0);
        for e in &examples {
            assert_ne!(e.argument_id, 3, "an unlabelled argument has no answer");
            let p = profiles.iter().find(|p| persona(p) == e.persona).unwrap();
            let a = arguments.iter().find(|a| a.id == e.argument_id).unwrap();
            match e.task {
                Task::Ag => {
                    ag += 1;
                    let say = would_say(a, p, Rule::Mean, 3.0).unwrap();
                    assert_eq!(e.answer, ag_answer(a, say));
                    assert_eq!(e.prompt, ag_prompt(a));
                }
                Task::Qa => {
                    qa += 1;
                    assert_eq!(e.prompt, qa_prompt(a));
                    let value = ALL_VALUES
                        .iter()
                        .copied()
                        .find(|v| e.answer.contains(&format!("think {} is", v.name())))
                        .unwrap();
                    assert!(a.values[value.index()], "{}", e.answer);
                    let score = p.score(value);
                    let digit: f64 = e.answer[e.answer.len() - 2..e.answer.len() - 1]
                        .parse()
                        .unwrap();
                    assert!(digit == score.floor() || digit == score.ceil(), "{e:?}");
                    let expression = EXPRESSIONS[digit as usize - 1];
                    assert!(e.answer.contains(expression));
                }
            }
        }
        // Both profiles, and both tasks in about the paper's share (4 questions : 3 arguments).
        assert!(profiles
            .iter()
            .all(|p| examples.iter().any(|e| e.persona == persona(p))));
        assert!((150..250).contains(&qa) && ag + qa == 400, "{ag} {qa}");
        let again = |seed| {
            profile_conditioned_examples(
                &arguments,
                &profiles,
                &persona,
                draws(TrainingMethod::Vim, 400, seed),
            )
            .unwrap()
        };
        assert_eq!(again(7), examples);
        assert_ne!(again(8), examples);
        let only_qa = profile_conditioned_examples(
            &arguments,
            &profiles,
            &persona,
            draws(TrainingMethod::Qa, 50, 1),
        )
        .unwrap();
        assert!(only_qa.iter().all(|e| e.task == Task::Qa));
    }

    #[test]
    fn no_labelled_argument_or_no_profile_is_an_error() {
        let err = profile_conditioned_examples(
            &[argument(1, &[])],
            &[profile(2.0, 2.0)],
            &persona,
            draws(TrainingMethod::Ag, 5, 0),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("0 labelled arguments, 1 profiles"), "{err}");
    }
}
