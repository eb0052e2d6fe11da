//! The protocol worker: registers validated practices in batches, each with the next number of
//! the register and its signed segnatura (see `sportello-register`, which owns the register).

pub mod handler;
