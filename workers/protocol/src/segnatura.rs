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

use chrono::{NaiveDate, NaiveTime};
use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// Namespace of the segnatura (prefix `prot`).
pub const NAMESPACE: &str = "http://www.agid.gov.it/protocollo/";
/// The schema version this crate writes; the schema fixes the attribute to this value.
pub const SCHEMA_VERSION: &str = "3.0.0";
/// Value of `prot:algoritmo` on every `prot:Impronta` (the schema's own default spelling).
pub const FINGERPRINT_ALGORITHM: &str = "SHA-256";
/// The protocol number is written with at least this many digits (DPR 445/2000, art. 57).
pub const NUMBER_MIN_DIGITS: usize = 7;

/// Why a segnatura cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegnaturaError {
    #[error("codice registro {0:?} must be 1 to 16 characters among A-Z a-z 0-9 _ . -")]
    InvalidRegisterCode(String),
    #[error("the registration number must be at least 1")]
    InvalidNumber,
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
    #[error("impronta {0:?} is not the base64 of a SHA-256 digest")]
    InvalidFingerprint(String),
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
    pub number: u64,
    pub date: NaiveDate,
    /// The AOO's local time of registration, when recorded.
    pub time: Option<NaiveTime>,
}

impl RegistrationId {
    /// The number as the segnatura writes it, e.g. `0000042`.
    pub fn formatted_number(&self) -> String {
        format_number(self.number)
    }
}

/// Writes a protocol number with at least [`NUMBER_MIN_DIGITS`] digits.
pub fn format_number(number: u64) -> String {
    format!("{number:0width$}", width = NUMBER_MIN_DIGITS)
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

/// The SHA-256 digest of a document (impronta), written in base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// Accepts the base64 form, so a digest declared by the sender can be carried over.
    pub fn from_base64(encoded: &str) -> Result<Self, SegnaturaError> {
        use base64::Engine as _;
        let invalid = || SegnaturaError::InvalidFingerprint(encoded.to_owned());
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| invalid())?;
        bytes.try_into().map(Self).map_err(|_| invalid())
    }

    /// Accepts the hexadecimal form used elsewhere in the system for declared digests.
    pub fn from_hex(encoded: &str) -> Result<Self, SegnaturaError> {
        let invalid = || SegnaturaError::InvalidFingerprint(encoded.to_owned());
        let encoded = encoded.trim();
        if encoded.len() != 64 || !encoded.is_ascii() {
            return Err(invalid());
        }
        let mut digest = [0u8; 32];
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&encoded[2 * i..2 * i + 2], 16).map_err(|_| invalid())?;
        }
        Ok(Self(digest))
    }

    pub fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.0)
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
    pub fingerprint: Fingerprint,
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

fn required<'a>(value: &'a str, field: &'static str) -> Result<&'a str, SegnaturaError> {
    if value.trim().is_empty() {
        Err(SegnaturaError::Blank(field))
    } else {
        Ok(value)
    }
}

fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

fn ipa(name: &'static str, code: &IpaCode) -> Result<Element, SegnaturaError> {
    let mut element = Element::prot(name).text(required(&code.code, name)?);
    if let Some(description) = &code.description {
        element = element.attr(Some(Ns::Prot), "descrizione", description);
    }
    Ok(element)
}

fn identifier(name: &'static str, id: &RegistrationId) -> Result<Element, SegnaturaError> {
    if id.number == 0 {
        return Err(SegnaturaError::InvalidNumber);
    }
    let mut element = Element::prot(name)
        .child(ipa("CodiceAmministrazione", &id.administration)?)
        .child(ipa("CodiceAOO", &id.aoo)?)
        .child(Element::prot("CodiceRegistro").text(id.register.as_str()))
        .child(Element::prot("NumeroRegistrazione").text(&id.formatted_number()))
        .child(Element::prot("DataRegistrazione").text(&id.date.format("%Y-%m-%d").to_string()));
    if let Some(time) = id.time {
        element = element
            .child(Element::prot("OraRegistrazione").text(&time.format("%H:%M:%S").to_string()));
    }
    Ok(element)
}

fn classification(class: &Classification) -> Result<Element, SegnaturaError> {
    let element = Element::prot("Classifica").child(
        Element::prot("Denominazione").text(required(&class.name, "Classifica/Denominazione")?),
    );
    Ok(match &class.code {
        ClassCode::Flat(code) => element
            .child(Element::prot("CodiceFlat").text(required(code, "Classifica/CodiceFlat")?)),
        ClassCode::Path(levels) => element.child(class_path("CodicePath", levels)?),
    })
}

/// `CodicePath` nests each deeper level in a `SubLivello` of the one above.
fn class_path(name: &'static str, levels: &[ClassLevel]) -> Result<Element, SegnaturaError> {
    let (first, deeper) = levels.split_first().ok_or(SegnaturaError::EmptyClassPath)?;
    let mut livello =
        Element::prot("Livello").text(required(&first.code, "Classifica/CodicePath/Livello")?);
    if let Some(description) = &first.description {
        livello = livello.attr(Some(Ns::Prot), "descrizione", description);
    }
    let mut element = Element::prot(name).child(livello);
    if !deeper.is_empty() {
        element = element.child(class_path("SubLivello", deeper)?);
    }
    Ok(element)
}

fn party(name: &'static str, party: &Party) -> Result<Element, SegnaturaError> {
    let inner = match party {
        Party::Administration(pa) => administration(pa)?,
        Party::LegalPerson(org) => legal_person(org)?,
        Party::NaturalPerson(person) => natural_person(person)?,
        Party::ForeignAdministration(foreign) => foreign_administration(foreign)?,
    };
    Ok(Element::prot(name).child(inner))
}

fn administration(pa: &Administration) -> Result<Element, SegnaturaError> {
    let mut element = Element::prot("Amministrazione").child(
        Element::prot("DenominazioneAmministrazione")
            .text(required(&pa.name, "DenominazioneAmministrazione")?),
    );
    if let Some(tax_code) = &pa.tax_code {
        element = element.child(Element::prot("CFAmministrazione").text(&partita_iva(tax_code)?));
    }
    element = element.child(ipa("CodiceIPAAmministrazione", &pa.ipa)?);
    if let Some(contacts) = &pa.contacts {
        element = element.child(contacts_element("ContattiAmministrazione", contacts));
    }
    if let Some(aoo) = &pa.aoo {
        element = element.child(ipa("CodiceIPAAOO", aoo)?);
    }
    if let Some(contacts) = &pa.aoo_contacts {
        element = element.child(contacts_element("ContattiAOO", contacts));
    }
    if let Some(uo) = &pa.uo {
        element = element.child(ipa("CodiceIPAUO", uo)?);
    }
    if let Some(contacts) = &pa.uo_contacts {
        element = element.child(contacts_element("ContattiUO", contacts));
    }
    for person in &pa.people {
        element = element.child(natural_person(person)?);
    }
    Ok(element)
}

fn legal_person(org: &LegalPerson) -> Result<Element, SegnaturaError> {
    let mut element = Element::prot("PersonaGiuridica").child(
        Element::prot("Denominazione").text(required(&org.name, "PersonaGiuridica/Denominazione")?),
    );
    if let Some(vat) = &org.vat_number {
        element = element.child(Element::prot("PIVAoCF").text(&partita_iva(vat)?));
    }
    if let Some(contacts) = &org.contacts {
        element = element.child(contacts_element("ContattiPersonaGiuridica", contacts));
    }
    for person in &org.people {
        element = element.child(natural_person(person)?);
    }
    Ok(element)
}

fn natural_person(person: &NaturalPerson) -> Result<Element, SegnaturaError> {
    let mut element = Element::prot("PersonaFisica")
        .child(Element::prot("Nome").text(required(&person.given_name, "PersonaFisica/Nome")?))
        .child(
            Element::prot("Cognome").text(required(&person.family_name, "PersonaFisica/Cognome")?),
        );
    if let Some(title) = &person.title {
        element = element.child(Element::prot("Titolo").text(title));
    }
    if let Some(cf) = &person.codice_fiscale {
        element = element.child(Element::prot("CodiceFiscale").text(&codice_fiscale(cf)?));
    }
    if let Some(contacts) = &person.contacts {
        element = element.child(contacts_element("Contatti", contacts));
    }
    Ok(element)
}

fn foreign_administration(foreign: &ForeignAdministration) -> Result<Element, SegnaturaError> {
    let mut element = Element::prot("AmministrazioneEstera").child(
        Element::prot("DenominazioneAmministrazione").text(required(
            &foreign.name,
            "AmministrazioneEstera/DenominazioneAmministrazione",
        )?),
    );
    if let Some(office) = &foreign.office {
        element = element.child(Element::prot("DenominazioneUfficio").text(office));
    }
    if let Some(contacts) = &foreign.contacts {
        element = element.child(contacts_element("ContattiAmministrazione", contacts));
    }
    Ok(element)
}

fn contacts_element(name: &'static str, contacts: &Contacts) -> Element {
    let mut element = Element::prot(name);
    for email in &contacts.emails {
        element = element.child(
            Element::prot("IndirizzoTelematico")
                .attr(Some(Ns::Prot), "tipo", "smtp")
                .text(email),
        );
    }
    for phone in &contacts.phones {
        element = element.child(Element::prot("Telefono").text(phone));
    }
    element
}

fn document(name: &'static str, doc: &Document) -> Result<Element, SegnaturaError> {
    let mut element = Element::prot(name)
        .attr(
            Some(Ns::Prot),
            "nomeFile",
            required(&doc.file_name, "Documento/nomeFile")?,
        )
        .attr(
            Some(Ns::Prot),
            "mimeType",
            required(&doc.mime_type, "Documento/mimeType")?,
        );
    if let Some(description) = &doc.description {
        element = element.child(Element::prot("Descrizione").text(description));
    }
    element = element.child(
        Element::prot("Impronta")
            .attr(Some(Ns::Prot), "algoritmo", FINGERPRINT_ALGORITHM)
            .text(&doc.fingerprint.to_base64()),
    );
    if let Some(location) = &doc.location {
        element = element.child(
            Element::prot("CollocazioneTelematica")
                .child(Element::prot("HostValue").text(host_value(&location.host)?))
                .child(Element::prot("PathValue").text(&path_value(required(
                    &location.path,
                    "CollocazioneTelematica/PathValue",
                )?))),
        );
    }
    Ok(element)
}

/// A host is configuration, so a malformed one is refused rather than repaired.
fn host_value(raw: &str) -> Result<&str, SegnaturaError> {
    let invalid = || SegnaturaError::InvalidHost(raw.to_owned());
    let rest = match raw.split_once("://") {
        Some((scheme, rest)) => {
            let mut chars = scheme.chars();
            let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
            if !scheme_ok {
                return Err(invalid());
            }
            rest
        }
        None => raw,
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (name, port) = match rest.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (rest, None),
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    if name_ok && port_ok {
        Ok(raw)
    } else {
        Err(invalid())
    }
}

/// Percent-encodes (RFC 3986, UTF-8) every byte but unreserved characters and `/`, which
/// always yields a valid relative reference, whatever the file name in the path.
fn path_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The schema's pattern for a person's codice fiscale, omocodia letters included. The check
/// character is validation's business; here only what the schema would reject is refused.
fn codice_fiscale(raw: &str) -> Result<String, SegnaturaError> {
    let cf = raw.trim().to_ascii_uppercase();
    let b = cf.as_bytes();
    let letter = |c: u8| c.is_ascii_uppercase();
    let digit = |c: u8| c.is_ascii_digit() || b"LMNPQRSTUV".contains(&c);
    let well_formed = b.len() == 16
        && b[..6].iter().all(|&c| letter(c))
        && b[6..8].iter().all(|&c| digit(c))
        && b"ABCDEHLMPRST".contains(&b[8])
        && b[9..11].iter().all(|&c| digit(c))
        && letter(b[11])
        && b[12..15].iter().all(|&c| digit(c))
        && letter(b[15]);
    if well_formed {
        Ok(cf)
    } else {
        Err(SegnaturaError::InvalidCodiceFiscale(raw.to_owned()))
    }
}

fn partita_iva(raw: &str) -> Result<String, SegnaturaError> {
    let value = raw.trim();
    if value.len() == 11 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err(SegnaturaError::InvalidPartitaIva(raw.to_owned()))
    }
}

// ---------------------------------------------------------------------------------------------
// A small element tree that serialises straight to Exclusive XML Canonicalization form.
// ---------------------------------------------------------------------------------------------

/// The namespaces a segnatura uses. Each prefix is bound to one URI everywhere, so "already
/// declared by an output ancestor" reduces to "this prefix was declared above".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ns {
    Prot,
    Ds,
    Xades,
}

impl Ns {
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Ns::Prot => "prot",
            Ns::Ds => "ds",
            Ns::Xades => "xades",
        }
    }

    pub(crate) fn uri(self) -> &'static str {
        match self {
            Ns::Prot => NAMESPACE,
            Ns::Ds => "http://www.w3.org/2000/09/xmldsig#",
            Ns::Xades => "http://uri.etsi.org/01903/v1.3.2#",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Attr {
    ns: Option<Ns>,
    name: &'static str,
    value: String,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
}

/// An element whose text and attribute values are already cleaned of what XML 1.0 cannot carry.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    ns: Ns,
    name: &'static str,
    attrs: Vec<Attr>,
    children: Vec<Node>,
}

impl Element {
    pub(crate) fn new(ns: Ns, name: &'static str) -> Self {
        Self {
            ns,
            name,
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    fn prot(name: &'static str) -> Self {
        Self::new(Ns::Prot, name)
    }

    pub(crate) fn attr(mut self, ns: Option<Ns>, name: &'static str, value: &str) -> Self {
        self.attrs.push(Attr {
            ns,
            name,
            value: clean(value),
        });
        self
    }

    pub(crate) fn text(mut self, text: &str) -> Self {
        self.children.push(Node::Text(clean(text)));
        self
    }

    pub(crate) fn child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    pub(crate) fn push(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    #[cfg(test)]
    pub(crate) fn children(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    /// The exc-c14n octets of this element taken as the apex of its own node-set: what a
    /// verifier computes for a same-document reference to it, and what the whole document is
    /// when this element is the root.
    pub(crate) fn canonical(&self) -> String {
        let mut writer = Writer::new(Vec::new());
        self.write(&mut writer, &mut Vec::new());
        String::from_utf8(writer.into_inner()).expect("the tree holds only UTF-8 strings")
    }

    fn write(&self, writer: &mut Writer<Vec<u8>>, declared: &mut Vec<Ns>) {
        // exc-c14n renders a namespace on an element only if the element or one of its
        // attributes visibly uses the prefix and no output ancestor has rendered it already.
        let mut used = vec![self.ns];
        used.extend(self.attrs.iter().filter_map(|a| a.ns));
        let mut new_decls: Vec<Ns> = Vec::new();
        for ns in used {
            if !declared.contains(&ns) && !new_decls.contains(&ns) {
                new_decls.push(ns);
            }
        }
        new_decls.sort_by_key(|ns| ns.prefix());

        // Attributes sort by namespace URI (none sorts first), then by local name.
        let mut attrs: Vec<&Attr> = self.attrs.iter().collect();
        attrs.sort_by_key(|a| (a.ns.map_or("", Ns::uri), a.name));

        let qname = format!("{}:{}", self.ns.prefix(), self.name);
        let mut start = BytesStart::new(qname.as_str());
        for ns in &new_decls {
            let key = format!("xmlns:{}", ns.prefix());
            start.push_attribute(Attribute {
                key: QName(&key),
                value: Cow::Borrowed(ns.uri()),
            });
        }
        for attr in attrs {
            let key = match attr.ns {
                Some(ns) => format!("{}:{}", ns.prefix(), attr.name),
                None => attr.name.to_owned(),
            };
            start.push_attribute(Attribute {
                key: QName(&key),
                value: escape_attribute(&attr.value),
            });
        }
        emit(writer, Event::Start(start));

        let depth = declared.len();
        declared.extend(new_decls);
        for child in &self.children {
            match child {
                Node::Element(element) => element.write(writer, declared),
                Node::Text(text) => emit(
                    writer,
                    Event::Text(BytesText::from_escaped(escape_text(text))),
                ),
            }
        }
        declared.truncate(depth);

        // Canonical form never uses empty-element tags.
        emit(writer, Event::End(BytesEnd::new(qname.as_str())));
    }
}

fn emit(writer: &mut Writer<Vec<u8>>, event: Event<'_>) {
    writer
        .write_event(event)
        .expect("writing into memory cannot fail");
}

/// Keeps what XML 1.0 can carry and replaces what it cannot with U+FFFD. Line ends become LF,
/// as any parser would make them, so the canonical form of what we emit is what we emit.
pub(crate) fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\t' | '\n' => out.push(c),
            c if u32::from(c) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Text escaping exactly as C14N writes it.
fn escape_text(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '\r']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Attribute escaping exactly as C14N writes it; whitespace other than space must be a
/// character reference, or a parser would normalise it to a space and break the digest.
fn escape_attribute(value: &str) -> Cow<'_, str> {
    if !value.contains(['&', '<', '"', '\t', '\n', '\r']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 16);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn citizen() -> NaturalPerson {
        NaturalPerson {
            given_name: "Niccolò".into(),
            family_name: "D'Annunzio".into(),
            title: None,
            codice_fiscale: Some("dnnncc80a01a794x".into()),
            contacts: Some(Contacts {
                emails: vec!["niccolo@example.it".into()],
                phones: vec![],
            }),
        }
    }

    pub(crate) fn comune() -> Administration {
        Administration {
            name: "Comune di Bergamo".into(),
            tax_code: Some("80034840167".into()),
            ipa: IpaCode::new("c_a794"),
            contacts: None,
            aoo: Some(IpaCode::with_description("A794", "Protocollo generale")),
            aoo_contacts: Some(Contacts {
                emails: vec!["protocollo@cert.comune.bergamo.it".into()],
                phones: vec![],
            }),
            uo: None,
            uo_contacts: None,
            people: vec![],
        }
    }

    pub(crate) fn sample() -> Segnatura {
        Segnatura {
            registration: RegistrationId {
                administration: IpaCode::with_description("c_a794", "Comune di Bergamo"),
                aoo: IpaCode::new("A794"),
                register: RegisterCode::new("PG").unwrap(),
                number: 42,
                date: NaiveDate::from_ymd_opt(2025, 3, 7).unwrap(),
                time: NaiveTime::from_hms_opt(9, 5, 0),
            },
            first_registration: None,
            subject: "Richiesta certificato di residenza".into(),
            classification: Classification {
                name: "Anagrafe".into(),
                code: ClassCode::Flat("XI.1".into()),
            },
            dossier: None,
            reserved: None,
            sender: Party::NaturalPerson(citizen()),
            recipients: vec![Recipient::new(Party::Administration(comune()))],
            primary_document: Document {
                file_name: "domanda.pdf".into(),
                mime_type: "application/pdf".into(),
                description: None,
                fingerprint: Fingerprint::of(b"%PDF-1.7 domanda"),
                location: None,
            },
            attachments: vec![],
        }
    }

    fn positions(xml: &str, needles: &[&str]) -> Vec<usize> {
        needles
            .iter()
            .map(|n| {
                xml.find(n)
                    .unwrap_or_else(|| panic!("{n} missing in {xml}"))
            })
            .collect()
    }

    fn assert_in_order(xml: &str, needles: &[&str]) {
        let found = positions(xml, needles);
        assert!(
            found.windows(2).all(|w| w[0] < w[1]),
            "out of order: {needles:?} at {found:?} in {xml}"
        );
    }

    #[test]
    fn root_is_qualified_version_3_with_one_namespace_declaration() {
        let xml = sample().to_unsigned_xml().unwrap();
        assert!(xml.starts_with(
            "<prot:SegnaturaInformatica xmlns:prot=\"http://www.agid.gov.it/protocollo/\" \
             prot:lang=\"it\" prot:versione=\"3.0.0\"><prot:Intestazione>"
        ));
        assert!(xml.ends_with("</prot:Descrizione></prot:SegnaturaInformatica>"));
        assert_eq!(xml.matches("xmlns").count(), 1);
        assert!(
            !xml.contains("/>"),
            "canonical form has no empty-element tags"
        );
        assert!(!xml.contains("<?xml"));
        assert!(!xml.contains('\n'));
    }

    #[test]
    fn mandatory_parts_come_in_schema_order() {
        let mut s = sample();
        s.first_registration = Some(RegistrationId {
            number: 7,
            ..s.registration.clone()
        });
        s.dossier = Some(Dossier {
            name: "Residenze 2025".into(),
            code: "2025-XI.1-3".into(),
        });
        s.reserved = Some(Reserved::default());
        s.attachments.push(Document {
            file_name: "documento.jpg".into(),
            mime_type: "image/jpeg".into(),
            description: Some("Carta d'identità".into()),
            fingerprint: Fingerprint::of(b"jpeg"),
            location: Some(Location {
                host: "https://documenti.comune.example.it".into(),
                path: "/c_a794/PG/2025/0000042/documento.jpg".into(),
            }),
        });
        let xml = s.to_unsigned_xml().unwrap();
        assert_in_order(
            &xml,
            &[
                "<prot:Intestazione>",
                "<prot:Identificatore>",
                "<prot:CodiceAmministrazione prot:descrizione=\"Comune di Bergamo\">c_a794<",
                "<prot:CodiceAOO>A794<",
                "<prot:CodiceRegistro>PG<",
                "<prot:NumeroRegistrazione>0000042<",
                "<prot:DataRegistrazione>2025-03-07<",
                "<prot:OraRegistrazione>09:05:00<",
                "</prot:Identificatore><prot:PrimaRegistrazione>",
                "<prot:NumeroRegistrazione>0000007<",
                "</prot:PrimaRegistrazione><prot:Oggetto>",
                "<prot:Classifica><prot:Denominazione>Anagrafe</prot:Denominazione>\
                 <prot:CodiceFlat>XI.1</prot:CodiceFlat></prot:Classifica>",
                "<prot:Fascicolo><prot:Denominazione>Residenze 2025</prot:Denominazione>\
                 <prot:CodiceFascicolo>",
                "<prot:Riservato>true</prot:Riservato></prot:Intestazione>",
                "<prot:Descrizione><prot:Mittente><prot:PersonaFisica><prot:Nome>Niccolò</prot:Nome>\
                 <prot:Cognome>D'Annunzio</prot:Cognome><prot:CodiceFiscale>DNNNCC80A01A794X<",
                "<prot:Contatti><prot:IndirizzoTelematico prot:tipo=\"smtp\">niccolo@example.it<",
                "</prot:Mittente><prot:Destinatario><prot:Amministrazione>\
                 <prot:DenominazioneAmministrazione>Comune di Bergamo<",
                "<prot:CFAmministrazione>80034840167</prot:CFAmministrazione>\
                 <prot:CodiceIPAAmministrazione>c_a794<",
                "<prot:CodiceIPAAOO prot:descrizione=\"Protocollo generale\">A794<",
                "<prot:ContattiAOO>",
                "</prot:Destinatario><prot:DocumentoPrimario prot:mimeType=\"application/pdf\" \
                 prot:nomeFile=\"domanda.pdf\"><prot:Impronta prot:algoritmo=\"SHA-256\">",
                "<prot:Allegato prot:mimeType=\"image/jpeg\" prot:nomeFile=\"documento.jpg\">\
                 <prot:Descrizione>Carta d'identità</prot:Descrizione><prot:Impronta",
                "<prot:CollocazioneTelematica><prot:HostValue>https://documenti.comune.example.it\
                 </prot:HostValue><prot:PathValue>/c_a794/PG/2025/0000042/documento.jpg<",
                "</prot:Allegato></prot:Descrizione>",
            ],
        );
    }

    #[test]
    fn number_is_zero_padded_to_seven_digits_and_grows_beyond() {
        assert_eq!(format_number(1), "0000001");
        assert_eq!(format_number(1_234_567), "1234567");
        assert_eq!(format_number(12_345_678), "12345678");
        let mut s = sample();
        s.registration.number = 0;
        assert_eq!(s.to_unsigned_xml(), Err(SegnaturaError::InvalidNumber));
    }

    #[test]
    fn register_code_follows_the_schema_pattern() {
        for good in ["PG", "a", "REG_2025.in-1", "0123456789abcdef"] {
            assert_eq!(RegisterCode::new(good).unwrap().as_str(), good);
        }
        for bad in ["", "0123456789abcdefg", "P G", "PG/1", "registrò", "<PG>"] {
            assert_eq!(
                RegisterCode::new(bad),
                Err(SegnaturaError::InvalidRegisterCode(bad.into()))
            );
        }
        assert!("PG".parse::<RegisterCode>().is_ok());
    }

    #[test]
    fn hostile_text_is_escaped_and_kept() {
        let mut s = sample();
        s.subject = "<script>alert(\"x\")</script> &amp; 'apici' ]]> àèìòù € 😀 \u{1}\u{B}fine\r\nriga\rdue\ttab".into();
        if let Party::NaturalPerson(p) = &mut s.sender {
            p.given_name = "Zoë \"la <b>\" & co".into();
            p.family_name = "O'Brien\u{0}\u{FFFF}".into();
        }
        s.primary_document.file_name = "a\"b<c>&d'e\tf\r\ng.pdf".into();
        let xml = s.to_unsigned_xml().unwrap();
        assert!(xml.contains(
            "<prot:Oggetto>&lt;script&gt;alert(\"x\")&lt;/script&gt; &amp;amp; 'apici' ]]&gt; \
             àèìòù € 😀 \u{FFFD}\u{FFFD}fine\nriga\ndue\ttab</prot:Oggetto>"
        ));
        assert!(xml.contains("<prot:Nome>Zoë \"la &lt;b&gt;\" &amp; co</prot:Nome>"));
        assert!(xml.contains("<prot:Cognome>O'Brien\u{FFFD}\u{FFFD}</prot:Cognome>"));
        assert!(xml.contains("prot:nomeFile=\"a&quot;b&lt;c>&amp;d'e&#x9;f&#xA;g.pdf\""));
        assert!(!xml.contains("<script"));
        assert!(!xml.contains('\r'));
        assert!(
            !xml.chars()
                .any(|c| (u32::from(c) < 0x20 && c != '\t' && c != '\n') || c == '\u{FFFF}')
        );
    }

    #[test]
    fn blank_mandatory_fields_are_refused() {
        let mut s = sample();
        s.subject = " \n ".into();
        assert_eq!(s.to_unsigned_xml(), Err(SegnaturaError::Blank("Oggetto")));
        let mut s = sample();
        s.recipients.clear();
        assert_eq!(s.to_unsigned_xml(), Err(SegnaturaError::NoRecipient));
        let mut s = sample();
        s.primary_document.file_name = String::new();
        assert_eq!(
            s.to_unsigned_xml(),
            Err(SegnaturaError::Blank("Documento/nomeFile"))
        );
    }

    #[test]
    fn tax_codes_must_have_the_schema_shape() {
        assert_eq!(
            codice_fiscale(" rssmra85t10a562s ").unwrap(),
            "RSSMRA85T10A562S"
        );
        // Omocodia: digits replaced by letters.
        assert!(codice_fiscale("RSSMRA85T10A56NS").is_ok());
        assert!(codice_fiscale("RSSMRA85T10A562").is_err());
        assert!(codice_fiscale("RSSMRA85Z10A562S").is_err());
        let mut s = sample();
        if let Party::NaturalPerson(p) = &mut s.sender {
            p.codice_fiscale = Some("<script>".into());
        }
        assert_eq!(
            s.to_unsigned_xml(),
            Err(SegnaturaError::InvalidCodiceFiscale("<script>".into()))
        );
        assert!(partita_iva("01234567890").is_ok());
        assert!(partita_iva("IT01234567890").is_err());
    }

    #[test]
    fn every_kind_of_party_and_a_class_path() {
        let mut s = sample();
        s.classification.code = ClassCode::Path(vec![
            ClassLevel {
                code: "XI".into(),
                description: Some("Servizi demografici".into()),
            },
            ClassLevel {
                code: "1".into(),
                description: None,
            },
        ]);
        s.sender = Party::LegalPerson(LegalPerson {
            name: "Rossi & Figli S.r.l.".into(),
            vat_number: Some("01234567890".into()),
            contacts: None,
            people: vec![citizen()],
        });
        let mut foreign = Recipient::new(Party::ForeignAdministration(ForeignAdministration {
            name: "Mairie de Nice".into(),
            office: Some("État civil".into()),
            contacts: None,
        }));
        foreign.for_information = true;
        foreign.receipt_requested = Some(false);
        s.recipients.push(foreign);
        let xml = s.to_unsigned_xml().unwrap();
        assert_in_order(
            &xml,
            &[
                "<prot:CodicePath><prot:Livello prot:descrizione=\"Servizi demografici\">XI\
                 </prot:Livello><prot:SubLivello><prot:Livello>1</prot:Livello></prot:SubLivello>\
                 </prot:CodicePath>",
                "<prot:PersonaGiuridica><prot:Denominazione>Rossi &amp; Figli S.r.l.\
                 </prot:Denominazione><prot:PIVAoCF>01234567890</prot:PIVAoCF><prot:PersonaFisica>",
                "<prot:Destinatario prot:confermaRicezione=\"false\" prot:perConoscenza=\"true\">\
                 <prot:AmministrazioneEstera><prot:DenominazioneAmministrazione>Mairie de Nice<",
                "<prot:DenominazioneUfficio>État civil</prot:DenominazioneUfficio>",
            ],
        );
        let mut s = sample();
        s.classification.code = ClassCode::Path(vec![]);
        assert_eq!(s.to_unsigned_xml(), Err(SegnaturaError::EmptyClassPath));
    }

    #[test]
    fn locations_are_valid_uris_whatever_the_file_name() {
        assert_eq!(
            path_value("/c_a794/PG/2025/0000042/Domanda [firmata] 100% è?.pdf"),
            "/c_a794/PG/2025/0000042/Domanda%20%5Bfirmata%5D%20100%25%20%C3%A8%3F.pdf"
        );
        for good in [
            "documenti.comune.example.it",
            "https://documenti.comune.example.it",
            "https://documenti.comune.example.it:8443/",
            "127.0.0.1:9000",
        ] {
            assert_eq!(host_value(good), Ok(good));
        }
        for bad in [
            "",
            ":::",
            "1http://x.it",
            "https://",
            "https://x.it:porta",
            "https://x.it/percorso",
            "x y.it",
        ] {
            assert_eq!(
                host_value(bad),
                Err(SegnaturaError::InvalidHost(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn fingerprint_round_trips_through_base64_and_hex() {
        let f = Fingerprint::of(b"abc");
        assert_eq!(
            f.to_base64(),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert_eq!(Fingerprint::from_base64(&f.to_base64()).unwrap(), f);
        assert_eq!(
            Fingerprint::from_hex(
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            )
            .unwrap(),
            f
        );
        assert!(Fingerprint::from_base64("YWJj").is_err());
        assert!(Fingerprint::from_hex("zz").is_err());
    }

    #[test]
    fn namespaces_are_declared_where_first_used_and_attributes_sorted() {
        let tree = Element::new(Ns::Ds, "Signature")
            .attr(None, "Id", "s")
            .child(
                Element::new(Ns::Xades, "Q")
                    .attr(None, "Target", "#s")
                    .attr(Some(Ns::Prot), "z", "1")
                    .attr(None, "A", "2")
                    .child(Element::new(Ns::Ds, "DigestValue").text("x")),
            );
        assert_eq!(
            tree.canonical(),
            "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Id=\"s\">\
             <xades:Q xmlns:prot=\"http://www.agid.gov.it/protocollo/\" \
             xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\" A=\"2\" Target=\"#s\" prot:z=\"1\">\
             <ds:DigestValue>x</ds:DigestValue></xades:Q></ds:Signature>"
        );
        let inner = tree.children().next().unwrap();
        assert!(inner.canonical().contains(
            "<ds:DigestValue xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">x</ds:DigestValue>"
        ));
    }
}
