//! What a back office's return must be before anything is written: the right back office, an
//! outcome that says what it must (what is missing, why it is denied), and result documents
//! that are what they claim — decoded, within size, with the declared SHA-256, named so that
//! every later stage can take the name, and checked by content exactly as a citizen's
//! documents are (sniffed type among the catalog's `[results]` types, the declared type
//! matching it, a well-formed document of that type).
//!
//! Pure, so that every refusal is unit-tested; a refusal is the back office's error, in
//! English, and goes to the returns error queue with nothing changed.

use base64::Engine;
use sportello_backoffice::{BackOfficeReturn, MAX_RESULT_BYTES, ResultDocument, ReturnOutcome};
use sportello_register::outgoing::OutgoingDocument;
use sportello_shared::catalog::{Catalog, PracticeType};
use sportello_shared::domain::content;
use sportello_shared::domain::file_name::check_file_name;
use sportello_shared::domain::media;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::objects::sha256_hex;

/// A return that may be applied: where it moves the practice, and the decoded result
/// documents of a completion.
#[derive(Debug)]
pub struct CheckedReturn {
    pub to: PracticeState,
    pub documents: Vec<OutgoingDocument>,
}

/// The state an outcome moves the practice to.
pub fn target(outcome: &ReturnOutcome) -> PracticeState {
    match outcome {
        ReturnOutcome::InProgress => PracticeState::InProgress,
        ReturnOutcome::IntegrationRequested { .. } => PracticeState::IntegrationRequested,
        ReturnOutcome::PreavvisoRigetto { .. } => PracticeState::ObservationsRequested,
        ReturnOutcome::Completed { .. } => PracticeState::Completed,
        ReturnOutcome::Denied { .. } => PracticeState::Denied,
    }
}

/// Checks `ret` against the type of the practice it names, before the practice's state is
/// looked at: a bad return is reported as such whatever the practice has become.
pub fn check_return(
    ret: &BackOfficeReturn,
    kind: &PracticeType,
    catalog: &Catalog,
) -> Result<CheckedReturn, String> {
    if kind.back_office != ret.back_office {
        return Err(format!(
            "{} answered for a practice of {}",
            ret.back_office, kind.back_office
        ));
    }
    let documents = match &ret.outcome {
        ReturnOutcome::InProgress => Vec::new(),
        ReturnOutcome::IntegrationRequested { missing, .. } => {
            if missing.iter().all(|m| m.trim().is_empty()) {
                return Err("an integration request must say what is missing".into());
            }
            Vec::new()
        }
        ReturnOutcome::Denied { reasons } => {
            if reasons.iter().all(|r| r.trim().is_empty()) {
                return Err("a denial must give its reasons".into());
            }
            Vec::new()
        }
        ReturnOutcome::PreavvisoRigetto { reasons, .. } => {
            if reasons.iter().all(|r| r.trim().is_empty()) {
                return Err("a preavviso di rigetto must give its reasons (art. 10-bis)".into());
            }
            Vec::new()
        }
        ReturnOutcome::Completed { outcome, documents } => {
            if outcome.trim().is_empty() {
                return Err("a completion must say its outcome".into());
            }
            decode(documents, catalog)?
        }
    };
    Ok(CheckedReturn {
        to: target(&ret.outcome),
        documents,
    })
}

/// Whether an `in_progress` return found the practice already past it: the office's outcome
/// (or the citizen's withdrawal) got there first — an `in_progress` held back by a retry
/// arrives after the outcome it preceded. Nothing to apply and nothing wrong: it is dropped.
pub fn is_stale(from: PracticeState, to: PracticeState) -> bool {
    to == PracticeState::InProgress
        && !matches!(from, PracticeState::Dispatched)
        && !from.can_move_to(to)
}

/// Whether a practice in `from` may take a return that moves it to `to`.
pub fn check_state(from: PracticeState, to: PracticeState) -> Result<(), String> {
    if from.can_move_to(to) {
        Ok(())
    } else {
        Err(format!(
            "the practice is `{from}`: a `{to}` return is not allowed"
        ))
    }
}

/// Decodes and checks every result document.
pub fn decode(
    documents: &[ResultDocument],
    catalog: &Catalog,
) -> Result<Vec<OutgoingDocument>, String> {
    documents
        .iter()
        .enumerate()
        .map(|(index, document)| {
            // Named by position and a debug-quoted name: the name itself may be what is wrong.
            let which = format!("result document {} ({:?})", index + 1, document.file_name);
            decode_one(document, catalog).map_err(|problem| format!("{which}: {problem}"))
        })
        .collect()
}

fn decode_one(document: &ResultDocument, catalog: &Catalog) -> Result<OutgoingDocument, String> {
    check_file_name(&document.file_name).map_err(|problem| problem.to_string())?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&document.content_base64)
        .map_err(|e| format!("content_base64 is not base64: {e}"))?;
    let policy = catalog.results();
    let max_bytes = (MAX_RESULT_BYTES as u64).min(policy.max_bytes);
    if bytes.is_empty() || bytes.len() as u64 > max_bytes {
        return Err(format!(
            "{} bytes (a result document has 1 to {max_bytes})",
            bytes.len()
        ));
    }
    let found = sha256_hex(&bytes);
    if found != document.sha256.trim().to_ascii_lowercase() {
        return Err(format!(
            "the bytes' sha256 is {found}, the return declares {}",
            document.sha256
        ));
    }
    let declared = media::canonical(&document.media_type);
    if declared.is_empty() {
        return Err("a result document needs a media_type".into());
    }
    let Some((detected, checked)) = content::check_bytes(&bytes, catalog.content_limits()) else {
        return Err(format!(
            "declared {declared}, but the content is none of the formats results may have ({})",
            policy.media_types.join(", ")
        ));
    };
    if !policy.allows(detected) {
        return Err(format!(
            "the content is {detected}; results may be {}",
            policy.media_types.join(", ")
        ));
    }
    if declared != detected {
        return Err(format!(
            "declared {declared}, but the content is {detected}"
        ));
    }
    checked.map_err(|problem| problem.to_string())?;
    Ok(OutgoingDocument {
        file_name: document.file_name.trim().to_owned(),
        media_type: detected.to_owned(),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use sportello_backoffice_sim::pdf_with_line;
    use uuid::Uuid;

    fn catalog() -> Catalog {
        Catalog::embedded().unwrap()
    }

    /// A practice type whose back office is `bo.anagrafe`.
    fn kind(catalog: &Catalog) -> PracticeType {
        catalog
            .get("anagrafe.certificato_anagrafico")
            .unwrap()
            .clone()
    }

    fn ret(outcome: ReturnOutcome) -> BackOfficeReturn {
        BackOfficeReturn {
            schema_version: 1,
            return_id: "r-1".into(),
            practice_id: Uuid::from_u128(1),
            back_office: "bo.anagrafe".into(),
            outcome,
        }
    }

    fn document(file_name: &str, media_type: &str, bytes: &[u8]) -> ResultDocument {
        ResultDocument {
            file_name: file_name.into(),
            media_type: media_type.into(),
            content_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            sha256: sha256_hex(bytes),
        }
    }

    fn completed(documents: Vec<ResultDocument>) -> BackOfficeReturn {
        ret(ReturnOutcome::Completed {
            outcome: "Certificato rilasciato".into(),
            documents,
        })
    }

    fn refusal(ret: &BackOfficeReturn) -> String {
        let catalog = catalog();
        check_return(ret, &kind(&catalog), &catalog).expect_err("accepted")
    }

    fn certificate() -> Vec<u8> {
        pdf_with_line("Certificato di residenza")
    }

    #[test]
    fn every_return_kind_moves_to_its_state() {
        let catalog = catalog();
        let kind = kind(&catalog);
        let deadline = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        for (outcome, state) in [
            (ReturnOutcome::InProgress, PracticeState::InProgress),
            (
                ReturnOutcome::IntegrationRequested {
                    missing: vec!["Documento di identità".into()],
                    deadline,
                    message: "Serve il documento".into(),
                },
                PracticeState::IntegrationRequested,
            ),
            (
                ReturnOutcome::Denied {
                    reasons: vec!["Requisiti mancanti".into()],
                },
                PracticeState::Denied,
            ),
            (
                ReturnOutcome::Completed {
                    outcome: "Fatto".into(),
                    documents: Vec::new(),
                },
                PracticeState::Completed,
            ),
            (
                ReturnOutcome::PreavvisoRigetto {
                    reasons: vec!["Manca il requisito".into()],
                    message: String::new(),
                },
                PracticeState::ObservationsRequested,
            ),
        ] {
            let checked = check_return(&ret(outcome), &kind, &catalog).unwrap();
            assert_eq!(checked.to, state);
            assert!(checked.documents.is_empty());
        }
    }

    #[test]
    fn a_completion_s_certificate_is_decoded_and_typed_by_content() {
        let catalog = catalog();
        let bytes = certificate();
        // A harmless spelling of the type is fine; the registered type is the canonical one.
        let ret = completed(vec![document("esito.pdf", "application/x-pdf", &bytes)]);
        let checked = check_return(&ret, &kind(&catalog), &catalog).unwrap();
        assert_eq!(checked.to, PracticeState::Completed);
        assert_eq!(checked.documents.len(), 1);
        assert_eq!(checked.documents[0].media_type, media::PDF);
        assert_eq!(checked.documents[0].bytes, bytes);
    }

    #[test]
    fn an_executable_or_a_web_page_declared_as_a_pdf_is_refused() {
        let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
        exe.extend_from_slice(b"This program cannot be run in DOS mode.\r\r\n$");
        let error = refusal(&completed(vec![document(
            "certificato.pdf",
            media::PDF,
            &exe,
        )]));
        assert!(
            error.starts_with("result document 1 (\"certificato.pdf\"): declared application/pdf, but the content is none of the formats"),
            "{error}"
        );
        let html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>";
        let error = refusal(&completed(vec![document(
            "certificato.pdf",
            media::PDF,
            html,
        )]));
        assert!(error.contains("none of the formats"), "{error}");
        let mut disguised = b"%PDF-1.4\n".to_vec();
        disguised.extend_from_slice(html);
        let error = refusal(&completed(vec![document(
            "certificato.pdf",
            media::PDF,
            &disguised,
        )]));
        assert!(error.contains("not a well-formed PDF"), "{error}");
    }

    #[test]
    fn types_the_catalog_does_not_allow_for_results_are_refused() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde\0\0\0\0IEND\xaeB`\x82";
        let error = refusal(&completed(vec![document("foto.png", media::PNG, png)]));
        assert!(
            error.contains("the content is image/png; results may be"),
            "{error}"
        );
        // The declared type must match the content, as for a citizen's document.
        let error = refusal(&completed(vec![document(
            "esito.pdf",
            "application/pkcs7-mime",
            &certificate(),
        )]));
        assert!(
            error.contains("declared application/pkcs7-mime, but the content is application/pdf"),
            "{error}"
        );
        let error = refusal(&completed(vec![document("esito.pdf", " ", &certificate())]));
        assert!(error.contains("needs a media_type"), "{error}");
    }

    #[test]
    fn sizes_and_digests_are_checked() {
        let mut wrong_sha = document("esito.pdf", media::PDF, &certificate());
        wrong_sha.sha256 = "00".repeat(32);
        assert!(refusal(&completed(vec![wrong_sha])).contains("sha256"));
        let empty = document("esito.pdf", media::PDF, b"");
        assert!(refusal(&completed(vec![empty])).contains("0 bytes"));
        let mut not_base64 = document("esito.pdf", media::PDF, &certificate());
        not_base64.content_base64 = "%%%".into();
        assert!(refusal(&completed(vec![not_base64])).contains("not base64"));
        let large = vec![b' '; MAX_RESULT_BYTES + 1];
        assert!(
            refusal(&completed(vec![document("esito.pdf", media::PDF, &large)]))
                .contains("bytes (a result document has 1 to")
        );
        // The catalog may ask for less than the contract allows.
        let text = include_str!("../../../shared/catalog.toml")
            .replace("max_bytes = 4_194_304", "max_bytes = 100");
        let small = Catalog::from_toml_str(&text).unwrap();
        let error = check_return(
            &completed(vec![document("esito.pdf", media::PDF, &certificate())]),
            &kind(&small),
            &small,
        )
        .unwrap_err();
        assert!(error.contains("a result document has 1 to 100"), "{error}");
    }

    #[test]
    fn names_no_later_stage_can_take_are_refused() {
        for (name, why) in [
            ("   ", "blank"),
            ("esito.pdf\r\nContent-Type: text/html", "control characters"),
            ("../esito.pdf", "path separator"),
            ("..", "only dots"),
        ] {
            let error = refusal(&completed(vec![document(name, media::PDF, &certificate())]));
            assert!(error.contains(why), "{name:?}: {error}");
            assert!(
                !error.contains('\r'),
                "the name is quoted, never raw: {error}"
            );
        }
    }

    #[test]
    fn outcomes_must_say_what_they_must() {
        assert!(refusal(&ret(ReturnOutcome::Denied { reasons: vec![] })).contains("reasons"));
        assert!(
            refusal(&ret(ReturnOutcome::Denied {
                reasons: vec![" ".into()]
            }))
            .contains("reasons")
        );
        let deadline = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let nothing_missing = ret(ReturnOutcome::IntegrationRequested {
            missing: vec![],
            deadline,
            message: "?".into(),
        });
        assert!(refusal(&nothing_missing).contains("what is missing"));
        let no_outcome = ret(ReturnOutcome::Completed {
            outcome: "".into(),
            documents: vec![],
        });
        assert!(refusal(&no_outcome).contains("its outcome"));
        for reasons in [vec![], vec!["  ".to_owned()]] {
            let preavviso = ret(ReturnOutcome::PreavvisoRigetto {
                reasons,
                message: "Può presentare osservazioni".into(),
            });
            assert_eq!(
                refusal(&preavviso),
                "a preavviso di rigetto must give its reasons (art. 10-bis)"
            );
        }
    }

    #[test]
    fn only_the_practice_s_back_office_may_answer() {
        let mut foreign = ret(ReturnOutcome::InProgress);
        foreign.back_office = "bo.tributi".into();
        assert_eq!(
            refusal(&foreign),
            "bo.tributi answered for a practice of bo.anagrafe"
        );
    }

    #[test]
    fn an_in_progress_that_arrives_after_the_outcome_is_stale_not_wrong() {
        use PracticeState::*;
        for from in [
            InProgress,
            IntegrationRequested,
            ObservationsRequested,
            Completed,
            Denied,
            Withdrawn,
            Delivered,
            SilentConsent,
        ] {
            assert!(is_stale(from, InProgress), "{from}");
        }
        assert!(!is_stale(Dispatched, InProgress));
        // An outcome that finds another outcome is a conflict, not a late message.
        assert!(!is_stale(Completed, Denied));
        assert!(!is_stale(Denied, Completed));
    }

    #[test]
    fn a_return_is_taken_only_while_the_office_has_the_practice() {
        use PracticeState::*;
        for to in [InProgress, IntegrationRequested, Completed, Denied] {
            assert_eq!(check_state(Dispatched, to), Ok(()), "{to}");
            for from in [
                Received,
                Validated,
                Registered,
                Stored,
                Completed,
                Denied,
                Withdrawn,
                Delivered,
                SilentConsent,
            ] {
                assert!(check_state(from, to).is_err(), "{from} → {to}");
            }
        }
        for to in [IntegrationRequested, Completed, Denied] {
            assert_eq!(check_state(InProgress, to), Ok(()));
        }
        // After a preavviso the office decides, with or without the observations.
        for to in [Completed, Denied] {
            assert_eq!(check_state(ObservationsRequested, to), Ok(()));
        }
        assert_eq!(
            check_state(SilentConsent, Denied).unwrap_err(),
            "the practice is `silent_consent`: a `denied` return is not allowed"
        );
        assert_eq!(
            check_state(Completed, Denied).unwrap_err(),
            "the practice is `completed`: a `denied` return is not allowed"
        );
    }
}
