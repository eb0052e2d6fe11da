//! Back-office returns: what the back offices answer, checked and applied to the practice.
//!
//! # Layout
//! - [`handler`]: the returns worker. A return is checked as a whole (contract version, known
//!   practice, the back office it was sent to, a state that allows the outcome, every result
//!   document's SHA-256) before anything is written; a bad one goes to the error queue with the
//!   reason. A completed outcome's documents are registered as outgoing (same register, the
//!   incoming registration as `PrimaRegistrazione`) and archived like incoming ones.

pub mod handler;

pub use handler::Returns;
