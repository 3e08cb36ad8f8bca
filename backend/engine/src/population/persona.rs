//! What a persona says to the model. The method decides how a target reaches it:
//!
//! - `prompt-dominant`: the value-prompting paper's wording, "Imagine that you are a person who
//!   greatly values X. You value <definition>." A survey respondent gets their top value.
//! - `prompt-short`, `prompt-long`: VIM's profile prompts (Tables 22 and 23). A dominant-value
//!   persona gets the typical profile of the human respondents that value dominates (their
//!   mean), so both kinds of persona speak in whole profiles.
//! - `base`: nothing, for every persona (the control without values).
//! - `vim`, `vim-ag`, `vim-qa`: no text either; the values come from the adapter of the group
//!   nearest the persona's profile (`adapters`).
//!
//! Naive personas get no text (and no adapter) under any method.

use super::strategy::PersonaTarget;
use crate::data::groups::TargetGroup;
use crate::eval::methods::{persona, Method};
use crate::structure::{dominant_value, Scores};
use crate::{Error, Result};
use valuelab_common::{Value, ValueDistribution, ALL_VALUES, VALUE_COUNT};

/// The paper's dominant-value prompt.
pub fn dominant_prompt(value: Value) -> String {
    let definition = value.definition().trim_end_matches('.');
    format!(
        "Imagine that you are a person who greatly values {}. You value {definition}.\n\n",
        value.name()
    )
}

/// Each value's typical profile: the mean profile of the respondents it dominates at `gap`
/// (`None` where it dominates nobody).
pub fn typical_profiles(human: &[Scores], gap: f64) -> [Option<Scores>; VALUE_COUNT] {
    let mut sums = [[0.0; VALUE_COUNT]; VALUE_COUNT];
    let mut counts = [0usize; VALUE_COUNT];
    for row in human {
        if let Some(v) = dominant_value(row, gap) {
            counts[v.index()] += 1;
            for (s, x) in sums[v.index()].iter_mut().zip(row) {
                *s += x;
            }
        }
    }
    std::array::from_fn(|v| (counts[v] > 0).then(|| sums[v].map(|s| s / counts[v] as f64)))
}

/// The text before each question for `target` under `method`.
pub fn persona_text(
    target: &PersonaTarget,
    method: Method,
    typical: &[Option<Scores>; VALUE_COUNT],
) -> Result<String> {
    let profile_prompt = |name: &str, scores: &Scores| -> Result<String> {
        let values = ValueDistribution::parse(*scores)
            .map_err(|e| Error::invalid(format!("persona {name}: {e}")))?;
        Ok(persona(
            method,
            &TargetGroup {
                name: name.to_string(),
                values,
                size: None,
            },
        ))
    };
    match (target, method) {
        (PersonaTarget::Naive, _)
        | (
            _,
            Method::Base
            | Method::Vim
            | Method::VimAg
            | Method::VimQa
            | Method::ProfileOffset
            | Method::Steer
            | Method::ProfileReadout,
        ) => Ok(String::new()),
        (PersonaTarget::Dominant { value }, Method::PromptDominant) => Ok(dominant_prompt(*value)),
        (PersonaTarget::Profile { scores, .. }, Method::PromptDominant) => {
            let top = (0..VALUE_COUNT)
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(b.cmp(&a)))
                .expect("ten values");
            Ok(dominant_prompt(ALL_VALUES[top]))
        }
        (
            PersonaTarget::Dominant { value },
            Method::PromptShort | Method::PromptLong | Method::VimCond,
        ) => {
            let scores =
                target_profile(target, typical)?.expect("a dominant persona has a profile");
            profile_prompt(&format!("typical {}", value.name()), &scores)
        }
        (
            PersonaTarget::Profile { id, scores },
            Method::PromptShort | Method::PromptLong | Method::VimCond,
        ) => profile_prompt(id, scores),
    }
}

/// The profile that stands for `target` where one is needed (a survey respondent's own, a
/// dominant value's typical one); `None` for naive personas.
pub fn target_profile(
    target: &PersonaTarget,
    typical: &[Option<Scores>; VALUE_COUNT],
) -> Result<Option<Scores>> {
    match target {
        PersonaTarget::Naive => Ok(None),
        PersonaTarget::Profile { scores, .. } => Ok(Some(*scores)),
        PersonaTarget::Dominant { value } => typical[value.index()].map(Some).ok_or_else(|| {
            Error::invalid(format!(
                "no human respondent has {value} as dominant value, so its persona has no typical profile for the profile prompts or the adapters (use prompt-dominant, or a lower --gap)"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use valuelab_common::Value::*;

    #[test]
    fn the_dominant_prompt_is_the_papers_wording() {
        let text = dominant_prompt(Power);
        assert!(
            text.starts_with("Imagine that you are a person who greatly values Power. You value "),
            "{text}"
        );
        assert!(text.trim_end().ends_with('.') && !text.contains(".."));
    }

    #[test]
    fn a_dominant_persona_under_a_profile_prompt_speaks_in_the_typical_profile() {
        let mut a = [3.0; VALUE_COUNT];
        a[Security.index()] = 5.0;
        let mut b = a;
        b[Tradition.index()] = 4.0;
        let typical = typical_profiles(&[a, b, [3.0; VALUE_COUNT]], 0.25);
        let sec = typical[Security.index()].unwrap();
        assert_eq!(sec[Tradition.index()], 3.5);
        assert!(typical[Power.index()].is_none());
        let target = PersonaTarget::Dominant { value: Security };
        let text = persona_text(&target, Method::PromptShort, &typical).unwrap();
        assert!(
            text.contains("- Security: 5.0") && text.contains("- Tradition: 3.5"),
            "{text}"
        );
        let err = persona_text(
            &PersonaTarget::Dominant { value: Power },
            Method::PromptLong,
            &typical,
        )
        .unwrap_err();
        assert!(err.to_string().contains("no human respondent has Power"));
    }

    #[test]
    fn naive_base_and_adapter_personas_say_nothing() {
        let typical = [None; VALUE_COUNT];
        let naive = persona_text(&PersonaTarget::Naive, Method::PromptDominant, &typical);
        assert_eq!(naive.unwrap(), "");
        let dom = PersonaTarget::Dominant { value: Hedonism };
        assert_eq!(persona_text(&dom, Method::Base, &typical).unwrap(), "");
        assert_eq!(persona_text(&dom, Method::Vim, &typical).unwrap(), "");
        assert!(target_profile(&dom, &typical).is_err());
        assert_eq!(
            target_profile(&PersonaTarget::Naive, &typical).unwrap(),
            None
        );
        let survey = PersonaTarget::Profile {
            id: "7".into(),
            scores: std::array::from_fn(|k| if k == 5 { 6.0 } else { 2.0 }),
        };
        let text = persona_text(&survey, Method::PromptDominant, &typical).unwrap();
        assert!(text.contains("greatly values Security"));
    }
}
