//! System tests live under `tests/` of this crate.
