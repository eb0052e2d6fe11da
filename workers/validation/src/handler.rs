//! The validation worker's handler: gathers the facts about a received practice, applies the
//! rules, and records `validated` or `rejected` with the reasons.
//!
//! A citizen's integration (a submission naming the practice it answers) is checked against
//! that practice as it stands now: see [`rules::check_integration`].
//!
//! Facts come from the bytes, never from the sender's word: the digest and size were measured
//! at intake, the media type is sniffed here from the first bytes and the content checked to
//! be a well-formed document of that type ([`content::examine`]). A large staged document is
//! read by range requests — head, tail, windows, an archive in chunks — never whole, on a
//! blocking thread, since inflating an archive is work the async workers must not wait for.

use crate::rules::{self, DocumentFacts, IntegrationTarget, Verdict};
use sportello_shared::broker::Outgoing;
use sportello_shared::catalog::Catalog;
use sportello_shared::domain::content::{self, ReadAt};
use sportello_shared::domain::state::PracticeState;
use sportello_shared::domain::submission::Submission;
use sportello_shared::messages::{PracticeEvent, StageMessage, route};
use sportello_shared::objects::{ObjectError, ObjectStore};
use sportello_shared::store::{Applied, Store, StoredDocument, Transition};
use sportello_shared::worker::{Handler, Incoming, Outcome};
use std::sync::Arc;
use tracing::info;
use uuid::Uuid;

pub struct Validation {
    pub store: Store,
    pub objects: ObjectStore,
    pub catalog: Arc<Catalog>,
    pub practice_exchange: String,
    pub events_exchange: String,
}

/// The event key of validation's transition: one verdict per practice, whatever redelivers.
const EVENT_KEY: &str = "validation";
const ACTOR: &str = "worker:validation";

impl Handler for Validation {
    fn name(&self) -> &'static str {
        "validation"
    }

    async fn handle(&self, message: &Incoming) -> Outcome {
        let stage = match StageMessage::parse(&message.body) {
            Ok(stage) => stage,
            Err(reason) => return Outcome::Reject(reason),
        };
        self.validate(stage.practice_id)
            .await
            .unwrap_or_else(|outcome| outcome)
    }
}

impl Validation {
    async fn validate(&self, id: Uuid) -> Result<Outcome, Outcome> {
        // The practice, its documents and an integration's target, read in one transaction.
        let mut snapshot = self
            .store
            .snapshot()
            .await
            .map_err(|e| Outcome::Retry(e.to_string()))?;
        let practice = snapshot
            .practice(id)
            .await
            .map_err(|e| Outcome::Retry(e.to_string()))?
            .ok_or_else(|| Outcome::Reject(format!("practice {id} does not exist")))?;
        match practice.state {
            PracticeState::Received => {}
            // Redelivered after the verdict was committed but before it was passed on.
            PracticeState::Validated => {
                return Ok(Outcome::Done(self.passed_on(id, PracticeState::Validated)));
            }
            PracticeState::Rejected => {
                return Ok(Outcome::Done(self.passed_on(id, PracticeState::Rejected)));
            }
            // Further along already (or withdrawn): nothing left for validation to do.
            _ => return Ok(Outcome::Done(Vec::new())),
        }
        let submission: Submission = serde_json::from_value(practice.submission.clone())
            .map_err(|e| Outcome::Reject(format!("stored submission unreadable: {e}")))?;
        let documents = snapshot
            .documents(id)
            .await
            .map_err(|e| Outcome::Retry(e.to_string()))?;
        let target = match submission.integrates {
            None => None,
            Some(target) => Some(
                snapshot
                    .practice(target)
                    .await
                    .map_err(|e| Outcome::Retry(e.to_string()))?
                    .map(|p| IntegrationTarget {
                        state: p.state,
                        tax_code: p.tax_code,
                        practice_type: p.practice_type,
                    }),
            ),
        };
        snapshot
            .close()
            .await
            .map_err(|e| Outcome::Retry(e.to_string()))?;
        let mut facts = Vec::with_capacity(documents.len());
        for document in &documents {
            facts.push(self.facts(document).await?);
        }
        let verdict = match target {
            None => rules::check(&submission, &facts, &self.catalog),
            Some(target) => {
                rules::check_integration(&submission, &facts, &self.catalog, target.as_ref())
            }
        };
        let (to, details, reasons) = match verdict {
            Verdict::Valid => (PracticeState::Validated, serde_json::json!({}), None),
            Verdict::Invalid(reasons) => {
                let reasons = serde_json::to_value(&reasons).expect("reasons serialise");
                (
                    PracticeState::Rejected,
                    serde_json::json!({ "reasons": reasons }),
                    Some(reasons),
                )
            }
        };
        let applied = self
            .store
            .transition(&Transition {
                practice_id: id,
                to,
                actor: ACTOR,
                event_key: EVENT_KEY,
                details,
                rejection_reasons: reasons,
            })
            .await;
        match applied {
            Ok(Applied::Moved { .. }) | Ok(Applied::AlreadyApplied) => {
                info!(state = %to, "validation verdict recorded");
                Ok(Outcome::Done(self.passed_on(id, to)))
            }
            Err(e) if e.is_transient() => Err(Outcome::Retry(e.to_string())),
            // E.g. withdrawn meanwhile: the verdict no longer applies.
            Err(e) => Err(Outcome::Reject(e.to_string())),
        }
    }

    async fn facts(&self, document: &StoredDocument) -> Result<DocumentFacts, Outcome> {
        let limits = self.catalog.content_limits().clone();
        let examined = match (&document.content, &document.staged_key) {
            (Some(bytes), _) => {
                let bytes = bytes.clone();
                tokio::task::spawn_blocking(move || Ok(content::check_bytes(&bytes, &limits))).await
            }
            (None, Some(key)) => {
                let staged = StagedObject {
                    objects: self.objects.clone(),
                    key: key.clone(),
                    size: document.size,
                    runtime: tokio::runtime::Handle::current(),
                };
                tokio::task::spawn_blocking(move || content::examine(&staged, &limits)).await
            }
            (None, None) => Ok(Ok(None)),
        };
        let examined = examined
            .map_err(|e| Outcome::Reject(format!("the content check failed: {e}")))?
            .map_err(|e: ObjectError| {
                if e.is_transient() {
                    Outcome::Retry(e.to_string())
                } else {
                    Outcome::Reject(e.to_string())
                }
            })?;
        let (detected_media_type, content_problem) = match examined {
            Some((media_type, checked)) => (Some(media_type), checked.err()),
            None => (None, None),
        };
        Ok(DocumentFacts {
            role: document.role.clone(),
            file_name: document.file_name.clone(),
            declared_media_type: document.declared_media_type.clone(),
            declared_sha256: document.declared_sha256.clone(),
            actual_sha256: document.sha256.clone(),
            size: document.size,
            detected_media_type,
            content_problem,
        })
    }

    /// What follows a verdict: the protocol stage for a valid practice, and the event either way.
    fn passed_on(&self, id: Uuid, state: PracticeState) -> Vec<Outgoing> {
        let event = PracticeEvent::new(id, state);
        let mut outputs = Vec::with_capacity(2);
        if state == PracticeState::Validated {
            outputs.push(Outgoing::json(
                &self.practice_exchange,
                route::REGISTER,
                &StageMessage::new(id),
                Some(id),
            ));
        }
        outputs.push(event.outgoing(&self.events_exchange));
        outputs
    }
}

/// A staged document read through range requests, from a blocking thread.
struct StagedObject {
    objects: ObjectStore,
    key: String,
    /// As intake measured it.
    size: u64,
    runtime: tokio::runtime::Handle,
}

impl ReadAt for StagedObject {
    type Error = ObjectError;

    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, ObjectError> {
        self.runtime
            .block_on(self.objects.range_bytes(&self.key, offset, len))
    }
}
