//! The validation rules: is a submitted practice complete and well formed for its type?
//!
//! [`check`] is pure: the handler measures the documents (digest, size, sniffed media type) and
//! passes those facts in, so every rule can be tested without a broker, a database or a bucket.
//! All problems are collected, not just the first, because a citizen who fixes one thing only
//! to be told about the next is a citizen who comes back to the counter three times.
//!
//! Messages are in plain, polite Italian and never repeat a tax code or an email address: they
//! end up in emails, in the citizen's folder and in logs.

//! One module per check: [`applicant`] (tax code, names, email and PEC, company and VAT
//! number, subject), [`data`] (the type's fields by kind: dates, numbers, IBAN, …),
//! [`documents`] (roles, file names, media types, content, sizes, impronta) and [`shown`]
//! (file names as a message may show them, personal data masked). This file holds the reason
//! codes, the verdict and the two entry points, [`check`] and [`check_integration`].

mod applicant;
mod data;
mod documents;
mod shown;
#[cfg(test)]
mod tests;

use applicant::{check_applicant, check_subject};
use data::check_data;
use documents::check_documents;
use serde::{Deserialize, Serialize};
use sportello_shared::catalog::{Catalog, DocumentSpec, PracticeType};
use sportello_shared::domain::content::Problem;
use sportello_shared::domain::media;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::domain::submission::Submission;
use sportello_shared::domain::tax_code::FiledTaxCode;

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
    pub tax_code: FiledTaxCode,
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
    let applicant = FiledTaxCode::file(&sub.applicant.tax_code).ok();
    match target {
        Some(target) if applicant.as_ref() == Some(&target.tax_code) => {
            if target.practice_type != sub.practice_type.trim() {
                reasons.add(
                    INTEGRAZIONE_NON_ATTESA,
                    "practice_type",
                    "L'integrazione indica un tipo di pratica diverso da quello della pratica \
                     da integrare: la ripresenti con lo stesso tipo."
                        .to_owned(),
                );
            } else if !matches!(
                target.state,
                PracticeState::IntegrationRequested | PracticeState::ObservationsRequested
            ) {
                reasons.add(
                    INTEGRAZIONE_NON_ATTESA,
                    "integrates",
                    format!(
                        "La pratica indicata non è in attesa di integrazioni né di osservazioni \
                         (stato attuale: {}): se l'ufficio le ha chiesto documenti o \
                         osservazioni, verifichi di aver indicato la pratica giusta.",
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
        PracticeState::ObservationsRequested => "in attesa delle sue osservazioni",
        PracticeState::Completed => "conclusa",
        PracticeState::Denied => "non accolta",
        PracticeState::Withdrawn => "ritirata",
        PracticeState::Delivered => "consegnata",
        PracticeState::SilentConsent => "accolta per silenzio-assenso",
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
