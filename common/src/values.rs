//! Schwartz's ten basic values in the fixed order valuelab uses everywhere: the alphabetical
//! order of the authors' released data (`country_and_group.csv`, `valueEval_10.csv`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub const VALUE_COUNT: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Value {
    Achievement,
    Benevolence,
    Conformity,
    Hedonism,
    Power,
    Security,
    SelfDirection,
    Stimulation,
    Tradition,
    Universalism,
}

pub const ALL_VALUES: [Value; VALUE_COUNT] = [
    Value::Achievement,
    Value::Benevolence,
    Value::Conformity,
    Value::Hedonism,
    Value::Power,
    Value::Security,
    Value::SelfDirection,
    Value::Stimulation,
    Value::Tradition,
    Value::Universalism,
];

impl Value {
    /// Position in [`ALL_VALUES`] and in every score vector.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(index: usize) -> Option<Value> {
        ALL_VALUES.get(index).copied()
    }

    /// Display name as spelled in the released data ("Self-direction").
    pub fn name(self) -> &'static str {
        match self {
            Value::Achievement => "Achievement",
            Value::Benevolence => "Benevolence",
            Value::Conformity => "Conformity",
            Value::Hedonism => "Hedonism",
            Value::Power => "Power",
            Value::Security => "Security",
            Value::SelfDirection => "Self-direction",
            Value::Stimulation => "Stimulation",
            Value::Tradition => "Tradition",
            Value::Universalism => "Universalism",
        }
    }

    /// The paper's abbreviation (Section 2, Table 3 headers).
    pub fn abbreviation(self) -> &'static str {
        match self {
            Value::Achievement => "Ach",
            Value::Benevolence => "Ben",
            Value::Conformity => "Con",
            Value::Hedonism => "Hed",
            Value::Power => "Pow",
            Value::Security => "Sec",
            Value::SelfDirection => "SD",
            Value::Stimulation => "Sti",
            Value::Tradition => "Tra",
            Value::Universalism => "Uni",
        }
    }

    /// Definition as worded in the paper's long prompt (Table 23), after "values".
    pub fn definition(self) -> &'static str {
        match self {
            Value::Achievement => "personal success through demonstrating competence according to social standards",
            Value::Benevolence => "preserving and enhancing the welfare of those with whom one is in frequent personal contact (the 'in-group')",
            Value::Conformity => "restraint of actions, inclinations, and impulses likely to upset or harm others and violate social expectations or norms",
            Value::Hedonism => "pleasure or sensuous gratification for oneself",
            Value::Power => "social status and prestige, control or dominance over people and resources",
            Value::Security => "safety, harmony, and stability of society, of relationships, and of self",
            Value::SelfDirection => "independent thought and action\u{2014}choosing, creating, exploring.",
            Value::Stimulation => "excitement, novelty, and challenge in life",
            Value::Tradition => "respect, commitment, and acceptance of the customs and ideas that one's culture or religion provides",
            Value::Universalism => "understanding, appreciation, tolerance, and protection for the welfare of all people and for nature",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value '{0}' (expected one of: Achievement, Benevolence, Conformity, Hedonism, Power, Security, Self-direction, Stimulation, Tradition, Universalism)")]
pub struct UnknownValue(pub String);

impl FromStr for Value {
    type Err = UnknownValue;

    /// Accepts display names, abbreviations and the spellings found in the data
    /// ("Self-Direction", "SELF-DIRECTION", "self_direction"), case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        ALL_VALUES
            .iter()
            .copied()
            .find(|v| {
                let name: String = v
                    .name()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .collect();
                name.eq_ignore_ascii_case(&key) || v.abbreviation().eq_ignore_ascii_case(&key)
            })
            .ok_or_else(|| UnknownValue(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_alphabetical_like_the_released_data() {
        let names: Vec<&str> = ALL_VALUES.iter().map(|v| v.name()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for (i, v) in ALL_VALUES.iter().enumerate() {
            assert_eq!(v.index(), i);
            assert_eq!(Value::from_index(i), Some(*v));
        }
    }

    #[test]
    fn parses_the_spellings_found_in_the_data() {
        assert_eq!("Self-Direction".parse::<Value>(), Ok(Value::SelfDirection));
        assert_eq!("SELF-DIRECTION".parse::<Value>(), Ok(Value::SelfDirection));
        assert_eq!("self_direction".parse::<Value>(), Ok(Value::SelfDirection));
        assert_eq!("POWER".parse::<Value>(), Ok(Value::Power));
        assert_eq!("Uni".parse::<Value>(), Ok(Value::Universalism));
        let err = "Powr".parse::<Value>().unwrap_err();
        assert!(err.to_string().contains("'Powr'"));
    }
}
