//! The `nsprobe` command line.
fn main() {}
