//! The storage worker: a registered practice's documents, istanza and segnatura go to the
//! archive (through `sportello-archive`), then on to dispatch.

pub mod handler;

pub use handler::Storage;
