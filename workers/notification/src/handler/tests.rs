use super::*;
use crate::mailer::Channel;
use chrono::{TimeZone, Utc};
use sportello_shared::domain::email::EmailError;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::domain::submission::Applicant;
use uuid::Uuid;

fn entry(to: &str, at: DateTime<Utc>, details: serde_json::Value) -> HistoryEntry {
    HistoryEntry {
        from: None,
        to: to.to_owned(),
        actor: "backoffice:bo.edilizia".into(),
        details,
        at,
    }
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 10, minute, 0).unwrap()
}

fn event(state: PracticeState, at: DateTime<Utc>) -> PracticeEvent {
    PracticeEvent {
        schema_version: STAGE_SCHEMA_VERSION,
        practice_id: Uuid::from_u128(1),
        state,
        at,
    }
}

#[test]
fn only_the_steps_that_matter_to_the_citizen_send_email() {
    let sending: Vec<&str> = PracticeState::ALL
        .into_iter()
        .filter(|s| concerns_citizen(*s))
        .map(PracticeState::as_str)
        .collect();
    assert_eq!(
        sending,
        [
            "rejected",
            "registered",
            "integration_requested",
            "observations_requested",
            "completed",
            "denied",
            "withdrawn",
            "silent_consent"
        ]
    );
    for state in PracticeState::ALL {
        assert_eq!(
            template_for(state, &serde_json::json!({})).is_some(),
            concerns_citizen(state),
            "{state}"
        );
    }
}

#[test]
fn a_completed_practice_for_pickup_gets_the_pickup_email() {
    use PracticeState::Completed;
    assert_eq!(
        template_for(Completed, &serde_json::json!({"pickup": true})),
        Some(Template::Pickup)
    );
    assert_eq!(
        template_for(Completed, &serde_json::json!({"pickup": false})),
        Some(Template::Outcome)
    );
    assert_eq!(
        template_for(Completed, &serde_json::json!({"outcome": "ok"})),
        Some(Template::Outcome)
    );
}

#[test]
fn a_repeated_state_is_a_new_email_and_a_redelivery_is_the_same_one() {
    use PracticeState::IntegrationRequested as Ir;
    let history = vec![
        entry("received", at(0), serde_json::json!({})),
        entry(Ir.as_str(), at(10), serde_json::json!({"missing": ["A"]})),
        entry("dispatched", at(20), serde_json::json!({})),
        entry(Ir.as_str(), at(30), serde_json::json!({"missing": ["B"]})),
    ];
    let first_event = event(Ir, at(10) + chrono::TimeDelta::milliseconds(40));
    let (name, first) = occurrence(&history, &first_event).unwrap();
    assert_eq!(name, "integration_requested");
    assert_eq!(first.details["missing"][0], "A");
    // Redelivered long after the second request: still the first email.
    let (again, _) = occurrence(&history, &first_event).unwrap();
    assert_eq!(again, name);

    let second_event = event(Ir, at(30) + chrono::TimeDelta::milliseconds(15));
    let (name, second) = occurrence(&history, &second_event).unwrap();
    assert_eq!(name, "integration_requested.2");
    assert_eq!(second.details["missing"][0], "B");

    // A publisher whose clock is a little behind the database's still names its entry.
    let behind = event(Ir, at(30) - chrono::TimeDelta::milliseconds(500));
    assert_eq!(
        occurrence(&history, &behind).unwrap().0,
        "integration_requested.2"
    );
    assert!(occurrence(&history, &event(PracticeState::Denied, at(40))).is_none());
}

fn applicant(email: &str, pec: Option<&str>) -> Applicant {
    Applicant {
        tax_code: "RSSMRA80A01A794X".into(),
        given_name: " Mario ".into(),
        family_name: "Rossi".into(),
        email: email.into(),
        pec: pec.map(str::to_owned),
        company: None,
    }
}

#[test]
fn pec_is_used_only_when_valid_and_configured() {
    let both = applicant("mario@example.it", Some("mario@pec.example.it"));
    let chosen = choose_recipient(&both, true);
    assert_eq!(
        (chosen.channel, chosen.raw.as_str(), chosen.name.as_str()),
        (Channel::Pec, "mario@pec.example.it", "Mario Rossi")
    );
    let chosen = choose_recipient(&both, false);
    assert_eq!(
        (chosen.channel, chosen.raw.as_str()),
        (Channel::Email, "mario@example.it")
    );
    let bad_pec = applicant("mario@example.it", Some("mario@pec"));
    assert_eq!(choose_recipient(&bad_pec, true).channel, Channel::Email);
    let bad = choose_recipient(&applicant("mario(at)example.it", None), true);
    assert_eq!(bad.channel, Channel::Email);
    assert!(bad.address.is_err());
    assert_eq!(bad.raw, "mario(at)example.it");
    let smuggler = choose_recipient(
        &applicant("mario@example.it\r\nBcc: victim@example.com", None),
        false,
    );
    assert_eq!(smuggler.address, Err(EmailError::ForbiddenCharacter));
}

#[test]
fn back_office_details_are_read_leniently() {
    assert_eq!(
        reason_messages(&serde_json::json!([
            {"code": "X", "field": "a", "message": "Primo."},
            "Secondo.",
            42
        ])),
        ["Primo.", "Secondo."]
    );
    assert!(reason_messages(&serde_json::Value::Null).is_empty());
    assert_eq!(italian_date("2026-04-30"), "30/04/2026");
    assert_eq!(italian_date("fine mese"), "fine mese");
    assert_eq!(non_empty(&serde_json::json!("  ")), None);
    assert_eq!(strings(&serde_json::json!(["a", 1, "b"])), ["a", "b"]);
}
