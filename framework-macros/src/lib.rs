//! Procedural macros of Squall: `#[handler]` and `routes!`. Use them through `squall`.
