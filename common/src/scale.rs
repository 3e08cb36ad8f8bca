//! Answer scales of survey items (the `scale` column of `ess_round6_questions.tsv`): a numeric
//! range `A-B` or an ordered list of options `Yes|No`. A scale turns a model's free-text answer
//! into a position, and positions or raw survey codes into 0..1 so every item's error is on the
//! same footing (the paper's NMSE). An answer that cannot be read with confidence is reported as
//! [`Unparseable`] rather than guessed: a guessed answer would silently bias the evaluation.

use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::fmt;

/// Separator of options in a scale spec (`Agree|Disagree`).
pub const OPTION_SEPARATOR: char = '|';

/// English number words read as numbers in answers ("seven" → 7).
const NUMBER_WORDS: [&str; 21] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
];

/// Words after which "one" is a pronoun ("no one", "the one"), not the number 1.
const ONE_AS_PRONOUN_AFTER: [&str; 12] = [
    "no", "any", "some", "every", "each", "the", "this", "that", "which", "a", "another", "someone",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnswerScale {
    /// Whole numbers `low..=high` (ESS codes them as themselves).
    Numeric { low: i64, high: i64 },
    /// Options in order; ESS codes them 1..=n.
    Options(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScaleError {
    #[error("empty answer scale (expected a range like '0-10' or options like 'Yes|No')")]
    Empty,
    #[error("scale range '{0}' must run from a lower to a higher whole number, like '0-10'")]
    BadRange(String),
    #[error("scale '{spec}' has an empty option at position {position}")]
    EmptyOption { spec: String, position: usize },
    #[error("scale '{spec}' lists option '{option}' twice")]
    DuplicateOption { spec: String, option: String },
    #[error("scale '{0}' needs at least two options separated by '|'")]
    SingleOption(String),
}

/// A free-text answer that matches no position of the scale, or more than one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not read an answer from '{text}': {reason}")]
pub struct Unparseable {
    pub text: String,
    pub reason: String,
}

impl AnswerScale {
    /// Parses a spec: `A-B` for a numeric range, otherwise options separated by `|`.
    pub fn parse(spec: &str) -> Result<AnswerScale, ScaleError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(ScaleError::Empty);
        }
        if !spec.contains(OPTION_SEPARATOR) {
            if let Some((low, high)) = spec.split_once('-') {
                let (low, high) = (low.trim(), high.trim());
                let is_number = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
                if is_number(low) && is_number(high) {
                    let bad = || ScaleError::BadRange(spec.to_string());
                    let low: i64 = low.parse().map_err(|_| bad())?;
                    let high: i64 = high.parse().map_err(|_| bad())?;
                    if low >= high {
                        return Err(bad());
                    }
                    return Ok(AnswerScale::Numeric { low, high });
                }
            }
            return Err(ScaleError::SingleOption(spec.to_string()));
        }
        let options: Vec<String> = spec
            .split(OPTION_SEPARATOR)
            .map(|o| o.trim().to_string())
            .collect();
        for (i, option) in options.iter().enumerate() {
            if words(option).is_empty() {
                return Err(ScaleError::EmptyOption {
                    spec: spec.to_string(),
                    position: i + 1,
                });
            }
            // Options that read the same would make answer matching ambiguous by construction.
            if options[..i].iter().any(|o| words(o) == words(option)) {
                return Err(ScaleError::DuplicateOption {
                    spec: spec.to_string(),
                    option: option.clone(),
                });
            }
        }
        Ok(AnswerScale::Options(options))
    }

    /// Number of answer positions.
    pub fn len(&self) -> usize {
        match self {
            AnswerScale::Numeric { low, high } => usize::try_from(high - low + 1).unwrap_or(0),
            AnswerScale::Options(options) => options.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What each position is called: "0".."10" for a numeric range, else the options.
    pub fn labels(&self) -> Vec<String> {
        match self {
            AnswerScale::Numeric { low, high } => (*low..=*high).map(|n| n.to_string()).collect(),
            AnswerScale::Options(options) => options.clone(),
        }
    }

    /// Position `index` on 0..1: `index / (len − 1)`.
    pub fn rescale_index(&self, index: usize) -> f64 {
        let last = self.len().saturating_sub(1);
        if last == 0 {
            return 0.0;
        }
        index as f64 / last as f64
    }

    /// A raw ESS code on 0..1, or `None` when the code is not on the scale — which is how the
    /// missing codes (7/8/9, 77/88/99, ...) drop out without losing 7, 8, 9 on a 0–10 scale.
    /// Numeric: `(raw − low) / (high − low)`; options are coded 1..=n, see
    /// [`AnswerScale::rescale_code_from`] for items that ESS codes from 0.
    pub fn rescale_code(&self, raw: f64) -> Option<f64> {
        match self {
            AnswerScale::Numeric { low, .. } => self.rescale_code_from(raw, *low),
            AnswerScale::Options(_) => self.rescale_code_from(raw, 1),
        }
    }

    /// Like [`AnswerScale::rescale_code`] with the code of the first position given: a few ESS
    /// option items are coded from 0 (for example `tvtot`, 0 = "No time at all").
    pub fn rescale_code_from(&self, raw: f64, first_code: i64) -> Option<f64> {
        let first = first_code as f64;
        let last = first + self.len() as f64 - 1.0;
        if !raw.is_finite() || raw < first || raw > last || last <= first {
            return None;
        }
        Some((raw - first) / (last - first))
    }

    /// Probability-weighted mean of the rescaled positions (0..1), with `probs` one weight per
    /// position, normalised by their sum. `None` if the lengths differ or the weights are not
    /// non-negative numbers with a positive sum.
    pub fn try_expected_value(&self, probs: &[f64]) -> Option<f64> {
        if probs.len() != self.len() || probs.iter().any(|p| !p.is_finite() || *p < 0.0) {
            return None;
        }
        let total: f64 = probs.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let weighted: f64 = probs
            .iter()
            .enumerate()
            .map(|(i, p)| p * self.rescale_index(i))
            .sum();
        Some(weighted / total)
    }

    /// [`AnswerScale::try_expected_value`], NaN where that is `None` (so a bad input can never
    /// pass for a real score: NaN fails every comparison and poisons every mean).
    pub fn expected_value(&self, probs: &[f64]) -> f64 {
        self.try_expected_value(probs).unwrap_or(f64::NAN)
    }

    /// Reads a free-text answer as a position (0-based index). Only the first non-empty line is
    /// read, because base models go on with new questions after answering. Numeric scales take
    /// one number, in digits or words ("my answer is 7", "7/10", "seven"), ignoring a mention of
    /// the scale itself ("0 to 10", "out of 10"). Option lists match option texts longest first,
    /// case-insensitively, so "Not like me at all" is not read as "Not like me"; where no option
    /// mentions a number, an option number ("3." / "option 3") is read too. Anything else, or
    /// text that points at two different positions, is [`Unparseable`].
    pub fn parse_answer(&self, text: &str) -> Result<usize, Unparseable> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        let fail = |reason: String| Unparseable {
            text: text.to_string(),
            reason,
        };
        match self {
            AnswerScale::Numeric { low, high } => {
                let numbers = numbers_in(line, *low as f64, *high as f64);
                match numbers.as_slice() {
                    [] => Err(fail("no number in the answer".to_string())),
                    [n] if n.fract() == 0.0 && *n >= *low as f64 && *n <= *high as f64 => {
                        Ok((*n - *low as f64) as usize)
                    }
                    [n] => Err(fail(format!("{n} is not on the scale {low}-{high}"))),
                    several => Err(fail(format!("several numbers ({})", join(several)))),
                }
            }
            AnswerScale::Options(options) => {
                let mut found = matched_options(options, line);
                if !options_mention_numbers(options) {
                    let n = options.len() as f64;
                    let positions: Vec<f64> = numbers_in(line, 1.0, n)
                        .into_iter()
                        .filter(|x| x.fract() == 0.0 && *x >= 1.0 && *x <= n)
                        .collect();
                    for p in positions {
                        let index = p as usize - 1;
                        if !found.contains(&index) {
                            found.push(index);
                        }
                    }
                }
                match found.as_slice() {
                    [] => Err(fail("it matches none of the options".to_string())),
                    [index] => Ok(*index),
                    several => {
                        let names: Vec<String> = several
                            .iter()
                            .map(|&i| format!("'{}'", options[i]))
                            .collect();
                        Err(fail(format!("it matches {}", names.join(" and "))))
                    }
                }
            }
        }
    }
}

impl fmt::Display for AnswerScale {
    /// Writes the spec back in the form [`AnswerScale::parse`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerScale::Numeric { low, high } => write!(f, "{low}-{high}"),
            AnswerScale::Options(options) => f.write_str(&options.join("|")),
        }
    }
}

fn join(xs: &[f64]) -> String {
    xs.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Lower-case alphanumeric runs: the same on both sides of a match, so "0.5 to 1 hour" and
/// "Don't know" compare equal whatever the punctuation and case.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether an option text holds a number, in which case a number in an answer is an option
/// text ("3" people, "Three days"), not an option position.
fn options_mention_numbers(options: &[String]) -> bool {
    options
        .iter()
        .flat_map(|o| words(o))
        .any(|w| w.chars().any(|c| c.is_ascii_digit()) || NUMBER_WORDS.contains(&w.as_str()))
}

/// Indices of options whose words occur in the answer, longest option first; matched words are
/// used up, so a shorter option inside a longer one ("not like me" in "not like me at all")
/// cannot also match.
fn matched_options(options: &[String], answer: &str) -> Vec<usize> {
    let text = words(answer);
    let option_words: Vec<Vec<String>> = options.iter().map(|o| words(o)).collect();
    let mut order: Vec<usize> = (0..options.len()).collect();
    order.sort_by_key(|&i| (Reverse(option_words[i].len()), Reverse(options[i].len())));
    let mut used = vec![false; text.len()];
    let mut found = Vec::new();
    for i in order {
        let needle = &option_words[i];
        if needle.is_empty() || needle.len() > text.len() {
            continue;
        }
        for start in 0..=text.len() - needle.len() {
            let span = start..start + needle.len();
            if text[span.clone()] == needle[..] && !used[span.clone()].iter().any(|&u| u) {
                used[span].iter_mut().for_each(|u| *u = true);
                if !found.contains(&i) {
                    found.push(i);
                }
            }
        }
    }
    found
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Word(String),
    Symbol(char),
}

/// Splits text into numbers (with decimals), lower-case words and single symbols.
fn lex(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let digits: String = chars[start..i].iter().collect();
            // Digit runs always parse; an absurdly long one becomes infinity and is off-scale.
            tokens.push(Token::Number(digits.parse().unwrap_or(f64::INFINITY)));
        } else if c.is_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_alphabetic() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect::<String>().to_lowercase();
            tokens.push(Token::Word(word));
        } else {
            if !c.is_whitespace() {
                tokens.push(Token::Symbol(c));
            }
            i += 1;
        }
    }
    tokens
}

/// Distinct numbers an answer gives, in order of appearance, in digits or words, leaving out
/// mentions of the scale itself: the range "low to high" / "low-high" / "between low and high"
/// and a denominator "/high" / "out of high".
fn numbers_in(text: &str, low: f64, high: f64) -> Vec<f64> {
    let tokens: Vec<Token> = {
        let raw = lex(text);
        let mut out = Vec::with_capacity(raw.len());
        for (i, token) in raw.iter().enumerate() {
            let as_number = match token {
                Token::Word(w) => NUMBER_WORDS.iter().position(|n| n == w).filter(|&n| {
                    let pronoun = n == 1
                        && i > 0
                        && matches!(&raw[i - 1], Token::Word(p) if ONE_AS_PRONOUN_AFTER.contains(&p.as_str()));
                    !pronoun
                }),
                _ => None,
            };
            out.push(match as_number {
                Some(n) => Token::Number(n as f64),
                None => token.clone(),
            });
        }
        out
    };
    let is_word = |i: usize, w: &str| matches!(tokens.get(i), Some(Token::Word(x)) if x == w);
    let mut keep = vec![true; tokens.len()];
    for (i, token) in tokens.iter().enumerate() {
        let Token::Number(x) = *token else { continue };
        let after_slash = i >= 1 && tokens[i - 1] == Token::Symbol('/');
        let after_out_of = i >= 2 && is_word(i - 2, "out") && is_word(i - 1, "of");
        if x == high && (after_slash || after_out_of) {
            keep[i] = false;
        }
        let joiner = matches!(tokens.get(i + 1), Some(Token::Symbol('-' | '~' | '–')))
            || is_word(i + 1, "to")
            || is_word(i + 1, "and");
        if x == low && joiner && tokens.get(i + 2) == Some(&Token::Number(high)) {
            keep[i] = false;
            keep[i + 2] = false;
        }
    }
    let mut numbers: Vec<f64> = Vec::new();
    for (token, keep) in tokens.iter().zip(keep) {
        if let (Token::Number(x), true) = (token, keep) {
            if !numbers.contains(x) {
                numbers.push(*x);
            }
        }
    }
    numbers
}

#[cfg(test)]
mod tests;
