//! `geid`: diagnostics and scripting.
#![forbid(unsafe_code)]

fn main() {}
