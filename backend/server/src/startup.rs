//! Application startup (being written).
