//! The common crate of the Sportello fleet.
//!
//! # Layout
//! - [`domain`]: the practice's vocabulary — submission contract, state machine, legal newtypes.
pub mod domain;
