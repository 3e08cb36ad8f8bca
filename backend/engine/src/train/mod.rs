//! LoRA training of a Llama on prompt/answer examples: tokenized samples and epoch orders
//! (`dataset`), the AdamW with savable state (`optim`), the training loop (`trainer`),
//! resumable checkpoints (`checkpoint`), the progress events a caller observes (`events`) and
//! step timing for benchmarks (`bench`). Adapters on disk (PEFT files, the record of which group
//! an adapter is for) are `adapter`.

pub mod bench;
pub mod checkpoint;
pub mod dataset;
pub mod events;
pub mod optim;
pub mod trainer;

pub use dataset::Sample;
pub use events::TrainEvent;
pub use trainer::{train, RunOptions, TrainConfig, TrainSummary};
