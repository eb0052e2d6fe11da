//! The life of a practice (brief §4), in one place.
//!
//! Every transition any worker, operator or back office asks for goes through
//! [`PracticeState::can_move_to`]; the store refuses what this table does not allow. The state
//! names are part of the public API (folder, HTTP, events): never rename them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PracticeState {
    Received,
    Validated,
    Rejected,
    Registered,
    Stored,
    Dispatched,
    InProgress,
    IntegrationRequested,
    /// A preavviso di rigetto (art. 10-bis L. 241/1990): the office has told the citizen why it
    /// means to refuse, and waits (10 days at most) for their observations.
    ObservationsRequested,
    Completed,
    Denied,
    Withdrawn,
    Delivered,
    /// Silenzio-assenso (art. 20 L. 241/1990): the term of a type whose silence is consent ran
    /// out with no outcome from the office; the application is granted by law, and the register
    /// holds the attestation (c.2-bis) sent to the citizen.
    SilentConsent,
}

impl PracticeState {
    pub const ALL: [PracticeState; 14] = [
        Self::Received,
        Self::Validated,
        Self::Rejected,
        Self::Registered,
        Self::Stored,
        Self::Dispatched,
        Self::InProgress,
        Self::IntegrationRequested,
        Self::ObservationsRequested,
        Self::Completed,
        Self::Denied,
        Self::Withdrawn,
        Self::Delivered,
        Self::SilentConsent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Validated => "validated",
            Self::Rejected => "rejected",
            Self::Registered => "registered",
            Self::Stored => "stored",
            Self::Dispatched => "dispatched",
            Self::InProgress => "in_progress",
            Self::IntegrationRequested => "integration_requested",
            Self::ObservationsRequested => "observations_requested",
            Self::Completed => "completed",
            Self::Denied => "denied",
            Self::Withdrawn => "withdrawn",
            Self::Delivered => "delivered",
            Self::SilentConsent => "silent_consent",
        }
    }

    /// No transition leaves a terminal state. `completed` is not terminal: a physical product
    /// still has to be handed over at the counter (`delivered`).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Rejected | Self::Denied | Self::Withdrawn | Self::Delivered | Self::SilentConsent
        )
    }

    /// Whether the state machine allows `self → next`.
    pub fn can_move_to(self, next: PracticeState) -> bool {
        use PracticeState::*;
        match (self, next) {
            (Received, Validated | Rejected) => true,
            (Validated, Registered) => true,
            (Registered, Stored) => true,
            // An integration (or the citizen's observations) goes back to the back office once
            // registered and stored again.
            (Stored | IntegrationRequested | ObservationsRequested, Dispatched) => true,
            (Dispatched, InProgress) => true,
            (
                Dispatched | InProgress,
                IntegrationRequested | ObservationsRequested | Completed | Denied,
            ) => true,
            // Ten days without observations: the office decides all the same.
            (ObservationsRequested, Completed | Denied) => true,
            (Completed, Delivered) => true,
            // The term ran out while the office held the practice (a suspension that ran its
            // course counts as over): silence is consent for the types whose catalog says so.
            (
                Dispatched | InProgress | IntegrationRequested | ObservationsRequested,
                SilentConsent,
            ) => true,
            // The citizen may withdraw until there is an outcome.
            (
                Received
                | Validated
                | Registered
                | Stored
                | Dispatched
                | InProgress
                | IntegrationRequested
                | ObservationsRequested,
                Withdrawn,
            ) => true,
            _ => false,
        }
    }
}

impl fmt::Display for PracticeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown practice state `{0}`")]
pub struct UnknownState(String);

impl FromStr for PracticeState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::PracticeState::{self, *};

    #[test]
    fn names_round_trip() {
        for state in PracticeState::ALL {
            assert_eq!(state.as_str().parse::<PracticeState>().unwrap(), state);
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
    }

    #[test]
    fn happy_path_is_allowed_in_order() {
        let path = [
            Received, Validated, Registered, Stored, Dispatched, InProgress, Completed, Delivered,
        ];
        for pair in path.windows(2) {
            assert!(pair[0].can_move_to(pair[1]), "{} → {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for from in PracticeState::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in PracticeState::ALL {
                assert!(!from.can_move_to(to), "{from} → {to} must be refused");
            }
        }
    }

    #[test]
    fn a_preavviso_waits_for_observations_then_the_office_decides() {
        assert!(InProgress.can_move_to(ObservationsRequested));
        assert!(ObservationsRequested.can_move_to(Dispatched));
        assert!(ObservationsRequested.can_move_to(Denied));
        assert!(ObservationsRequested.can_move_to(Withdrawn));
        assert!(!ObservationsRequested.can_move_to(IntegrationRequested));
        assert!(!Stored.can_move_to(ObservationsRequested));
    }

    #[test]
    fn silence_is_consent_only_while_the_office_holds_the_practice() {
        for from in [
            Dispatched,
            InProgress,
            IntegrationRequested,
            ObservationsRequested,
        ] {
            assert!(from.can_move_to(SilentConsent), "{from}");
        }
        // Before the office has it, the delay is the fleet's; after an outcome, there is one.
        for from in [
            Received, Validated, Registered, Stored, Completed, Denied, Withdrawn,
        ] {
            assert!(!from.can_move_to(SilentConsent), "{from}");
        }
        assert!(SilentConsent.is_terminal());
    }

    #[test]
    fn skipping_a_stage_is_refused() {
        assert!(!Received.can_move_to(Registered));
        assert!(!Validated.can_move_to(Dispatched));
        assert!(!Rejected.can_move_to(Validated));
        assert!(!Completed.can_move_to(Withdrawn));
        assert!(!Received.can_move_to(Received));
    }
}
