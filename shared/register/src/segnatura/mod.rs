//! The segnatura informatica of a registration (AgID guidelines 2021, annex 6, version 3.0.0).
//!
//! The types here describe what the law asks a registration to carry; [`Segnatura::to_unsigned_xml`]
//! writes it in the AgID namespace with every element and attribute qualified. Whatever a citizen
//! typed is kept as typed wherever XML 1.0 can carry it: markup characters are escaped, and only
//! the characters XML forbids become U+FFFD, so no subject or name can break the document.
//!
//! The document is written directly in Exclusive XML Canonicalization form (W3C exc-c14n 1.0):
//! namespace declarations only where a prefix is first used, attributes in canonical order,
//! explicit end tags, canonical escaping, no insignificant whitespace. That is what lets
//! [`crate::signature`] compute its digests over the very bytes it emits, without a general
//! canonicalizer that would have to parse the document back.

mod build;
#[cfg(test)]
pub(crate) mod tests;
mod xml;

use build::*;
use chrono::{NaiveDate, NaiveTime};
pub use sportello_shared::domain::impronta::Impronta;
pub use sportello_shared::domain::protocol_number::ProtocolNumber;
use std::fmt;
use std::str::FromStr;
pub(crate) use xml::{Element, Ns};

/// Namespace of the segnatura (prefix `prot`).
pub const NAMESPACE: &str = "http://www.agid.gov.it/protocollo/";
/// The schema version this crate writes; the schema fixes the attribute to this value.
pub const SCHEMA_VERSION: &str = "3.0.0";
/// Value of `prot:algoritmo` on every `prot:Impronta` (the schema's own default spelling).
pub const FINGERPRINT_ALGORITHM: &str = "SHA-256";

/// Why a segnatura cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegnaturaError {
    #[error("codice registro {0:?} must be 1 to 16 characters among A-Z a-z 0-9 _ . -")]
    InvalidRegisterCode(String),
    #[error("{0} is mandatory in a segnatura and must not be blank")]
    Blank(&'static str),
    #[error("codice fiscale {0:?} does not have the shape of an Italian tax code")]
    InvalidCodiceFiscale(String),
    #[error("{0:?} is not an 11-digit partita IVA / codice fiscale of an organisation")]
    InvalidPartitaIva(String),
    #[error("a segnatura needs at least one destinatario")]
    NoRecipient,
    #[error("a classification path needs at least one level")]
    EmptyClassPath,
    #[error("HostValue {0:?} is not a server name with optional scheme and port")]
    InvalidHost(String),
}

/// An IPA code (indicePA) of an administration, AOO or UO, with its optional description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpaCode {
    pub code: String,
    pub description: Option<String>,
}

impl IpaCode {
    pub fn new(code: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            description: None,
        }
    }

    pub fn with_description(code: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            description: Some(description.into()),
        }
    }
}

/// Code of a register kept by an AOO: `[A-Za-z0-9_.-]{1,16}` as the schema requires.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegisterCode(String);

impl RegisterCode {
    pub fn new(code: &str) -> Result<Self, SegnaturaError> {
        let well_formed = (1..=16).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if well_formed {
            Ok(Self(code.to_owned()))
        } else {
            Err(SegnaturaError::InvalidRegisterCode(code.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RegisterCode {
    type Err = SegnaturaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for RegisterCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The identifier of a registration (`prot:Identificatore`, also used for `PrimaRegistrazione`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationId {
    pub administration: IpaCode,
    pub aoo: IpaCode,
    pub register: RegisterCode,
    /// Progressive within register and year; written zero-padded to seven digits.
    pub number: ProtocolNumber,
    pub date: NaiveDate,
    /// The AOO's local time of registration, when recorded.
    pub time: Option<NaiveTime>,
}

/// Position in the titolario (`prot:Classifica`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// `Denominazione`: what the class is, in words.
    pub name: String,
    pub code: ClassCode,
}

/// A class code either as one string (`CodiceFlat`, e.g. `VI.3`) or level by level (`CodicePath`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassCode {
    Flat(String),
    Path(Vec<ClassLevel>),
}

/// One level of a `CodicePath`, outermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassLevel {
    pub code: String,
    pub description: Option<String>,
}

/// The dossier (`prot:Fascicolo`) the registered document belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dossier {
    pub name: String,
    pub code: String,
}

/// Marks a registration as confidential (`prot:Riservato`), with an optional note.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reserved {
    pub note: Option<String>,
}

/// A correspondent: sender or recipient of the registered document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a handful of parties per registration; plain variants keep construction simple"
)]
pub enum Party {
    Administration(Administration),
    LegalPerson(LegalPerson),
    NaturalPerson(NaturalPerson),
    ForeignAdministration(ForeignAdministration),
}

/// An Italian public administration (`prot:Amministrazione`), down to AOO and UO if known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Administration {
    pub name: String,
    /// 11-digit codice fiscale of the administration.
    pub tax_code: Option<String>,
    pub ipa: IpaCode,
    pub contacts: Option<Contacts>,
    pub aoo: Option<IpaCode>,
    pub aoo_contacts: Option<Contacts>,
    pub uo: Option<IpaCode>,
    pub uo_contacts: Option<Contacts>,
    /// Officers of the administration the document concerns.
    pub people: Vec<NaturalPerson>,
}

/// A company or other organisation (`prot:PersonaGiuridica`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalPerson {
    pub name: String,
    /// Partita IVA, or the organisation's 11-digit codice fiscale.
    pub vat_number: Option<String>,
    pub contacts: Option<Contacts>,
    /// People acting for the organisation.
    pub people: Vec<NaturalPerson>,
}

/// A person (`prot:PersonaFisica`): for us, usually the citizen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaturalPerson {
    pub given_name: String,
    pub family_name: String,
    /// Honorific such as "Dott.ssa".
    pub title: Option<String>,
    /// Upper-cased before writing; omocodia variants are accepted.
    pub codice_fiscale: Option<String>,
    pub contacts: Option<Contacts>,
}

/// A foreign administration (`prot:AmministrazioneEstera`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignAdministration {
    pub name: String,
    pub office: Option<String>,
    pub contacts: Option<Contacts>,
}

/// Ways to reach a party. Postal addresses are left out on purpose: the schema's CAP pattern
/// has six digits, so no Italian postal code could ever validate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contacts {
    /// Email or PEC addresses (`IndirizzoTelematico`, type smtp).
    pub emails: Vec<String>,
    pub phones: Vec<String>,
}

/// A recipient (`prot:Destinatario`) with the schema's two optional flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub party: Party,
    /// `confermaRicezione`; absent means the schema default (true).
    pub receipt_requested: Option<bool>,
    /// `perConoscenza`: the recipient gets the document for information only.
    pub for_information: bool,
}

impl Recipient {
    pub fn new(party: Party) -> Self {
        Self {
            party,
            receipt_requested: None,
            for_information: false,
        }
    }
}

/// Where the receiving AOO can fetch a document (`prot:CollocazioneTelematica`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The server, from configuration: `name[:port]`, optionally preceded by `scheme://`.
    pub host: String,
    /// The raw path (not percent-encoded): it may end with a citizen's file name, so the
    /// segnatura percent-encodes whatever would not be a valid `xs:anyURI`.
    pub path: String,
}

/// The primary document or an attachment of the registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub file_name: String,
    pub mime_type: String,
    pub description: Option<String>,
    pub fingerprint: Impronta,
    pub location: Option<Location>,
}

/// Everything the segnatura of one registration states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segnatura {
    pub registration: RegistrationId,
    /// For a registration of a document that was already registered elsewhere (e.g. the
    /// incoming registration an outgoing reply refers to); omitted when it is this one.
    pub first_registration: Option<RegistrationId>,
    /// Oggetto: the subject as the citizen or the office wrote it.
    pub subject: String,
    pub classification: Classification,
    pub dossier: Option<Dossier>,
    pub reserved: Option<Reserved>,
    pub sender: Party,
    pub recipients: Vec<Recipient>,
    pub primary_document: Document,
    pub attachments: Vec<Document>,
}

impl Segnatura {
    /// The segnatura without its signature, exactly as the signature's whole-document
    /// reference digests it: canonical form, no XML declaration. Not schema-valid on its own
    /// (the schema requires `ds:Signature`); [`crate::signature::AooSigner::sign`] completes it.
    pub fn to_unsigned_xml(&self) -> Result<String, SegnaturaError> {
        Ok(self.to_element()?.canonical())
    }

    /// The document tree, checked against the constraints the schema puts on values.
    pub(crate) fn to_element(&self) -> Result<Element, SegnaturaError> {
        if self.recipients.is_empty() {
            return Err(SegnaturaError::NoRecipient);
        }
        let mut descrizione = Element::prot("Descrizione").child(party("Mittente", &self.sender)?);
        for recipient in &self.recipients {
            let mut destinatario = party("Destinatario", &recipient.party)?;
            if let Some(requested) = recipient.receipt_requested {
                destinatario =
                    destinatario.attr(Some(Ns::Prot), "confermaRicezione", bool_text(requested));
            }
            if recipient.for_information {
                destinatario = destinatario.attr(Some(Ns::Prot), "perConoscenza", "true");
            }
            descrizione = descrizione.child(destinatario);
        }
        descrizione = descrizione.child(document("DocumentoPrimario", &self.primary_document)?);
        for attachment in &self.attachments {
            descrizione = descrizione.child(document("Allegato", attachment)?);
        }

        let mut intestazione =
            Element::prot("Intestazione").child(identifier("Identificatore", &self.registration)?);
        if let Some(first) = &self.first_registration {
            intestazione = intestazione.child(identifier("PrimaRegistrazione", first)?);
        }
        intestazione = intestazione
            .child(Element::prot("Oggetto").text(required(&self.subject, "Oggetto")?))
            .child(classification(&self.classification)?);
        if let Some(dossier) = &self.dossier {
            intestazione = intestazione.child(
                Element::prot("Fascicolo")
                    .child(
                        Element::prot("Denominazione")
                            .text(required(&dossier.name, "Fascicolo/Denominazione")?),
                    )
                    .child(
                        Element::prot("CodiceFascicolo")
                            .text(required(&dossier.code, "Fascicolo/CodiceFascicolo")?),
                    ),
            );
        }
        if let Some(reserved) = &self.reserved {
            let mut riservato = Element::prot("Riservato").text("true");
            if let Some(note) = &reserved.note {
                riservato = riservato.attr(Some(Ns::Prot), "note", note);
            }
            intestazione = intestazione.child(riservato);
        }

        Ok(Element::prot("SegnaturaInformatica")
            .attr(Some(Ns::Prot), "versione", SCHEMA_VERSION)
            .attr(Some(Ns::Prot), "lang", "it")
            .child(intestazione)
            .child(descrizione))
    }
}
