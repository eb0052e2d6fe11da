//! The validation rules: is a submitted practice complete and well formed for its type?
//!
//! [`check`] is pure: the handler measures the documents (digest, size, sniffed media type) and
//! passes those facts in, so every rule can be tested without a broker, a database or a bucket.
//! All problems are collected, not just the first, because a citizen who fixes one thing only
//! to be told about the next is a citizen who comes back to the counter three times.
//!
//! Messages are in plain, polite Italian and never repeat a tax code or an email address: they
//! end up in emails, in the citizen's folder and in logs.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sportello_shared::catalog::{Catalog, DocumentSpec, FieldKind, FieldSpec, PracticeType};
use sportello_shared::domain::content::{self, Problem};
use sportello_shared::domain::email::{EmailAddress, mask_email};
use sportello_shared::domain::file_name::{FileNameProblem, MAX_FILE_NAME_CHARS, check_file_name};
use sportello_shared::domain::media;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::domain::submission::{Applicant, Submission};
use sportello_shared::domain::tax_code::{TaxCode, TaxCodeError, mask_tax_code};
use std::collections::BTreeMap;

/// Every reason code [`check`] can give; they are part of the API (folder, emails, HTTP).
pub const REASON_CODES: &[&str] = &[
    TIPO_PRATICA_SCONOSCIUTO,
    CODICE_FISCALE_NON_VALIDO,
    EMAIL_NON_VALIDA,
    PEC_NON_VALIDA,
    NOME_MANCANTE,
    NOME_NON_VALIDO,
    OGGETTO_MANCANTE,
    OGGETTO_NON_VALIDO,
    CAMPO_MANCANTE,
    CAMPO_NON_VALIDO,
    IMPRESA_MANCANTE,
    PARTITA_IVA_NON_VALIDA,
    DOCUMENTO_MANCANTE,
    DOCUMENTO_NON_PREVISTO,
    DOCUMENTO_DUPLICATO,
    TIPO_FILE_NON_AMMESSO,
    TIPO_FILE_DICHIARATO_ERRATO,
    FILE_TROPPO_GRANDE,
    FILE_VUOTO,
    IMPRONTA_NON_CORRISPONDE,
    PRATICA_DA_INTEGRARE_SCONOSCIUTA,
    INTEGRAZIONE_NON_ATTESA,
    INTEGRAZIONE_SENZA_DOCUMENTI,
    CONTENUTO_NON_CONFORME,
    NOME_FILE_NON_VALIDO,
];

pub const TIPO_PRATICA_SCONOSCIUTO: &str = "tipo_pratica_sconosciuto";
pub const CODICE_FISCALE_NON_VALIDO: &str = "codice_fiscale_non_valido";
pub const EMAIL_NON_VALIDA: &str = "email_non_valida";
pub const PEC_NON_VALIDA: &str = "pec_non_valida";
pub const NOME_MANCANTE: &str = "nome_mancante";
/// A name the register cannot hold (control characters, absurd length).
pub const NOME_NON_VALIDO: &str = "nome_non_valido";
pub const OGGETTO_MANCANTE: &str = "oggetto_mancante";
pub const OGGETTO_NON_VALIDO: &str = "oggetto_non_valido";
pub const CAMPO_MANCANTE: &str = "campo_mancante";
pub const CAMPO_NON_VALIDO: &str = "campo_non_valido";
pub const IMPRESA_MANCANTE: &str = "impresa_mancante";
pub const PARTITA_IVA_NON_VALIDA: &str = "partita_iva_non_valida";
pub const DOCUMENTO_MANCANTE: &str = "documento_mancante";
pub const DOCUMENTO_NON_PREVISTO: &str = "documento_non_previsto";
pub const DOCUMENTO_DUPLICATO: &str = "documento_duplicato";
pub const TIPO_FILE_NON_AMMESSO: &str = "tipo_file_non_ammesso";
pub const TIPO_FILE_DICHIARATO_ERRATO: &str = "tipo_file_dichiarato_errato";
pub const FILE_TROPPO_GRANDE: &str = "file_troppo_grande";
pub const FILE_VUOTO: &str = "file_vuoto";
pub const IMPRONTA_NON_CORRISPONDE: &str = "impronta_non_corrisponde";
/// The named practice does not exist or is someone else's: one code for both, so that an
/// integration never tells a stranger whether a practice exists.
pub const PRATICA_DA_INTEGRARE_SCONOSCIUTA: &str = "pratica_da_integrare_sconosciuta";
pub const INTEGRAZIONE_NON_ATTESA: &str = "integrazione_non_attesa";
pub const INTEGRAZIONE_SENZA_DOCUMENTI: &str = "integrazione_senza_documenti";
/// The file starts like a type it is not (a PDF header before a web page), is damaged, or is
/// an archive beyond the catalog's `[content]` limits: see [`content::check`].
pub const CONTENUTO_NON_CONFORME: &str = "contenuto_non_conforme";
/// A file name some later stage cannot take: see [`check_file_name`].
pub const NOME_FILE_NON_VALIDO: &str = "nome_file_non_valido";

/// The role of a document an integration adds beyond the type's own roles: whatever the back
/// office asked for that the catalog has no name for.
pub const INTEGRATION_ROLE: &str = "integrazione";
const INTEGRATION_MAX_BYTES: u64 = 20 * 1024 * 1024;

pub use sportello_shared::domain::contract::{
    MAX_NAME_CHARS, MAX_SUBJECT_CHARS, MAX_TEXT_FIELD_CHARS,
};
/// File names are echoed in messages; a pathological one must not swamp them.
const MAX_SHOWN_FILE_NAME_CHARS: usize = 80;

/// What the handler measured about one submitted document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentFacts {
    pub role: String,
    pub file_name: String,
    pub declared_media_type: String,
    pub declared_sha256: String,
    /// Lowercase hex SHA-256 of the bytes actually received.
    pub actual_sha256: String,
    pub size: u64,
    /// What [`media::sniff`] says the bytes are.
    pub detected_media_type: Option<&'static str>,
    /// Why the bytes are not a well-formed document of the detected type ([`content::check`]);
    /// `None` when they are, or when no type was detected.
    pub content_problem: Option<Problem>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Reason {
    /// One of [`REASON_CODES`].
    pub code: String,
    /// What the reason is about: `applicant.tax_code`, `subject`, a data field name, a
    /// document role, …
    pub field: Option<String>,
    /// For the citizen, in Italian.
    pub message: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum Verdict {
    Valid,
    Invalid(Vec<Reason>),
}

impl Verdict {
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid)
    }

    pub fn reasons(&self) -> &[Reason] {
        match self {
            Verdict::Valid => &[],
            Verdict::Invalid(reasons) => reasons,
        }
    }
}

/// Checks `sub` against its type in `catalog`. `facts[i]` describes `sub.documents[i]`; the
/// document checks use the facts alone, which carry the role, name and declarations too.
pub fn check(sub: &Submission, facts: &[DocumentFacts], catalog: &Catalog) -> Verdict {
    debug_assert_eq!(
        sub.documents.len(),
        facts.len(),
        "one DocumentFacts per submitted document"
    );
    let mut reasons = Reasons::default();
    let practice_type = known_type(sub, catalog, &mut reasons);
    check_applicant(&sub.applicant, practice_type, &mut reasons);
    check_subject(&sub.subject, &mut reasons);
    if let Some(practice_type) = practice_type {
        check_data(&sub.data, practice_type, &mut reasons);
    }
    let limits = catalog.content_limits();
    check_documents(
        facts,
        practice_type,
        Purpose::Application,
        limits,
        &mut reasons,
    );
    reasons.into_verdict()
}

fn known_type<'c>(
    sub: &Submission,
    catalog: &'c Catalog,
    reasons: &mut Reasons,
) -> Option<&'c PracticeType> {
    let practice_type = catalog.get(sub.practice_type.trim());
    if practice_type.is_none() {
        reasons.add(
            TIPO_PRATICA_SCONOSCIUTO,
            "practice_type",
            "Il tipo di pratica indicato non esiste tra i servizi dello sportello: scelga il \
             servizio dall'elenco e ripresenti la domanda."
                .to_owned(),
        );
    }
    practice_type
}

/// The practice an integration names, as the handler found it in the folder store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationTarget {
    pub state: PracticeState,
    /// As stored: trimmed, upper case.
    pub tax_code: String,
    pub practice_type: String,
}

/// Checks a citizen's integration: a submission that answers the back office's request on the
/// practice it names (`target`, `None` when there is no such practice). The applicant and the
/// subject are checked as for any submission; the type's required fields and documents are
/// not — the integration carries what was asked for, not the whole application again — but it
/// must carry at least one document, each of a role of the type or [`INTEGRATION_ROLE`], and
/// the named practice must be the same citizen's, of the same type, and waiting for it.
pub fn check_integration(
    sub: &Submission,
    facts: &[DocumentFacts],
    catalog: &Catalog,
    target: Option<&IntegrationTarget>,
) -> Verdict {
    let mut reasons = Reasons::default();
    let practice_type = known_type(sub, catalog, &mut reasons);
    check_applicant(&sub.applicant, practice_type, &mut reasons);
    check_subject(&sub.subject, &mut reasons);
    let applicant = sub.applicant.tax_code.trim().to_uppercase();
    match target {
        Some(target) if target.tax_code == applicant => {
            if target.practice_type != sub.practice_type.trim() {
                reasons.add(
                    INTEGRAZIONE_NON_ATTESA,
                    "practice_type",
                    "L'integrazione indica un tipo di pratica diverso da quello della pratica \
                     da integrare: la ripresenti con lo stesso tipo."
                        .to_owned(),
                );
            } else if target.state != PracticeState::IntegrationRequested {
                reasons.add(
                    INTEGRAZIONE_NON_ATTESA,
                    "integrates",
                    format!(
                        "La pratica indicata non è in attesa di integrazioni (stato attuale: {}): \
                         se l'ufficio le ha chiesto documenti, verifichi di aver indicato la \
                         pratica giusta.",
                        state_label(target.state)
                    ),
                );
            }
        }
        // Unknown, or another citizen's: the same answer, so nothing leaks.
        _ => reasons.add(
            PRATICA_DA_INTEGRARE_SCONOSCIUTA,
            "integrates",
            "La pratica indicata non risulta tra le sue pratiche: verifichi il codice della \
             pratica da integrare."
                .to_owned(),
        ),
    }
    if facts.is_empty() {
        reasons.add(
            INTEGRAZIONE_SENZA_DOCUMENTI,
            "documents",
            "L'integrazione non contiene documenti: alleghi quelli richiesti dall'ufficio."
                .to_owned(),
        );
    }
    if let Some(practice_type) = practice_type {
        check_documents(
            facts,
            Some(practice_type),
            Purpose::Integration,
            catalog.content_limits(),
            &mut reasons,
        );
    }
    reasons.into_verdict()
}

/// A state as the citizen reads it in a message.
fn state_label(state: PracticeState) -> &'static str {
    match state {
        PracticeState::Received | PracticeState::Validated => "ricevuta",
        PracticeState::Rejected => "respinta",
        PracticeState::Registered | PracticeState::Stored => "protocollata",
        PracticeState::Dispatched | PracticeState::InProgress => "in lavorazione",
        PracticeState::IntegrationRequested => "in attesa di integrazione",
        PracticeState::Completed => "conclusa",
        PracticeState::Denied => "non accolta",
        PracticeState::Withdrawn => "ritirata",
        PracticeState::Delivered => "consegnata",
    }
}

/// What the documents are checked for: a whole application, or an integration of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Application,
    Integration,
}

/// The spec of [`INTEGRATION_ROLE`]: the formats a back office can read.
fn integration_document_spec() -> DocumentSpec {
    DocumentSpec {
        role: INTEGRATION_ROLE.to_owned(),
        label: "Documento integrativo".to_owned(),
        required: false,
        media_types: [media::PDF, media::PKCS7, media::JPEG, media::PNG]
            .map(str::to_owned)
            .to_vec(),
        max_bytes: INTEGRATION_MAX_BYTES,
    }
}

#[derive(Default)]
struct Reasons(Vec<Reason>);

impl Reasons {
    fn add(&mut self, code: &'static str, field: &str, message: String) {
        self.0.push(Reason {
            code: code.to_owned(),
            field: Some(field.to_owned()),
            message,
        });
    }

    fn into_verdict(self) -> Verdict {
        if self.0.is_empty() {
            Verdict::Valid
        } else {
            Verdict::Invalid(self.0)
        }
    }
}

fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// Characters XML 1.0 cannot carry even escaped (the register's segnatura holds these texts),
/// plus the C1 controls nobody types on purpose.
fn has_forbidden_chars(text: &str, allow_line_breaks: bool) -> bool {
    text.chars().any(|c| match c {
        '\t' | '\n' | '\r' => !allow_line_breaks,
        '\u{FFFE}' | '\u{FFFF}' => true,
        c => c.is_control(),
    })
}

fn check_applicant(
    applicant: &Applicant,
    practice_type: Option<&PracticeType>,
    reasons: &mut Reasons,
) {
    if is_blank(&applicant.tax_code) {
        reasons.add(
            CODICE_FISCALE_NON_VALIDO,
            "applicant.tax_code",
            "Manca il codice fiscale del richiedente.".to_owned(),
        );
    } else if let Err(error) = TaxCode::parse(&applicant.tax_code) {
        reasons.add(
            CODICE_FISCALE_NON_VALIDO,
            "applicant.tax_code",
            format!(
                "Il codice fiscale indicato non è valido: {}.",
                tax_code_problem(&error)
            ),
        );
    }

    check_person_name(
        &applicant.given_name,
        "applicant.given_name",
        "il nome del richiedente",
        reasons,
    );
    check_person_name(
        &applicant.family_name,
        "applicant.family_name",
        "il cognome del richiedente",
        reasons,
    );

    if is_blank(&applicant.email) {
        reasons.add(
            EMAIL_NON_VALIDA,
            "applicant.email",
            "Manca l'indirizzo email del richiedente: serve per inviarle le comunicazioni \
             sulla pratica."
                .to_owned(),
        );
    } else if EmailAddress::parse(&applicant.email).is_err() {
        reasons.add(
            EMAIL_NON_VALIDA,
            "applicant.email",
            "L'indirizzo email indicato non è valido: controlli di averlo scritto per intero e \
             senza spazi (per esempio nome.cognome@esempio.it)."
                .to_owned(),
        );
    }
    // A blank PEC is how many forms say "none"; only a filled-in one must be right.
    if let Some(pec) = applicant.pec.as_deref().filter(|pec| !is_blank(pec))
        && EmailAddress::parse(pec).is_err()
    {
        reasons.add(
            PEC_NON_VALIDA,
            "applicant.pec",
            "L'indirizzo PEC indicato non è valido: controlli di averlo scritto per intero e \
             senza spazi, oppure lasci vuoto il campo."
                .to_owned(),
        );
    }

    match &applicant.company {
        Some(company) => {
            check_person_name(
                &company.name,
                "applicant.company.name",
                "la denominazione dell'impresa",
                reasons,
            );
            if !vat_number_is_valid(&company.vat_number) {
                reasons.add(
                    PARTITA_IVA_NON_VALIDA,
                    "applicant.company.vat_number",
                    "La partita IVA dell'impresa non è valida: deve essere composta da 11 cifre, \
                     l'ultima delle quali è una cifra di controllo."
                        .to_owned(),
                );
            }
        }
        None if practice_type.is_some_and(|t| t.requires_company) => reasons.add(
            IMPRESA_MANCANTE,
            "applicant.company",
            "Questa pratica va presentata per conto di un'impresa: indichi la denominazione e la \
             partita IVA dell'impresa."
                .to_owned(),
        ),
        None => {}
    }
}

/// `what` is the Italian noun phrase with its article, lowercase: "il nome del richiedente".
fn check_person_name(name: &str, field: &str, what: &str, reasons: &mut Reasons) {
    if is_blank(name) {
        reasons.add(NOME_MANCANTE, field, format!("Manca {what}."));
    } else if has_forbidden_chars(name, false) || name.trim().chars().count() > MAX_NAME_CHARS {
        reasons.add(
            NOME_NON_VALIDO,
            field,
            format!(
                "{} contiene caratteri non ammessi o è troppo lungo (al massimo \
                 {MAX_NAME_CHARS} caratteri).",
                capitalised(what)
            ),
        );
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn tax_code_problem(error: &TaxCodeError) -> String {
    match error {
        TaxCodeError::WrongLength { .. } => "deve essere composto da 16 caratteri".to_owned(),
        TaxCodeError::BadCharacter { position, .. } => {
            format!("il carattere in posizione {position} non è ammesso in quel punto")
        }
        TaxCodeError::BadMonth => "la lettera del mese di nascita non è corretta".to_owned(),
        TaxCodeError::BadDay => "il giorno di nascita non è corretto".to_owned(),
        TaxCodeError::BadCheckCharacter { .. } => {
            "il carattere di controllo non corrisponde".to_owned()
        }
    }
}

fn check_subject(subject: &str, reasons: &mut Reasons) {
    if is_blank(subject) {
        reasons.add(
            OGGETTO_MANCANTE,
            "subject",
            "Manca l'oggetto della pratica: descriva in poche parole che cosa chiede.".to_owned(),
        );
    } else if subject.trim().chars().count() > MAX_SUBJECT_CHARS {
        reasons.add(
            OGGETTO_NON_VALIDO,
            "subject",
            format!(
                "L'oggetto della pratica è troppo lungo: può contenere al massimo \
                 {MAX_SUBJECT_CHARS} caratteri. I dettagli possono essere descritti in un \
                 documento allegato."
            ),
        );
    } else if has_forbidden_chars(subject, true) {
        reasons.add(
            OGGETTO_NON_VALIDO,
            "subject",
            "L'oggetto della pratica contiene caratteri non ammessi: lo riscriva usando solo \
             lettere, numeri e punteggiatura."
                .to_owned(),
        );
    }
}

fn check_data(data: &Map<String, Value>, practice_type: &PracticeType, reasons: &mut Reasons) {
    // Keys the catalog does not know are left alone: they harm nobody and the back office
    // may still find them useful.
    for field in &practice_type.fields {
        let value = data.get(&field.name).filter(|value| match value {
            Value::Null => false,
            Value::String(text) => !is_blank(text),
            _ => true,
        });
        match value {
            None if field.required => reasons.add(
                CAMPO_MANCANTE,
                &field.name,
                format!("Manca il dato obbligatorio «{}».", field.label),
            ),
            None => {}
            Some(value) => {
                if let Err(problem) = check_value(field, value) {
                    reasons.add(
                        CAMPO_NON_VALIDO,
                        &field.name,
                        format!("Il dato «{}» non è valido: {problem}.", field.label),
                    );
                }
            }
        }
    }
}

/// The problem with a present value, as the end of an Italian sentence.
fn check_value(field: &FieldSpec, value: &Value) -> Result<(), String> {
    let text = value.as_str().map(str::trim);
    match field.kind {
        FieldKind::Text => match value.as_str() {
            Some(text) if has_forbidden_chars(text, true) => {
                Err("contiene caratteri non ammessi".to_owned())
            }
            Some(text) if text.trim().chars().count() > MAX_TEXT_FIELD_CHARS => Err(format!(
                "può contenere al massimo {MAX_TEXT_FIELD_CHARS} caratteri"
            )),
            Some(_) => Ok(()),
            None => Err("deve essere un testo".to_owned()),
        },
        FieldKind::Date => text.filter(|t| is_iso_date(t)).map(|_| ()).ok_or_else(|| {
            "va indicata una data esistente nel formato AAAA-MM-GG (per esempio 2025-03-31)"
                .to_owned()
        }),
        FieldKind::Integer => {
            let ok = match value {
                Value::Number(number) => number.is_i64() || number.is_u64(),
                Value::String(_) => text.is_some_and(is_integer_text),
                _ => false,
            };
            ok.then_some(())
                .ok_or_else(|| "deve essere un numero intero (per esempio 3)".to_owned())
        }
        FieldKind::Decimal => {
            let ok = match value {
                Value::Number(_) => true,
                Value::String(_) => text.is_some_and(is_decimal_text),
                _ => false,
            };
            ok.then_some(())
                .ok_or_else(|| "deve essere un numero (per esempio 12,50)".to_owned())
        }
        FieldKind::Boolean => value
            .is_boolean()
            .then_some(())
            .ok_or_else(|| "va indicato sì oppure no".to_owned()),
        FieldKind::Email => text
            .filter(|t| EmailAddress::parse(t).is_ok())
            .map(|_| ())
            .ok_or_else(|| "l'indirizzo email non è scritto correttamente".to_owned()),
        FieldKind::TaxCode => match text.map(TaxCode::parse) {
            Some(Ok(_)) => Ok(()),
            Some(Err(error)) => Err(tax_code_problem(&error)),
            None => Err("deve essere un codice fiscale di 16 caratteri".to_owned()),
        },
        FieldKind::Iban => text
            .filter(|t| iban_is_valid(t))
            .map(|_| ())
            .ok_or_else(|| {
                "controlli di averlo trascritto per intero e senza errori (per un conto italiano \
                 sono 27 caratteri, a partire da IT)"
                    .to_owned()
            }),
    }
}

fn is_integer_text(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `12`, `12.5`, `12,50`, `-3`: Italians write a decimal comma, forms often a point.
fn is_decimal_text(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once([',', '.']) {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && whole.len() <= 15 && fraction.is_none_or(digits)
}

/// `YYYY-MM-DD` naming a day that exists (leap years included).
fn is_iso_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape_ok {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> u32 { text[range].parse().unwrap_or(0) };
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1 && (1..=days_in_month).contains(&day)
}

/// ISO 13616: country, two check digits, account; mod 97 of the rearranged number is 1.
fn iban_is_valid(raw: &str) -> bool {
    let iban: String = raw
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let bytes = iban.as_bytes();
    if !(15..=34).contains(&bytes.len())
        || !bytes[..2].iter().all(u8::is_ascii_uppercase)
        || !bytes[2..4].iter().all(u8::is_ascii_digit)
        || !bytes.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    // Italian (and San Marino) IBANs have a fixed length; others are left to their banks.
    if matches!(&iban[..2], "IT" | "SM") && bytes.len() != 27 {
        return false;
    }
    let remainder = bytes[4..].iter().chain(&bytes[..4]).fold(0u32, |acc, &b| {
        if b.is_ascii_digit() {
            (acc * 10 + u32::from(b - b'0')) % 97
        } else {
            (acc * 100 + u32::from(b - b'A' + 10)) % 97
        }
    });
    remainder == 1
}

/// Partita IVA: 11 digits, the last a Luhn-style check digit. An `IT` prefix is tolerated
/// because that is how the number is printed on invoices.
fn vat_number_is_valid(raw: &str) -> bool {
    let trimmed = raw.trim();
    let digits = match trimmed.get(..2) {
        Some(prefix) if prefix.eq_ignore_ascii_case("IT") => &trimmed[2..],
        _ => trimmed,
    };
    let bytes = digits.as_bytes();
    if bytes.len() != 11
        || !bytes.iter().all(u8::is_ascii_digit)
        || bytes.iter().all(|&b| b == b'0')
    {
        return false;
    }
    let sum: u32 = bytes[..10]
        .iter()
        .enumerate()
        .map(|(index, &b)| {
            let digit = u32::from(b - b'0');
            if index % 2 == 0 {
                digit
            } else if digit * 2 > 9 {
                digit * 2 - 9
            } else {
                digit * 2
            }
        })
        .sum();
    (10 - sum % 10) % 10 == u32::from(bytes[10] - b'0')
}

fn check_documents(
    facts: &[DocumentFacts],
    practice_type: Option<&PracticeType>,
    purpose: Purpose,
    limits: &content::Limits,
    reasons: &mut Reasons,
) {
    let integration_spec = integration_document_spec();
    let mut given: BTreeMap<&str, usize> = BTreeMap::new();
    for document in facts {
        let role = document.role.trim();
        let count = given.entry(role).or_default();
        *count += 1;
        let spec = practice_type.and_then(|t| t.document(role)).or((purpose
            == Purpose::Integration
            && role == INTEGRATION_ROLE)
            .then_some(&integration_spec));
        let name = shown_file_name(&document.file_name);
        if let Err(problem) = check_file_name(&document.file_name) {
            let label = spec.map_or(role, |spec| spec.label.as_str());
            reasons.add(
                NOME_FILE_NON_VALIDO,
                role,
                file_name_message(problem, &name, label),
            );
        }

        if let Some(practice_type) = practice_type
            && spec.is_none()
        {
            reasons.add(
                DOCUMENTO_NON_PREVISTO,
                role,
                format!(
                    "Il file «{name}» è allegato come un documento che la pratica «{}» non \
                     prevede: lo tolga oppure lo alleghi come uno dei documenti richiesti.",
                    practice_type.title
                ),
            );
        }
        let repeatable = purpose == Purpose::Integration && role == INTEGRATION_ROLE;
        if *count == 2 && !repeatable {
            let label = spec.map_or(role, |spec| spec.label.as_str());
            reasons.add(
                DOCUMENTO_DUPLICATO,
                role,
                format!(
                    "Il documento «{label}» è allegato più di una volta: ne alleghi uno solo \
                     (più pagine possono stare in un unico PDF)."
                ),
            );
        }

        if document.size == 0 {
            reasons.add(
                FILE_VUOTO,
                role,
                format!("Il file «{name}» è vuoto: lo alleghi di nuovo."),
            );
        } else {
            check_file_content(document, spec, &name, limits, reasons);
        }

        if !document
            .declared_sha256
            .trim()
            .eq_ignore_ascii_case(document.actual_sha256.trim())
        {
            reasons.add(
                IMPRONTA_NON_CORRISPONDE,
                role,
                format!(
                    "Il file «{name}» ricevuto non corrisponde a quello inviato (l'impronta \
                     SHA-256 è diversa): potrebbe essersi danneggiato durante la trasmissione. \
                     La preghiamo di allegarlo di nuovo."
                ),
            );
        }
    }

    if let Some(practice_type) = practice_type
        && purpose == Purpose::Application
    {
        for spec in practice_type.documents.iter().filter(|spec| spec.required) {
            if !given.contains_key(spec.role.as_str()) {
                reasons.add(
                    DOCUMENTO_MANCANTE,
                    &spec.role,
                    format!("Manca il documento obbligatorio «{}».", spec.label),
                );
            }
        }
    }
}

/// What a file name a later stage cannot take is told, in Italian. `name` is as shown.
fn file_name_message(problem: FileNameProblem, name: &str, label: &str) -> String {
    let rename = "lo rinomini e lo alleghi di nuovo";
    match problem {
        FileNameProblem::Blank => format!(
            "Il file allegato come «{label}» non ha un nome: {rename} (per esempio \
             «documento.pdf»)."
        ),
        FileNameProblem::ForbiddenCharacters => format!(
            "Il nome del file «{name}» contiene caratteri non ammessi (caratteri di \
             controllo): {rename}, usando solo lettere, numeri e punteggiatura."
        ),
        FileNameProblem::PathSeparator => format!(
            "Il nome del file «{name}» contiene le barre «/» o «\\», che in un nome di file \
             non sono ammesse: {rename}."
        ),
        FileNameProblem::OnlyDots => {
            format!("Il nome del file «{name}» è composto solo da punti: {rename}.")
        }
        FileNameProblem::TooLong => format!(
            "Il nome del file «{name}» è troppo lungo (al massimo {MAX_FILE_NAME_CHARS} \
             caratteri): {rename} con un nome più breve."
        ),
    }
}

/// Why the content is not what its type promises, for the citizen.
fn content_message(
    problem: &Problem,
    detected: &str,
    name: &str,
    limits: &content::Limits,
) -> String {
    let format = media::display_name(detected);
    let unreadable = format!(
        "Il file «{name}» non è un file {format} valido: sembra incompleto, danneggiato \
         oppure di un altro tipo. Lo salvi di nuovo in formato {format} con il programma con \
         cui lo ha creato (oppure lo scansioni di nuovo) e lo alleghi ancora."
    );
    match problem {
        Problem::Malformed { .. } => unreadable,
        Problem::ImageTooLarge { width, height } if *width == 0 || *height == 0 => unreadable,
        Problem::ImageTooLarge { width, height } => format!(
            "L'immagine «{name}» è troppo grande ({width}×{height} pixel; al massimo {} pixel \
             per lato e {} milioni di pixel in tutto): la ridimensioni, oppure la salvi in \
             formato PDF, e la alleghi di nuovo.",
            limits.max_image_side,
            limits.max_image_pixels / 1_000_000
        ),
        Problem::ArchiveTooLarge(_) => format!(
            "L'archivio «{name}», una volta estratto, supera i limiti ammessi (al massimo {} di \
             contenuto e {} file): alleghi i documenti singolarmente oppure in archivi più \
             piccoli.",
            human_size(limits.zip.max_uncompressed_bytes),
            limits.zip.max_entries
        ),
        Problem::NestedTooDeep { .. } => format!(
            "L'archivio «{name}» contiene archivi ZIP dentro altri archivi oltre quanto \
             ammesso: alleghi un solo archivio con i documenti al suo interno, senza altri \
             archivi annidati."
        ),
        Problem::Unsupported { .. } => format!(
            "L'archivio «{name}» è protetto da password o usa un formato che non è possibile \
             verificare: lo crei di nuovo senza password, con la compressione ZIP standard, e \
             lo alleghi ancora."
        ),
    }
}

/// Media type, content and size of a non-empty file.
fn check_file_content(
    document: &DocumentFacts,
    spec: Option<&DocumentSpec>,
    name: &str,
    limits: &content::Limits,
    reasons: &mut Reasons,
) {
    let role = document.role.trim();
    // What the content check found matters only for a type the citizen may send at all.
    let allowed = document
        .detected_media_type
        .is_some_and(|detected| spec.is_none_or(|spec| spec.allows(detected)));
    if allowed
        && let (Some(detected), Some(problem)) =
            (document.detected_media_type, &document.content_problem)
    {
        reasons.add(
            CONTENUTO_NON_CONFORME,
            role,
            content_message(problem, detected, name, limits),
        );
    }
    if let Some(spec) = spec {
        if !document
            .detected_media_type
            .is_some_and(|detected| spec.allows(detected))
        {
            reasons.add(
                TIPO_FILE_NON_AMMESSO,
                role,
                format!(
                    "Il file «{name}» non è di un tipo ammesso per «{}»: sono ammessi {}.",
                    spec.label,
                    allowed_list(&spec.media_types)
                ),
            );
        }
        if document.size > spec.max_bytes {
            reasons.add(
                FILE_TROPPO_GRANDE,
                role,
                format!(
                    "Il file «{name}» è troppo grande ({}): per «{}» la dimensione massima è {}.",
                    human_size(document.size),
                    spec.label,
                    human_size(spec.max_bytes)
                ),
            );
        }
    }
    if let Some(detected) = document.detected_media_type
        && media::canonical(&document.declared_media_type) != detected
    {
        reasons.add(
            TIPO_FILE_DICHIARATO_ERRATO,
            role,
            format!(
                "Il tipo indicato per il file «{name}» non corrisponde al suo contenuto, che \
                 risulta essere {}: verifichi di aver allegato il file giusto.",
                media::display_name(detected)
            ),
        );
    }
}

/// "PDF", "PDF e PNG", "PDF, JPEG e PNG".
fn allowed_list(media_types: &[String]) -> String {
    let names: Vec<&str> = media_types
        .iter()
        .map(|media_type| media::display_name(media_type))
        .collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} e {last}", rest.join(", ")),
    }
}

/// Sizes the way a citizen reads them: binary multiples, Italian decimal comma. Rounded up,
/// so that a file just over a limit never reads as exactly the limit.
fn human_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    if bytes >= MIB {
        let tenths = (bytes * 10).div_ceil(MIB);
        if tenths.is_multiple_of(10) {
            format!("{} MB", tenths / 10)
        } else {
            format!("{},{} MB", tenths / 10, tenths % 10)
        }
    } else if bytes >= KIB {
        format!("{} KB", bytes.div_ceil(KIB))
    } else {
        format!("{bytes} byte")
    }
}

/// The file name as it may appear in a message: no control characters, no tax code or email
/// address a citizen put in the name, bounded length.
fn shown_file_name(raw: &str) -> String {
    let cleaned: String = raw
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let masked = mask_tax_codes_in(&mask_emails_in(&cleaned));
    let mut shown: String = masked.chars().take(MAX_SHOWN_FILE_NAME_CHARS).collect();
    if masked.chars().count() > MAX_SHOWN_FILE_NAME_CHARS {
        shown.push('…');
    }
    if is_blank(&shown) {
        "senza nome".to_owned()
    } else {
        shown
    }
}

/// Masks every address-like stretch around an `@`, however it is glued to the rest of the name.
fn mask_emails_in(text: &str) -> String {
    const LOCAL_SYMBOLS: &str = ".!#$%&'*+/=?^_`{|}~-";
    let is_local = |c: char| c.is_ascii_alphanumeric() || LOCAL_SYMBOLS.contains(c);
    let is_domain = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut emitted = 0;
    let mut index = 0;
    while index < chars.len() {
        if chars[index] != '@' {
            index += 1;
            continue;
        }
        let mut left = index;
        while left > emitted && is_local(chars[left - 1]) {
            left -= 1;
        }
        let mut right = index + 1;
        while right < chars.len() && is_domain(chars[right]) {
            right += 1;
        }
        out.extend(&chars[emitted..left]);
        out.push_str(&mask_email(&chars[left..right].iter().collect::<String>()));
        emitted = right;
        index = right;
    }
    out.extend(&chars[emitted..]);
    out
}

/// Masks every run of letters and digits that is a valid tax code ("RSSMRA80A01H501U_ci.pdf").
fn mask_tax_codes_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if TaxCode::parse(run).is_ok() {
            out.push_str(&mask_tax_code(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sportello_shared::domain::submission::{
        Channel, Company, SUBMISSION_SCHEMA_VERSION, SubmittedDocument,
    };

    const TAX_CODE: &str = "RSSMRA80A01H501U";
    const CHILD_TAX_CODE: &str = "RSSLCU15P41A794R";
    const VAT_NUMBER: &str = "12345678903";
    const IBAN: &str = "IT60X0542811101000000123456";
    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const MIB: u64 = 1024 * 1024;

    fn catalog() -> Catalog {
        Catalog::embedded().unwrap()
    }

    fn submission(practice_type: &str, data: Value) -> Submission {
        Submission {
            schema_version: SUBMISSION_SCHEMA_VERSION,
            idempotency_key: "test-1".to_owned(),
            channel: Channel::Portal,
            practice_type: practice_type.to_owned(),
            applicant: Applicant {
                tax_code: TAX_CODE.to_owned(),
                given_name: "Mario".to_owned(),
                family_name: "Rossi".to_owned(),
                email: "mario.rossi@example.it".to_owned(),
                pec: None,
                company: None,
            },
            subject: "Richiesta di prova".to_owned(),
            data: data.as_object().cloned().unwrap_or_default(),
            documents: Vec::new(),
            integrates: None,
        }
    }

    /// A well-formed document of `media_type`, added to the submission with its facts.
    fn attach(
        sub: &mut Submission,
        facts: &mut Vec<DocumentFacts>,
        role: &str,
        file_name: &str,
        media_type: &'static str,
        size: u64,
    ) {
        sub.documents.push(SubmittedDocument {
            role: role.to_owned(),
            file_name: file_name.to_owned(),
            media_type: media_type.to_owned(),
            sha256: SHA.to_owned(),
            content_base64: None,
            staged_key: Some(format!("staging/{file_name}")),
        });
        facts.push(DocumentFacts {
            role: role.to_owned(),
            file_name: file_name.to_owned(),
            declared_media_type: media_type.to_owned(),
            declared_sha256: SHA.to_owned(),
            actual_sha256: SHA.to_owned(),
            size,
            detected_media_type: Some(media_type),
            content_problem: None,
        });
    }

    fn codes(verdict: &Verdict) -> Vec<&str> {
        let codes: Vec<&str> = verdict.reasons().iter().map(|r| r.code.as_str()).collect();
        for code in &codes {
            assert!(REASON_CODES.contains(code), "{code} is not in REASON_CODES");
        }
        codes
    }

    fn only_reason(verdict: &Verdict) -> &Reason {
        match verdict.reasons() {
            [reason] => reason,
            other => panic!("expected one reason, got {other:#?}"),
        }
    }

    fn cila() -> (Submission, Vec<DocumentFacts>) {
        let mut sub = submission(
            "edilizia.cila",
            serde_json::json!({
                "indirizzo_intervento": "Via XX Settembre 12, Bergamo",
                "riferimenti_catastali": "foglio 12, particella 345, sub 6",
                "descrizione_intervento": "Rifacimento del bagno",
                "data_inizio_lavori": "2025-04-01",
                "codice_fiscale_tecnico": "BNCLRA92E45F205F",
                "pec_tecnico": "laura.bianchi@pec.ordine.it",
            }),
        );
        let mut facts = Vec::new();
        attach(
            &mut sub,
            &mut facts,
            "modulo_cila",
            "cila.pdf.p7m",
            media::PKCS7,
            300_000,
        );
        attach(
            &mut sub,
            &mut facts,
            "elaborati",
            "pianta.pdf",
            media::PDF,
            30 * MIB,
        );
        attach(
            &mut sub,
            &mut facts,
            "relazione_tecnica",
            "relazione.pdf",
            media::PDF,
            MIB,
        );
        (sub, facts)
    }

    fn check_cila(edit: impl FnOnce(&mut Submission, &mut Vec<DocumentFacts>)) -> Verdict {
        let (mut sub, mut facts) = cila();
        edit(&mut sub, &mut facts);
        check(&sub, &facts, &catalog())
    }

    #[test]
    fn reason_codes_are_distinct_and_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for code in REASON_CODES {
            assert!(seen.insert(code), "{code} twice");
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
        assert_eq!(REASON_CODES.len(), 25);
    }

    #[test]
    fn a_valid_realtime_certificate_request() {
        let sub = submission(
            "anagrafe.certificato_anagrafico",
            serde_json::json!({ "tipo_certificato": "residenza", "uso": "pratica INPS" }),
        );
        assert_eq!(check(&sub, &[], &catalog()), Verdict::Valid);
    }

    #[test]
    fn a_valid_cila() {
        assert_eq!(check_cila(|_, _| {}), Verdict::Valid);
    }

    #[test]
    fn a_valid_shop_opening_by_a_company() {
        let mut sub = submission(
            "suap.apertura_negozio",
            serde_json::json!({
                "indirizzo_esercizio": "Via Borgo Palazzo 5, Bergamo",
                "settore_merceologico": "non alimentare",
                "superficie_vendita_mq": "85,5",
                "data_avvio": "2025-09-01",
            }),
        );
        sub.applicant.company = Some(Company {
            name: "Rossi Abbigliamento S.r.l.".to_owned(),
            vat_number: format!("IT{VAT_NUMBER}"),
        });
        sub.applicant.pec = Some("rossi.abbigliamento@pec.example.it".to_owned());
        sub.channel = Channel::Counter {
            operator_id: "OP-7".to_owned(),
        };
        let mut facts = Vec::new();
        attach(
            &mut sub,
            &mut facts,
            "modulo_scia",
            "scia.pdf",
            media::PDF,
            2 * MIB,
        );
        attach(
            &mut sub,
            &mut facts,
            "planimetria",
            "locali.pdf.p7m",
            media::PKCS7,
            8 * MIB,
        );
        attach(
            &mut sub,
            &mut facts,
            "documento_identita",
            "ci.jpg",
            media::JPEG,
            MIB,
        );
        attach(
            &mut sub,
            &mut facts,
            "modello_xml",
            "SUAP.xml",
            media::XML,
            20_000,
        );
        assert_eq!(check(&sub, &facts, &catalog()), Verdict::Valid);
    }

    #[test]
    fn a_valid_school_canteen_enrolment_and_rent_contribution() {
        let sub = submission(
            "scuola.iscrizione_mensa",
            serde_json::json!({
                "nome_alunno": "Lucia Rossi",
                "codice_fiscale_alunno": CHILD_TAX_CODE,
                "scuola": "Primaria Papa Giovanni XXIII",
                "classe": "4ª B",
                "anno_scolastico": "2025/2026",
                "dieta_speciale": false,
            }),
        );
        assert_eq!(check(&sub, &[], &catalog()), Verdict::Valid);

        let mut sub = submission(
            "sociale.contributo_affitto",
            serde_json::json!({
                "valore_isee": 9350.27,
                "canone_mensile": "520,00",
                "componenti_nucleo": 3,
                "iban": "it60 x054 2811 1010 0000 0123 456",
            }),
        );
        let mut facts = Vec::new();
        attach(
            &mut sub,
            &mut facts,
            "documento_identita",
            "ci.png",
            media::PNG,
            MIB,
        );
        attach(
            &mut sub,
            &mut facts,
            "attestazione_isee",
            "isee.pdf",
            media::PDF,
            MIB,
        );
        attach(
            &mut sub,
            &mut facts,
            "contratto_locazione",
            "contratto.pdf",
            media::PDF,
            3 * MIB,
        );
        assert_eq!(check(&sub, &facts, &catalog()), Verdict::Valid);
    }

    #[test]
    fn unknown_practice_type() {
        let sub = submission("anagrafe.passaporto", serde_json::json!({}));
        let verdict = check(&sub, &[], &catalog());
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, TIPO_PRATICA_SCONOSCIUTO);
        assert_eq!(reason.field.as_deref(), Some("practice_type"));
    }

    #[test]
    fn unknown_type_still_checks_what_it_can() {
        let mut sub = submission("non.esiste", serde_json::json!({}));
        sub.applicant.email = "nobody".to_owned();
        let mut facts = Vec::new();
        attach(&mut sub, &mut facts, "qualcosa", "a.pdf", media::PDF, 0);
        assert_eq!(
            codes(&check(&sub, &facts, &catalog())),
            [TIPO_PRATICA_SCONOSCIUTO, EMAIL_NON_VALIDA, FILE_VUOTO]
        );
    }

    #[test]
    fn bad_tax_code() {
        let verdict = check_cila(|sub, _| sub.applicant.tax_code = "RSSMRA80A01H501A".into());
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, CODICE_FISCALE_NON_VALIDO);
        assert_eq!(reason.field.as_deref(), Some("applicant.tax_code"));
        assert_eq!(
            reason.message,
            "Il codice fiscale indicato non è valido: il carattere di controllo non corrisponde."
        );
        for (raw, fragment) in [
            ("RSSMRA80A01H501", "16 caratteri"),
            ("RSSMRA80Z01H501U", "mese"),
            ("", "Manca il codice fiscale"),
        ] {
            let verdict = check_cila(|sub, _| sub.applicant.tax_code = raw.into());
            let reason = only_reason(&verdict);
            assert_eq!(reason.code, CODICE_FISCALE_NON_VALIDO);
            assert!(reason.message.contains(fragment), "{}", reason.message);
        }
    }

    #[test]
    fn omocodic_and_lowercase_tax_codes_pass() {
        for raw in ["RSSMRA80A01H50MM", " rssmra80a01h501u "] {
            let verdict = check_cila(|sub, _| sub.applicant.tax_code = raw.into());
            assert_eq!(verdict, Verdict::Valid, "{raw}");
        }
    }

    #[test]
    fn bad_email_and_pec() {
        let verdict = check_cila(|sub, _| {
            sub.applicant.email = "mario.rossi@example.it\r\nBcc: x@evil.it".into();
            sub.applicant.pec = Some("mario@pec".into());
        });
        assert_eq!(codes(&verdict), [EMAIL_NON_VALIDA, PEC_NON_VALIDA]);
        assert_eq!(
            verdict.reasons()[0].field.as_deref(),
            Some("applicant.email")
        );
        assert_eq!(verdict.reasons()[1].field.as_deref(), Some("applicant.pec"));

        let verdict = check_cila(|sub, _| sub.applicant.email = " ".into());
        assert_eq!(codes(&verdict), [EMAIL_NON_VALIDA]);
        // A blank PEC means "none".
        let verdict = check_cila(|sub, _| sub.applicant.pec = Some(String::new()));
        assert_eq!(verdict, Verdict::Valid);
    }

    #[test]
    fn missing_names() {
        let verdict = check_cila(|sub, _| {
            sub.applicant.given_name = "  ".into();
            sub.applicant.family_name = String::new();
        });
        assert_eq!(codes(&verdict), [NOME_MANCANTE, NOME_MANCANTE]);
        assert_eq!(
            verdict.reasons()[0].message,
            "Manca il nome del richiedente."
        );
        assert_eq!(
            verdict.reasons()[1].field.as_deref(),
            Some("applicant.family_name")
        );
    }

    #[test]
    fn names_the_register_cannot_hold() {
        let verdict = check_cila(|sub, _| sub.applicant.family_name = "Rossi\u{0}".into());
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, NOME_NON_VALIDO);
        assert!(
            reason
                .message
                .starts_with("Il cognome del richiedente contiene")
        );
        let verdict = check_cila(|sub, _| sub.applicant.given_name = "M".repeat(201));
        assert_eq!(codes(&verdict), [NOME_NON_VALIDO]);
        // Accents and apostrophes are names, not problems.
        let verdict = check_cila(|sub, _| {
            sub.applicant.given_name = "Nicolò".into();
            sub.applicant.family_name = "D'Annunzio".into();
        });
        assert_eq!(verdict, Verdict::Valid);
    }

    #[test]
    fn missing_subject() {
        let verdict = check_cila(|sub, _| sub.subject = " \n ".into());
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, OGGETTO_MANCANTE);
        assert_eq!(reason.field.as_deref(), Some("subject"));
    }

    #[test]
    fn subject_too_long_or_with_control_characters() {
        let verdict = check_cila(|sub, _| sub.subject = "à".repeat(MAX_SUBJECT_CHARS));
        assert_eq!(verdict, Verdict::Valid, "500 characters are fine");
        let verdict = check_cila(|sub, _| sub.subject = "à".repeat(MAX_SUBJECT_CHARS + 1));
        assert_eq!(codes(&verdict), [OGGETTO_NON_VALIDO]);
        let verdict = check_cila(|sub, _| sub.subject = "Richiesta\u{1b}[31m".into());
        assert_eq!(codes(&verdict), [OGGETTO_NON_VALIDO]);
        let verdict = check_cila(|sub, _| sub.subject = "Riga uno\r\nriga due".into());
        assert_eq!(verdict, Verdict::Valid);
    }

    #[test]
    fn missing_data_field() {
        let verdict = check_cila(|sub, _| {
            sub.data.remove("data_inizio_lavori");
            sub.data.insert("riferimenti_catastali".into(), Value::Null);
            sub.data
                .insert("descrizione_intervento".into(), Value::from("   "));
        });
        assert_eq!(
            codes(&verdict),
            [CAMPO_MANCANTE, CAMPO_MANCANTE, CAMPO_MANCANTE]
        );
        let fields: Vec<_> = verdict
            .reasons()
            .iter()
            .map(|r| r.field.as_deref())
            .collect();
        assert_eq!(
            fields,
            [
                Some("riferimenti_catastali"),
                Some("descrizione_intervento"),
                Some("data_inizio_lavori")
            ]
        );
        assert_eq!(
            verdict.reasons()[2].message,
            "Manca il dato obbligatorio «Data di inizio dei lavori»."
        );
    }

    #[test]
    fn optional_fields_may_be_absent_but_not_wrong() {
        let data = serde_json::json!({ "tipo_certificato": "residenza", "uso": "bollo" });
        let mut sub = submission("anagrafe.certificato_anagrafico", data);
        assert!(check(&sub, &[], &catalog()).is_valid());
        sub.data
            .insert("esenzione_bollo".into(), Value::from("forse"));
        assert_eq!(codes(&check(&sub, &[], &catalog())), [CAMPO_NON_VALIDO]);
    }

    #[test]
    fn data_fields_of_the_wrong_kind() {
        let cases: &[(&str, &str, Value)] = &[
            (
                "edilizia.cila",
                "data_inizio_lavori",
                Value::from("01/04/2025"),
            ),
            (
                "edilizia.cila",
                "data_inizio_lavori",
                Value::from("2025-02-29"),
            ),
            (
                "edilizia.cila",
                "data_inizio_lavori",
                Value::from("2025-4-1"),
            ),
            ("edilizia.cila", "data_inizio_lavori", Value::from(20250401)),
            (
                "edilizia.cila",
                "codice_fiscale_tecnico",
                Value::from("BNCLRA92E45F205A"),
            ),
            ("edilizia.cila", "pec_tecnico", Value::from("laura.bianchi")),
            ("edilizia.cila", "descrizione_intervento", Value::from(42)),
            (
                "edilizia.cila",
                "descrizione_intervento",
                Value::from("a\u{7}b"),
            ),
            (
                "edilizia.cila",
                "descrizione_intervento",
                Value::from("x".repeat(2001)),
            ),
            ("tributi.rimborso_imu", "anno_imposta", Value::from(2023.5)),
            (
                "tributi.rimborso_imu",
                "anno_imposta",
                Value::from("duemilaventitré"),
            ),
            (
                "tributi.rimborso_imu",
                "importo_richiesto",
                Value::from("12,5,0"),
            ),
            (
                "tributi.rimborso_imu",
                "importo_richiesto",
                Value::from("€ 100"),
            ),
            (
                "tributi.rimborso_imu",
                "iban",
                Value::from("IT60X0542811101000000123457"),
            ),
            (
                "tributi.rimborso_imu",
                "iban",
                Value::from("IT60X054281110100000012345"),
            ),
            (
                "scuola.iscrizione_mensa",
                "dieta_speciale",
                Value::from("sì"),
            ),
        ];
        for (practice_type, field, value) in cases {
            let mut sub = submission(practice_type, serde_json::json!({}));
            sub.data.insert((*field).to_owned(), value.clone());
            let verdict = check(&sub, &[], &catalog());
            let reason = verdict
                .reasons()
                .iter()
                .find(|r| r.field.as_deref() == Some(field))
                .unwrap_or_else(|| panic!("{field} = {value}: no reason"));
            assert_eq!(reason.code, CAMPO_NON_VALIDO, "{field} = {value}");
            assert!(
                reason.message.starts_with("Il dato «"),
                "{}",
                reason.message
            );
        }
    }

    #[test]
    fn data_fields_in_their_accepted_spellings() {
        let mut sub = submission(
            "tributi.rimborso_imu",
            serde_json::json!({
                "anno_imposta": "2023",
                "importo_richiesto": 120,
                "iban": IBAN,
                "motivazione": "Versamento doppio della seconda rata",
            }),
        );
        let mut facts = Vec::new();
        attach(
            &mut sub,
            &mut facts,
            "documento_identita",
            "ci.pdf",
            media::PDF,
            MIB,
        );
        attach(
            &mut sub,
            &mut facts,
            "ricevute_versamento",
            "f24.pdf",
            media::PDF,
            MIB,
        );
        assert_eq!(check(&sub, &facts, &catalog()), Verdict::Valid);
        sub.data.insert("anno_imposta".into(), Value::from(2023));
        sub.data
            .insert("importo_richiesto".into(), Value::from("120.50"));
        sub.data
            .insert("unknown_extra".into(), Value::from("ignored"));
        assert_eq!(check(&sub, &facts, &catalog()), Verdict::Valid);
        assert!(is_iso_date("2024-02-29") && !is_iso_date("1900-02-29"));
    }

    #[test]
    fn company_required_but_missing() {
        let mut sub = submission(
            "suap.apertura_negozio",
            serde_json::json!({
                "indirizzo_esercizio": "Via Borgo Palazzo 5",
                "settore_merceologico": "alimentare",
                "superficie_vendita_mq": 40,
                "data_avvio": "2025-09-01",
            }),
        );
        let mut facts = Vec::new();
        attach(
            &mut sub,
            &mut facts,
            "modulo_scia",
            "scia.pdf",
            media::PDF,
            MIB,
        );
        attach(
            &mut sub,
            &mut facts,
            "planimetria",
            "p.pdf",
            media::PDF,
            MIB,
        );
        attach(
            &mut sub,
            &mut facts,
            "documento_identita",
            "ci.pdf",
            media::PDF,
            MIB,
        );
        let verdict = check(&sub, &facts, &catalog());
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, IMPRESA_MANCANTE);
        assert_eq!(reason.field.as_deref(), Some("applicant.company"));
    }

    #[test]
    fn bad_vat_number() {
        for vat in [
            "12345678900",
            "1234567890",
            "00000000000",
            "1234567890A",
            "",
        ] {
            let verdict = check_cila(|sub, _| {
                sub.applicant.company = Some(Company {
                    name: "Impresa Edile Bianchi".into(),
                    vat_number: vat.into(),
                })
            });
            let reason = only_reason(&verdict);
            assert_eq!(reason.code, PARTITA_IVA_NON_VALIDA, "{vat}");
            assert_eq!(
                reason.field.as_deref(),
                Some("applicant.company.vat_number")
            );
        }
        for vat in [VAT_NUMBER, "01234567897", "it00814090163"] {
            assert!(vat_number_is_valid(vat), "{vat}");
        }
        let verdict = check_cila(|sub, _| {
            sub.applicant.company = Some(Company {
                name: " ".into(),
                vat_number: VAT_NUMBER.into(),
            })
        });
        assert_eq!(codes(&verdict), [NOME_MANCANTE]);
    }

    #[test]
    fn missing_document() {
        let verdict = check_cila(|sub, facts| {
            sub.documents.remove(1);
            facts.remove(1);
        });
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, DOCUMENTO_MANCANTE);
        assert_eq!(reason.field.as_deref(), Some("elaborati"));
        assert_eq!(
            reason.message,
            "Manca il documento obbligatorio «Elaborati grafici»."
        );
    }

    #[test]
    fn document_not_foreseen() {
        let verdict = check_cila(|sub, facts| {
            attach(sub, facts, "curriculum", "cv.pdf", media::PDF, MIB);
        });
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, DOCUMENTO_NON_PREVISTO);
        assert_eq!(reason.field.as_deref(), Some("curriculum"));
        assert!(reason.message.contains("«cv.pdf»"), "{}", reason.message);
    }

    #[test]
    fn document_given_twice() {
        let verdict = check_cila(|sub, facts| {
            attach(sub, facts, "elaborati", "prospetti.pdf", media::PDF, MIB);
            attach(sub, facts, "elaborati", "sezioni.pdf", media::PDF, MIB);
        });
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, DOCUMENTO_DUPLICATO);
        assert_eq!(reason.field.as_deref(), Some("elaborati"));
        assert!(reason.message.contains("«Elaborati grafici»"));
    }

    #[test]
    fn file_type_not_allowed() {
        let verdict = check_cila(|_, facts| {
            facts[1].file_name = "pianta.docx".into();
            facts[1].declared_media_type = media::ZIP.into();
            facts[1].detected_media_type = Some(media::ZIP);
        });
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, TIPO_FILE_NON_AMMESSO);
        assert_eq!(reason.field.as_deref(), Some("elaborati"));
        assert_eq!(
            reason.message,
            "Il file «pianta.docx» non è di un tipo ammesso per «Elaborati grafici»: sono \
             ammessi PDF e P7M (file firmato digitalmente)."
        );
        // Content nobody recognises is not allowed either, whatever the name says.
        let verdict = check_cila(|_, facts| facts[2].detected_media_type = None);
        assert_eq!(codes(&verdict), [TIPO_FILE_NON_AMMESSO]);
    }

    #[test]
    fn declared_type_differs_from_content() {
        // A JPEG sent as "application/pdf" for a role that admits both.
        let mut sub = submission(
            "elettorale.duplicato_tessera",
            serde_json::json!({ "motivo": "smarrimento" }),
        );
        let mut facts = Vec::new();
        attach(
            &mut sub,
            &mut facts,
            "documento_identita",
            "ci.pdf",
            media::JPEG,
            MIB,
        );
        facts[0].declared_media_type = "application/pdf".into();
        let verdict = check(&sub, &facts, &catalog());
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, TIPO_FILE_DICHIARATO_ERRATO);
        assert!(reason.message.contains("JPEG"), "{}", reason.message);
        // Harmless spellings of the right type are not errors.
        facts[0].declared_media_type = "image/jpg".into();
        assert!(check(&sub, &facts, &catalog()).is_valid());
    }

    #[test]
    fn file_too_large() {
        let verdict = check_cila(|_, facts| facts[1].size = 50 * MIB + 1);
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, FILE_TROPPO_GRANDE);
        assert_eq!(
            reason.message,
            "Il file «pianta.pdf» è troppo grande (50,1 MB): per «Elaborati grafici» la dimensione \
             massima è 50 MB."
        );
        let verdict = check_cila(|_, facts| facts[1].size = 50 * MIB);
        assert!(verdict.is_valid(), "the limit itself is allowed");
        let verdict = check_cila(|_, facts| facts[2].size = 21 * MIB + MIB / 2);
        assert!(verdict.reasons()[0].message.contains("(21,5 MB)"));
    }

    #[test]
    fn empty_file() {
        let verdict = check_cila(|_, facts| {
            facts[0].size = 0;
            facts[0].detected_media_type = None;
        });
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, FILE_VUOTO);
        assert_eq!(reason.field.as_deref(), Some("modulo_cila"));
    }

    #[test]
    fn a_file_name_no_later_stage_can_take_is_refused() {
        let verdict = check_cila(|sub, facts| {
            sub.documents[1].file_name = "   ".into();
            facts[1].file_name = "   ".into();
        });
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, NOME_FILE_NON_VALIDO);
        assert_eq!(reason.field.as_deref(), Some("elaborati"));
        assert_eq!(
            reason.message,
            "Il file allegato come «Elaborati grafici» non ha un nome: lo rinomini e lo alleghi \
             di nuovo (per esempio «documento.pdf»)."
        );
        for name in [
            "",
            "pianta\u{0}.pdf",
            "a\r\nb.pdf",
            "../pianta.pdf",
            "..",
            &"x".repeat(300),
        ] {
            let verdict = check_cila(|_, facts| facts[1].file_name = name.to_owned());
            assert_eq!(codes(&verdict), [NOME_FILE_NON_VALIDO], "{name:?}");
        }
        // The name is shown tamed, never raw.
        let verdict = check_cila(|_, facts| facts[1].file_name = "a/b\r\n.pdf".to_owned());
        assert!(only_reason(&verdict).message.contains("«a/b  .pdf»"));
        // Integration documents too.
        let (sub, mut facts, target) = cila_integration();
        facts[0].file_name = "\t".into();
        let verdict = check_integration(&sub, &facts, &catalog(), Some(&target));
        assert_eq!(codes(&verdict), [NOME_FILE_NON_VALIDO]);
    }

    #[test]
    fn content_that_is_not_what_it_starts_like_is_refused() {
        let malformed = Problem::Malformed {
            format: "PDF",
            detail: "the file does not end with %%EOF".into(),
        };
        let verdict = check_cila(|_, facts| facts[1].content_problem = Some(malformed.clone()));
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, CONTENUTO_NON_CONFORME);
        assert_eq!(reason.field.as_deref(), Some("elaborati"));
        assert!(
            reason
                .message
                .starts_with("Il file «pianta.pdf» non è un file PDF valido"),
            "{}",
            reason.message
        );
        assert!(
            !reason.message.contains("EOF"),
            "no English detail for the citizen"
        );
        // A type the role does not admit is told as such, not as damaged content.
        let verdict = check_cila(|_, facts| {
            facts[1].detected_media_type = Some(media::ZIP);
            facts[1].declared_media_type = media::ZIP.into();
            facts[1].content_problem = Some(Problem::ArchiveTooLarge("big".into()));
        });
        assert_eq!(codes(&verdict), [TIPO_FILE_NON_AMMESSO]);
    }

    #[test]
    fn archives_and_images_beyond_the_limits_are_explained() {
        let mut sub = submission("protocollo.istanza_generica", serde_json::json!({}));
        let mut facts = Vec::new();
        attach(
            &mut sub,
            &mut facts,
            "allegati",
            "allegati.zip",
            media::ZIP,
            254 * 1024,
        );
        facts[0].content_problem = Some(Problem::ArchiveTooLarge("declares 256 MiB".into()));
        let verdict = check(&sub, &facts, &catalog());
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, CONTENUTO_NON_CONFORME);
        assert_eq!(
            reason.message,
            "L'archivio «allegati.zip», una volta estratto, supera i limiti ammessi (al massimo \
             100 MB di contenuto e 1000 file): alleghi i documenti singolarmente oppure in \
             archivi più piccoli."
        );
        facts[0].content_problem = Some(Problem::NestedTooDeep { max_depth: 2 });
        let verdict = check(&sub, &facts, &catalog());
        assert!(only_reason(&verdict).message.contains("archivi annidati"));
        facts[0].content_problem = Some(Problem::Unsupported {
            format: "ZIP",
            detail: "encrypted".into(),
        });
        let verdict = check(&sub, &facts, &catalog());
        assert!(only_reason(&verdict).message.contains("password"));

        let mut sub = submission("protocollo.istanza_generica", serde_json::json!({}));
        let mut facts = Vec::new();
        attach(
            &mut sub,
            &mut facts,
            "istanza",
            "scansione.png",
            media::PNG,
            MIB,
        );
        facts[0].content_problem = Some(Problem::ImageTooLarge {
            width: 40_000,
            height: 10,
        });
        let verdict = check(&sub, &facts, &catalog());
        assert!(only_reason(&verdict).message.contains("40000×10 pixel"));
        facts[0].content_problem = Some(Problem::ImageTooLarge {
            width: 0,
            height: 10,
        });
        let verdict = check(&sub, &facts, &catalog());
        assert!(
            only_reason(&verdict)
                .message
                .contains("non è un file PNG valido")
        );
    }

    #[test]
    fn fingerprint_mismatch() {
        let verdict = check_cila(|_, facts| {
            facts[1].actual_sha256 = SHA.replace('9', "8");
        });
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, IMPRONTA_NON_CORRISPONDE);
        assert_eq!(reason.field.as_deref(), Some("elaborati"));
        // Case does not matter in hex.
        let verdict = check_cila(|_, facts| facts[0].declared_sha256 = SHA.to_uppercase());
        assert!(verdict.is_valid());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let verdict = check_cila(|sub, facts| {
            sub.applicant.tax_code = "RSSMRA80A01H501A".into();
            sub.applicant.email = "mario".into();
            sub.subject = String::new();
            sub.data.remove("data_inizio_lavori");
            sub.data.insert("pec_tecnico".into(), Value::from("no"));
            facts[1].detected_media_type = Some(media::ZIP);
            facts[1].declared_media_type = media::PDF.into();
            facts[1].size = 60 * MIB;
            facts[2].actual_sha256 = "0".repeat(64);
            facts.push(facts[2].clone());
            sub.documents.push(sub.documents[2].clone());
            facts.remove(0);
            sub.documents.remove(0);
        });
        assert_eq!(
            codes(&verdict),
            [
                CODICE_FISCALE_NON_VALIDO,
                EMAIL_NON_VALIDA,
                OGGETTO_MANCANTE,
                CAMPO_MANCANTE,
                CAMPO_NON_VALIDO,
                TIPO_FILE_NON_AMMESSO,
                FILE_TROPPO_GRANDE,
                TIPO_FILE_DICHIARATO_ERRATO,
                IMPRONTA_NON_CORRISPONDE,
                DOCUMENTO_DUPLICATO,
                IMPRONTA_NON_CORRISPONDE,
                DOCUMENTO_MANCANTE,
            ]
        );
    }

    #[test]
    fn messages_never_show_tax_codes_or_email_addresses() {
        let bad_code = "RSSMRA80A01H501A";
        let verdict = check_cila(|sub, facts| {
            sub.applicant.tax_code = bad_code.into();
            sub.applicant.email = "mario.rossi@example".into();
            sub.data.insert(
                "codice_fiscale_tecnico".into(),
                Value::from("BNCLRA92E45F205A"),
            );
            sub.data
                .insert("pec_tecnico".into(), Value::from("laura.bianchi@pec"));
            facts[1].file_name = format!("{TAX_CODE}_mario.rossi@example.it_pianta.docx");
            facts[1].detected_media_type = Some(media::ZIP);
            facts[1].declared_media_type = media::ZIP.into();
        });
        let all = serde_json::to_string(&verdict).unwrap();
        for secret in [
            bad_code,
            TAX_CODE,
            "MRA80A01H501",
            "BNCLRA92E45F205A",
            "mario.rossi",
            "example.it",
            "laura.bianchi",
        ] {
            assert!(!all.contains(secret), "{secret} leaked in {all}");
        }
        assert!(all.contains("«R***@e***.it_pianta.docx»"), "{all}");
    }

    #[test]
    fn file_names_in_messages_are_tamed() {
        assert_eq!(
            shown_file_name("RSSMRA80A01H501U_ci.pdf"),
            "RSS************U_ci.pdf"
        );
        assert_eq!(
            shown_file_name("ci di mario.rossi@example.it.pdf"),
            "ci di m***@e***.pdf"
        );
        assert_eq!(shown_file_name("a@b@c.pdf"), "a***@b******@c***.pdf");
        assert_eq!(shown_file_name("a\r\nb.pdf"), "a  b.pdf");
        assert_eq!(shown_file_name("   "), "senza nome");
        let long = format!("{}.pdf", "x".repeat(200));
        let shown = shown_file_name(&long);
        assert_eq!(shown.chars().count(), MAX_SHOWN_FILE_NAME_CHARS + 1);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn sizes_read_like_a_citizen_expects() {
        assert_eq!(human_size(5 * MIB), "5 MB");
        assert_eq!(human_size(5 * MIB + MIB / 4), "5,3 MB");
        assert_eq!(human_size(1500), "2 KB");
        assert_eq!(human_size(12), "12 byte");
    }

    #[test]
    fn verdicts_serialise() {
        let verdict = check_cila(|sub, _| sub.subject = String::new());
        let json = serde_json::to_value(&verdict).unwrap();
        assert_eq!(json["Invalid"][0]["code"], OGGETTO_MANCANTE);
        let back: Verdict = serde_json::from_value(json).unwrap();
        assert_eq!(back, verdict);
    }

    /// An integration of the CILA: one document the catalog has a role for, one it has not.
    fn cila_integration() -> (Submission, Vec<DocumentFacts>, IntegrationTarget) {
        let mut sub = submission("edilizia.cila", serde_json::json!({}));
        sub.subject = "Integrazione della CILA: relazione asseverata".to_owned();
        sub.integrates = Some(uuid::Uuid::from_u128(7));
        let mut facts = Vec::new();
        attach(
            &mut sub,
            &mut facts,
            "relazione_tecnica",
            "relazione.pdf",
            media::PDF,
            MIB,
        );
        attach(
            &mut sub,
            &mut facts,
            INTEGRATION_ROLE,
            "ricevuta.pdf",
            media::PDF,
            40_000,
        );
        let target = IntegrationTarget {
            state: PracticeState::IntegrationRequested,
            tax_code: TAX_CODE.to_owned(),
            practice_type: "edilizia.cila".to_owned(),
        };
        (sub, facts, target)
    }

    #[test]
    fn an_integration_needs_neither_the_form_nor_every_document_again() {
        let (sub, facts, target) = cila_integration();
        // The same submission as an application lacks the form and the required documents.
        assert!(!check(&sub, &facts, &catalog()).is_valid());
        let verdict = check_integration(&sub, &facts, &catalog(), Some(&target));
        assert_eq!(verdict, Verdict::Valid);
    }

    #[test]
    fn an_integration_may_carry_several_supplementary_documents() {
        let (mut sub, mut facts, target) = cila_integration();
        attach(
            &mut sub,
            &mut facts,
            INTEGRATION_ROLE,
            "foto.jpg",
            media::JPEG,
            MIB,
        );
        let verdict = check_integration(&sub, &facts, &catalog(), Some(&target));
        assert_eq!(verdict, Verdict::Valid);
        // …but a role of the type still counts once.
        attach(
            &mut sub,
            &mut facts,
            "relazione_tecnica",
            "bis.pdf",
            media::PDF,
            MIB,
        );
        let verdict = check_integration(&sub, &facts, &catalog(), Some(&target));
        assert_eq!(codes(&verdict), [DOCUMENTO_DUPLICATO]);
    }

    #[test]
    fn an_integration_without_documents_is_refused() {
        let (mut sub, _, target) = cila_integration();
        sub.documents.clear();
        let verdict = check_integration(&sub, &[], &catalog(), Some(&target));
        assert_eq!(only_reason(&verdict).code, INTEGRAZIONE_SENZA_DOCUMENTI);
    }

    #[test]
    fn integration_documents_are_checked_like_any_other() {
        let (sub, mut facts, target) = cila_integration();
        facts[1].detected_media_type = Some(media::ZIP);
        facts[1].size = 30 * MIB;
        let verdict = check_integration(&sub, &facts, &catalog(), Some(&target));
        assert_eq!(
            codes(&verdict),
            [
                TIPO_FILE_NON_AMMESSO,
                FILE_TROPPO_GRANDE,
                TIPO_FILE_DICHIARATO_ERRATO
            ]
        );
        let (mut sub, mut facts, target) = cila_integration();
        attach(
            &mut sub,
            &mut facts,
            "curriculum",
            "cv.pdf",
            media::PDF,
            MIB,
        );
        let verdict = check_integration(&sub, &facts, &catalog(), Some(&target));
        assert_eq!(codes(&verdict), [DOCUMENTO_NON_PREVISTO]);
    }

    #[test]
    fn only_a_practice_waiting_for_it_can_be_integrated() {
        let (sub, facts, target) = cila_integration();
        for state in PracticeState::ALL {
            let target = IntegrationTarget {
                state,
                ..target.clone()
            };
            let verdict = check_integration(&sub, &facts, &catalog(), Some(&target));
            if state == PracticeState::IntegrationRequested {
                assert!(verdict.is_valid());
            } else {
                assert_eq!(
                    only_reason(&verdict).code,
                    INTEGRAZIONE_NON_ATTESA,
                    "{state}"
                );
            }
        }
        let other_type = IntegrationTarget {
            practice_type: "edilizia.scia".to_owned(),
            ..target
        };
        let verdict = check_integration(&sub, &facts, &catalog(), Some(&other_type));
        assert_eq!(only_reason(&verdict).code, INTEGRAZIONE_NON_ATTESA);
    }

    #[test]
    fn another_citizens_practice_reads_as_unknown() {
        let (sub, facts, target) = cila_integration();
        let unknown = check_integration(&sub, &facts, &catalog(), None);
        let someone_else = IntegrationTarget {
            tax_code: CHILD_TAX_CODE.to_owned(),
            ..target
        };
        let theirs = check_integration(&sub, &facts, &catalog(), Some(&someone_else));
        assert_eq!(only_reason(&unknown).code, PRATICA_DA_INTEGRARE_SCONOSCIUTA);
        assert_eq!(unknown, theirs, "nothing tells the two apart");
    }
}
