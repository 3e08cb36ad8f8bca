//! System tests of valuelab live in this crate's test binaries: `api/` drives the HTTP server
//! started in-process on a free port (`cargo test -p valuelab-tests --test api`). The library
//! holds fixtures they share: `eval args` run folders written with the engine's own types, so a
//! change of the run format breaks the fixtures at compile time rather than silently.

pub mod fixtures;
pub mod load;
