//! The dispatch worker: `stored → dispatched`, one message to the competent back office.
//!
//! The route comes from the catalog (`back_office` of the practice type); the fleet checked at
//! start that every back office has a queue. The message carries facts and presigned links,
//! never document bytes. The event key `dispatch:<n>` counts the dispatches of the practice, so
//! the dispatch after a citizen's integration is a transition of its own, while a redelivered
//! dispatch message only publishes the same request again (the back office dedups by
//! `dispatch_id`). A citizen's integration is dispatched as itself, naming the practice it
//! answers, which goes back to the office at the same time.

use chrono::{Duration, Utc};
use sportello_backoffice::{
    Applicant, DocumentLink, PracticeFacts, PracticeRequest, ProtocolFacts, SCHEMA_VERSION,
    ToBackOffice,
};
use sportello_register::register;
use sportello_shared::broker::Outgoing;
use sportello_shared::catalog::Catalog;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::messages::{PracticeEvent, StageMessage};
use sportello_shared::objects::ObjectStore;
use sportello_shared::store::{
    self, Applied, PracticeRecord, Snapshot, Store, StoreError, Transition, reads,
};
use sportello_shared::worker::{Failure, Handler, Incoming, Outcome};
use std::sync::Arc;
use tracing::info;
use uuid::Uuid;

const ACTOR: &str = "worker:dispatch";

pub struct Dispatch {
    pub store: Store,
    pub objects: ObjectStore,
    pub catalog: Arc<Catalog>,
    pub backoffice_exchange: String,
    pub events_exchange: String,
    /// How long a document link stays valid (`object_store.link_validity_secs`): hours, so a
    /// link that leaks from a vendor's logs is soon worth nothing; links are read-only GETs.
    pub link_validity_secs: u32,
}

impl Handler for Dispatch {
    fn name(&self) -> &'static str {
        "dispatch"
    }

    async fn handle(&self, message: &Incoming) -> Outcome {
        let stage = match StageMessage::parse(&message.body) {
            Ok(stage) => stage,
            Err(reason) => return Outcome::Reject(reason),
        };
        self.dispatch(stage.practice_id).await.into()
    }
}

impl Dispatch {
    async fn dispatch(&self, id: Uuid) -> Result<Vec<Outgoing>, Failure> {
        // The practice, its dispatches so far, its registration and archive: one transaction.
        let mut snapshot = self.store.snapshot().await?;
        let practice = snapshot
            .practice(id)
            .await?
            .ok_or_else(|| Failure::Reject(format!("practice {id} does not exist")))?;
        let kind = self.catalog.get(&practice.practice_type).ok_or_else(|| {
            Failure::Reject(format!(
                "practice type `{}` is no longer in the catalog",
                practice.practice_type
            ))
        })?;
        let back_office = kind.back_office.clone();
        if let Some(parent) = practice.integrates {
            let archived = archived(&mut snapshot, id).await?;
            snapshot.close().await?;
            return self
                .dispatch_integration(&practice, parent, back_office, archived)
                .await;
        }
        let done =
            reads::times_entered(snapshot.connection(), id, PracticeState::Dispatched).await?;
        let n = match practice.state {
            PracticeState::Stored
            | PracticeState::IntegrationRequested
            | PracticeState::ObservationsRequested => done + 1,
            // Dispatched before: the crash may have come before the back office heard of it.
            PracticeState::Dispatched => done.max(1),
            other => {
                info!(practice_id = %id, state = %other, "not waiting for dispatch any more");
                return Ok(Vec::new());
            }
        };
        let archived = archived(&mut snapshot, id).await?;
        snapshot.close().await?;
        let request = self.request(&practice, &back_office, n, archived).await?;
        if practice.state != PracticeState::Dispatched {
            let event_key = format!("dispatch:{n}");
            let applied = self
                .store
                .transition(&Transition {
                    practice_id: id,
                    to: PracticeState::Dispatched,
                    actor: ACTOR,
                    event_key: &event_key,
                    details: serde_json::json!({
                        "back_office": back_office,
                        "dispatch_id": request.dispatch_id,
                        "documents": request.documents.len(),
                    }),
                    rejection_reasons: None,
                })
                .await;
            match applied {
                Ok(Applied::Moved { .. } | Applied::AlreadyApplied) => {}
                Err(StoreError::Refused { from, .. }) => {
                    info!(practice_id = %id, state = %from, "moved on before dispatch");
                    return Ok(Vec::new());
                }
                Err(err) => return Err(err.into()),
            }
            info!(practice_id = %id, %back_office, n, "practice dispatched");
        }
        let event = PracticeEvent::new(id, PracticeState::Dispatched);
        let to_office = self.to_office(&back_office, request);
        Ok(vec![to_office, event.outgoing(&self.events_exchange)])
    }

    /// A citizen's integration goes to the office that asked for it, and the practice it answers
    /// goes back to that office: `integration_requested → dispatched` for the practice and
    /// `stored → dispatched` for the integration, in one transaction. The office reads the
    /// integration's `integrates` and answers on the practice.
    async fn dispatch_integration(
        &self,
        integration: &PracticeRecord,
        parent: Uuid,
        back_office: String,
        archived: Archived,
    ) -> Result<Vec<Outgoing>, Failure> {
        let id = integration.id;
        match integration.state {
            PracticeState::Stored | PracticeState::Dispatched => {}
            other => {
                info!(practice_id = %id, state = %other, "not waiting for dispatch any more");
                return Ok(Vec::new());
            }
        }
        let request = self.request(integration, &back_office, 1, archived).await?;
        if integration.state == PracticeState::Stored {
            let mut tx = self.store.begin().await?;
            let answered = store::transition(
                &mut tx,
                &Transition {
                    practice_id: parent,
                    to: PracticeState::Dispatched,
                    actor: ACTOR,
                    event_key: &format!("integration:{id}"),
                    details: serde_json::json!({
                        "back_office": back_office,
                        "integration": id,
                        "dispatch_id": request.dispatch_id,
                    }),
                    rejection_reasons: None,
                },
            )
            .await;
            match answered {
                Ok(_) => {}
                // Withdrawn (or answered otherwise) since the integration was validated.
                Err(StoreError::Refused { from, .. }) => {
                    return Err(Failure::Reject(format!(
                        "practice {parent} no longer waits for an integration (it is {from}): \
                         integration {id} stays stored, undelivered"
                    )));
                }
                Err(err) => return Err(err.into()),
            }
            store::transition(
                &mut tx,
                &Transition {
                    practice_id: id,
                    to: PracticeState::Dispatched,
                    actor: ACTOR,
                    event_key: "dispatch:1",
                    details: serde_json::json!({
                        "back_office": back_office,
                        "dispatch_id": request.dispatch_id,
                        "documents": request.documents.len(),
                        "integrates": parent,
                    }),
                    rejection_reasons: None,
                },
            )
            .await?;
            tx.commit().await?;
            info!(practice_id = %id, %parent, %back_office, "integration dispatched");
        }
        let to_office = self.to_office(&back_office, request);
        let mut outputs = vec![to_office];
        for practice in [id, parent] {
            let event = PracticeEvent::new(practice, PracticeState::Dispatched);
            outputs.push(event.outgoing(&self.events_exchange));
        }
        Ok(outputs)
    }

    /// The request on the office's queue; its message id (`dispatch_id`) lets the office drop
    /// a copy it has seen.
    fn to_office(&self, back_office: &str, request: PracticeRequest) -> Outgoing {
        let id = request.practice.id;
        let dispatch_id = request.dispatch_id.clone();
        let mut message = Outgoing::json(
            &self.backoffice_exchange,
            back_office,
            &ToBackOffice::Practice(Box::new(request)),
            Some(id),
        );
        message.message_id = Some(dispatch_id);
        message
    }

    async fn request(
        &self,
        practice: &PracticeRecord,
        back_office: &str,
        n: i64,
        (registration, objects): Archived,
    ) -> Result<PracticeRequest, Failure> {
        let id = practice.id;
        let expires_at = Utc::now() + Duration::seconds(i64::from(self.link_validity_secs));
        let mut documents = Vec::with_capacity(objects.len());
        for object in objects {
            let url = self
                .objects
                .presign_get(&object.object_key, self.link_validity_secs)
                .await
                .map_err(|e| {
                    Failure::Reject(format!("cannot sign a link to {}: {e}", object.object_key))
                })?;
            documents.push(DocumentLink {
                kind: object.kind,
                file_name: object.file_name,
                media_type: object.media_type,
                sha256: object.sha256,
                size: object.size_bytes as u64,
                url,
                expires_at,
            });
        }
        let submission = &practice.submission;
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().trim().to_owned();
        let applicant = &submission["applicant"];
        Ok(PracticeRequest {
            schema_version: SCHEMA_VERSION,
            dispatch_id: format!("{id}:{n}"),
            back_office: back_office.to_owned(),
            practice: PracticeFacts {
                id,
                practice_type: practice.practice_type.clone(),
                subject: practice.subject.clone(),
                channel: practice.channel.clone(),
                applicant: Applicant {
                    given_name: text(&applicant["given_name"]),
                    family_name: text(&applicant["family_name"]),
                    tax_code: practice.tax_code.as_str().to_owned(),
                    email: text(&applicant["email"]),
                },
                data: submission
                    .get("data")
                    .cloned()
                    .unwrap_or(serde_json::Value::Null),
                integrates: practice.integrates,
            },
            protocol: ProtocolFacts {
                aoo: registration.aoo,
                register: registration.register,
                year: registration.year,
                number: registration.number.to_string(),
                date: registration.registration_date,
            },
            documents,
            dispatched_at: Utc::now(),
        })
    }
}

/// A practice's incoming registration and what it archived: what a request links.
type Archived = (register::Registration, Vec<sportello_archive::Indexed>);

async fn archived(snapshot: &mut Snapshot, id: Uuid) -> Result<Archived, Failure> {
    let registration = register::of_event(snapshot.connection(), id, "protocol")
        .await?
        .ok_or_else(|| Failure::Reject(format!("practice {id} has no registration")))?;
    let objects =
        sportello_archive::of_registration(snapshot.connection(), registration.id).await?;
    Ok((registration, objects))
}

/// The back office a practice belongs to, for messages sent outside dispatch (withdrawal).
pub fn back_office_of(catalog: &Catalog, practice: &PracticeRecord) -> Option<String> {
    catalog
        .get(&practice.practice_type)
        .map(|kind| kind.back_office.clone())
}
