//! Domain types: what the law and the desk define, parsed once at the edge.

pub mod state;
pub mod submission;
