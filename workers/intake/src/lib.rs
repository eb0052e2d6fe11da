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
use sportello_shared::domain::contract::parse_submission;
use sportello_shared::domain::staged_key;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::domain::submission::{Channel, DocumentSource, Submission, practice_id_for};
use sportello_shared::domain::tax_code::FiledTaxCode;
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
        let tax_code = FiledTaxCode::file(&submission.applicant.tax_code)
            .map_err(|e| Failure::Reject(format!("applicant.tax_code has {e}")))?;
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
            tax_code,
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
