//! valuelab's web app (being written).

fn main() {}
