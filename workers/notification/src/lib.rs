//! Citizen notification: one Italian email for each step of a practice that matters to the
//! citizen, sent at least once, with one Message-ID per practice and step.
//!
//! # Layout
//! - [`templates`]: the emails (plain text + HTML) as minijinja templates in `templates/`.
//! - [`letter`]: turns a rendered email into a MIME message, refusing header injection.
//! - [`mailer`]: the SMTP relays (ordinary mail and PEC): connect, then the transaction alone,
//!   each bounded by our timeout; idle connections reused; failures classified temporary or
//!   permanent.
//! - [`record`]: the notifications table, owned by `sportello_shared::notifications` and
//!   named here as the worker writes it: `queued`, each attempt counted and committed before
//!   its SMTP transaction, settled right after; a redelivered event sends again only when a
//!   crash cut an attempt off.
//! - [`handler`]: the worker — which event calls for which email, gathered from the folder
//!   store and the register.

pub mod handler;
pub mod letter;
pub mod mailer;
pub use sportello_shared::notifications as record;
pub mod templates;

pub use handler::Notifier;
