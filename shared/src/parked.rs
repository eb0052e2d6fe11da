//! The error-queue archive (migration `0004_operations.sql`): `parked_messages`, every failed
//! message taken out of an error queue, and `parked_message_settlements`, what an operator did
//! with it (replayed or discarded, by whom, why). Append-only: the database refuses UPDATE and
//! DELETE, so a settlement is serialised by an advisory lock ([`lock`]), not a row lock.
//!
//! This module owns both tables; the operators' tools (`sportello dlq`, the HTTP API's `/dlq`)
//! and the metrics read and write them only through it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

type Tx = Transaction<'static, Postgres>;

/// How a parked message was settled.
#[derive(Debug, Clone, Serialize)]
pub struct Settlement {
    pub action: String,
    pub operator: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// A parked message as listed: what failed, where, why.
#[derive(Debug, Clone, Serialize)]
pub struct Parked {
    pub id: i64,
    pub stage: String,
    pub error_queue: String,
    pub work_queue: String,
    pub reason: String,
    pub attempts: i32,
    pub failed_at: Option<DateTime<Utc>>,
    pub practice_id: Option<Uuid>,
    pub message_id: Option<String>,
    pub parked_at: DateTime<Utc>,
    /// `parked` (waiting for an operator), `replayed` or `discarded`.
    pub status: String,
    pub settlement: Option<Settlement>,
}

/// A failed message about to be parked.
#[derive(Debug, Clone)]
pub struct NewParked<'a> {
    pub error_queue: &'a str,
    pub work_queue: String,
    pub stage: String,
    pub reason: String,
    pub attempts: i32,
    pub failed_at: Option<DateTime<Utc>>,
    pub practice_id: Option<Uuid>,
    pub message_id: Option<String>,
    pub body: &'a [u8],
    pub headers: &'a serde_json::Value,
    /// What recognises the message across redeliveries.
    pub fingerprint: &'a str,
}

/// Whether a message with this fingerprint is parked already.
pub async fn is_parked(pool: &PgPool, fingerprint: &str) -> Result<bool, sqlx::Error> {
    let seen: Option<i64> =
        sqlx::query_scalar("SELECT id FROM parked_messages WHERE fingerprint = $1 LIMIT 1")
            .bind(fingerprint)
            .fetch_optional(pool)
            .await?;
    Ok(seen.is_some())
}

/// Parks one message.
pub async fn insert(pool: &PgPool, new: &NewParked<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO parked_messages (error_queue, work_queue, stage, reason, attempts, failed_at, \
         practice_id, message_id, body, headers, fingerprint) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(new.error_queue)
    .bind(&new.work_queue)
    .bind(&new.stage)
    .bind(&new.reason)
    .bind(new.attempts)
    .bind(new.failed_at)
    .bind(new.practice_id)
    .bind(&new.message_id)
    .bind(new.body)
    .bind(new.headers)
    .bind(new.fingerprint)
    .execute(pool)
    .await?;
    Ok(())
}

const SELECT_PARKED: &str = "SELECT p.id, p.stage, p.error_queue, p.work_queue, p.reason, p.attempts, \
     p.failed_at, p.practice_id, p.message_id, p.parked_at, \
     s.action, s.operator, s.reason AS settlement_reason, s.at AS settled_at \
     FROM parked_messages p LEFT JOIN parked_message_settlements s ON s.parked_id = p.id ";

fn parked_from_row(row: &sqlx::postgres::PgRow) -> Parked {
    let action: Option<String> = row.get("action");
    let settlement = action.map(|action| Settlement {
        action,
        operator: row.get("operator"),
        reason: row.get("settlement_reason"),
        at: row.get("settled_at"),
    });
    Parked {
        id: row.get("id"),
        stage: row.get("stage"),
        error_queue: row.get("error_queue"),
        work_queue: row.get("work_queue"),
        reason: row.get("reason"),
        attempts: row.get("attempts"),
        failed_at: row.get("failed_at"),
        practice_id: row.get("practice_id"),
        message_id: row.get("message_id"),
        parked_at: row.get("parked_at"),
        status: settlement
            .as_ref()
            .map_or_else(|| "parked".to_owned(), |s| s.action.clone()),
        settlement,
    }
}

/// The parked messages, oldest first: only those waiting for an operator unless `settled_too`;
/// only one stage's when `stage` is given.
pub async fn list(
    pool: &PgPool,
    settled_too: bool,
    stage: Option<&str>,
) -> Result<Vec<Parked>, sqlx::Error> {
    let sql = format!(
        "{SELECT_PARKED} WHERE ($1 OR s.parked_id IS NULL) AND ($2::text IS NULL OR p.stage = $2) \
         ORDER BY p.id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(settled_too)
        .bind(stage)
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(parked_from_row).collect())
}

/// One parked message with its settlement, or `None` when there is no such message.
pub async fn find(pool: &PgPool, id: i64) -> Result<Option<Parked>, sqlx::Error> {
    let sql = format!("{SELECT_PARKED} WHERE p.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(parked_from_row))
}

/// A parked message's headers (as JSON) and body.
pub async fn content(pool: &PgPool, id: i64) -> Result<(serde_json::Value, Vec<u8>), sqlx::Error> {
    sqlx::query_as("SELECT headers, body FROM parked_messages WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
}

/// The messages waiting for an operator, counted by stage (stage order).
pub async fn waiting_by_stage(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.stage, count(*) FROM parked_messages p \
         LEFT JOIN parked_message_settlements s ON s.parked_id = p.id \
         WHERE s.parked_id IS NULL GROUP BY p.stage ORDER BY p.stage",
    )
    .fetch_all(pool)
    .await
}

/// The advisory-lock class of parked messages (an arbitrary constant: "PM").
const PARKED_LOCK_CLASS: i32 = 0x504d;

/// Serialises the settlements of one parked message until the transaction ends. A row lock
/// (`FOR UPDATE`) would need UPDATE on the error-queue archive, which the runtime role does
/// not have: that archive is append-only.
pub async fn lock(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(PARKED_LOCK_CLASS)
        .bind((id % i64::from(i32::MAX)) as i32)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// What a replay republishes: where the message failed, and the message itself.
#[derive(Debug, Clone)]
pub struct ReplaySource {
    pub work_queue: String,
    pub message_id: Option<String>,
    pub body: Vec<u8>,
    pub headers: serde_json::Value,
}

/// The parked message `id` as a replay needs it, or `None` when there is no such message.
pub async fn replay_source(tx: &mut Tx, id: i64) -> Result<Option<ReplaySource>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT work_queue, message_id, body, headers FROM parked_messages WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|row| ReplaySource {
        work_queue: row.get("work_queue"),
        message_id: row.get("message_id"),
        body: row.get("body"),
        headers: row.get("headers"),
    }))
}

/// Whether the parked message `id` exists.
pub async fn exists(tx: &mut Tx, id: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM parked_messages WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(found.is_some())
}

/// The settlement that got there first.
#[derive(Debug, Clone)]
pub struct PriorSettlement {
    pub action: String,
    pub operator: String,
    pub at: DateTime<Utc>,
}

/// Inserts the settlement (`operator` trimmed); `Some` with the one that got there first when
/// the message was already settled.
pub async fn settle(
    tx: &mut Tx,
    id: i64,
    action: &str,
    operator: &str,
    reason: Option<&str>,
) -> Result<Option<PriorSettlement>, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO parked_message_settlements (parked_id, action, operator, reason) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (parked_id) DO NOTHING",
    )
    .bind(id)
    .bind(action)
    .bind(operator.trim())
    .bind(reason)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT action, operator, at FROM parked_message_settlements WHERE parked_id = $1",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Some(PriorSettlement {
        action: row.get("action"),
        operator: row.get("operator"),
        at: row.get("at"),
    }))
}
