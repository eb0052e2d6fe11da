//! The `sportello` command: the fleet of workers and the tools of operators and operations.
//!
//! # Layout
//! - [`cli`]: the command line (clap) and what each command does.
//! - [`app`]: turns settings into connected parts (store, object store, catalog, topology),
//!   checking on the way that they agree with each other.
//! - [`fleet`]: runs workers in one process until SIGINT/SIGTERM.
//! - [`submit`]: publishes submissions with confirms.
//! - [`folder`]: prints the citizen's folder.

pub mod app;
pub mod cli;
pub mod fleet;
pub mod folder;
pub mod submit;
