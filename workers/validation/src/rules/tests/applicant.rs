//! The applicant and the subject ([`super::super::applicant`]).

use super::*;

#[test]
fn applicant_and_subject_edits_with_one_reason() {
    assert_refusals(&[
        Refusal {
            case: "tax code with the wrong check character",
            edit: |sub, _| sub.applicant.tax_code = "RSSMRA80A01H501A".into(),
            code: CODICE_FISCALE_NON_VALIDO,
            field: Some("applicant.tax_code"),
            says: &[Says::Exactly(
                "Il codice fiscale indicato non è valido: il carattere di controllo non \
                 corrisponde.",
            )],
        },
        Refusal {
            case: "tax code too short",
            edit: |sub, _| sub.applicant.tax_code = "RSSMRA80A01H501".into(),
            code: CODICE_FISCALE_NON_VALIDO,
            field: None,
            says: &[Says::Contains("16 caratteri")],
        },
        Refusal {
            case: "tax code with no such month",
            edit: |sub, _| sub.applicant.tax_code = "RSSMRA80Z01H501U".into(),
            code: CODICE_FISCALE_NON_VALIDO,
            field: None,
            says: &[Says::Contains("mese")],
        },
        Refusal {
            case: "no tax code",
            edit: |sub, _| sub.applicant.tax_code = "".into(),
            code: CODICE_FISCALE_NON_VALIDO,
            field: None,
            says: &[Says::Contains("Manca il codice fiscale")],
        },
        Refusal {
            case: "a family name the register cannot hold",
            edit: |sub, _| sub.applicant.family_name = "Rossi\u{0}".into(),
            code: NOME_NON_VALIDO,
            field: None,
            says: &[Says::StartsWith("Il cognome del richiedente contiene")],
        },
        Refusal {
            case: "blank subject",
            edit: |sub, _| sub.subject = " \n ".into(),
            code: OGGETTO_MANCANTE,
            field: Some("subject"),
            says: &[],
        },
    ]);
}

#[test]
fn applicant_and_subject_edits_and_their_codes() {
    assert_codes(&[
        (
            "blank email",
            |sub, _| sub.applicant.email = " ".into(),
            &[EMAIL_NON_VALIDA],
        ),
        (
            "a given name too long",
            |sub, _| sub.applicant.given_name = "M".repeat(201),
            &[NOME_NON_VALIDO],
        ),
        (
            "a subject too long",
            |sub, _| sub.subject = "à".repeat(MAX_SUBJECT_CHARS + 1),
            &[OGGETTO_NON_VALIDO],
        ),
        (
            "a subject with an escape sequence",
            |sub, _| sub.subject = "Richiesta\u{1b}[31m".into(),
            &[OGGETTO_NON_VALIDO],
        ),
    ]);
}

#[test]
fn applicant_and_subject_edits_that_pass() {
    assert_accepted(&[
        ("omocodic tax code", |sub, _| {
            sub.applicant.tax_code = "RSSMRA80A01H50MM".into()
        }),
        ("lowercase tax code with blanks", |sub, _| {
            sub.applicant.tax_code = " rssmra80a01h501u ".into()
        }),
        // A blank PEC means "none".
        ("blank PEC", |sub, _| {
            sub.applicant.pec = Some(String::new())
        }),
        // Accents and apostrophes are names, not problems.
        ("accents and apostrophes", |sub, _| {
            sub.applicant.given_name = "Nicolò".into();
            sub.applicant.family_name = "D'Annunzio".into();
        }),
        ("500 characters of subject are fine", |sub, _| {
            sub.subject = "à".repeat(MAX_SUBJECT_CHARS)
        }),
        ("line breaks in the subject", |sub, _| {
            sub.subject = "Riga uno\r\nriga due".into()
        }),
    ]);
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
    let facts = attach_all(
        &mut sub,
        &[
            ("modulo_scia", "scia.pdf", media::PDF, MIB),
            ("planimetria", "p.pdf", media::PDF, MIB),
            ("documento_identita", "ci.pdf", media::PDF, MIB),
        ],
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
        assert!(crate::rules::applicant::vat_number_is_valid(vat), "{vat}");
    }
    let verdict = check_cila(|sub, _| {
        sub.applicant.company = Some(Company {
            name: " ".into(),
            vat_number: VAT_NUMBER.into(),
        })
    });
    assert_eq!(codes(&verdict), [NOME_MANCANTE]);
}
