//! The error queues for operators: every failed message, with its stage, reason and attempts;
//! replay puts it back where it failed; discard keeps it, with the operator's reason.
//!
//! # Why messages are parked in PostgreSQL
//! A message waiting in a RabbitMQ queue has no identity an operator could name twice: reading
//! it means taking it, and "peek then requeue" reorders the queue and hands out a different
//! message at the same position next time. So [`sweep`] moves every waiting message of every
//! error queue into `parked_messages` (migration `0004_operations.sql`), whose `id` then names
//! it for good. A message is never lost on the way: the row is committed *before* the message
//! is acked; a crash in between leaves the message in its queue, marked redelivered, and the
//! next sweep recognises it by its fingerprint instead of parking it twice. The tables are
//! `sportello_shared::parked`'s; this module is the broker's side and the operators' rules.
//!
//! A replay publishes the message, with confirm, to the work queue it failed in and records the
//! settlement in the same transaction (rolled back if the broker refuses); a discard records
//! the operator's reason. Rows are never updated or deleted: the database refuses it.

use base64::Engine;
use chrono::{DateTime, Utc};
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString, ShortString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sportello_shared::broker::{
    BrokerError, Outgoing, PRACTICE_ID_HEADER, header_text, header_u64,
};
use sportello_shared::parked::{self, NewParked};
use sportello_shared::topology::{Topology, WorkerQueues};
use sportello_shared::worker::{
    ATTEMPT_HEADER, ERROR_AT_HEADER, ERROR_QUEUE_HEADER, ERROR_REASON_HEADER, ERROR_STAGE_HEADER,
};
use sqlx::PgPool;
use uuid::Uuid;

/// Set on a replayed message: the parked message it came from.
pub const REPLAYED_FROM_HEADER: &str = "x-sportello-replayed-from";

/// The most messages one sweep takes from one queue, so that a flood cannot hold a request.
const SWEEP_LIMIT: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("no parked message {0}")]
    NotFound(i64),
    #[error("parked message {id} was already {action} by {operator} at {at}")]
    AlreadySettled {
        id: i64,
        action: String,
        operator: String,
        at: DateTime<Utc>,
    },
    #[error("a discard needs a reason")]
    MissingReason,
    #[error("an operator must be named")]
    MissingOperator,
    #[error("{0}")]
    Broker(#[from] BrokerError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<lapin::Error> for DlqError {
    fn from(err: lapin::Error) -> DlqError {
        DlqError::Broker(BrokerError::Amqp(err))
    }
}

pub use sportello_shared::parked::{Parked, Settlement};

/// A parked message with its content.
#[derive(Debug, Clone, Serialize)]
pub struct ParkedDetail {
    #[serde(flatten)]
    pub parked: Parked,
    pub headers: serde_json::Value,
    pub body: BodyView,
}

/// The body as bytes (base64) and, when it is JSON, as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct BodyView {
    pub size_bytes: usize,
    pub json: Option<serde_json::Value>,
    pub base64: String,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct SweepReport {
    /// Messages moved from the error queues into the parking table by this sweep.
    pub parked: usize,
    /// Redelivered messages found already parked (a previous sweep died before its ack).
    pub already_parked: usize,
}

/// Sweeps on a channel of its own, closed once done: what the API and the cruscotto do before
/// they list the parked messages.
pub async fn sweep_now(state: &crate::ApiState) -> Result<SweepReport, DlqError> {
    let services = state.services();
    let channel = state.link().channel().await?;
    let swept = sweep(services.store.pool(), &services.topology, &channel).await;
    let _ = channel.close(200, "swept".into()).await;
    swept
}

/// Moves every message waiting in the error queues into the parking table.
pub async fn sweep(
    pool: &PgPool,
    topology: &Topology,
    channel: &Channel,
) -> Result<SweepReport, DlqError> {
    let mut report = SweepReport::default();
    for worker in topology.workers() {
        for _ in 0..SWEEP_LIMIT {
            let Some(message) = channel
                .basic_get(
                    worker.error_queue.as_str().into(),
                    BasicGetOptions::default(),
                )
                .await?
            else {
                break;
            };
            let delivery = message.delivery;
            match park(pool, worker, &delivery).await {
                Ok(true) => report.parked += 1,
                Ok(false) => report.already_parked += 1,
                Err(err) => {
                    // Not parked: it goes back to its queue, nothing is lost.
                    let _ = delivery
                        .nack(BasicNackOptions {
                            requeue: true,
                            ..BasicNackOptions::default()
                        })
                        .await;
                    return Err(err);
                }
            }
            delivery.ack(BasicAckOptions::default()).await?;
        }
    }
    Ok(report)
}

/// Records one delivery; `false` when a redelivered message turns out to be parked already.
async fn park(pool: &PgPool, worker: &WorkerQueues, delivery: &Delivery) -> Result<bool, DlqError> {
    let headers = delivery.properties.headers().clone().unwrap_or_default();
    let readable = table_json(&headers);
    let fingerprint = fingerprint(&worker.error_queue, &readable, &delivery.data);
    // Only a message handed out before can have been parked before; a first delivery is always
    // new, even if an identical message was parked earlier.
    if delivery.redelivered && parked::is_parked(pool, &fingerprint).await? {
        return Ok(false);
    }
    let attempts = header_u64(&headers, ATTEMPT_HEADER)
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or(0);
    parked::insert(
        pool,
        &NewParked {
            error_queue: &worker.error_queue,
            work_queue: header_text(&headers, ERROR_QUEUE_HEADER)
                .unwrap_or_else(|| worker.queue.clone()),
            stage: header_text(&headers, ERROR_STAGE_HEADER)
                .unwrap_or_else(|| worker.worker.clone()),
            reason: failure_reason(&headers),
            attempts,
            failed_at: failed_at(&headers, delivery),
            practice_id: header_text(&headers, PRACTICE_ID_HEADER)
                .and_then(|id| id.parse::<Uuid>().ok()),
            message_id: delivery
                .properties
                .message_id()
                .as_ref()
                .map(|id| id.to_string()),
            body: &delivery.data,
            headers: &readable,
            fingerprint: &fingerprint,
        },
    )
    .await?;
    Ok(true)
}

/// Identifies a message across redeliveries: the broker adds `x-delivery-count` when it hands
/// a message out again, so that header is left out.
fn fingerprint(queue: &str, headers: &serde_json::Value, body: &[u8]) -> String {
    let mut stable = headers.clone();
    if let Some(map) = stable.as_object_mut() {
        map.remove("x-delivery-count");
    }
    let mut hasher = Sha256::new();
    hasher.update(queue.as_bytes());
    hasher.update([0]);
    hasher.update(stable.to_string().as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// Our own reason header, or what the broker says when it dead-lettered the message itself
/// (the work queue's delivery limit: the message kept crashing or stalling its worker).
fn failure_reason(headers: &FieldTable) -> String {
    if let Some(reason) = header_text(headers, ERROR_REASON_HEADER) {
        return reason;
    }
    let deaths = match headers.inner().get("x-death") {
        Some(AMQPValue::FieldArray(deaths)) => deaths.as_slice().to_vec(),
        _ => Vec::new(),
    };
    for death in &deaths {
        if let AMQPValue::FieldTable(death) = death {
            let reason = header_text(death, "reason").unwrap_or_default();
            if reason == "expired" {
                continue; // a retry tier's delay, not a failure
            }
            let queue = header_text(death, "queue").unwrap_or_default();
            let count = header_u64(death, "count").unwrap_or(1);
            return if reason == "delivery_limit" {
                format!(
                    "delivered {count} time(s) from {queue} without being settled: it kept crashing or stalling its worker (delivery limit)"
                )
            } else {
                format!("dead-lettered by the broker from {queue}: {reason}")
            };
        }
    }
    "no reason recorded".to_owned()
}

fn failed_at(headers: &FieldTable, delivery: &Delivery) -> Option<DateTime<Utc>> {
    if let Some(at) =
        header_text(headers, ERROR_AT_HEADER).and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
    {
        return Some(at.with_timezone(&Utc));
    }
    delivery
        .properties
        .timestamp()
        .and_then(|seconds| DateTime::from_timestamp(i64::try_from(seconds).ok()?, 0))
}

/// The parked messages, oldest first: only those waiting for an operator unless `settled_too`;
/// only one stage's when `stage` is given.
pub async fn list(
    pool: &PgPool,
    settled_too: bool,
    stage: Option<&str>,
) -> Result<Vec<Parked>, DlqError> {
    Ok(parked::list(pool, settled_too, stage).await?)
}

/// One parked message with its headers and body.
pub async fn show(pool: &PgPool, id: i64) -> Result<ParkedDetail, DlqError> {
    let found = parked::find(pool, id)
        .await?
        .ok_or(DlqError::NotFound(id))?;
    let (headers, body) = parked::content(pool, id).await?;
    Ok(ParkedDetail {
        parked: found,
        headers,
        body: BodyView {
            size_bytes: body.len(),
            json: serde_json::from_slice(&body).ok(),
            base64: base64::engine::general_purpose::STANDARD.encode(&body),
        },
    })
}

/// What publishing a replay needs: a confirming publisher (the CLI's own connection, or the
/// HTTP service's shared one).
pub trait ReplayPublisher {
    fn publish(&self, message: &Outgoing) -> impl Future<Output = Result<(), BrokerError>> + Send;
}

impl ReplayPublisher for sportello_shared::broker::Publisher {
    async fn publish(&self, message: &Outgoing) -> Result<(), BrokerError> {
        sportello_shared::broker::Publisher::publish(self, message).await
    }
}

impl ReplayPublisher for crate::link::BrokerLink {
    async fn publish(&self, message: &Outgoing) -> Result<(), BrokerError> {
        crate::link::BrokerLink::publish(self, message).await
    }
}

/// Puts a parked message back into the work queue it failed in, with its retry count reset;
/// the settlement commits only once the broker has confirmed the message.
pub async fn replay(
    pool: &PgPool,
    publisher: &impl ReplayPublisher,
    id: i64,
    operator: &str,
) -> Result<Parked, DlqError> {
    if operator.trim().is_empty() {
        return Err(DlqError::MissingOperator);
    }
    let mut tx = pool.begin().await?;
    parked::lock(&mut tx, id).await?;
    let source = parked::replay_source(&mut tx, id)
        .await?
        .ok_or(DlqError::NotFound(id))?;
    settle(&mut tx, id, "replayed", operator, None).await?;
    let message = Outgoing {
        exchange: String::new(),
        routing_key: source.work_queue,
        body: source.body,
        headers: replay_headers(&source.headers, id),
        message_id: source.message_id,
        mandatory: true,
    };
    publisher.publish(&message).await?;
    tx.commit().await?;
    Ok(show(pool, id).await?.parked)
}

/// Records that an operator gave up on a parked message, and why; the message stays readable.
pub async fn discard(
    pool: &PgPool,
    id: i64,
    operator: &str,
    reason: &str,
) -> Result<Parked, DlqError> {
    if reason.trim().is_empty() {
        return Err(DlqError::MissingReason);
    }
    if operator.trim().is_empty() {
        return Err(DlqError::MissingOperator);
    }
    let mut tx = pool.begin().await?;
    parked::lock(&mut tx, id).await?;
    if !parked::exists(&mut tx, id).await? {
        return Err(DlqError::NotFound(id));
    }
    settle(&mut tx, id, "discarded", operator, Some(reason.trim())).await?;
    tx.commit().await?;
    Ok(show(pool, id).await?.parked)
}

/// Inserts the settlement, or reports the one that got there first.
async fn settle(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    id: i64,
    action: &str,
    operator: &str,
    reason: Option<&str>,
) -> Result<(), DlqError> {
    match parked::settle(tx, id, action, operator, reason).await? {
        None => Ok(()),
        Some(prior) => Err(DlqError::AlreadySettled {
            id,
            action: prior.action,
            operator: prior.operator,
            at: prior.at,
        }),
    }
}

/// The original headers without the failure's traces, the retry count back to zero, and the
/// parked id it came from (the parking table keeps the failure's history).
fn replay_headers(headers: &serde_json::Value, id: i64) -> FieldTable {
    let mut table = FieldTable::default();
    if let Some(map) = headers.as_object() {
        for (key, value) in map {
            let dropped = matches!(
                key.as_str(),
                ERROR_REASON_HEADER
                    | ERROR_STAGE_HEADER
                    | ERROR_QUEUE_HEADER
                    | ERROR_AT_HEADER
                    | ATTEMPT_HEADER
                    | REPLAYED_FROM_HEADER
                    | "x-death"
                    | "x-delivery-count"
            ) || key.starts_with("x-first-death-")
                || key.starts_with("x-last-death-");
            if !dropped {
                table.insert(ShortString::from(key.as_str()), json_to_amqp(value));
            }
        }
    }
    table.insert(ATTEMPT_HEADER.into(), AMQPValue::LongUInt(0));
    table.insert(REPLAYED_FROM_HEADER.into(), AMQPValue::LongLongInt(id));
    table
}

/// AMQP headers as readable JSON: strings, numbers, booleans, arrays, objects; bytes that are
/// not UTF-8 as `{"base64": …}`.
pub fn table_json(table: &FieldTable) -> serde_json::Value {
    serde_json::Value::Object(
        table
            .inner()
            .iter()
            .map(|(key, value)| (key.as_str().to_owned(), value_json(value)))
            .collect(),
    )
}

fn bytes_json(bytes: &[u8]) -> serde_json::Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::Value::String(text.to_owned()),
        Err(_) => {
            serde_json::json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) })
        }
    }
}

fn value_json(value: &AMQPValue) -> serde_json::Value {
    use serde_json::json;
    match value {
        AMQPValue::Boolean(b) => json!(b),
        AMQPValue::ShortShortInt(n) => json!(n),
        AMQPValue::ShortShortUInt(n) => json!(n),
        AMQPValue::ShortInt(n) => json!(n),
        AMQPValue::ShortUInt(n) => json!(n),
        AMQPValue::LongInt(n) => json!(n),
        AMQPValue::LongUInt(n) => json!(n),
        AMQPValue::LongLongInt(n) => json!(n),
        AMQPValue::Float(n) => json!(n),
        AMQPValue::Double(n) => json!(n),
        AMQPValue::DecimalValue(d) => json!({ "scale": d.scale, "value": d.value }),
        AMQPValue::ShortString(s) => json!(s.as_str()),
        AMQPValue::LongString(s) => bytes_json(s.as_bytes()),
        AMQPValue::FieldArray(items) => {
            serde_json::Value::Array(items.as_slice().iter().map(value_json).collect())
        }
        AMQPValue::Timestamp(t) => json!(t),
        AMQPValue::FieldTable(table) => table_json(table),
        AMQPValue::ByteArray(bytes) => {
            json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes.as_slice()) })
        }
        AMQPValue::Void => serde_json::Value::Null,
    }
}

fn json_to_amqp(value: &serde_json::Value) -> AMQPValue {
    match value {
        serde_json::Value::Null => AMQPValue::Void,
        serde_json::Value::Bool(b) => AMQPValue::Boolean(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => AMQPValue::LongLongInt(i),
            (None, Some(f)) => AMQPValue::Double(f),
            (None, None) => AMQPValue::LongString(LongString::from(n.to_string())),
        },
        serde_json::Value::String(s) => AMQPValue::LongString(LongString::from(s.as_str())),
        serde_json::Value::Array(items) => AMQPValue::FieldArray(FieldArray::from(
            items.iter().map(json_to_amqp).collect::<Vec<_>>(),
        )),
        serde_json::Value::Object(map) => {
            let mut table = FieldTable::default();
            for (key, value) in map {
                table.insert(ShortString::from(key.as_str()), json_to_amqp(value));
            }
            AMQPValue::FieldTable(table)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sportello_shared::broker::text;

    fn failed_headers() -> FieldTable {
        let mut headers = FieldTable::default();
        headers.insert(
            PRACTICE_ID_HEADER.into(),
            text("8f8b1f0e-0000-4000-8000-000000000001"),
        );
        headers.insert(
            ERROR_REASON_HEADER.into(),
            text("gave up after 4 retries: S3 down"),
        );
        headers.insert(ERROR_STAGE_HEADER.into(), text("intake"));
        headers.insert(ERROR_QUEUE_HEADER.into(), text("sportello.intake"));
        headers.insert(ERROR_AT_HEADER.into(), text("2026-03-02T10:00:00Z"));
        headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongUInt(4));
        headers
    }

    #[test]
    fn a_replay_keeps_the_message_and_drops_the_failure() {
        let readable = table_json(&failed_headers());
        let replayed = replay_headers(&readable, 42);
        assert_eq!(
            header_text(&replayed, PRACTICE_ID_HEADER).as_deref(),
            Some("8f8b1f0e-0000-4000-8000-000000000001")
        );
        assert_eq!(header_u64(&replayed, ATTEMPT_HEADER), Some(0));
        assert_eq!(header_u64(&replayed, REPLAYED_FROM_HEADER), Some(42));
        for gone in [
            ERROR_REASON_HEADER,
            ERROR_STAGE_HEADER,
            ERROR_QUEUE_HEADER,
            ERROR_AT_HEADER,
        ] {
            assert!(header_text(&replayed, gone).is_none(), "{gone}");
        }
    }

    #[test]
    fn the_fingerprint_ignores_the_redelivery_count_only() {
        let mut headers = table_json(&failed_headers());
        let first = fingerprint("q.errors", &headers, b"{}");
        headers["x-delivery-count"] = serde_json::json!(1);
        assert_eq!(fingerprint("q.errors", &headers, b"{}"), first);
        assert_ne!(fingerprint("q.errors", &headers, b"{ }"), first);
        assert_ne!(fingerprint("other.errors", &headers, b"{}"), first);
    }

    #[test]
    fn a_broker_dead_letter_gets_a_reason_from_x_death() {
        let mut expired = FieldTable::default();
        expired.insert("reason".into(), text("expired"));
        expired.insert("queue".into(), text("q.retry.5s"));
        let mut limit = FieldTable::default();
        limit.insert("reason".into(), text("delivery_limit"));
        limit.insert("queue".into(), text("q"));
        limit.insert("count".into(), AMQPValue::LongLongInt(1));
        let mut headers = FieldTable::default();
        headers.insert(
            "x-death".into(),
            AMQPValue::FieldArray(FieldArray::from(vec![
                AMQPValue::FieldTable(expired),
                AMQPValue::FieldTable(limit),
            ])),
        );
        let reason = failure_reason(&headers);
        assert!(reason.contains("delivery limit"), "{reason}");
        assert!(reason.contains("from q "), "{reason}");
        assert_eq!(failure_reason(&FieldTable::default()), "no reason recorded");
    }

    #[test]
    fn headers_round_trip_through_json() {
        let mut nested = FieldTable::default();
        nested.insert("n".into(), AMQPValue::LongLongInt(-3));
        let mut headers = FieldTable::default();
        headers.insert("s".into(), text("è"));
        headers.insert("b".into(), AMQPValue::Boolean(true));
        headers.insert("t".into(), AMQPValue::FieldTable(nested));
        let json = table_json(&headers);
        assert_eq!(json["s"], "è");
        assert_eq!(json["t"]["n"], -3);
        let AMQPValue::FieldTable(back) = json_to_amqp(&json) else {
            panic!("an object becomes a table");
        };
        assert_eq!(table_json(&back), json);
    }
}
