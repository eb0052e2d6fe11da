//! Silenzio-assenso (art. 20 L. 241/1990): a term that ran out with no outcome, for a type
//! whose silence is consent, becomes the practice's outcome — `silent_consent` — with the
//! attestation of c.2-bis registered as outgoing, archived and sent to the citizen.
//!
//! The timer job only says "look at this practice" ([`SilenceDue`]); this worker acts when the
//! database agrees: the clock is open, its silence is consent, its `overdue` event has fired,
//! and the practice is with the office (a state the machine lets move to `silent_consent`).
//! Anything else is acknowledged and changes nothing, so a forged or late message is harmless.
//! The attestation is made from recorded facts alone (registration, catalog, configuration,
//! the `overdue` event), so a redelivery registers and archives the same bytes once.
//!
//! [`SilenceDue`]: sportello_shared::messages::SilenceDue

use crate::handler::Returns;
use sportello_register::INCOMING_EVENT;
use sportello_register::attestation::{ATTESTATION_FILE_NAME, AttestationFacts};
use sportello_register::outgoing::OutgoingDocument;
use sportello_register::register;
use sportello_register::segnatura::{ClassCode, Classification};
use sportello_shared::domain::state::PracticeState;
use sportello_shared::procedure;
use sportello_shared::store::{StoreError, Transition, reads};
use sportello_shared::worker::Failure;
use tracing::info;
use uuid::Uuid;

/// Who moves a practice to `silent_consent` in its history: the law, through the clock.
pub const ACTOR: &str = "sportello:silenzio-assenso";

impl Returns {
    /// Registers the attestation of silenzio-assenso of practice `id` and concludes it, when
    /// the database says its silence has become consent; the event to publish, if any.
    pub async fn attest_silence(
        &self,
        id: Uuid,
    ) -> Result<Vec<sportello_shared::broker::Outgoing>, Failure> {
        let event_key = format!("silence:{id}");
        if reads::applied(self.store.pool(), id, &event_key)
            .await?
            .is_some()
        {
            // Done before; the event may not have gone out if the crash came in between.
            return Ok(vec![self.event(id, PracticeState::SilentConsent)]);
        }
        let Some(practice) = self.store.practice(id).await? else {
            return Err(Failure::Reject("unknown practice".into()));
        };
        let formed = procedure::silence_formed(self.store.pool(), id)
            .await
            .map_err(StoreError::from)?;
        let Some(formed) = formed else {
            info!(practice_id = %id, state = %practice.state, "silence_due: the clock does not say that silence became consent; nothing to do");
            return Ok(Vec::new());
        };
        if !practice.state.can_move_to(PracticeState::SilentConsent) {
            info!(practice_id = %id, state = %practice.state, "silence_due: the practice is not with its office; nothing to do");
            return Ok(Vec::new());
        }
        let kind = self.catalog.get(&practice.practice_type).ok_or_else(|| {
            Failure::Reject(format!(
                "practice type `{}` is not in the catalog",
                practice.practice_type
            ))
        })?;
        let incoming = register::of_event(self.store.pool(), id, INCOMING_EVENT)
            .await
            .map_err(StoreError::from)?
            .ok_or_else(|| Failure::Reject("the practice has no incoming registration".into()))?;
        let facts = AttestationFacts::of(
            &incoming,
            kind,
            &self.procedure,
            &self.municipality,
            formed.clock.suspended_days,
            formed.due_on,
            formed.formed_on(),
        );
        let documents = [OutgoingDocument {
            file_name: ATTESTATION_FILE_NAME.to_owned(),
            media_type: "application/pdf".to_owned(),
            bytes: facts.pdf(),
        }];
        let classification = Classification {
            name: kind.classification.description.clone(),
            code: ClassCode::Flat(kind.classification.code.clone()),
        };
        let (protocol, listed) = self
            .register_and_archive(
                &practice,
                &event_key,
                &format!("Attestazione di silenzio-assenso: {}", practice.subject),
                classification,
                &documents,
                "attestation",
            )
            .await?;
        let details = serde_json::json!({
            "outcome": facts.statement(),
            "documents": listed,
            "protocol": protocol,
            "due_on": formed.due_on,
            "formed_on": formed.formed_on(),
        });
        let applied = self
            .move_with_clock(&Transition {
                practice_id: id,
                to: PracticeState::SilentConsent,
                actor: ACTOR,
                event_key: &event_key,
                details,
                rejection_reasons: None,
            })
            .await;
        match applied {
            Ok(_) => {}
            Err(StoreError::Refused { from, .. }) => {
                // The office's outcome arrived while the attestation was being registered.
                return Err(Failure::Reject(format!(
                    "the practice reached `{from}` while its attestation was registered (outgoing {}/{}): the registration stays in the register; annul it if the office's outcome stands",
                    protocol["year"],
                    protocol["number"].as_str().unwrap_or("?")
                )));
            }
            Err(err) => return Err(err.into()),
        }
        info!(practice_id = %id, due_on = %formed.due_on, "silenzio-assenso: attestation registered, practice concluded");
        Ok(vec![self.event(id, PracticeState::SilentConsent)])
    }
}
