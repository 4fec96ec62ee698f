//! Wire formats shared by every geid component.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
