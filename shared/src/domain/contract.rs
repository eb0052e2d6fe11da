//! The intake contract's parser and limits: what makes a message a submission at all, shared by
//! intake, the HTTP API and `sportello submit`, so that what one accepts the others accept.
//!
//! Besides the contract's shape it refuses what no practice may carry whatever its type: a
//! NUL character, an idempotency key that cannot be an index key, a counter submission nobody
//! is accountable for, a tax code too long to be one, and a `staged_key` of any shape but a
//! sender's upload. Whether a practice is complete for its type is validation's business, with
//! reasons for the citizen; the text limits validation applies are here too, so that the
//! published catalog's schema can state them.

use crate::domain::staged_key;
use crate::domain::submission::{Channel, SUBMISSION_SCHEMA_VERSION, Submission};
use crate::domain::tax_code::FiledTaxCode;

/// The subject becomes the register's "oggetto"; longer ones are essays, not subjects.
pub const MAX_SUBJECT_CHARS: usize = 500;
/// A given or family name.
pub const MAX_NAME_CHARS: usize = 200;
/// A free-text field of a practice type's form.
pub const MAX_TEXT_FIELD_CHARS: usize = 2000;

/// Parses a submission message, with a reason an operator can act on when it is not one.
///
/// Besides the contract's shape, it refuses what no practice may carry whatever its type: a
/// counter submission nobody is accountable for (a blank or malformed operator id), a tax code
/// too long to be one, and a `staged_key` of any shape but a sender's upload under
/// `staging_prefix` (see [`staged_key`]): such a key is refused before the store is touched.
pub fn parse_submission(body: &[u8], staging_prefix: &str) -> Result<Submission, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the submission is not JSON: {e}"))?;
    match value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if v == u64::from(SUBMISSION_SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "submission schema_version {v} is not supported (this build reads {SUBMISSION_SCHEMA_VERSION})"
            ));
        }
        None => return Err("the submission has no numeric schema_version".to_owned()),
    }
    if has_nul(&value) {
        return Err(
            "the submission contains a NUL character (\\u0000), which no record can hold"
                .to_owned(),
        );
    }
    let submission: Submission = serde_json::from_value(value).map_err(|e| {
        format!("the submission does not follow contract v{SUBMISSION_SCHEMA_VERSION}: {e}")
    })?;
    let key = submission.idempotency_key.trim();
    if key.is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS {
        return Err(format!(
            "the idempotency_key must have 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters (it has {})",
            key.chars().count()
        ));
    }
    if let Channel::Counter { operator_id } = &submission.channel {
        check_operator_id(operator_id)?;
    }
    FiledTaxCode::file(&submission.applicant.tax_code)
        .map_err(|e| format!("applicant.tax_code has {e}"))?;
    for (position, document) in submission.documents.iter().enumerate() {
        if let Some(key) = &document.staged_key {
            staged_key::parse_upload_key(staging_prefix, key).map_err(|e| {
                format!(
                    "document {} (`{}`): {e}",
                    position + 1,
                    document.role.chars().take(64).collect::<String>()
                )
            })?;
        }
    }
    Ok(submission)
}

/// The longest operator id taken; ids look like `op-bg-017` or an account name.
pub const MAX_OPERATOR_ID_CHARS: usize = 64;

/// A counter submission names the operator who filed it: the history's actor
/// (`operator:<id>`) is who is accountable for it, so it must name someone.
fn check_operator_id(operator_id: &str) -> Result<(), String> {
    let shape_fits = operator_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c));
    if operator_id.is_empty() || operator_id.chars().count() > MAX_OPERATOR_ID_CHARS || !shape_fits
    {
        return Err(format!(
            "channel.operator_id must name the counter operator: 1 to {MAX_OPERATOR_ID_CHARS} characters of A-Z, a-z, 0-9, `.`, `_`, `@` and `-`"
        ));
    }
    Ok(())
}

/// The longest idempotency key taken: it is a unique index key in PostgreSQL, whose entries
/// must stay well below a page (senders' keys look like `portal-2026-000108`).
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 256;

/// Whether any key or string of the JSON holds U+0000: PostgreSQL refuses it in text and
/// JSONB, and XML 1.0 cannot carry it at all.
fn has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_IDEMPOTENCY_KEY_CHARS, parse_submission};
    use crate::domain::staged_key::new_upload_key;

    fn parse(body: &[u8]) -> Result<crate::domain::submission::Submission, String> {
        parse_submission(body, "staging")
    }

    #[test]
    fn not_json_wrong_version_and_wrong_shape_are_told_apart() {
        assert!(parse(b"<xml/>").unwrap_err().contains("not JSON"));
        assert!(
            parse(br#"{"schema_version": 99}"#)
                .unwrap_err()
                .contains("schema_version 99")
        );
        assert!(
            parse(br#"{"schema_version": "1"}"#)
                .unwrap_err()
                .contains("no numeric schema_version")
        );
        let err = parse(br#"{"schema_version": 1, "idempotency_key": "k"}"#).unwrap_err();
        assert!(err.contains("contract v1"), "{err}");
    }

    fn with(key: &str, subject: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "schema_version": 1,
            "idempotency_key": key,
            "channel": { "kind": "portal" },
            "practice_type": "anagrafe.certificato_anagrafico",
            "applicant": {
                "tax_code": "RSSMRA80A01H501U",
                "given_name": "Mario",
                "family_name": "Rossi",
                "email": "mario.rossi@example.it",
            },
            "subject": subject,
        }))
        .unwrap()
    }

    #[test]
    fn what_no_record_can_hold_is_refused_before_the_database() {
        assert!(parse(&with("portal-1", "Certificato")).is_ok());
        let nul = parse(&with("portal-1", "Certi\0ficato")).unwrap_err();
        assert!(nul.contains("NUL character"), "{nul}");
        let longest = "k".repeat(MAX_IDEMPOTENCY_KEY_CHARS);
        assert!(parse(&with(&longest, "Certificato")).is_ok());
        let too_long = parse(&with(&format!("{longest}k"), "Certificato")).unwrap_err();
        assert!(too_long.contains("idempotency_key must have"), "{too_long}");
        assert!(parse(&with("  ", "Certificato")).is_err());
    }

    fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> Result<(), String> {
        let mut value: serde_json::Value =
            serde_json::from_slice(&with("k-1", "Certificato")).unwrap();
        edit(&mut value);
        parse(&serde_json::to_vec(&value).unwrap()).map(|_| ())
    }

    #[test]
    fn a_counter_submission_names_its_operator() {
        let counter = |id: &str| {
            let id = id.to_owned();
            edited(move |v| {
                v["channel"] = serde_json::json!({ "kind": "counter", "operator_id": id })
            })
        };
        assert!(counter("op-bg-017").is_ok());
        for nobody in ["", "   ", "op 17", "op\n17", &"o".repeat(65)] {
            let err = counter(nobody).unwrap_err();
            assert!(err.contains("channel.operator_id"), "{nobody:?}: {err}");
        }
    }

    #[test]
    fn a_tax_code_too_long_to_be_one_is_refused_before_the_database() {
        assert!(edited(|v| v["applicant"]["tax_code"] = "X".repeat(64).into()).is_ok());
        let err = edited(|v| v["applicant"]["tax_code"] = "X".repeat(4000).into()).unwrap_err();
        assert!(err.contains("4000 characters"), "{err}");
    }

    #[test]
    fn a_staged_key_outside_the_senders_uploads_is_refused() {
        let document = |key: String| {
            move |v: &mut serde_json::Value| {
                v["documents"] = serde_json::json!([{
                    "role": "istanza", "file_name": "a.pdf", "media_type": "application/pdf",
                    "sha256": "00", "staged_key": key,
                }])
            }
        };
        assert!(edited(document(new_upload_key("staging"))).is_ok());
        let err = edited(document(
            "staging/../archivio/AOO_BG/PG/2026/0000001/01-a.pdf".to_owned(),
        ))
        .unwrap_err();
        assert!(err.contains("document 1 (`istanza`)"), "{err}");
        assert!(edited(document(format!("staging/{}/1", uuid::Uuid::new_v4()))).is_err());
    }
}
