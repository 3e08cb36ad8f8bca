//! Wire types of the JSON API under `/api`, shared by the server (which serialises them) and the
//! wasm frontend (which deserialises them), so both sides agree on field names at compile time.

pub mod auth;
pub mod jobs;
pub mod populations;
pub mod runs;
pub mod studies;

use crate::values::{Value, ALL_VALUES};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResponse {
    /// `"ok"` whenever the server answers at all.
    pub status: String,
    /// The server's crate version, so a client can tell which build it talks to.
    pub version: String,
}

/// One of Schwartz's ten values as the API presents it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueInfo {
    /// Stable identifier (`"SelfDirection"`), the enum variant as serde writes it.
    pub value: Value,
    /// Position in [`ALL_VALUES`] and in every score vector.
    pub index: usize,
    pub name: String,
    pub abbreviation: String,
    pub definition: String,
}

impl From<Value> for ValueInfo {
    fn from(value: Value) -> Self {
        ValueInfo {
            value,
            index: value.index(),
            name: value.name().to_string(),
            abbreviation: value.abbreviation().to_string(),
            definition: value.definition().to_string(),
        }
    }
}

/// `GET /api/values`: the ten values in valuelab's fixed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValuesResponse {
    pub values: Vec<ValueInfo>,
}

impl ValuesResponse {
    pub fn all() -> Self {
        ValuesResponse {
            values: ALL_VALUES.iter().copied().map(ValueInfo::from).collect(),
        }
    }
}

/// Body of every error answer of the API (4xx and 5xx). A form's 400 (a bad job spec) adds
/// `fields`: each bad field, as a dotted path (`model.batch_size`), with what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_response_lists_the_ten_values_in_the_fixed_order() {
        let response = ValuesResponse::all();
        let values: Vec<Value> = response.values.iter().map(|v| v.value).collect();
        assert_eq!(values, ALL_VALUES.to_vec());
        for (i, info) in response.values.iter().enumerate() {
            assert_eq!(info.index, i);
            assert_eq!(info.name, info.value.name());
        }
    }

    #[test]
    fn value_info_round_trips_through_json() {
        let info = ValueInfo::from(Value::SelfDirection);
        let json = serde_json::to_string(&info).expect("plain data serialises");
        assert!(json.contains("\"name\":\"Self-direction\""), "{json}");
        let back: ValueInfo = serde_json::from_str(&json).expect("own output parses");
        assert_eq!(back, info);
    }
}
