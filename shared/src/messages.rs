//! What travels between stages after intake: references, never documents (claim check).
//!
//! A stage message names the practice; the worker reads everything else from the folder store
//! and the object store. Events tell whoever listens (notification, live folder views) that a
//! practice changed state.

use crate::broker::Outgoing;
use crate::domain::state::PracticeState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const STAGE_SCHEMA_VERSION: u32 = 1;

/// Routing keys on the `practice` exchange, one per stage.
pub mod route {
    pub const VALIDATE: &str = "validate";
    pub const REGISTER: &str = "register";
    pub const STORE: &str = "store";
    pub const DISPATCH: &str = "dispatch";
    pub const SUBMISSION: &str = "submission";
}

/// "Do your stage for this practice."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageMessage {
    pub schema_version: u32,
    pub practice_id: Uuid,
}

impl StageMessage {
    pub fn new(practice_id: Uuid) -> StageMessage {
        StageMessage {
            schema_version: STAGE_SCHEMA_VERSION,
            practice_id,
        }
    }

    /// Parses a stage message, refusing other versions with a reason an operator can act on.
    pub fn parse(body: &[u8]) -> Result<StageMessage, String> {
        let message: StageMessage =
            serde_json::from_slice(body).map_err(|e| format!("not a stage message: {e}"))?;
        if message.schema_version != STAGE_SCHEMA_VERSION {
            return Err(format!(
                "stage message schema_version {} is not supported (this build reads {STAGE_SCHEMA_VERSION})",
                message.schema_version
            ));
        }
        Ok(message)
    }
}

/// "This practice is now in this state." Routing key `practice.<state>` on `events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeEvent {
    pub schema_version: u32,
    pub practice_id: Uuid,
    pub state: PracticeState,
    pub at: DateTime<Utc>,
}

impl PracticeEvent {
    pub fn new(practice_id: Uuid, state: PracticeState) -> PracticeEvent {
        PracticeEvent {
            schema_version: STAGE_SCHEMA_VERSION,
            practice_id,
            state,
            at: Utc::now(),
        }
    }

    pub fn routing_key(&self) -> String {
        format!("practice.{}", self.state)
    }

    /// The event, ready for the `events` exchange (named `events_exchange` on the broker).
    /// Not mandatory: a state no queue binds (no email, no live feed open) goes nowhere, and
    /// that is no failure.
    pub fn outgoing(&self, events_exchange: &str) -> Outgoing {
        Outgoing {
            mandatory: false,
            ..Outgoing::json(
                events_exchange,
                &self.routing_key(),
                self,
                Some(self.practice_id),
            )
        }
    }
}

/// Routing key on `events` of [`SilenceDue`].
pub const SILENCE_DUE: &str = "procedure.silence_due";

/// "The term of this practice ran out with no outcome, and its type makes silence consent."
/// Published by the timer job's outbox on `events` ([`SILENCE_DUE`]) for the returns worker,
/// which registers the attestation (art. 20 L. 241/1990): it acts on what the database says of
/// the practice and its clock, never on this message alone, so a forged one changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceDue {
    pub schema_version: u32,
    /// Always `silence_due`: tells this message from a back office's return on the same queue.
    pub kind: String,
    pub practice_id: Uuid,
}

impl SilenceDue {
    pub const KIND: &'static str = "silence_due";

    pub fn new(practice_id: Uuid) -> SilenceDue {
        SilenceDue {
            schema_version: STAGE_SCHEMA_VERSION,
            kind: Self::KIND.to_owned(),
            practice_id,
        }
    }

    /// The message, when `body` is one (`None`: some other message).
    pub fn parse(body: &[u8]) -> Option<Result<SilenceDue, String>> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        if value.get("kind").and_then(|k| k.as_str()) != Some(Self::KIND) {
            return None;
        }
        Some(
            serde_json::from_value::<SilenceDue>(value)
                .map_err(|e| format!("not a silence_due message: {e}"))
                .and_then(|m| {
                    if m.schema_version == STAGE_SCHEMA_VERSION {
                        Ok(m)
                    } else {
                        Err(format!(
                            "silence_due schema_version {} is not supported (this build reads {STAGE_SCHEMA_VERSION})",
                            m.schema_version
                        ))
                    }
                }),
        )
    }

    pub fn outgoing(&self, events_exchange: &str) -> Outgoing {
        Outgoing::json(events_exchange, SILENCE_DUE, self, Some(self.practice_id))
    }
}

/// What a stage publishes once `id` has reached `state`: the next stage's message (on the
/// `practice` exchange with `route`), and the event.
pub fn hand_over(
    practice_exchange: &str,
    route: &str,
    events_exchange: &str,
    id: Uuid,
    state: PracticeState,
) -> Vec<Outgoing> {
    vec![
        Outgoing::json(practice_exchange, route, &StageMessage::new(id), Some(id)),
        PracticeEvent::new(id, state).outgoing(events_exchange),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silence_due_message_is_told_from_other_messages() {
        let id = Uuid::new_v4();
        let body = serde_json::to_vec(&SilenceDue::new(id)).unwrap();
        assert_eq!(SilenceDue::parse(&body).unwrap().unwrap().practice_id, id);
        let ret = br#"{"schema_version":1,"return_id":"x","practice_id":"00000000-0000-0000-0000-000000000000"}"#;
        assert!(SilenceDue::parse(ret).is_none());
        assert!(SilenceDue::parse(b"not json").is_none());
        let other = body.clone();
        let other = String::from_utf8(other)
            .unwrap()
            .replace("\"schema_version\":1", "\"schema_version\":9");
        assert!(SilenceDue::parse(other.as_bytes()).unwrap().is_err());
    }

    #[test]
    fn other_versions_and_garbage_are_refused_with_a_reason() {
        let id = Uuid::new_v4();
        let ok = serde_json::to_vec(&StageMessage::new(id)).unwrap();
        assert_eq!(StageMessage::parse(&ok).unwrap().practice_id, id);
        let future = format!(r#"{{"schema_version":2,"practice_id":"{id}"}}"#);
        assert!(
            StageMessage::parse(future.as_bytes())
                .unwrap_err()
                .contains("schema_version 2")
        );
        assert!(
            StageMessage::parse(b"hello")
                .unwrap_err()
                .starts_with("not a stage message")
        );
    }
}
