//! The common crate of the Sportello fleet.
//!
//! # Layout
//! - [`domain`]: the practice's vocabulary — submission contract, state machine, legal newtypes.
//! - [`catalog`]: the declarative catalog of practice types, desk by desk.
//! - [`store`]: the folder — practices, their documents and history, the store side of the
//!   state machine ([`store::reads`]: the folder as the HTTP API reads it).
//! - [`notifications`]: the notifications table (the notification worker writes it, the
//!   folder reads it).
//! - [`parked`]: the error-queue archive (parked messages and their settlements).

pub mod broker;
pub mod broker_users;
pub mod catalog;
pub mod config;
pub mod domain;
pub mod messages;
pub mod metrics;
pub mod notifications;
pub mod objects;
pub mod parked;
pub mod parties;
pub mod pdf;
pub mod procedure;
pub mod store;
pub mod telemetry;
pub mod timing;
pub mod topology;
pub mod worker;
