//! System tests of valuelab live in this crate's test binaries: `api/` drives the HTTP server
//! started in-process on a free port (`cargo test -p valuelab-tests --test api`).
