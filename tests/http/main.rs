//! The HTTP service end to end: a real `sportello_api` server on a loopback port, over each
//! test's own database, broker namespace and staging prefix, with the workers it needs running
//! in the same process.
//!
//! One test binary for every HTTP test (linking the fleet once, not once per file):
//! - `access`: tokens (issuer, audience, key, expiry, what each issuer may grant), operator
//!   roles, and a citizen who sees only their own folder;
//! - `boundaries`: a live stream ends with its token, one caller's streams are capped, a flood
//!   of submissions gets 429, `/ready` tells anonymous callers nothing but ready or not;
//! - `submissions`: intake over HTTP, idempotent by key;
//! - `dlq`: a practice that failed while the object store was down completes after a replay;
//!   discards are recorded, never deleted;
//! - `metrics`: queue depths and stage latencies after a run;
//! - `events`: the live stream of a practice;
//! - `stats`: the public actual times of the procedures;
//! - `receipt`: the receipt PDF, one document in the email, the archive and the download;
//! - `bad_requests`: every malformed request gets a 4xx with a JSON error;
//! - `web`: the pages' sign-in, CSRF, lock-out, hand-over and sessions;
//! - `openapi`: the spec and the router list the same endpoints, and real answers match the
//!   spec's schemas (checked by `schema`, a small JSON Schema subset validator).

mod access;
mod bad_requests;
mod boundaries;
mod dlq;
mod events;
#[path = "../mail/mod.rs"]
mod mail;
mod metrics;
mod openapi;
mod receipt;
mod schema;
mod stats;
mod submissions;
mod support;
mod web;
