//! Protocol registration: the segnatura that binds a registration to its documents.
//!
//! A registration becomes legal evidence only through its segnatura (AgID guidelines 2021,
//! annex 6): an XML record of number, date, parties, subject and document fingerprints, signed
//! by the AOO so that any receiving administration can check it was not altered.

pub mod daily;
pub mod handler;
pub mod outgoing;
pub mod register;
pub mod segnatura;
pub mod signature;
