//! The dispatch worker: a stored practice goes to the back office the catalog names, as the
//! back-office contract (`sportello-backoffice`) describes, `stored → dispatched`.

pub mod handler;

pub use handler::Dispatch;
