//! Back-office dispatch: a stored practice goes to the back office the catalog names.
//!
//! # Layout
//! - [`contract`]: the versioned JSON messages between Sportello and the back offices — what
//!   they receive (a practice, a withdrawal) and what they return (an outcome). Vendors build
//!   against this module's documentation; the returns worker and the simulator read it too.
//! - [`handler`]: the dispatch worker, `stored → dispatched`.

pub mod contract;
pub mod handler;

pub use handler::Dispatch;
