//! What a handler receives and answers: the delivery as [`Incoming`] (with the sender the
//! broker vouched for), the [`Outcome`] and [`Failure`] it decides, and the headers the
//! plumbing writes on retries and in the error queue.

use crate::broker::{Outgoing, PRACTICE_ID_HEADER, header_text, header_u64, text};
use crate::topology::Topology;
use lapin::message::Delivery;
use lapin::types::FieldTable;

/// How many retry tiers a message has been through.
pub const ATTEMPT_HEADER: &str = "x-sportello-attempt";
/// Why the message is in the error queue.
pub const ERROR_REASON_HEADER: &str = "x-sportello-error-reason";
/// Which worker gave up on it.
pub const ERROR_STAGE_HEADER: &str = "x-sportello-error-stage";
/// The work queue a replay must put it back into.
pub const ERROR_QUEUE_HEADER: &str = "x-sportello-error-queue";
pub const ERROR_AT_HEADER: &str = "x-sportello-error-at";

/// What a handler decided about one message.
#[derive(Debug)]
pub enum Outcome {
    /// The work is committed; publish these, then acknowledge.
    Done(Vec<Outgoing>),
    /// A service this message needs is down or busy: try again later.
    Retry(String),
    /// The message can never succeed as it is: error queue, with this reason.
    Reject(String),
}

impl From<Result<Vec<Outgoing>, Failure>> for Outcome {
    fn from(result: Result<Vec<Outgoing>, Failure>) -> Outcome {
        match result {
            Ok(outputs) => Outcome::Done(outputs),
            Err(Failure::Retry(reason)) => Outcome::Retry(reason),
            Err(Failure::Reject(reason)) => Outcome::Reject(reason),
        }
    }
}

/// Why a handler's work stopped short, sorted the only way the plumbing cares about: can
/// waiting help? Handlers return it with `?` from the store's, the bucket's and their own
/// errors, and turn the result into an [`Outcome`] with `.into()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// A service is down or busy: the message goes through the retry tiers.
    #[error("{0}")]
    Retry(String),
    /// The message can never succeed as it is: error queue, with this reason.
    #[error("{0}")]
    Reject(String),
}

impl Failure {
    /// Retry when the error says waiting may help, reject otherwise; the reason is its text.
    pub fn sorted(transient: bool, reason: impl std::fmt::Display) -> Failure {
        if transient {
            Failure::Retry(reason.to_string())
        } else {
            Failure::Reject(reason.to_string())
        }
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(err: crate::store::StoreError) -> Failure {
        Failure::sorted(err.is_transient(), err)
    }
}

impl From<sqlx::Error> for Failure {
    fn from(err: sqlx::Error) -> Failure {
        Failure::sorted(
            crate::store::is_transient(&err),
            format_args!("database: {err}"),
        )
    }
}

impl From<crate::objects::ObjectError> for Failure {
    fn from(err: crate::objects::ObjectError) -> Failure {
        Failure::sorted(err.is_transient(), err)
    }
}

/// One delivery, as a handler sees it.
#[derive(Debug)]
pub struct Incoming {
    pub body: Vec<u8>,
    pub headers: FieldTable,
    /// Retry tiers already passed through (0 on the first delivery).
    pub attempt: u32,
    /// The broker delivered it before (a crash or lost connection in between).
    pub redelivered: bool,
    pub practice_id: Option<String>,
    /// The `user_id` property: when present, the broker has checked it equals the publisher's
    /// login (RabbitMQ's validated user-ID), so it says who published; absent, nothing does.
    pub user_id: Option<String>,
    /// Who first published it, as the broker vouched: its `user_id`, or — for a message one of
    /// our own parties published again (a retry, a replay from the error queue) — the sender
    /// that party carried over in [`SENDER_HEADER`]. `None` when nobody vouched.
    pub sender: Option<String>,
}

/// Carries a message's vouched sender across our own republishes (retry tiers, error queue,
/// replay), which the broker stamps with the republisher's login instead. Trusted only on
/// messages whose `user_id` is one of our own parties; overwritten on every republish, so a
/// sender cannot smuggle another's name in it.
pub const SENDER_HEADER: &str = "x-sportello-sender";

/// The logins that republish messages on a sender's behalf: the worker kinds, the API and
/// operations (namespaced as the broker knows them). Portals, counters and back offices are
/// senders, never republishers.
pub fn republishers(topology: &Topology, namespace: &str) -> Vec<String> {
    topology
        .workers()
        .map(|w| w.worker.as_str())
        .chain(["api", crate::parties::OPERATIONS])
        .map(|party| crate::parties::user_name(namespace, party))
        .collect()
}

/// The vouched sender of a delivery with these `user_id` and headers (see [`Incoming::sender`]).
pub fn vouched_sender(
    user_id: Option<&str>,
    headers: &FieldTable,
    republishers: &[String],
) -> Option<String> {
    let user = user_id?;
    if republishers.iter().any(|r| r == user) {
        header_text(headers, SENDER_HEADER)
    } else {
        Some(user.to_owned())
    }
}

impl Incoming {
    pub(super) fn from_delivery(delivery: &Delivery, republishers: &[String]) -> Incoming {
        let headers = delivery.properties.headers().clone().unwrap_or_default();
        Incoming {
            attempt: header_u64(&headers, ATTEMPT_HEADER)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            practice_id: header_text(&headers, PRACTICE_ID_HEADER),
            redelivered: delivery.redelivered,
            user_id: delivery
                .properties
                .user_id()
                .as_ref()
                .map(|u| u.as_str().to_owned()),
            sender: vouched_sender(
                delivery.properties.user_id().as_ref().map(|u| u.as_str()),
                &headers,
                republishers,
            ),
            body: delivery.data.clone(),
            headers,
        }
    }

    /// The headers for publishing this message again: the vouched sender carried over (or none).
    pub(super) fn republished_headers(&self) -> FieldTable {
        let mut headers = FieldTable::default();
        for (key, value) in self.headers.inner() {
            if key.as_str() != SENDER_HEADER {
                headers.insert(key.clone(), value.clone());
            }
        }
        if let Some(sender) = &self.sender {
            headers.insert(SENDER_HEADER.into(), text(sender));
        }
        headers
    }
}
