//! Text ↔ token ids for the models `models::load_model` builds.
//!
//! GGUF files carry no `tokenizer.json`: their byte-level BPE is rebuilt from the
//! `tokenizer.ggml.*` metadata with the tokenizers crate (ENGINE-NOTES trap 8). Hugging Face
//! directories load their `tokenizer.json` as is. Both end up in [`TextTokenizer`], which the
//! generation and scoring code uses without knowing where the vocabulary came from.

use crate::{Error, Result};
use ahash::AHashMap;
use candle_core::quantized::gguf_file;
use std::path::Path;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

/// llama.cpp's token type for control tokens (`<|im_start|>` and friends): they must never be
/// split by the BPE, so they become special tokens.
const GGUF_TOKEN_TYPE_CONTROL: u32 = 3;

/// A tokenizer plus the ids generation and padding need.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    bos_id: Option<u32>,
    eos_id: Option<u32>,
    pad_id: u32,
}

impl TextTokenizer {
    /// Wraps a ready tokenizer. `pad_id` only fills padded positions that are masked out, so any
    /// valid id works; it defaults to eos, then 0.
    pub fn new(
        inner: Tokenizer,
        bos_id: Option<u32>,
        eos_id: Option<u32>,
        pad_id: Option<u32>,
    ) -> Self {
        let pad_id = pad_id.or(eos_id).unwrap_or(0);
        TextTokenizer {
            inner,
            bos_id,
            eos_id,
            pad_id,
        }
    }

    /// Rebuilds the byte-level BPE of a llama.cpp GGUF file from its metadata.
    pub fn from_gguf(content: &gguf_file::Content, path: &Path) -> Result<Self> {
        let md = &content.metadata;
        let model = md
            .get("tokenizer.ggml.model")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        if model != "gpt2" {
            return Err(Error::file(
                path,
                None,
                format!(
                    "tokenizer model '{model}' is not supported (only byte-level BPE, 'gpt2'); \
                     use the model's Hugging Face directory with its tokenizer.json instead"
                ),
            ));
        }
        let strings = |key: &str| -> Result<Vec<String>> {
            let values = md
                .get(key)
                .ok_or_else(|| Error::file(path, None, format!("metadata '{key}' is missing")))?
                .to_vec()?;
            values.iter().map(|v| Ok(v.to_string()?.clone())).collect()
        };
        let tokens = strings("tokenizer.ggml.tokens")?;
        let merges = strings("tokenizer.ggml.merges")?;
        let types: Vec<u32> = match md.get("tokenizer.ggml.token_type") {
            Some(v) => v
                .to_vec()?
                .iter()
                .map(|t| t.to_i32().map(|t| t as u32))
                .collect::<candle_core::Result<_>>()?,
            None => Vec::new(),
        };
        let special: Vec<String> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, t)| **t == GGUF_TOKEN_TYPE_CONTROL)
            .map(|(s, _)| s.clone())
            .collect();
        let id = |key: &str| md.get(key).and_then(|v| v.to_u32().ok());
        let bos_id = id("tokenizer.ggml.bos_token_id");
        let eos_id = id("tokenizer.ggml.eos_token_id");
        let pad_id = id("tokenizer.ggml.padding_token_id");
        // llama.cpp adds bos unless told not to; SmolLM2 says `add_bos_token = false`.
        let add_bos = md
            .get("tokenizer.ggml.add_bos_token")
            .and_then(|v| v.to_bool().ok())
            .unwrap_or(true);
        let bos = if add_bos {
            bos_id.and_then(|id| Some((tokens.get(id as usize)?.clone(), id)))
        } else {
            None
        };
        let inner = byte_level_bpe(&tokens, &merges, &special, bos).map_err(|e| {
            Error::file(
                path,
                None,
                format!("cannot build the tokenizer from metadata: {e}"),
            )
        })?;
        Ok(TextTokenizer::new(inner, bos_id, eos_id, pad_id))
    }

    /// Loads a Hugging Face `tokenizer.json`; the special ids come from the model's config files.
    pub fn from_file(
        path: &Path,
        bos_id: Option<u32>,
        eos_id: Option<u32>,
        pad_id: Option<u32>,
    ) -> Result<Self> {
        let inner = Tokenizer::from_file(path)
            .map_err(|e| Error::file(path, None, format!("cannot read tokenizer: {e}")))?;
        Ok(TextTokenizer::new(inner, bos_id, eos_id, pad_id))
    }

    /// Token ids of `text`. Special-token text such as `<|im_start|>` maps to its single id.
    /// `begin_sequence` lets the tokenizer add what it puts at the start of a sequence (bos for
    /// Llama-2/3; nothing for SmolLM2): pass it for the first piece of a prompt only.
    pub fn encode(&self, text: &str, begin_sequence: bool) -> Result<Vec<u32>> {
        let encoding = self
            .inner
            .encode(text, begin_sequence)
            .map_err(|e| Error::invalid(format!("cannot tokenize {text:?}: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Text of `ids`; `skip_special` drops special tokens (`<|im_end|>`) from the output.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special)
            .map_err(|e| Error::invalid(format!("cannot decode token ids {ids:?}: {e}")))
    }

    /// The id of a token spelled exactly `token` (vocabulary or added token).
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The vocabulary spelling of `id` (`Ġ` for a leading space in byte-level BPE).
    pub fn token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }

    pub fn eos_id(&self) -> Option<u32> {
        self.eos_id
    }

    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}

/// The GPT-2 style byte-level BPE SmolLM2 and friends use: digits split one by one, then the
/// GPT-2 regex, no prefix space; `special` tokens are never split; `bos` (text, id) is prepended
/// when a sequence begins.
pub fn byte_level_bpe(
    tokens: &[String],
    merges: &[String],
    special: &[String],
    bos: Option<(String, u32)>,
) -> std::result::Result<Tokenizer, String> {
    let vocab: AHashMap<String, u32> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let merges = merges
        .iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| format!("merge {m:?} is not 'a b'"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| e.to_string())?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
        Digits::new(true).into(),
        ByteLevel::new(false, true, true).into(),
    ])));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    if let Some((text, id)) = bos {
        let template = TemplateProcessing::builder()
            .try_single(format!("{text} $A"))
            .and_then(|b| b.try_pair(format!("{text} $A $B")))
            .map_err(|e| e.to_string())?
            .special_tokens(vec![(text.as_str(), id)])
            .build()
            .map_err(|e| e.to_string())?;
        tokenizer.with_post_processor(Some(template));
    }
    let added: Vec<AddedToken> = special
        .iter()
        .map(|s| AddedToken::from(s.clone(), true))
        .collect();
    tokenizer
        .add_special_tokens(added)
        .map_err(|e| e.to_string())?;
    Ok(tokenizer)
}

/// Tiny tokenizers and models for tests here and in other modules.
pub mod testing {
    use super::*;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;

    /// ChatML markers at ids 0..3, as in SmolLM2, so chat prompts work with the test tokenizer.
    pub const TEST_SPECIAL: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
    /// A handful of merges so multi-byte tokens (and "Ġ" + word) exist.
    pub const TEST_MERGES: [&str; 10] = [
        "Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ A", "a n", "Ġ .",
    ];

    /// A byte-level BPE over all 256 bytes plus [`TEST_MERGES`] and the ChatML markers
    /// (about 270 ids), built by the same code as the GGUF tokenizer: any text round-trips.
    pub fn test_tokenizer() -> TextTokenizer {
        let mut tokens: Vec<String> = TEST_SPECIAL.iter().map(|s| s.to_string()).collect();
        let mut alphabet: Vec<char> = ByteLevel::alphabet().into_iter().collect();
        alphabet.sort_unstable();
        tokens.extend(alphabet.iter().map(|c| c.to_string()));
        let merges: Vec<String> = TEST_MERGES.iter().map(|s| s.to_string()).collect();
        for m in &merges {
            tokens.push(m.replace(' ', ""));
        }
        let special: Vec<String> = TEST_SPECIAL.iter().map(|s| s.to_string()).collect();
        let inner = byte_level_bpe(&tokens, &merges, &special, None)
            .expect("the test vocabulary is consistent");
        TextTokenizer::new(inner, Some(1), Some(2), Some(2))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::test_tokenizer;

    #[test]
    fn test_tokenizer_round_trips_varied_text() {
        let tok = test_tokenizer();
        for text in [
            "Hello, world!",
            "naïve café — 日本語 ✓",
            "digits 12345 and 3.14",
            "line one\nline two\n\n\ttab",
            "  leading spaces",
            "",
        ] {
            let ids = tok.encode(text, true).unwrap();
            assert_eq!(tok.decode(&ids, false).unwrap(), text, "ids {ids:?}");
        }
    }

    #[test]
    fn chatml_markers_are_single_special_tokens() {
        let tok = test_tokenizer();
        let ids = tok
            .encode("<|im_start|>user\nhi<|im_end|>\n", false)
            .unwrap();
        assert_eq!(ids[0], tok.token_id("<|im_start|>").unwrap());
        assert!(ids.contains(&tok.token_id("<|im_end|>").unwrap()));
        assert_eq!(tok.decode(&ids, true).unwrap(), "user\nhi\n");
    }

    #[test]
    fn a_space_before_a_digit_is_its_own_token() {
        let tok = test_tokenizer();
        let ids = tok.encode(" 1", false).unwrap();
        let spelled: Vec<String> = ids.iter().map(|&id| tok.token(id).unwrap()).collect();
        assert_eq!(spelled, ["Ġ", "1"]);
        // Digits are split one by one, so "12" is two tokens too.
        assert_eq!(tok.encode("12", false).unwrap().len(), 2);
    }

    #[test]
    fn merges_apply() {
        let tok = test_tokenizer();
        let ids = tok.encode(" the", false).unwrap();
        assert_eq!(ids, [tok.token_id("Ġthe").unwrap()]);
    }
}
