//! Domain types: what the law and the desk define, parsed once at the edge.

pub mod content;
pub mod contract;
pub mod email;
pub mod file_name;
pub mod impronta;
pub mod media;
pub mod privacy;
pub mod protocol_number;
pub mod staged_key;
pub mod state;
pub mod submission;
pub mod tax_code;
