//! The intake worker: a submission from the portal or the counter becomes a practice, once.
//!
//! Intake checks only what makes a message a submission at all (JSON, contract version, a
//! practice type the catalog knows, readable documents); whether the practice is complete is
//! validation's job, with reasons for the citizen. Large inline documents are parked in the
//! object store's staging area here, so that no later message carries bytes (claim check).
//! The same idempotency key always names the same practice; the same key with different content
//! is recorded as a conflict and changes nothing.

use base64::Engine;
use sportello_shared::broker::Outgoing;
use sportello_shared::catalog::Catalog;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::domain::staged_key;
use sportello_shared::domain::submission::{
    Channel, DocumentSource, SUBMISSION_SCHEMA_VERSION, Submission, practice_id_for,
};
use sportello_shared::domain::tax_code::{self, MAX_RAW_TAX_CODE_CHARS};
use sportello_shared::messages::{hand_over, route};
use sportello_shared::objects::{ObjectError, ObjectStore, sha256_hex};
use sportello_shared::store::{NewDocument, NewPractice, Store};
use sportello_shared::worker::{Failure, Handler, Incoming, Outcome};
use std::sync::Arc;
use tracing::{info, warn};
use uuid::Uuid;

pub struct Intake {
    pub store: Store,
    pub objects: ObjectStore,
    pub catalog: Arc<Catalog>,
    /// Inline documents above this many bytes go to the staging area.
    pub inline_limit: usize,
    pub max_message_bytes: usize,
    /// Broker names of the `practice` and `events` exchanges.
    pub practice_exchange: String,
    pub events_exchange: String,
}

impl Handler for Intake {
    fn name(&self) -> &'static str {
        "intake"
    }

    async fn handle(&self, message: &Incoming) -> Outcome {
        self.take_in(&message.body).await.into()
    }
}

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
    let tax_code_chars = submission.applicant.tax_code.chars().count();
    if tax_code_chars > MAX_RAW_TAX_CODE_CHARS {
        return Err(format!(
            "applicant.tax_code has {tax_code_chars} characters: a tax code has 16 (at most {MAX_RAW_TAX_CODE_CHARS} are taken, for validation to explain)"
        ));
    }
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
    if operator_id.is_empty()
        || operator_id.chars().count() > MAX_OPERATOR_ID_CHARS
        || !shape_fits
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

impl Intake {
    async fn take_in(&self, body: &[u8]) -> Result<Vec<Outgoing>, Failure> {
        if body.len() > self.max_message_bytes {
            return Err(Failure::Reject(format!(
                "the submission is {} bytes, above the limit of {} (upload large documents to the staging area and send staged_key)",
                body.len(),
                self.max_message_bytes
            )));
        }
        let submission =
            parse_submission(body, self.objects.staging_prefix()).map_err(Failure::Reject)?;
        if self.catalog.get(&submission.practice_type).is_none() {
            return Err(Failure::Reject(format!(
                "unknown practice type `{}`: not in the catalog",
                submission.practice_type
            )));
        }
        let id = practice_id_for(&submission.idempotency_key);
        tracing::Span::current().record("practice_id", tracing::field::display(id));
        let digest = sha256_hex(&serde_json::to_vec(&submission).expect("submissions serialise"));

        if let Some(outputs) = self.seen_before(&submission, id, &digest).await? {
            return Ok(outputs);
        }
        let documents = self.collect_documents(&submission, id).await?;
        let practice = NewPractice {
            id,
            idempotency_key: submission.idempotency_key.clone(),
            digest: digest.clone(),
            submission: without_bytes(&submission),
            practice_type: submission.practice_type.clone(),
            channel: submission.channel.as_str().to_owned(),
            operator_id: match &submission.channel {
                Channel::Counter { operator_id } => Some(operator_id.clone()),
                Channel::Portal => None,
            },
            tax_code: tax_code::normalise(&submission.applicant.tax_code),
            subject: submission.subject.clone(),
            integrates: submission.integrates,
            actor: match &submission.channel {
                Channel::Counter { operator_id } => format!("operator:{operator_id}"),
                Channel::Portal => "citizen".to_owned(),
            },
        };
        if self.store.record_received(&practice, &documents).await? {
            info!(practice_type = %submission.practice_type, documents = documents.len(), "practice received");
            return Ok(self.next_steps(id));
        }
        // Another delivery of the same key got there first while we were reading documents.
        Ok(self
            .seen_before(&submission, id, &digest)
            .await?
            .unwrap_or_default())
    }

    /// `Some(outputs)` when the key is already known: the same content is the same practice
    /// (passed on again only if it still waits for validation), other content is a conflict.
    async fn seen_before(
        &self,
        submission: &Submission,
        id: Uuid,
        digest: &str,
    ) -> Result<Option<Vec<Outgoing>>, Failure> {
        let Some((existing, existing_digest)) = self
            .store
            .find_by_idempotency_key(&submission.idempotency_key)
            .await?
        else {
            return Ok(None);
        };
        if existing_digest != digest {
            warn!(practice_id = %existing, "same idempotency key, different content: recorded as a conflict, practice unchanged");
            self.store
                .record_conflict(
                    &submission.idempotency_key,
                    existing,
                    digest,
                    &without_bytes(submission),
                )
                .await?;
            return Ok(Some(Vec::new()));
        }
        debug_assert_eq!(existing, id);
        let still_waiting = self
            .store
            .practice(existing)
            .await?
            .is_some_and(|p| p.state == PracticeState::Received);
        info!(still_waiting, "duplicate submission: same practice");
        Ok(Some(if still_waiting {
            self.next_steps(existing)
        } else {
            Vec::new()
        }))
    }

    fn next_steps(&self, id: Uuid) -> Vec<Outgoing> {
        hand_over(
            &self.practice_exchange,
            route::VALIDATE,
            &self.events_exchange,
            id,
            PracticeState::Received,
        )
    }

    async fn collect_documents(
        &self,
        submission: &Submission,
        id: Uuid,
    ) -> Result<Vec<NewDocument>, Failure> {
        let mut documents = Vec::with_capacity(submission.documents.len());
        for (position, document) in submission.documents.iter().enumerate() {
            let label = format!("document {} (`{}`)", position + 1, document.role);
            let (sha256, size, content, staged_key) = match document.source() {
                None => {
                    return Err(Failure::Reject(format!(
                        "{label}: give exactly one of content_base64 and staged_key"
                    )));
                }
                Some(DocumentSource::Inline(encoded)) => {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(encoded.trim())
                        .map_err(|e| {
                            Failure::Reject(format!("{label}: content_base64 is not base64: {e}"))
                        })?;
                    let sha256 = sha256_hex(&bytes);
                    let size = bytes.len() as u64;
                    if bytes.len() > self.inline_limit {
                        let key = self.objects.staging_key(id, position);
                        self.objects
                            .put(&key, &bytes, "application/octet-stream")
                            .await?;
                        (sha256, size, None, Some(key))
                    } else {
                        (sha256, size, Some(bytes), None)
                    }
                }
                Some(DocumentSource::Staged(raw)) => {
                    let key = staged_key::parse_upload_key(self.objects.staging_prefix(), raw)
                        .map_err(|e| Failure::Reject(format!("{label}: {e}")))?;
                    if let Some(owner) = self.store.staged_key_claimant(key.as_str()).await?
                        && owner != id
                    {
                        return Err(Failure::Reject(format!(
                            "{label}: this staged_key is already a document of another practice; every upload serves one practice"
                        )));
                    }
                    let (sha256, size) = match self.objects.digest(key.as_str()).await {
                        Err(ObjectError::NotFound(_)) => {
                            return Err(Failure::Reject(format!(
                                "{label}: nothing was uploaded under this staged_key"
                            )));
                        }
                        measured => measured?,
                    };
                    (sha256, size, None, Some(key.as_str().to_owned()))
                }
            };
            documents.push(NewDocument {
                role: document.role.clone(),
                file_name: document.file_name.clone(),
                declared_media_type: document.media_type.clone(),
                declared_sha256: document.sha256.clone(),
                sha256,
                size,
                content,
                staged_key,
            });
        }
        Ok(documents)
    }
}

/// The submission as kept in the folder: the bytes live in the documents table or the store.
fn without_bytes(submission: &Submission) -> serde_json::Value {
    let mut copy = submission.clone();
    for document in &mut copy.documents {
        document.content_base64 = None;
    }
    serde_json::to_value(copy).expect("submissions serialise")
}

#[cfg(test)]
mod tests {
    use super::{MAX_IDEMPOTENCY_KEY_CHARS, parse_submission};
    use sportello_shared::domain::staged_key::new_upload_key;

    fn parse(body: &[u8]) -> Result<sportello_shared::domain::submission::Submission, String> {
        parse_submission(body, "staging")
    }

    #[test]
    fn not_json_wrong_version_and_wrong_shape_are_told_apart() {
        assert!(
            parse(b"<xml/>")
                .unwrap_err()
                .contains("not JSON")
        );
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
        let err =
            parse(br#"{"schema_version": 1, "idempotency_key": "k"}"#).unwrap_err();
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
        let mut value: serde_json::Value = serde_json::from_slice(&with("k-1", "Certificato")).unwrap();
        edit(&mut value);
        parse(&serde_json::to_vec(&value).unwrap()).map(|_| ())
    }

    #[test]
    fn a_counter_submission_names_its_operator() {
        let counter = |id: &str| {
            let id = id.to_owned();
            edited(move |v| v["channel"] = serde_json::json!({ "kind": "counter", "operator_id": id }))
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
