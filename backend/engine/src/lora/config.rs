//! LoRA hyper-parameters, named as in Hugging Face PEFT's `LoraConfig` so that
//! `adapter_config.json` round-trips with PEFT.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Linear layers of a Llama block that can carry an adapter, by their checkpoint names.
pub const TARGETABLE_MODULES: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraConfig {
    pub r: usize,
    pub lora_alpha: f64,
    pub lora_dropout: f64,
    pub target_modules: Vec<String>,
}

impl Default for LoraConfig {
    /// The paper's rank 8 (Appendix B) on PEFT's default Llama targets; alpha 16 and dropout
    /// 0.05 are the usual alpaca-lora settings (the paper does not state them).
    fn default() -> Self {
        Self {
            r: 8,
            lora_alpha: 16.0,
            lora_dropout: 0.05,
            target_modules: vec!["q_proj".into(), "v_proj".into()],
        }
    }
}

impl LoraConfig {
    pub fn validate(&self) -> Result<()> {
        if self.r == 0 {
            return Err(Error::invalid("lora rank r must be at least 1"));
        }
        if !(0.0..1.0).contains(&self.lora_dropout) {
            return Err(Error::invalid(format!(
                "lora_dropout {} is outside 0..1",
                self.lora_dropout
            )));
        }
        if self.target_modules.is_empty() {
            return Err(Error::invalid(
                "no lora target modules given (for example: q_proj,v_proj)",
            ));
        }
        for module in &self.target_modules {
            if !TARGETABLE_MODULES.contains(&module.as_str()) {
                return Err(Error::invalid(format!(
                    "unknown target module '{module}' (expected one of: {})",
                    TARGETABLE_MODULES.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The factor applied to B·A (PEFT's `scaling = lora_alpha / r`).
    pub fn scale(&self) -> f64 {
        self.lora_alpha / self.r as f64
    }

    pub fn targets(&self, module: &str) -> bool {
        self.target_modules.iter().any(|m| m == module)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_target_module_is_named_with_the_valid_ones() {
        let cfg = LoraConfig {
            target_modules: vec!["qproj".into()],
            ..LoraConfig::default()
        };
        let msg = cfg.validate().unwrap_err().to_string();
        assert!(msg.contains("unknown target module 'qproj'"), "{msg}");
        assert!(msg.contains("q_proj, k_proj"), "{msg}");
    }

    #[test]
    fn default_is_rank_8_on_q_and_v_with_peft_scaling() {
        let cfg = LoraConfig::default();
        cfg.validate().unwrap();
        assert_eq!(cfg.r, 8);
        assert!(cfg.targets("q_proj") && cfg.targets("v_proj") && !cfg.targets("k_proj"));
        assert_eq!(cfg.scale(), 2.0);
        let json = serde_json::to_value(&cfg).unwrap();
        assert_eq!(json["lora_alpha"], 16.0);
        assert_eq!(json["target_modules"][1], "v_proj");
    }
}
