//! The common crate of the Sportello fleet.
//!
//! # Layout
//! - [`domain`]: the practice's vocabulary — submission contract, state machine, legal newtypes.
//! - [`catalog`]: the declarative catalog of practice types, desk by desk.

pub mod broker;
pub mod broker_users;
pub mod catalog;
pub mod config;
pub mod domain;
pub mod messages;
pub mod metrics;
pub mod objects;
pub mod parties;
pub mod procedure;
pub mod store;
pub mod telemetry;
pub mod timing;
pub mod topology;
pub mod worker;
