//! The back-office contract, version 1.
//!
//! Sportello publishes [`ToBackOffice`] messages to exchange `backoffice` with the back office's
//! id (`bo.tributi`, …) as routing key; each back office consumes its own queue. Back offices
//! publish [`BackOfficeReturn`] messages to exchange `returns`, routing key `outcome`.
//!
//! Nothing large rides on the broker: documents travel as presigned HTTPS GET links valid for
//! `object_store.link_validity_secs` (hours: a back office fetches on receipt), each with its
//! SHA-256 so the back office can check what it fetched, and the time the link expires.
//! Only a back office's *result* documents come inline (base64), and they must stay small
//! ([`MAX_RESULT_BYTES`]).
//!
//! Rules both sides keep:
//! - `schema_version` is 1; a message with another version is refused, never guessed at.
//! - A back office may receive the same `dispatch_id` twice (redelivery): it is the same request.
//! - Every return carries a `return_id` unique per outcome: Sportello applies a return once, so a
//!   back office may safely publish the same return again when unsure it got through.
//! - A practice that ends `withdrawn` is announced with a [`Withdrawal`]; the back office stops.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const SCHEMA_VERSION: u32 = 1;
/// The most a result document may weigh inline.
pub const MAX_RESULT_BYTES: usize = 4 * 1024 * 1024;
/// The routing key of every return on the `returns` exchange.
pub const RETURN_ROUTING_KEY: &str = "outcome";

/// What a back office receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ToBackOffice {
    Practice(Box<PracticeRequest>),
    Withdrawal(Withdrawal),
    Reminder(Reminder),
}

impl ToBackOffice {
    pub fn parse(body: &[u8]) -> Result<ToBackOffice, String> {
        let version: Versioned =
            serde_json::from_slice(body).map_err(|e| format!("not a back-office message: {e}"))?;
        check_version(version.schema_version)?;
        serde_json::from_slice(body).map_err(|e| format!("not a back-office message: {e}"))
    }
}

#[derive(Deserialize)]
struct Versioned {
    schema_version: u32,
}

fn check_version(version: u32) -> Result<(), String> {
    if version == SCHEMA_VERSION {
        Ok(())
    } else {
        Err(format!(
            "schema_version {version} is not supported (this build reads {SCHEMA_VERSION})"
        ))
    }
}

/// "Handle this practice." One per dispatch; a practice integrated by the citizen comes again
/// with a new `dispatch_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeRequest {
    pub schema_version: u32,
    /// `<practice id>:<n>`, n counting the dispatches of the practice from 1.
    pub dispatch_id: String,
    pub back_office: String,
    pub practice: PracticeFacts,
    pub protocol: ProtocolFacts,
    pub documents: Vec<DocumentLink>,
    pub dispatched_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeFacts {
    pub id: Uuid,
    pub practice_type: String,
    pub subject: String,
    pub channel: String,
    pub applicant: Applicant,
    /// The type-specific data, as the citizen submitted it.
    pub data: serde_json::Value,
    /// Set when this is a citizen's integration: the practice it answers, which is back with
    /// the office (`dispatched`) and is the one every return must name.
    pub integrates: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applicant {
    pub given_name: String,
    pub family_name: String,
    pub tax_code: String,
    pub email: String,
}

/// The registration of the practice in the municipality's register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolFacts {
    pub aoo: String,
    pub register: String,
    pub year: i32,
    /// Seven digits at least, as written in the segnatura.
    pub number: String,
    pub date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentLink {
    /// `primary` (the istanza), `document`, `segnatura` or `receipt` (what the citizen got as
    /// the receipt of presentation).
    pub kind: String,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size: u64,
    /// A presigned GET URL.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// "The citizen withdrew this practice: stop working on it."
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withdrawal {
    pub schema_version: u32,
    pub practice_id: Uuid,
    pub back_office: String,
    /// `citizen` or `operator`.
    pub by: String,
    pub at: DateTime<Utc>,
}

/// "This practice's term (L. 241/1990) is close, or has passed." Sent once per practice and
/// event by the timer job; a redelivery carries the same `reminder_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reminder {
    pub schema_version: u32,
    /// `<practice id>:<kind>`.
    pub reminder_id: String,
    pub practice_id: Uuid,
    pub back_office: String,
    /// `due_soon` or `overdue` (not `kind`: that names the message).
    pub event: String,
    /// The date by which the procedure must end.
    pub due_on: NaiveDate,
    /// The day the timer fired.
    pub fired_on: NaiveDate,
}

/// What a back office answers, on exchange `returns`, routing key `outcome`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackOfficeReturn {
    pub schema_version: u32,
    /// Unique per outcome; the same outcome published twice carries the same id.
    pub return_id: String,
    pub practice_id: Uuid,
    /// The back office answering: must be the one the practice was sent to.
    pub back_office: String,
    pub outcome: ReturnOutcome,
}

impl BackOfficeReturn {
    pub fn parse(body: &[u8]) -> Result<BackOfficeReturn, String> {
        let version: Versioned =
            serde_json::from_slice(body).map_err(|e| format!("not a back-office return: {e}"))?;
        check_version(version.schema_version)?;
        let parsed: BackOfficeReturn =
            serde_json::from_slice(body).map_err(|e| format!("not a back-office return: {e}"))?;
        if parsed.return_id.trim().is_empty() || parsed.return_id.len() > 200 {
            return Err("return_id must be 1 to 200 characters".into());
        }
        Ok(parsed)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReturnOutcome {
    /// The back office has started working on it.
    InProgress,
    /// The citizen must add something by `deadline`.
    IntegrationRequested {
        missing: Vec<String>,
        deadline: NaiveDate,
        message: String,
    },
    /// Preavviso di rigetto (art. 10-bis L. 241/1990): the reasons the office means to refuse
    /// on, in Italian; the citizen has 10 days for observations, and the term stands still
    /// meanwhile. The office then sends its outcome, with or without observations.
    PreavvisoRigetto {
        reasons: Vec<String>,
        #[serde(default)]
        message: String,
    },
    Completed {
        /// The outcome in Italian, for the citizen.
        outcome: String,
        #[serde(default)]
        documents: Vec<ResultDocument>,
    },
    Denied {
        reasons: Vec<String>,
    },
}

/// A small document the back office produced (a certificate, a permit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultDocument {
    pub file_name: String,
    pub media_type: String,
    /// Standard base64 of the bytes.
    pub content_base64: String,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_round_trip_and_other_versions_are_refused() {
        let sent = BackOfficeReturn {
            schema_version: SCHEMA_VERSION,
            return_id: "r-1".into(),
            practice_id: Uuid::new_v4(),
            back_office: "bo.tributi".into(),
            outcome: ReturnOutcome::Denied {
                reasons: vec!["Manca il requisito".into()],
            },
        };
        let body = serde_json::to_vec(&sent).unwrap();
        assert_eq!(BackOfficeReturn::parse(&body).unwrap(), sent);
        let mut future: serde_json::Value = serde_json::from_slice(&body).unwrap();
        future["schema_version"] = 2.into();
        let refused = BackOfficeReturn::parse(&serde_json::to_vec(&future).unwrap()).unwrap_err();
        assert!(refused.contains("schema_version 2"), "{refused}");
        assert!(BackOfficeReturn::parse(b"{}").is_err());
    }

    #[test]
    fn a_reminder_round_trips() {
        let reminder = ToBackOffice::Reminder(Reminder {
            schema_version: SCHEMA_VERSION,
            reminder_id: "p:overdue".into(),
            practice_id: Uuid::nil(),
            back_office: "bo.edilizia".into(),
            event: "overdue".into(),
            due_on: "2026-04-01".parse().unwrap(),
            fired_on: "2026-04-02".parse().unwrap(),
        });
        let body = serde_json::to_vec(&reminder).unwrap();
        assert_eq!(ToBackOffice::parse(&body).unwrap(), reminder);
    }
}
