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
