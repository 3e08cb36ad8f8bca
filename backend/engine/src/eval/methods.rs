//! How a target value distribution reaches the model: not at all (`base`), in the prompt
//! (`prompt-short`, `prompt-long`: the paper's Tables 22 and 23; `prompt-dominant`: one dominant
//! value, the style of the value-prompting paper), or through a LoRA adapter trained by
//! `valuelab train` (`vim`, `vim-ag`, `vim-qa`), which take no persona text, or one adapter for
//! every profile that reads the short prompt (`vim-cond`), or through a profile conditioner
//! (`profile-offset`, `steer`, `profile-readout`: `conditioning`), one for every profile.

use crate::data::groups::TargetGroup;
use crate::{Error, Result};
use std::fmt;
use std::str::FromStr;
use valuelab_common::{Value, ALL_VALUES};

/// Serialised in kebab-case, the command-line spelling (`prompt-short`), as in `run.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Base,
    PromptShort,
    PromptLong,
    PromptDominant,
    Vim,
    VimAg,
    VimQa,
    VimCond,
    ProfileOffset,
    Steer,
    ProfileReadout,
}

pub const ALL_METHODS: [Method; 11] = [
    Method::Base,
    Method::PromptShort,
    Method::PromptLong,
    Method::PromptDominant,
    Method::Vim,
    Method::VimAg,
    Method::VimQa,
    Method::VimCond,
    Method::ProfileOffset,
    Method::Steer,
    Method::ProfileReadout,
];

impl Method {
    /// The command-line spelling, also stored in `run.json` and `results.json`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Base => "base",
            Method::PromptShort => "prompt-short",
            Method::PromptLong => "prompt-long",
            Method::PromptDominant => "prompt-dominant",
            Method::Vim => "vim",
            Method::VimAg => "vim-ag",
            Method::VimQa => "vim-qa",
            Method::VimCond => "vim-cond",
            Method::ProfileOffset => "profile-offset",
            Method::Steer => "steer",
            Method::ProfileReadout => "profile-readout",
        }
    }

    /// Whether the values come from a trained folder (so `--adapter` is required): a LoRA
    /// adapter per group, one adapter for every profile, or one profile conditioner.
    pub fn needs_adapter(self) -> bool {
        matches!(self, Method::VimCond) || self.per_group_adapter() || self.conditions_on_profile()
    }

    /// Whether each group is answered by its own adapter, trained on its profile (VIM): the
    /// profile lives in the adapter, not in what the model is given.
    pub fn per_group_adapter(self) -> bool {
        matches!(self, Method::Vim | Method::VimAg | Method::VimQa)
    }

    /// Whether one conditioner folder answers for any profile (`profile-offset`, `steer`,
    /// `profile-readout`).
    pub fn conditions_on_profile(self) -> bool {
        matches!(
            self,
            Method::ProfileOffset | Method::Steer | Method::ProfileReadout
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        ALL_METHODS
            .iter()
            .copied()
            .find(|m| m.name() == s.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = ALL_METHODS.iter().map(|m| m.name()).collect();
                Error::invalid(format!(
                    "unknown method '{s}' (expected one of: {})",
                    names.join(", ")
                ))
            })
    }
}

impl PartialEq<&str> for Method {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// A method as results and reports name it: the method, and for few-shot ESS runs the number of
/// examples ("prompt-long+3shot"). Serialised as that string, so `results.json` reads as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct MethodLabel {
    pub method: Method,
    /// Few-shot examples per question (0: none).
    pub shots: usize,
}

impl MethodLabel {
    pub fn new(method: Method, shots: usize) -> Self {
        Self { method, shots }
    }
}

impl fmt::Display for MethodLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shots {
            0 => f.write_str(self.method.name()),
            n => write!(f, "{}+{n}shot", self.method.name()),
        }
    }
}

impl FromStr for MethodLabel {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let (method, shots) = match s.trim().split_once('+') {
            None => (s, 0),
            Some((method, suffix)) => {
                let shots = suffix
                    .strip_suffix("shot")
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "method '{s}': expected a method, or a method with '+<N>shot'"
                        ))
                    })?;
                (method, shots)
            }
        };
        Ok(Self::new(method.parse()?, shots))
    }
}

impl From<MethodLabel> for String {
    fn from(label: MethodLabel) -> String {
        label.to_string()
    }
}

impl TryFrom<String> for MethodLabel {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl PartialEq<&str> for MethodLabel {
    fn eq(&self, other: &&str) -> bool {
        other.parse::<MethodLabel>().is_ok_and(|o| o == *self)
    }
}

/// Value names as the prompt tables write them: Tables 22 and 23 spell "Self-Direction" in the
/// score list, while Table 23's definition list keeps the data's "Self-direction".
fn score_label(value: Value) -> &'static str {
    match value {
        Value::SelfDirection => "Self-Direction",
        other => other.name(),
    }
}

/// A score as the authors' Python code printed it (`str(float)`): shortest round-trip digits,
/// and a whole number keeps its ".0" ("5.0", not "5").
fn format_score(score: f64) -> String {
    if score.fract() == 0.0 && score.abs() < 1e15 {
        format!("{score:.1}")
    } else {
        format!("{score}")
    }
}

/// `vim-cond`'s scores: always two decimals ("4.65", "3.45", "5.00"). The authors' format prints
/// a k-means group's mean as seventeen digits ("3.4457627118644067"), which the tokenizer splits
/// into many digit tokens; an adapter trained on both kinds learnt to read the short ones only
/// (`docs/results.md`), so the adapter reads one short form in training and in use.
fn format_score_two_decimals(score: f64) -> String {
    format!("{score:.2}")
}

fn score_lines(group: &TargetGroup, format: fn(f64) -> String) -> String {
    ALL_VALUES
        .iter()
        .map(|&v| format!("- {}: {}\n", score_label(v), format(group.values.score(v))))
        .collect()
}

/// The instructions that close Tables 22 and 23, before `{Task Description}`.
const ANSWER_INSTRUCTIONS: [&str; 3] = [
    "As this person, please answer the following question.",
    "You just have to choose the answer, you don't have to explain it.",
    "Please choose only one option, even if you're not sure.",
];

/// The text that precedes a task prompt for `group` under `method`; the task prompt is appended
/// directly. Table 22 (short) is a compact block, one line per sentence and per score; Table 23
/// (long) separates its paragraphs with blank lines, as printed in the paper. Both end with a line
/// break where `{Task Description}` begins.
pub fn persona(method: Method, group: &TargetGroup) -> String {
    match method {
        Method::Base
        | Method::Vim
        | Method::VimAg
        | Method::VimQa
        | Method::ProfileOffset
        | Method::Steer
        | Method::ProfileReadout => String::new(),
        // vim-cond's adapter learns to read this prompt (`vim::profiles`), with its scores in
        // one short form.
        Method::PromptShort | Method::VimCond => {
            let format = if method == Method::VimCond {
                format_score_two_decimals
            } else {
                format_score
            };
            let mut text = String::from("Let's roleplay.\nValue Score:\n");
            text.push_str(&score_lines(group, format));
            for line in ANSWER_INSTRUCTIONS {
                text.push_str(line);
                text.push('\n');
            }
            text
        }
        Method::PromptLong => {
            let mut text = String::from(
                "Let's roleplay.\n\n\
                 I will describe a person who have values between 1 and 6 for each value.\n\n\
                 1 means the value is not important to him at all and 6 means the value is very much important to him.\n\n\
                 Value Definition:\n\n",
            );
            for v in ALL_VALUES {
                text.push_str(&format!("- {}: values {}\n", v.name(), v.definition()));
            }
            text.push_str("\nValue Score:\n\n");
            text.push_str(&score_lines(group, format_score));
            for line in ANSWER_INSTRUCTIONS {
                text.push('\n');
                text.push_str(line);
                text.push('\n');
            }
            text.push('\n');
            text
        }
        Method::PromptDominant => {
            let value = group.values.dominant();
            // The value-prompting paper's persona: "a person who greatly values X" and the
            // value's definition, then the same answer instructions as the tables.
            let mut text = format!(
                "Let's roleplay.\n\nYou are a person who greatly values {}: you value {}\n\n",
                value.name(),
                definition_sentence(value)
            );
            for line in ANSWER_INSTRUCTIONS {
                text.push_str(line);
                text.push_str("\n\n");
            }
            text
        }
    }
}

/// A definition as a sentence ending in one full stop (Self-direction's already has one).
fn definition_sentence(value: Value) -> String {
    let d = value.definition();
    if d.ends_with('.') {
        d.to_string()
    } else {
        format!("{d}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use valuelab_common::ValueDistribution;

    fn albania() -> TargetGroup {
        TargetGroup {
            name: "Albania".into(),
            values: ValueDistribution::parse([
                4.65, 5.23, 4.56, 4.52, 3.89, 5.15, 4.69, 3.76, 4.91, 5.0,
            ])
            .unwrap(),
            size: None,
        }
    }

    #[test]
    fn method_names_round_trip_and_unknown_names_list_the_valid_ones() {
        for m in ALL_METHODS {
            assert_eq!(m.name().parse::<Method>().unwrap(), m);
        }
        let err = "prompt".parse::<Method>().unwrap_err().to_string();
        assert!(err.contains("unknown method 'prompt'"), "{err}");
        assert!(
            err.contains("base, prompt-short, prompt-long, prompt-dominant, vim, vim-ag, vim-qa, vim-cond, profile-offset, steer, profile-readout"),
            "{err}"
        );
        assert!(Method::VimQa.needs_adapter() && !Method::PromptLong.needs_adapter());
    }

    #[test]
    fn short_prompt_is_table_22() {
        let expected = "Let's roleplay.\n\
Value Score:\n\
- Achievement: 4.65\n\
- Benevolence: 5.23\n\
- Conformity: 4.56\n\
- Hedonism: 4.52\n\
- Power: 3.89\n\
- Security: 5.15\n\
- Self-Direction: 4.69\n\
- Stimulation: 3.76\n\
- Tradition: 4.91\n\
- Universalism: 5.0\n\
As this person, please answer the following question.\n\
You just have to choose the answer, you don't have to explain it.\n\
Please choose only one option, even if you're not sure.\n";
        assert_eq!(persona(Method::PromptShort, &albania()), expected);
        // vim-cond's adapter reads every score with two decimals, a k-means group's too.
        let mut group = albania();
        group.values = ValueDistribution::parse([
            3.4457627118644067,
            5.23,
            4.56,
            4.52,
            3.89,
            5.15,
            4.69,
            3.76,
            4.91,
            5.0,
        ])
        .unwrap();
        let vim_cond = expected
            .replace("4.65", "3.45")
            .replace("Universalism: 5.0\n", "Universalism: 5.00\n");
        assert_eq!(persona(Method::VimCond, &group), vim_cond);
        assert!(persona(Method::PromptShort, &group).contains("Achievement: 3.4457627118644067\n"));
    }

    #[test]
    fn long_prompt_is_table_23() {
        // Copied from the paper's Table 23 (vim-kang-2023.txt), scores of Albania filled in.
        let expected = "Let's roleplay.

I will describe a person who have values between 1 and 6 for each value.

1 means the value is not important to him at all and 6 means the value is very much important to him.

Value Definition:

- Achievement: values personal success through demonstrating competence according to social standards
- Benevolence: values preserving and enhancing the welfare of those with whom one is in frequent personal contact (the 'in-group')
- Conformity: values restraint of actions, inclinations, and impulses likely to upset or harm others and violate social expectations or norms
- Hedonism: values pleasure or sensuous gratification for oneself
- Power: values social status and prestige, control or dominance over people and resources
- Security: values safety, harmony, and stability of society, of relationships, and of self
- Self-direction: values independent thought and action\u{2014}choosing, creating, exploring.
- Stimulation: values excitement, novelty, and challenge in life
- Tradition: values respect, commitment, and acceptance of the customs and ideas that one's culture or religion provides
- Universalism: values understanding, appreciation, tolerance, and protection for the welfare of all people and for nature

Value Score:

- Achievement: 4.65
- Benevolence: 5.23
- Conformity: 4.56
- Hedonism: 4.52
- Power: 3.89
- Security: 5.15
- Self-Direction: 4.69
- Stimulation: 3.76
- Tradition: 4.91
- Universalism: 5.0

As this person, please answer the following question.

You just have to choose the answer, you don't have to explain it.

Please choose only one option, even if you're not sure.

";
        assert_eq!(persona(Method::PromptLong, &albania()), expected);
    }

    #[test]
    fn dominant_prompt_names_the_highest_value_with_its_definition() {
        let text = persona(Method::PromptDominant, &albania());
        assert!(text.starts_with(
            "Let's roleplay.\n\nYou are a person who greatly values Benevolence: you value preserving and enhancing the welfare of those with whom one is in frequent personal contact (the 'in-group').\n\n"
        ), "{text}");
        assert!(text.ends_with("Please choose only one option, even if you're not sure.\n\n"));
        let mut scores = *albania().values.scores();
        scores[6] = 6.0;
        let sd = TargetGroup {
            values: ValueDistribution::parse(scores).unwrap(),
            ..albania()
        };
        let text = persona(Method::PromptDominant, &sd);
        assert!(text.contains("greatly values Self-direction: you value independent thought and action\u{2014}choosing, creating, exploring.\n"), "{text}");
    }

    #[test]
    fn base_and_vim_methods_have_no_persona() {
        for m in [
            Method::Base,
            Method::Vim,
            Method::VimAg,
            Method::VimQa,
            Method::ProfileOffset,
            Method::Steer,
            Method::ProfileReadout,
        ] {
            assert_eq!(persona(m, &albania()), "");
        }
    }

    #[test]
    fn scores_print_like_the_authors_python() {
        assert_eq!(format_score(5.0), "5.0");
        assert_eq!(format_score(4.65), "4.65");
        assert_eq!(format_score(3.514705882352941), "3.514705882352941");
    }

    #[test]
    fn method_labels_read_and_write_as_the_strings_results_json_holds() {
        let label: MethodLabel = "prompt-long+3shot".parse().unwrap();
        assert_eq!(label, MethodLabel::new(Method::PromptLong, 3));
        assert_eq!(
            serde_json::to_string(&label).unwrap(),
            r#""prompt-long+3shot""#
        );
        let plain: MethodLabel = serde_json::from_str(r#""vim-qa""#).unwrap();
        assert_eq!((plain.method, plain.shots), (Method::VimQa, 0));
        assert_eq!(plain, "vim-qa");
        assert!("prompt-long+threeshot".parse::<MethodLabel>().is_err());
        assert!(serde_json::from_str::<MethodLabel>(r#""telepathy""#).is_err());
    }
}
