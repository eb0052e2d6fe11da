//! The `sportello` command: the fleet of workers and the tools of operators and operations.
//!
//! # Layout
//! - [`cli`]: the command line (clap) and what each command does.
//! - [`app`]: turns settings into connected parts (store, object store, catalog, topology),
//!   checking on the way that they agree with each other.
//! - [`fleet`]: runs workers in one process until SIGINT/SIGTERM.
//! - [`startup`]: `run` and `serve` started while a service is down wait for it.
//! - [`submit`]: publishes submissions with confirms.
//! - [`folder`]: prints the citizen's folder.
//! - [`http`]: `sportello serve` (the HTTP API over the same parts) and `sportello token`.
//! - [`practice`]: `sportello practice`, an operator's withdrawals and deliveries.
//! - [`dlq`]: `sportello dlq`, the error queues for operations.
//! - [`timers`]: the procedure's timer job (terms due soon and overdue), with dispatch.

pub mod app;
pub mod cli;
pub mod dlq;
pub mod fleet;
pub mod folder;
pub mod http;
pub mod operator;
pub mod practice;
pub mod startup;
pub mod submit;
pub mod timers;
