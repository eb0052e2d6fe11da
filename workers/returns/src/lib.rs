//! Back-office returns: what the back offices answer, checked and applied to the practice.
//!
//! # Layout
//! - [`check`]: what a return must be, pure: the back office it was sent to, an outcome that
//!   says what it must, every result document decoded, within size, with its SHA-256, a name
//!   every stage can take, and checked by content as a citizen's document is.
//! - [`handler`]: the returns worker. A return is checked as a whole (contract version, known
//!   practice, [`check`], a state that allows the outcome) before anything is written; a bad one
//!   goes to the error queue with the reason. A completed outcome's documents are registered as outgoing (same register, the
//!   incoming registration as `PrimaRegistrazione`) and archived like incoming ones.
//! - [`silence`]: silenzio-assenso (art. 20 L. 241/1990). When the timer job says that a term
//!   whose silence is consent has run out, the worker checks that the database says so too, then
//!   registers the attestation as outgoing, archives it and moves the practice to
//!   `silent_consent`, as it does with a back office's outcome.

pub mod check;
pub mod handler;
pub mod silence;

pub use handler::Returns;
