//! Adapters on disk in Hugging Face PEFT's layout, so an adapter trained here loads with
//! `PeftModel.from_pretrained` and a PEFT-trained Llama adapter loads here:
//!
//! - `adapter_config.json`: PEFT's `LoraConfig` fields (`peft_type: "LORA"`, `r`, `lora_alpha`,
//!   `lora_dropout`, `target_modules`, ...), see `huggingface/peft`
//!   `src/peft/tuners/lora/config.py`;
//! - `adapter_model.safetensors`: the A and B matrices under PEFT's names,
//!   `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight` with shape (r, in) and
//!   `...lora_B.weight` with shape (out, r) (the adapter name `default` is left out, as PEFT's
//!   `save_pretrained` does).
//!
//! Only plain LoRA on the Llama linears is understood: configs that need more (DoRA, bias
//! training, per-layer ranks, extra trained modules) are refused with the field to change rather
//! than loaded into a model that would silently behave differently.

use crate::lora::config::{LoraConfig, TARGETABLE_MODULES};
use crate::models::llama::{peft_tensor_name, Config};
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// File names PEFT's `save_pretrained` writes and `from_pretrained` reads.
pub const CONFIG_FILE: &str = "adapter_config.json";
pub const WEIGHTS_FILE: &str = "adapter_model.safetensors";
/// What older PEFT versions (and `safe_serialization=False`) write instead; not read here.
const PICKLE_WEIGHTS_FILE: &str = "adapter_model.bin";

/// Prefix of every LoRA tensor name of a `LlamaForCausalLM` wrapped by `PeftModelForCausalLM`.
const NAME_PREFIX: &str = "base_model.model.model.layers.";

/// `adapter_config.json` as written here. The field set is the one PEFT has written since its
/// early releases (PEFT's `LoraConfig` dataclass, `src/peft/tuners/lora/config.py`, plus
/// `PeftConfig`'s `peft_type`, `task_type`, `base_model_name_or_path`, `revision`,
/// `inference_mode`). Newer fields (`use_rslora`, `use_dora`, ...) are left out on purpose: their
/// defaults are what this adapter is, and PEFT releases older than those fields reject unknown
/// keys.
#[derive(Debug, Serialize)]
struct PeftConfigOut<'a> {
    peft_type: &'static str,
    task_type: &'static str,
    base_model_name_or_path: &'a str,
    revision: Option<String>,
    inference_mode: bool,
    r: usize,
    /// PEFT types `lora_alpha` as an int; an integral alpha is written as one.
    lora_alpha: Value,
    lora_dropout: f64,
    target_modules: &'a [String],
    fan_in_fan_out: bool,
    bias: &'static str,
    modules_to_save: Option<Vec<String>>,
    init_lora_weights: bool,
    layers_to_transform: Option<Vec<usize>>,
    layers_pattern: Option<String>,
    rank_pattern: BTreeMap<String, usize>,
    alpha_pattern: BTreeMap<String, f64>,
}

/// `adapter_config.json` as read: every field PEFT may write, unknown ones ignored (PEFT adds
/// fields in most releases), the ones that change the maths checked in `into_lora_config`.
#[derive(Debug, Deserialize)]
struct PeftConfigIn {
    peft_type: Option<String>,
    r: Option<usize>,
    lora_alpha: Option<f64>,
    lora_dropout: Option<f64>,
    target_modules: Option<Value>,
    bias: Option<String>,
    fan_in_fan_out: Option<bool>,
    use_rslora: Option<bool>,
    use_dora: Option<bool>,
    modules_to_save: Option<Value>,
    layers_to_transform: Option<Value>,
    rank_pattern: Option<Value>,
    alpha_pattern: Option<Value>,
    base_model_name_or_path: Option<String>,
}

/// What `load_adapter` found besides the config and tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterInfo {
    /// The base model the adapter was trained on, as its config names it (may be empty).
    pub base_model: String,
}

/// Writes `dir/adapter_config.json` and `dir/adapter_model.safetensors` (f32, metadata
/// `format: pt` as PyTorch's safetensors writer sets it). `tensors` carry PEFT names, as
/// `Llama::lora_tensors` returns them; they are checked against `cfg` before anything is written.
pub fn save_adapter(
    dir: &Path,
    cfg: &LoraConfig,
    tensors: &[(String, Tensor)],
    base_model: &str,
) -> Result<()> {
    cfg.validate()?;
    let map: HashMap<String, Tensor> = tensors.iter().cloned().collect();
    if map.len() != tensors.len() {
        return Err(Error::invalid("adapter tensors contain a name twice"));
    }
    check_tensors(cfg, &map, None)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::file(dir, None, format!("cannot create the adapter folder: {e}")))?;
    let config = PeftConfigOut {
        peft_type: "LORA",
        task_type: "CAUSAL_LM",
        base_model_name_or_path: base_model,
        revision: None,
        inference_mode: true,
        r: cfg.r,
        lora_alpha: alpha_json(cfg.lora_alpha),
        lora_dropout: cfg.lora_dropout,
        target_modules: &cfg.target_modules,
        fan_in_fan_out: false,
        bias: "none",
        modules_to_save: None,
        init_lora_weights: true,
        layers_to_transform: None,
        layers_pattern: None,
        rank_pattern: BTreeMap::new(),
        alpha_pattern: BTreeMap::new(),
    };
    let json = serde_json::to_string_pretty(&config)?;
    let config_path = dir.join(CONFIG_FILE);
    crate::output::write_atomically(&config_path, |w| Ok(w.write_all(json.as_bytes())?))?;
    save_tensors(&dir.join(WEIGHTS_FILE), tensors)
}

/// Reads an adapter folder written by `save_adapter` or by PEFT. Tensors come back as f32 on
/// `device` under their PEFT names, checked for complete A/B pairs of rank `r` on the target
/// modules; shapes against a particular model are checked by `check_against_model`.
pub fn load_adapter(dir: &Path, device: &Device) -> Result<(LoraConfig, HashMap<String, Tensor>)> {
    let (cfg, tensors, _) = load_adapter_with_info(dir, device)?;
    Ok((cfg, tensors))
}

/// `load_adapter`, plus what the config says about the base model.
pub fn load_adapter_with_info(
    dir: &Path,
    device: &Device,
) -> Result<(LoraConfig, HashMap<String, Tensor>, AdapterInfo)> {
    let config_path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&config_path).map_err(|e| {
        Error::file(
            &config_path,
            None,
            format!("cannot read the adapter config ({e}); is this a PEFT adapter folder?"),
        )
    })?;
    let raw: PeftConfigIn = serde_json::from_str(&text).map_err(|e| {
        Error::file(
            &config_path,
            Some(e.line()),
            format!("not a PEFT adapter config: {e}"),
        )
    })?;
    let base_model = raw.base_model_name_or_path.clone().unwrap_or_default();
    let cfg = raw
        .into_lora_config()
        .map_err(|msg| Error::file(&config_path, None, msg))?;

    let weights = dir.join(WEIGHTS_FILE);
    if !weights.is_file() {
        let hint = if dir.join(PICKLE_WEIGHTS_FILE).is_file() {
            format!(
                "only {PICKLE_WEIGHTS_FILE} (a PyTorch pickle) is there; re-save the adapter with PEFT's \
                 save_pretrained(dir, safe_serialization=True) to get {WEIGHTS_FILE}"
            )
        } else {
            format!("the adapter weights {WEIGHTS_FILE} are required")
        };
        return Err(Error::file(&weights, None, format!("missing: {hint}")));
    }
    let loaded = candle_core::safetensors::load(&weights, device).map_err(|e| {
        Error::file(
            &weights,
            None,
            format!("cannot read the safetensors file: {e}"),
        )
    })?;
    let mut tensors = HashMap::with_capacity(loaded.len());
    for (name, t) in loaded {
        // PEFT adapters are often saved in f16/bf16; the engine computes in f32.
        tensors.insert(name, t.to_dtype(DType::F32)?);
    }
    check_tensors(&cfg, &tensors, None).map_err(|e| Error::file(&weights, None, e.to_string()))?;
    Ok((cfg, tensors, AdapterInfo { base_model }))
}

/// Checks adapter tensors against the model they are meant for: layer indices below the model's
/// layer count and A/B shapes matching each target linear's (in, out).
pub fn check_against_model(
    cfg: &LoraConfig,
    tensors: &HashMap<String, Tensor>,
    model: &Config,
) -> Result<()> {
    check_tensors(cfg, tensors, Some(model))
}

/// A parsed PEFT tensor name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LoraName {
    layer: usize,
    module: String,
    /// `lora_A` or `lora_B`.
    matrix: &'static str,
}

fn block_of(module: &str) -> &'static str {
    match module {
        "gate_proj" | "up_proj" | "down_proj" => "mlp",
        _ => "self_attn",
    }
}

fn parse_name(name: &str) -> Option<LoraName> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let mut parts = rest.split('.');
    let layer = parts.next()?.parse().ok()?;
    let block = parts.next()?;
    let module = parts.next()?;
    let matrix = match parts.next()? {
        "lora_A" => "lora_A",
        "lora_B" => "lora_B",
        _ => return None,
    };
    if parts.next()? != "weight" || parts.next().is_some() {
        return None;
    }
    if !TARGETABLE_MODULES.contains(&module) || block_of(module) != block {
        return None;
    }
    Some(LoraName {
        layer,
        module: module.to_string(),
        matrix,
    })
}

/// (in, out) features of a target linear in `model`.
fn linear_dims(model: &Config, module: &str) -> (usize, usize) {
    let q = model.num_heads * model.head_dim;
    let kv = model.num_kv_heads * model.head_dim;
    match module {
        "q_proj" => (model.hidden_size, q),
        "k_proj" | "v_proj" => (model.hidden_size, kv),
        "o_proj" => (q, model.hidden_size),
        "gate_proj" | "up_proj" => (model.hidden_size, model.intermediate_size),
        _ => (model.intermediate_size, model.hidden_size),
    }
}

fn check_tensors(
    cfg: &LoraConfig,
    tensors: &HashMap<String, Tensor>,
    model: Option<&Config>,
) -> Result<()> {
    if tensors.is_empty() {
        return Err(Error::invalid("the adapter holds no lora tensors"));
    }
    let mut seen = BTreeMap::new();
    for (name, t) in tensors {
        let parsed = parse_name(name).ok_or_else(|| {
            Error::invalid(format!(
                "tensor '{name}' is not a llama lora weight (expected names like '{}')",
                peft_tensor_name(0, "q_proj", "lora_A")
            ))
        })?;
        if !cfg.targets(&parsed.module) {
            return Err(Error::invalid(format!(
                "tensor '{name}' adapts {} which is not among the target modules ({})",
                parsed.module,
                cfg.target_modules.join(", ")
            )));
        }
        let (rows, cols) = t.dims2().map_err(|_| {
            Error::invalid(format!(
                "tensor '{name}' has shape {:?}, expected a matrix",
                t.dims()
            ))
        })?;
        // A is (r, in) and B is (out, r), as torch.nn.Linear stores weights.
        let rank = if parsed.matrix == "lora_A" {
            rows
        } else {
            cols
        };
        if rank != cfg.r {
            return Err(Error::invalid(format!(
                "tensor '{name}' has shape ({rows}, {cols}) but the adapter config says r = {}",
                cfg.r
            )));
        }
        if let Some(model) = model {
            if parsed.layer >= model.num_layers {
                return Err(Error::invalid(format!(
                    "tensor '{name}' is for layer {} but the model has {} layers; was the adapter trained on another base model?",
                    parsed.layer, model.num_layers
                )));
            }
            let (fan_in, fan_out) = linear_dims(model, &parsed.module);
            let expected = if parsed.matrix == "lora_A" {
                (cfg.r, fan_in)
            } else {
                (fan_out, cfg.r)
            };
            if (rows, cols) != expected {
                return Err(Error::invalid(format!(
                    "tensor '{name}' has shape ({rows}, {cols}) but this model needs {expected:?}; was the adapter trained on another base model?"
                )));
            }
        }
        seen.insert(parsed, ());
    }
    // Every adapted linear needs both halves; a lone A or B is a truncated file.
    for parsed in seen.keys() {
        let other = if parsed.matrix == "lora_A" {
            "lora_B"
        } else {
            "lora_A"
        };
        let partner = LoraName {
            matrix: other,
            ..parsed.clone()
        };
        if !seen.contains_key(&partner) {
            return Err(Error::invalid(format!(
                "'{}' has no matching '{}'",
                peft_tensor_name(parsed.layer, &parsed.module, parsed.matrix),
                peft_tensor_name(parsed.layer, &parsed.module, other)
            )));
        }
    }
    Ok(())
}

fn alpha_json(alpha: f64) -> Value {
    if alpha.fract() == 0.0 && alpha.abs() < 1e15 {
        Value::from(alpha as i64)
    } else {
        Value::from(alpha)
    }
}

/// f32 little-endian safetensors with PyTorch's `format: pt` metadata, which `transformers`
/// checks on load and PEFT writes.
pub(crate) fn save_tensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let mut data = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        data.push((name.clone(), t.dims().to_vec(), bytes));
    }
    let views = data
        .iter()
        .map(|(name, shape, bytes)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map(|view| (name.clone(), view))
                .map_err(|e| Error::invalid(format!("tensor '{name}' cannot be written: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let bytes = safetensors::tensor::serialize(views, Some(metadata))
        .map_err(|e| Error::file(path, None, format!("cannot encode safetensors: {e}")))?;
    crate::output::write_atomically(path, |w| Ok(w.write_all(&bytes)?))
}

impl PeftConfigIn {
    fn into_lora_config(self) -> std::result::Result<LoraConfig, String> {
        match self.peft_type.as_deref() {
            Some("LORA") => {}
            Some(other) => {
                return Err(format!(
                    "peft_type is '{other}'; only LORA adapters are supported"
                ))
            }
            None => return Err("peft_type is missing (expected \"LORA\")".into()),
        }
        let r = self.r.ok_or("r (the lora rank) is missing")?;
        // PEFT's dataclass defaults (config.py) for fields an older writer left out.
        let mut lora_alpha = self.lora_alpha.unwrap_or(8.0);
        let lora_dropout = self.lora_dropout.unwrap_or(0.0);
        if let Some(bias) = self.bias.as_deref().filter(|b| *b != "none") {
            return Err(format!(
                "bias is '{bias}'; only adapters trained with bias \"none\" are supported"
            ));
        }
        if self.fan_in_fan_out == Some(true) {
            return Err(
                "fan_in_fan_out is true, which is for GPT-2 style Conv1D layers, not Llama".into(),
            );
        }
        if self.use_dora == Some(true) {
            return Err(
                "use_dora is true; DoRA adapters are not supported, only plain LoRA".into(),
            );
        }
        for (field, value) in [
            ("modules_to_save", &self.modules_to_save),
            ("layers_to_transform", &self.layers_to_transform),
            ("rank_pattern", &self.rank_pattern),
            ("alpha_pattern", &self.alpha_pattern),
        ] {
            if !is_empty(value) {
                return Err(format!("{field} is set; adapters with {field} are not supported (leave it null or empty)"));
            }
        }
        if self.use_rslora == Some(true) {
            // rsLoRA scales by alpha/sqrt(r) instead of alpha/r: the same adapter with a larger alpha.
            lora_alpha *= (r as f64).sqrt();
        }
        let target_modules = match self.target_modules {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or("target_modules must be a list of module names"))
                .collect::<std::result::Result<Vec<_>, _>>()?,
            Some(Value::String(s)) if s == "all-linear" => TARGETABLE_MODULES.iter().map(|m| m.to_string()).collect(),
            Some(Value::String(s)) => {
                return Err(format!(
                    "target_modules is the pattern '{s}'; list the module names instead (for example [\"q_proj\", \"v_proj\"])"
                ))
            }
            _ => return Err("target_modules is missing (for example [\"q_proj\", \"v_proj\"])".into()),
        };
        let cfg = LoraConfig {
            r,
            lora_alpha,
            lora_dropout,
            target_modules,
        };
        cfg.validate().map_err(|e| e.to_string())?;
        Ok(cfg)
    }
}

fn is_empty(value: &Option<Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests;
