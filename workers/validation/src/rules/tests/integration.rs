//! Integrations ([`check_integration`]).

use super::*;

/// An integration of the CILA: one document the catalog has a role for, one it has not.
fn cila_integration() -> (Submission, Vec<DocumentFacts>, IntegrationTarget) {
    let mut sub = submission("edilizia.cila", serde_json::json!({}));
    sub.subject = "Integrazione della CILA: relazione asseverata".to_owned();
    sub.integrates = Some(uuid::Uuid::from_u128(7));
    let facts = attach_all(
        &mut sub,
        &[
            ("relazione_tecnica", "relazione.pdf", media::PDF, MIB),
            (INTEGRATION_ROLE, "ricevuta.pdf", media::PDF, 40_000),
        ],
    );
    let target = IntegrationTarget {
        state: PracticeState::IntegrationRequested,
        tax_code: FiledTaxCode::file(TAX_CODE).unwrap(),
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
fn only_a_practice_waiting_for_an_answer_can_be_integrated() {
    let (sub, facts, target) = cila_integration();
    for state in PracticeState::ALL {
        let target = IntegrationTarget {
            state,
            ..target.clone()
        };
        let verdict = check_integration(&sub, &facts, &catalog(), Some(&target));
        // An integration request's answer, or the observations on a preavviso di rigetto.
        if matches!(
            state,
            PracticeState::IntegrationRequested | PracticeState::ObservationsRequested
        ) {
            assert!(verdict.is_valid(), "{state}");
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
        tax_code: FiledTaxCode::file(CHILD_TAX_CODE).unwrap(),
        ..target
    };
    let theirs = check_integration(&sub, &facts, &catalog(), Some(&someone_else));
    assert_eq!(only_reason(&unknown).code, PRATICA_DA_INTEGRARE_SCONOSCIUTA);
    assert_eq!(unknown, theirs, "nothing tells the two apart");
}

#[test]
fn integration_file_names_are_checked_too() {
    let (sub, mut facts, target) = cila_integration();
    facts[0].file_name = "\t".into();
    let verdict = check_integration(&sub, &facts, &catalog(), Some(&target));
    assert_eq!(codes(&verdict), [NOME_FILE_NON_VALIDO]);
}
