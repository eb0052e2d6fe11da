//! Citizen notification: one Italian email for each step of a practice that matters to the
//! citizen, sent at most once.
//!
//! # Layout
//! - [`templates`]: the emails (plain text + HTML) as minijinja templates in `templates/`.
//! - [`letter`]: turns a rendered email into a MIME message, refusing header injection.
//! - [`mailer`]: the SMTP relays (ordinary mail and PEC), pooled, every send bounded by our
//!   timeout, failures classified temporary or permanent.
//! - [`record`]: the notifications table: `queued` before sending, settled after, so a
//!   redelivered event never sends twice; also read by the citizen's folder.
//! - [`handler`]: the worker — which event calls for which email, gathered from the folder
//!   store and the register.

pub mod handler;
pub mod letter;
pub mod mailer;
pub mod record;
pub mod templates;

pub use handler::Notifier;
