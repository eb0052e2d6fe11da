//! Which email an event calls for, and to whom: pure decisions the handler takes before it
//! reads anything else (unit-tested in `handler/tests.rs`).

use super::CLOCK_SLACK;
use crate::mailer::Channel;
use crate::templates::Template;
use sportello_shared::domain::email::{EmailAddress, EmailError};
use sportello_shared::domain::state::PracticeState;
use sportello_shared::domain::submission::Applicant;
use sportello_shared::messages::PracticeEvent;
use sportello_shared::store::HistoryEntry;

/// Whether the citizen hears about this state.
pub fn concerns_citizen(state: PracticeState) -> bool {
    use PracticeState::*;
    match state {
        Registered
        | Rejected
        | IntegrationRequested
        | ObservationsRequested
        | Completed
        | Denied
        | Withdrawn
        | SilentConsent => true,
        Received | Validated | Stored | Dispatched | InProgress | Delivered => false,
    }
}

/// The email a state calls for; `completed` depends on how the product reaches the citizen.
pub fn template_for(state: PracticeState, details: &serde_json::Value) -> Option<Template> {
    use PracticeState::*;
    Some(match state {
        Registered => Template::Receipt,
        Rejected => Template::Rejection,
        IntegrationRequested => Template::IntegrationRequest,
        ObservationsRequested => Template::Preavviso,
        Completed if details["pickup"].as_bool() == Some(true) => Template::Pickup,
        Completed => Template::Outcome,
        Denied => Template::Denial,
        Withdrawn => Template::Withdrawal,
        SilentConsent => Template::SilentConsent,
        _ => return None,
    })
}

/// The history entry an event announced, and the event's name in the notifications table.
///
/// A state the practice enters again (a second integration request) is a second email: its
/// name carries the ordinal (`integration_requested.2`). The ordinal counts the entries into
/// that state up to the event's time, so a redelivered event always names the same one.
pub fn occurrence<'h>(
    history: &'h [HistoryEntry],
    event: &PracticeEvent,
) -> Option<(String, &'h HistoryEntry)> {
    let state = event.state.as_str();
    let entries: Vec<&HistoryEntry> = history.iter().filter(|h| h.to == state).collect();
    let horizon = event.at + CLOCK_SLACK;
    let ordinal = entries.iter().filter(|h| h.at <= horizon).count().max(1);
    let entry = *entries.get(ordinal - 1)?;
    let name = if ordinal == 1 {
        state.to_owned()
    } else {
        format!("{state}.{ordinal}")
    };
    Some((name, entry))
}

/// Where the email goes: the PEC address when the citizen gave a valid one and a PEC relay is
/// configured, the ordinary address otherwise.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub channel: Channel,
    /// As the citizen typed it (trimmed): what the record stores.
    pub raw: String,
    pub address: Result<EmailAddress, EmailError>,
    pub name: String,
}

pub fn choose_recipient(applicant: &Applicant, pec_relay: bool) -> Recipient {
    let name = format!(
        "{} {}",
        applicant.given_name.trim(),
        applicant.family_name.trim()
    )
    .trim()
    .to_owned();
    if pec_relay && let Some(Ok(pec)) = applicant.pec.as_deref().map(EmailAddress::parse) {
        return Recipient {
            channel: Channel::Pec,
            raw: pec.as_str().to_owned(),
            address: Ok(pec),
            name,
        };
    }
    let raw = applicant.email.trim().to_owned();
    Recipient {
        channel: Channel::Email,
        address: EmailAddress::parse(&raw),
        raw,
        name,
    }
}
