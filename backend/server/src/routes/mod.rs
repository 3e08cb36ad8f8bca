//! HTTP routes (being written).
