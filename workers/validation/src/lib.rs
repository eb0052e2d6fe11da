//! The validation worker: is the practice complete and well formed for its type?
//!
//! - [`rules`]: the pure checks against the catalog, with reasons a citizen understands.
//! - [`handler`]: gathers the facts of a received practice and records the verdict.

pub mod handler;
pub mod rules;

pub use handler::Validation;
