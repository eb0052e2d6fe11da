//! The documents ([`super::super::documents`]).

use super::*;

#[test]
fn document_edits_with_one_reason() {
    assert_refusals(&[
        Refusal {
            case: "a required document missing",
            edit: |sub, facts| {
                sub.documents.remove(1);
                facts.remove(1);
            },
            code: DOCUMENTO_MANCANTE,
            field: Some("elaborati"),
            says: &[Says::Exactly(
                "Manca il documento obbligatorio «Elaborati grafici».",
            )],
        },
        Refusal {
            case: "a document the type does not foresee",
            edit: |sub, facts| attach(sub, facts, "curriculum", "cv.pdf", media::PDF, MIB),
            code: DOCUMENTO_NON_PREVISTO,
            field: Some("curriculum"),
            says: &[Says::Contains("«cv.pdf»")],
        },
        Refusal {
            case: "a document given twice",
            edit: |sub, facts| {
                attach(sub, facts, "elaborati", "prospetti.pdf", media::PDF, MIB);
                attach(sub, facts, "elaborati", "sezioni.pdf", media::PDF, MIB);
            },
            code: DOCUMENTO_DUPLICATO,
            field: Some("elaborati"),
            says: &[Says::Contains("«Elaborati grafici»")],
        },
        Refusal {
            case: "a file type the role does not admit",
            edit: |_, facts| {
                facts[1].file_name = "pianta.docx".into();
                facts[1].declared_media_type = media::ZIP.into();
                facts[1].detected_media_type = Some(media::ZIP);
            },
            code: TIPO_FILE_NON_AMMESSO,
            field: Some("elaborati"),
            says: &[Says::Exactly(
                "Il file «pianta.docx» non è di un tipo ammesso per «Elaborati grafici»: sono \
                 ammessi PDF e P7M (file firmato digitalmente).",
            )],
        },
        Refusal {
            case: "a file over the role's limit",
            edit: |_, facts| facts[1].size = 50 * MIB + 1,
            code: FILE_TROPPO_GRANDE,
            field: None,
            says: &[Says::Exactly(
                "Il file «pianta.pdf» è troppo grande (50,1 MB): per «Elaborati grafici» la \
                 dimensione massima è 50 MB.",
            )],
        },
        Refusal {
            case: "an empty file",
            edit: |_, facts| {
                facts[0].size = 0;
                facts[0].detected_media_type = None;
            },
            code: FILE_VUOTO,
            field: Some("modulo_cila"),
            says: &[],
        },
        Refusal {
            case: "a blank file name",
            edit: |sub, facts| {
                sub.documents[1].file_name = "   ".into();
                facts[1].file_name = "   ".into();
            },
            code: NOME_FILE_NON_VALIDO,
            field: Some("elaborati"),
            says: &[Says::Exactly(
                "Il file allegato come «Elaborati grafici» non ha un nome: lo rinomini e lo \
                 alleghi di nuovo (per esempio «documento.pdf»).",
            )],
        },
        // The name is shown tamed, never raw.
        Refusal {
            case: "a file name shown tamed",
            edit: |_, facts| facts[1].file_name = "a/b\r\n.pdf".to_owned(),
            code: NOME_FILE_NON_VALIDO,
            field: None,
            says: &[Says::Contains("«a/b  .pdf»")],
        },
        Refusal {
            case: "content that is not what it starts like",
            edit: |_, facts| {
                facts[1].content_problem = Some(Problem::Malformed {
                    format: "PDF",
                    detail: "the file does not end with %%EOF".into(),
                })
            },
            code: CONTENUTO_NON_CONFORME,
            field: Some("elaborati"),
            says: &[
                Says::StartsWith("Il file «pianta.pdf» non è un file PDF valido"),
                Says::Lacks("EOF", "no English detail for the citizen"),
            ],
        },
        Refusal {
            case: "an impronta that does not match",
            edit: |_, facts| facts[1].actual_sha256 = SHA.replace('9', "8"),
            code: IMPRONTA_NON_CORRISPONDE,
            field: Some("elaborati"),
            says: &[],
        },
    ]);
}

#[test]
fn document_edits_and_their_codes() {
    assert_codes(&[
        // Content nobody recognises is not allowed either, whatever the name says.
        (
            "content nobody recognises",
            |_, facts| facts[2].detected_media_type = None,
            &[TIPO_FILE_NON_AMMESSO],
        ),
        (
            "an empty file name",
            |_, facts| facts[1].file_name = String::new(),
            &[NOME_FILE_NON_VALIDO],
        ),
        (
            "a NUL in the file name",
            |_, facts| facts[1].file_name = "pianta\u{0}.pdf".to_owned(),
            &[NOME_FILE_NON_VALIDO],
        ),
        (
            "a line break in the file name",
            |_, facts| facts[1].file_name = "a\r\nb.pdf".to_owned(),
            &[NOME_FILE_NON_VALIDO],
        ),
        (
            "a parent directory in the file name",
            |_, facts| facts[1].file_name = "../pianta.pdf".to_owned(),
            &[NOME_FILE_NON_VALIDO],
        ),
        (
            "a file name of dots",
            |_, facts| facts[1].file_name = "..".to_owned(),
            &[NOME_FILE_NON_VALIDO],
        ),
        (
            "a file name too long",
            |_, facts| facts[1].file_name = "x".repeat(300),
            &[NOME_FILE_NON_VALIDO],
        ),
        // A type the role does not admit is told as such, not as damaged content.
        (
            "an oversized archive where archives are not admitted",
            |_, facts| {
                facts[1].detected_media_type = Some(media::ZIP);
                facts[1].declared_media_type = media::ZIP.into();
                facts[1].content_problem = Some(Problem::ArchiveTooLarge("big".into()));
            },
            &[TIPO_FILE_NON_AMMESSO],
        ),
    ]);
}

#[test]
fn document_edits_that_pass() {
    assert_accepted(&[
        ("the size limit itself is allowed", |_, facts| {
            facts[1].size = 50 * MIB
        }),
        // Case does not matter in hex.
        ("an upper-case impronta", |_, facts| {
            facts[0].declared_sha256 = SHA.to_uppercase()
        }),
    ]);
}

#[test]
fn sizes_in_messages_are_rounded_up() {
    let verdict = check_cila(|_, facts| facts[2].size = 21 * MIB + MIB / 2);
    assert!(verdict.reasons()[0].message.contains("(21,5 MB)"));
}

#[test]
fn declared_type_differs_from_content() {
    // A JPEG sent as "application/pdf" for a role that admits both.
    let mut sub = submission(
        "elettorale.duplicato_tessera",
        serde_json::json!({ "motivo": "smarrimento" }),
    );
    let mut facts = attach_all(
        &mut sub,
        &[("documento_identita", "ci.pdf", media::JPEG, MIB)],
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
fn archives_and_images_beyond_the_limits_are_explained() {
    let mut sub = submission("protocollo.istanza_generica", serde_json::json!({}));
    let mut facts = attach_all(
        &mut sub,
        &[("allegati", "allegati.zip", media::ZIP, 254 * 1024)],
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
    let mut facts = attach_all(&mut sub, &[("istanza", "scansione.png", media::PNG, MIB)]);
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
