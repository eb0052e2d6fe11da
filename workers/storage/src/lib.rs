//! Document storage: a registered practice's documents go to the archive in the object store.
//!
//! # Layout
//! - [`archive`]: archive keys (`archivio/<aoo>/<register>/<year>/<number>/…`) and the one way
//!   to write them — never over something else, always read back and checked.
//! - [`handler`]: the storage worker, `registered → stored`, then on to dispatch.

pub mod archive;
pub mod handler;

pub use handler::Storage;
