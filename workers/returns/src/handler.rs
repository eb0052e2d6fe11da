//! The returns worker: `dispatched | in_progress → in_progress | integration_requested |
//! completed | denied`.
//!
//! Each return is checked first ([`check`](crate::check)), then applied under the event key
//! `return:<return_id>`: a redelivered or re-sent return finds its transition (and its outgoing
//! registration) and adds nothing. The details written with each transition are what the
//! notification worker tells the citizen.

use crate::check::{CheckedReturn, check_return, check_state, is_stale};
use sportello_archive::layout::{self as archive, Entry, Source};
use sportello_archive::{Archived, record_archived};
use sportello_backoffice::{BackOfficeReturn, ReturnOutcome};
use sportello_register::outgoing::{self, OutgoingDocument, OutgoingRequest};
use sportello_register::register::{self, Clock};
use sportello_register::segnatura::{ClassCode, Classification, Contacts, NaturalPerson};
use sportello_register::signature::AooSigner;
use sportello_register::{INCOMING_EVENT, Keeper};
use sportello_shared::broker::Outgoing;
use sportello_shared::catalog::Catalog;
use sportello_shared::config::{MunicipalitySettings, ProcedureSettings};
use sportello_shared::domain::state::PracticeState;
use sportello_shared::messages::{PracticeEvent, SilenceDue};
use sportello_shared::objects::{ObjectStore, sha256_hex};
use sportello_shared::parties::office_of_user;
use sportello_shared::procedure::{self, SuspensionKind};
use sportello_shared::store::{
    self, Applied, PracticeRecord, Store, StoreError, Transition, reads,
};
use sportello_shared::topology::Topology;
use sportello_shared::worker::{Failure, Handler, Incoming, Outcome};
use std::sync::Arc;
use tracing::info;
use uuid::Uuid;

pub struct Returns {
    pub store: Store,
    pub objects: ObjectStore,
    pub catalog: Arc<Catalog>,
    pub keeper: Keeper,
    pub signer: Arc<AooSigner>,
    pub clock: Arc<dyn Clock>,
    /// The procedure's day (`procedure.day_secs`).
    pub day_secs: u64,
    pub events_exchange: String,
    /// Which login is which back office (`queues.toml`), and the namespace of the logins: a
    /// return's office is its broker-checked `user_id`, never what its body claims.
    pub topology: Arc<Topology>,
    pub namespace: String,
    /// What the attestation of silenzio-assenso says of the office and the municipality.
    pub procedure: ProcedureSettings,
    pub municipality: MunicipalitySettings,
}

impl Handler for Returns {
    fn name(&self) -> &'static str {
        "returns"
    }

    async fn handle(&self, message: &Incoming) -> Outcome {
        // The timer job's word that a silenzio-assenso term ran out; whoever sent it, only the
        // database's facts are acted on.
        if let Some(due) = SilenceDue::parse(&message.body) {
            let id = match due {
                Ok(due) => due.practice_id,
                Err(reason) => return Outcome::Reject(reason),
            };
            return match self.attest_silence(id).await {
                Ok(outputs) => Outcome::Done(outputs),
                Err(Failure::Retry(reason)) => Outcome::Retry(reason),
                Err(Failure::Reject(reason)) => {
                    Outcome::Reject(format!("silenzio-assenso of practice {id}: {reason}"))
                }
            };
        }
        let parsed = match BackOfficeReturn::parse(&message.body) {
            Ok(parsed) => parsed,
            Err(reason) => return Outcome::Reject(reason),
        };
        let office =
            match office_of_user(&self.topology, &self.namespace, message.sender.as_deref()) {
                Ok(office) => office,
                Err(reason) => return Outcome::Reject(reason),
            };
        if parsed.back_office != office {
            return Outcome::Reject(format!(
                "return {} for practice {}: published by {office}'s login but names {} as its back office",
                parsed.return_id, parsed.practice_id, parsed.back_office
            ));
        }
        match self.apply(&parsed).await {
            Ok(outputs) => Outcome::Done(outputs),
            Err(Failure::Retry(reason)) => Outcome::Retry(reason),
            Err(Failure::Reject(reason)) => Outcome::Reject(format!(
                "return {} for practice {}: {reason}",
                parsed.return_id, parsed.practice_id
            )),
        }
    }
}

impl Returns {
    async fn apply(&self, ret: &BackOfficeReturn) -> Result<Vec<Outgoing>, Failure> {
        let id = ret.practice_id;
        let practice = self
            .store
            .practice(id)
            .await?
            .ok_or_else(|| Failure::Reject("unknown practice".into()))?;
        let kind = self.catalog.get(&practice.practice_type).ok_or_else(|| {
            Failure::Reject(format!(
                "practice type `{}` is not in the catalog",
                practice.practice_type
            ))
        })?;
        // The return is checked first: a tampered document is reported as such, whatever the
        // state of the practice.
        let CheckedReturn { to, documents } =
            check_return(ret, kind, &self.catalog).map_err(Failure::Reject)?;
        let event_key = format!("return:{}", ret.return_id);
        let seen = reads::applied(self.store.pool(), id, &event_key).await?;
        if seen.is_some() {
            // Applied before; the event may not have gone out if the crash came in between.
            return Ok(vec![self.event(id, to)]);
        }
        if is_stale(practice.state, to) {
            info!(practice_id = %id, state = %practice.state, return_id = %ret.return_id, "an in_progress return arrived after the practice moved on: dropped");
            return Ok(Vec::new());
        }
        check_state(practice.state, to).map_err(Failure::Reject)?;
        let actor = format!("backoffice:{}", ret.back_office);
        let details = match &ret.outcome {
            ReturnOutcome::InProgress => serde_json::json!({}),
            ReturnOutcome::IntegrationRequested {
                missing,
                deadline,
                message,
            } => {
                serde_json::json!({
                    "missing": missing,
                    "deadline": deadline.format("%Y-%m-%d").to_string(),
                    "message": message,
                })
            }
            ReturnOutcome::Denied { reasons } => serde_json::json!({ "reasons": reasons }),
            ReturnOutcome::PreavvisoRigetto { reasons, message } => {
                let deadline = procedure::observations_deadline(self.clock.now());
                serde_json::json!({
                    "reasons": reasons,
                    "message": message,
                    "deadline": deadline.format("%Y-%m-%d").to_string(),
                })
            }
            ReturnOutcome::Completed { outcome, .. } => {
                let pickup = kind.physical_pickup;
                let classification = Classification {
                    name: kind.classification.description.clone(),
                    code: ClassCode::Flat(kind.classification.code.clone()),
                };
                let listed = self
                    .register_and_archive(
                        &practice,
                        &event_key,
                        &format!("Esito: {}", practice.subject),
                        classification,
                        &documents,
                        "result",
                    )
                    .await?;
                serde_json::json!({
                    "outcome": outcome,
                    "documents": listed.1,
                    "pickup": pickup,
                    "protocol": listed.0,
                })
            }
        };
        let applied = self
            .move_with_clock(&Transition {
                practice_id: id,
                to,
                actor: &actor,
                event_key: &event_key,
                details,
                rejection_reasons: None,
            })
            .await;
        match applied {
            Ok(_) => {}
            Err(StoreError::Refused { from, .. }) => {
                return Err(Failure::Reject(format!(
                    "the practice is `{from}`: a `{to}` return is not allowed"
                )));
            }
            Err(err) => return Err(err.into()),
        }
        info!(practice_id = %id, state = %to, back_office = %ret.back_office, "return applied");
        Ok(vec![self.event(id, to)])
    }

    /// Applies `transition`, and moves the procedure's clock in the same commit: an integration
    /// request or a preavviso suspends it, an outcome stops it.
    pub(crate) async fn move_with_clock(
        &self,
        transition: &Transition<'_>,
    ) -> Result<Applied, StoreError> {
        let mut tx = self.store.begin().await?;
        let applied = store::transition(&mut tx, transition).await?;
        if let Applied::Moved { .. } = applied {
            let (id, to, now) = (transition.practice_id, transition.to, self.clock.now());
            let suspension = match to {
                PracticeState::IntegrationRequested => Some(SuspensionKind::Integration),
                PracticeState::ObservationsRequested => Some(SuspensionKind::Observations),
                _ => None,
            };
            if let Some(kind) = suspension {
                procedure::suspend(&mut tx, id, kind, now, self.day_secs).await?;
            } else if procedure::concludes(to) {
                procedure::conclude(&mut tx, id, now, self.day_secs).await?;
            }
            tx.commit().await?;
        }
        Ok(applied)
    }

    /// Registers documents sent to the citizen (the results, or the attestation of silence,
    /// archived as `kind`) as outgoing and archives them with their segnatura; returns the
    /// protocol facts and the documents as the notification worker reads them.
    pub(crate) async fn register_and_archive(
        &self,
        practice: &PracticeRecord,
        event_key: &str,
        subject: &str,
        classification: Classification,
        documents: &[OutgoingDocument],
        kind: &'static str,
    ) -> Result<(serde_json::Value, Vec<serde_json::Value>), Failure> {
        if documents.is_empty() {
            return Ok((serde_json::Value::Null, Vec::new()));
        }
        let id = practice.id;
        let applicant = &practice.submission["applicant"];
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().trim().to_owned();
        let recipient = NaturalPerson {
            given_name: text(&applicant["given_name"]),
            family_name: text(&applicant["family_name"]),
            title: None,
            codice_fiscale: Some(practice.tax_code.as_str().to_owned()),
            contacts: Some(Contacts {
                emails: vec![text(&applicant["email"])],
                ..Contacts::default()
            }),
        };
        let mut tx = self.store.begin().await?;
        let (first, _, _) = register::by_event(&mut tx, id, INCOMING_EVENT)
            .await?
            .ok_or_else(|| Failure::Reject("the practice has no incoming registration".into()))?;
        let registered = outgoing::register_outgoing(
            &mut tx,
            &self.keeper,
            &self.signer,
            &*self.clock,
            &OutgoingRequest {
                practice_id: id,
                event_key,
                subject,
                classification,
                recipient,
                documents,
                first_registration: first,
            },
        )
        .await
        .map_err(|e| match e {
            outgoing::OutgoingError::Database(e) => Failure::Retry(format!("database: {e}")),
            other => Failure::Reject(other.to_string()),
        })?;
        tx.commit().await.map_err(StoreError::from)?;
        let register = self.keeper.register_id();
        let prefix = archive::registration_prefix(
            &register.aoo,
            &register.code,
            registered.year,
            registered.number,
        );
        let mut archived = Vec::with_capacity(documents.len() + 1);
        let mut listed = Vec::with_capacity(documents.len());
        for (position, document) in documents.iter().enumerate() {
            let entry = Entry {
                key: archive::document_key(&prefix, position, &document.file_name),
                source: Source::Bytes(&document.bytes),
                media_type: &document.media_type,
                sha256: sha256_hex(&document.bytes),
                // Hashed here, not read from the registration: asked first.
                certified: false,
            };
            let size = archive::put_verified(&self.objects, &entry).await?;
            listed.push(serde_json::json!({
                "file_name": document.file_name,
                "media_type": document.media_type,
                "size": size,
                "object_key": entry.key,
                "sha256": entry.sha256,
            }));
            archived.push(Archived {
                kind,
                file_name: document.file_name.clone(),
                media_type: document.media_type.clone(),
                object_key: entry.key,
                sha256: entry.sha256,
                size,
            });
        }
        let segnatura = Entry {
            key: archive::segnatura_key(&prefix),
            source: Source::Bytes(registered.segnatura.as_bytes()),
            media_type: "application/xml",
            sha256: sha256_hex(registered.segnatura.as_bytes()),
            certified: true,
        };
        let size = archive::put_verified(&self.objects, &segnatura).await?;
        archived.push(Archived {
            kind: "segnatura",
            file_name: "segnatura.xml".into(),
            media_type: "application/xml".into(),
            object_key: segnatura.key,
            sha256: segnatura.sha256,
            size,
        });
        let mut tx = self.store.begin().await?;
        record_archived(&mut tx, id, registered.id, &archived).await?;
        tx.commit().await.map_err(StoreError::from)?;
        let protocol = serde_json::json!({
            "register": register.code,
            "year": registered.year,
            "number": registered.number.to_string(),
            "direction": "outgoing",
        });
        Ok((protocol, listed))
    }

    pub(crate) fn event(&self, id: Uuid, state: PracticeState) -> Outgoing {
        PracticeEvent::new(id, state).outgoing(&self.events_exchange)
    }
}
