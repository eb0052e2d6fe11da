//! The protocol register, as a library: everything the law says a registration is, and the
//! tables that hold it (`register_counters`, `registrations`, `registration_annulments`,
//! `daily_registers`), owned here and read through here only.
//!
//! A registration becomes legal evidence only through its segnatura (AgID guidelines 2021,
//! annex 6): an XML record of number, date, parties, subject and document fingerprints, signed
//! by the AOO so that any receiving administration can check it was not altered.
//!
//! Layout: [`register`] numbers and records registrations, annuls them and reads them back;
//! [`segnatura`] models and writes the XML; [`signature`] signs it (enveloped XML-DSig with
//! XAdES baseline-B properties); [`outgoing`] registers what the AOO sends (a back office's
//! result documents); [`receipt`] writes the receipt PDF of an incoming registration (art.
//! 18-bis and 8 L. 241/1990); [`attestation`] the attestation of silenzio-assenso (art. 20
//! c.2-bis); [`daily`] closes a day's register for preservation. The protocol worker
//! registers incoming practices with these; returns, storage, dispatch, notification and the
//! API read and write the register only through them.

pub mod attestation;
pub mod daily;
pub mod facts;
pub mod outgoing;
pub mod receipt;
pub mod register;
pub mod segnatura;
pub mod signature;

use register::RegisterId;
use segnatura::{Administration, IpaCode, Party, RegisterCode};

/// The event key of a practice's incoming registration.
pub const INCOMING_EVENT: &str = "protocol";

/// The primary document of an incoming registration: the submission as received.
pub const PRIMARY_DOCUMENT_NAME: &str = "istanza.json";

/// Who keeps the register, as written in every segnatura.
#[derive(Debug, Clone)]
pub struct Keeper {
    pub administration: IpaCode,
    pub aoo: IpaCode,
    pub register: RegisterCode,
}

impl Keeper {
    pub fn register_id(&self) -> RegisterId {
        RegisterId {
            aoo: self.aoo.code.clone(),
            code: self.register.as_str().to_owned(),
        }
    }

    /// The AOO as a party (recipient of incoming documents, sender of outgoing ones).
    pub fn as_party(&self) -> Party {
        Party::Administration(Administration {
            name: self
                .administration
                .description
                .clone()
                .unwrap_or_else(|| self.administration.code.clone()),
            tax_code: None,
            ipa: self.administration.clone(),
            contacts: None,
            aoo: Some(self.aoo.clone()),
            aoo_contacts: None,
            uo: None,
            uo_contacts: None,
            people: Vec::new(),
        })
    }
}
