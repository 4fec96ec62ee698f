//! The geid test world.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
