//! An empty Rust program: the baseline for the host's start-up time.
fn main() {}
