//! How a persona and a task become the model's prompt, and how answer options are spelled after it.
//!
//! Jinja is not implemented: the chat template a model ships (GGUF `tokenizer.chat_template`,
//! `tokenizer_config.json`) is only inspected for the markers of the two formats valuelab
//! knows, ChatML (`<|im_start|>`, SmolLM2, Qwen) and Llama-3 headers (`<|start_header_id|>`).
//! Anything else gets a plain prompt.
//!
//! Where the persona goes: the paper (Tables 22–23) writes persona and task as ONE prompt, so in
//! a chat format both go into the user turn, persona first. The system turn carries the
//! template's own default system prompt when the template spells one out literally (SmolLM2's
//! "You are a helpful AI assistant named SmolLM, trained by Hugging Face"), because that is what
//! the model saw in training and what `apply_chat_template` produces for a conversation without a
//! system message.
//!
//! Every prompt splits into `prefix` (everything up to the end of the persona) and `rest`, so
//! the prefix is encoded once per persona and its KV cache reused for every task. The split
//! sits where the byte-level BPE splits anyway (after non-space text or a newline followed by a
//! special token), so encoding the parts separately gives the same tokens as the whole prompt.

/// ChatML turn markers (SmolLM2).
const IM_START: &str = "<|im_start|>";
const IM_END: &str = "<|im_end|>";
/// Llama-3 turn markers.
const HEADER_START: &str = "<|start_header_id|>";
const HEADER_END: &str = "<|end_header_id|>";
const EOT: &str = "<|eot_id|>";

/// Separates the persona from the task in one turn or plain prompt (the paper's Table 23 uses
/// blank lines between its parts).
const PERSONA_SEPARATOR: &str = "\n\n";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatFormat {
    ChatMl,
    Llama3,
}

/// A recognised chat format and the default system prompt its template writes, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatTemplate {
    pub format: ChatFormat,
    pub default_system: Option<String>,
}

/// A full prompt as `prefix + rest`; `prefix` depends only on the persona.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptParts {
    pub prefix: String,
    pub rest: String,
}

impl PromptParts {
    pub fn full(&self) -> String {
        format!("{}{}", self.prefix, self.rest)
    }
}

impl ChatTemplate {
    /// Recognises a Jinja chat template by its markers; None means "use plain prompts".
    pub fn detect(template: &str) -> Option<ChatTemplate> {
        if template.contains(IM_START) && template.contains(IM_END) {
            let starts = [
                format!("{IM_START}system\n"),
                format!("{IM_START}system\\n"),
            ];
            let default_system = literal_between(template, &starts, IM_END);
            Some(ChatTemplate {
                format: ChatFormat::ChatMl,
                default_system,
            })
        } else if template.contains(HEADER_START) && template.contains(EOT) {
            // Llama 3.1's default system prompt is assembled from variables (dates); none is used.
            Some(ChatTemplate {
                format: ChatFormat::Llama3,
                default_system: None,
            })
        } else {
            None
        }
    }

    /// SmolLM2's format, for tests and for models whose files carry no template.
    pub fn chatml(default_system: Option<&str>) -> ChatTemplate {
        ChatTemplate {
            format: ChatFormat::ChatMl,
            default_system: default_system.map(str::to_string),
        }
    }

    /// The token text that ends an assistant turn; generation stops there.
    pub fn end_of_turn(&self) -> &'static str {
        match self.format {
            ChatFormat::ChatMl => IM_END,
            ChatFormat::Llama3 => EOT,
        }
    }

    /// One system turn (when there is a system prompt) and one user turn holding persona and
    /// task, then the assistant header.
    pub fn prompt_parts(&self, persona: &str, task: &str) -> PromptParts {
        let (persona, task) = (persona.trim(), task.trim());
        let style = &self.format;
        let open = |role: &str| match style {
            ChatFormat::ChatMl => format!("{IM_START}{role}\n"),
            ChatFormat::Llama3 => format!("{HEADER_START}{role}{HEADER_END}\n\n"),
        };
        let close = match style {
            ChatFormat::ChatMl => format!("{IM_END}\n"),
            ChatFormat::Llama3 => EOT.to_string(),
        };
        let assistant = open("assistant");
        let mut prefix = String::new();
        if let Some(system) = &self.default_system {
            prefix.push_str(&open("system"));
            prefix.push_str(system);
            prefix.push_str(&close);
        }
        prefix.push_str(&open("user"));
        let mut rest = String::new();
        if persona.is_empty() {
            rest.push_str(task);
        } else {
            prefix.push_str(persona);
            rest.push_str(PERSONA_SEPARATOR);
            rest.push_str(task);
        }
        rest.push_str(&close);
        rest.push_str(&assistant);
        PromptParts { prefix, rest }
    }
}

/// A plain prompt: persona, a blank line, the task.
pub fn plain_prompt_parts(persona: &str, task: &str) -> PromptParts {
    let (persona, task) = (persona.trim(), task.trim());
    if persona.is_empty() {
        PromptParts {
            prefix: String::new(),
            rest: task.to_string(),
        }
    } else {
        PromptParts {
            prefix: persona.to_string(),
            rest: format!("{PERSONA_SEPARATOR}{task}"),
        }
    }
}

/// How an answer option is written right after the prompt (ENGINE-NOTES trap 9): after a plain
/// prompt ending in "Answer:" the model expects a space first (" 1", " Very much like me"); after
/// a chat assistant header the answer starts the turn, with no leading space.
pub fn answer_surface(chat: Option<&ChatTemplate>, option: &str) -> String {
    let option = option.trim_start();
    match chat {
        Some(_) => option.to_string(),
        None => format!(" {option}"),
    }
}

/// The literal text after the first of `starts` up to `end`, when it contains no Jinja.
fn literal_between(template: &str, starts: &[String], end: &str) -> Option<String> {
    starts.iter().find_map(|start| {
        let from = template.find(start)? + start.len();
        let text = &template[from..from + template[from..].find(end)?];
        let is_literal = !text.is_empty()
            && !["{{", "{%", "'", "\"", "+"]
                .iter()
                .any(|m| text.contains(m));
        is_literal.then(|| text.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SmolLM2-135M-Instruct's template as stored in its GGUF file (real newlines in the literals).
    const SMOLLM2_TEMPLATE: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn smollm2_template_is_chatml_with_its_default_system_prompt() {
        let chat = ChatTemplate::detect(SMOLLM2_TEMPLATE).unwrap();
        assert_eq!(chat.format, ChatFormat::ChatMl);
        assert_eq!(
            chat.default_system.as_deref(),
            Some("You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        );
        // The same template as JSON-escaped text (tokenizer_config.json read raw) is recognised too.
        let escaped = SMOLLM2_TEMPLATE.replace('\n', "\\n");
        assert_eq!(
            ChatTemplate::detect(&escaped).unwrap().default_system,
            chat.default_system
        );
    }

    #[test]
    fn chatml_prompt_matches_what_apply_chat_template_writes() {
        let chat = ChatTemplate::detect(SMOLLM2_TEMPLATE).unwrap();
        let parts = chat.prompt_parts("Let's roleplay.", "Statement: x. Answer:");
        // transformers' apply_chat_template([{role: user, content: "Let's roleplay.\n\nStatement: x. Answer:"}],
        // add_generation_prompt=True) on SmolLM2-135M-Instruct gives exactly this text.
        assert_eq!(
            parts.full(),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
             <|im_start|>user\nLet's roleplay.\n\nStatement: x. Answer:<|im_end|>\n<|im_start|>assistant\n"
        );
        assert!(parts.prefix.ends_with("Let's roleplay."));
        assert_eq!(
            chat.prompt_parts("Let's roleplay.", "other task").prefix,
            parts.prefix
        );
    }

    #[test]
    fn llama3_headers_are_recognised() {
        let template = "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] }}<|eot_id|>{% endfor %}";
        let chat = ChatTemplate::detect(template).unwrap();
        assert_eq!(chat.format, ChatFormat::Llama3);
        let parts = chat.prompt_parts("", "Hi");
        assert_eq!(parts.full(), "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    }

    #[test]
    fn unknown_templates_mean_plain_prompts() {
        assert_eq!(ChatTemplate::detect("[INST] {{ message }} [/INST]"), None);
    }

    #[test]
    fn plain_prompt_puts_a_blank_line_between_persona_and_task() {
        let parts = plain_prompt_parts("Persona text. ", "Task. Answer:");
        assert_eq!(parts.full(), "Persona text.\n\nTask. Answer:");
        assert_eq!(plain_prompt_parts("", "Task").prefix, "");
    }

    #[test]
    fn options_get_a_leading_space_only_after_plain_prompts() {
        let chat = ChatTemplate::chatml(None);
        assert_eq!(answer_surface(None, "1"), " 1");
        assert_eq!(answer_surface(None, " 1"), " 1");
        assert_eq!(
            answer_surface(Some(&chat), " Very much like me"),
            "Very much like me"
        );
    }
}
