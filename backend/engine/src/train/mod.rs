//! LoRA training of a Llama on prompt/answer examples: tokenized samples and epoch orders
//! (`dataset`), the AdamW with savable state (`optim`), the training loop (`trainer`),
//! resumable checkpoints (`checkpoint`), the progress events a caller observes (`events`) and
//! step timing for benchmarks (`bench`), and the record of which group an adapter is for
//! (`provenance`). The adapter format on disk is `lora::peft`.

pub mod bench;
pub mod checkpoint;
pub mod dataset;
pub mod events;
pub mod optim;
pub mod provenance;
pub mod trainer;

pub use dataset::Sample;
pub use events::TrainEvent;
pub use trainer::{train, RunOptions, TrainConfig, TrainSummary};
