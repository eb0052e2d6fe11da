//! The rules' tests, one file per check, on the fixtures and tables of this file: most cases
//! are one edit of a valid CILA ([`cila`]) and what it must give — exactly one reason
//! ([`Refusal`], [`assert_refusals`]), these codes ([`assert_codes`]) or none
//! ([`assert_accepted`]).

mod applicant;
mod data;
mod documents;
mod integration;
mod messages;

use super::*;
use serde_json::Value;
use sportello_shared::domain::submission::{
    Applicant, Channel, Company, SUBMISSION_SCHEMA_VERSION, SubmittedDocument,
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

/// Well-formed documents (role, file name, media type, size), added to the submission; their
/// facts.
fn attach_all(
    sub: &mut Submission,
    documents: &[(&str, &str, &'static str, u64)],
) -> Vec<DocumentFacts> {
    let mut facts = Vec::new();
    for &(role, file_name, media_type, size) in documents {
        attach(sub, &mut facts, role, file_name, media_type, size);
    }
    facts
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
    let facts = attach_all(
        &mut sub,
        &[
            ("modulo_cila", "cila.pdf.p7m", media::PKCS7, 300_000),
            ("elaborati", "pianta.pdf", media::PDF, 30 * MIB),
            ("relazione_tecnica", "relazione.pdf", media::PDF, MIB),
        ],
    );
    (sub, facts)
}

/// One change to the valid CILA and its documents' facts.
type Edit = fn(&mut Submission, &mut Vec<DocumentFacts>);

fn check_cila(edit: impl FnOnce(&mut Submission, &mut Vec<DocumentFacts>)) -> Verdict {
    let (mut sub, mut facts) = cila();
    edit(&mut sub, &mut facts);
    check(&sub, &facts, &catalog())
}

/// What a reason's message must (not) say.
enum Says {
    Exactly(&'static str),
    StartsWith(&'static str),
    Contains(&'static str),
    /// Must not contain, with why.
    Lacks(&'static str, &'static str),
}

/// An edit of the valid CILA that must give exactly one reason: its code, its field (`None`:
/// not looked at) and what its message says.
struct Refusal {
    case: &'static str,
    edit: Edit,
    code: &'static str,
    field: Option<&'static str>,
    says: &'static [Says],
}

fn assert_refusals(refusals: &[Refusal]) {
    for refusal in refusals {
        let case = refusal.case;
        let verdict = check_cila(refusal.edit);
        let reason = only_reason(&verdict);
        assert_eq!(reason.code, refusal.code, "{case}");
        if let Some(field) = refusal.field {
            assert_eq!(reason.field.as_deref(), Some(field), "{case}");
        }
        let message = &reason.message;
        for says in refusal.says {
            match says {
                Says::Exactly(text) => assert_eq!(message, text, "{case}"),
                Says::StartsWith(text) => assert!(message.starts_with(text), "{case}: {message}"),
                Says::Contains(text) => assert!(message.contains(text), "{case}: {message}"),
                Says::Lacks(text, why) => assert!(!message.contains(text), "{case}: {why}"),
            }
        }
    }
}

/// Edits of the valid CILA and the reason codes each must give, in order.
fn assert_codes(cases: &[(&str, Edit, &[&str])]) {
    for (case, edit, expected) in cases {
        assert_eq!(codes(&check_cila(edit)), *expected, "{case}");
    }
}

/// Edits of the valid CILA that leave it valid.
fn assert_accepted(cases: &[(&str, Edit)]) {
    for (case, edit) in cases {
        assert_eq!(check_cila(edit), Verdict::Valid, "{case}");
    }
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
fn a_valid_cila() {
    assert_eq!(check_cila(|_, _| {}), Verdict::Valid);
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
fn verdicts_serialise() {
    let verdict = check_cila(|sub, _| sub.subject = String::new());
    let json = serde_json::to_value(&verdict).unwrap();
    assert_eq!(json["Invalid"][0]["code"], OGGETTO_MANCANTE);
    let back: Verdict = serde_json::from_value(json).unwrap();
    assert_eq!(back, verdict);
}
