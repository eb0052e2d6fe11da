//! The folder as other crates read it: the practices of a citizen, one practice's row, its
//! documents, its history from a `seq` on (the HTTP API), how often it entered a state
//! (dispatch), and the cruscotto's lists (counts by state, ready for pickup, in a state). Read-only, over a bare pool, each query named here so that no crate outside the
//! folder names its tables (`practices`, `practice_documents`, `practice_history`).

use crate::domain::state::PracticeState;
use crate::domain::tax_code::FiledTaxCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// One practice as the citizen's list shows it.
#[derive(Debug, Clone)]
pub struct PracticeRow {
    pub id: Uuid,
    pub practice_type: String,
    pub subject: String,
    pub state: String,
    pub channel: String,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The practices of `tax_code`, oldest first (received, then id).
pub async fn practices_of(
    pool: &PgPool,
    tax_code: &FiledTaxCode,
) -> Result<Vec<PracticeRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, practice_type, subject, state, channel, received_at, updated_at \
         FROM practices WHERE tax_code = $1 ORDER BY received_at, id",
    )
    .bind(tax_code)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| PracticeRow {
            id: row.get("id"),
            practice_type: row.get("practice_type"),
            subject: row.get("subject"),
            state: row.get("state"),
            channel: row.get("channel"),
            received_at: row.get("received_at"),
            updated_at: row.get("updated_at"),
        })
        .collect())
}

/// The tax code a practice belongs to, or `None` when there is no such practice.
pub async fn owner(pool: &PgPool, id: Uuid) -> Result<Option<FiledTaxCode>, sqlx::Error> {
    sqlx::query_scalar("SELECT tax_code FROM practices WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// One transition of the practice's history; `seq` orders them and resumes a live stream.
#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    pub seq: i64,
    pub from: Option<String>,
    pub to: String,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub details: serde_json::Value,
}

/// The transitions of a practice after `after` (a `seq`), oldest first.
pub async fn transitions_since(
    pool: &PgPool,
    id: Uuid,
    after: i64,
) -> Result<Vec<Transition>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, from_state, to_state, actor, details, at FROM practice_history \
         WHERE practice_id = $1 AND id > $2 ORDER BY id",
    )
    .bind(id)
    .bind(after)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Transition {
            seq: row.get("id"),
            from: row.get("from_state"),
            to: row.get("to_state"),
            actor: row.get("actor"),
            at: row.get("at"),
            details: row.get("details"),
        })
        .collect())
}

/// A practice's own row, as the folder shows it.
#[derive(Debug, Clone)]
pub struct PracticeDetail {
    pub id: Uuid,
    pub tax_code: FiledTaxCode,
    pub practice_type: String,
    pub subject: String,
    pub channel: String,
    pub operator_id: Option<String>,
    pub integrates: Option<Uuid>,
    pub state: String,
    pub rejection_reasons: Option<serde_json::Value>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The practice `id`, or `None` when there is no such practice.
pub async fn practice(pool: &PgPool, id: Uuid) -> Result<Option<PracticeDetail>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, tax_code, practice_type, subject, channel, operator_id, integrates, state, \
         rejection_reasons, received_at, updated_at FROM practices WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| PracticeDetail {
        id: row.get("id"),
        tax_code: row.get("tax_code"),
        practice_type: row.get("practice_type"),
        subject: row.get("subject"),
        channel: row.get("channel"),
        operator_id: row.get("operator_id"),
        integrates: row.get("integrates"),
        state: row.get("state"),
        rejection_reasons: row.get("rejection_reasons"),
        received_at: row.get("received_at"),
        updated_at: row.get("updated_at"),
    }))
}

/// A document of a practice as received, without its bytes.
#[derive(Debug, Clone)]
pub struct DocumentRow {
    pub position: i32,
    pub role: String,
    pub file_name: String,
    pub declared_media_type: String,
    /// SHA-256 of the bytes as received, lowercase hex.
    pub sha256: String,
    pub size_bytes: i64,
}

/// The documents of a practice, in the order they were submitted.
pub async fn documents_of(pool: &PgPool, id: Uuid) -> Result<Vec<DocumentRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT position, role, file_name, declared_media_type, sha256, size_bytes \
         FROM practice_documents WHERE practice_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| DocumentRow {
            position: row.get("position"),
            role: row.get("role"),
            file_name: row.get("file_name"),
            declared_media_type: row.get("declared_media_type"),
            sha256: row.get("sha256"),
            size_bytes: row.get("size_bytes"),
        })
        .collect())
}

/// How many times the practice `id` entered `state` (its history's transitions to it).
pub async fn times_entered<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: Uuid,
    state: PracticeState,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM practice_history WHERE practice_id = $1 AND to_state = $2",
    )
    .bind(id)
    .bind(state.as_str())
    .fetch_one(db)
    .await
}

/// One practice as the cruscotto's lists show it.
#[derive(Debug, Clone)]
pub struct DeskRow {
    pub id: Uuid,
    pub tax_code: FiledTaxCode,
    pub practice_type: String,
    pub state: String,
    pub updated_at: DateTime<Utc>,
}

fn desk_row(row: &sqlx::postgres::PgRow) -> DeskRow {
    DeskRow {
        id: row.get("id"),
        tax_code: row.get("tax_code"),
        practice_type: row.get("practice_type"),
        state: row.get("state"),
        updated_at: row.get("updated_at"),
    }
}

/// How many practices are in each state, by state.
pub async fn counts_by_state(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT state, count(*) FROM practices GROUP BY state ORDER BY state")
        .fetch_all(pool)
        .await
}

/// Completed practices whose product waits at the counter, longest waiting first.
pub async fn ready_for_pickup(pool: &PgPool, limit: i64) -> Result<Vec<DeskRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT p.id, p.tax_code, p.practice_type, p.state, p.updated_at FROM practices p \
         WHERE p.state = 'completed' AND EXISTS (SELECT 1 FROM practice_history h \
         WHERE h.practice_id = p.id AND h.to_state = 'completed' AND h.details->>'pickup' = 'true') \
         ORDER BY p.updated_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(desk_row).collect())
}

/// Practices in `state`, longest there first.
pub async fn in_state(
    pool: &PgPool,
    state: PracticeState,
    limit: i64,
) -> Result<Vec<DeskRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, tax_code, practice_type, state, updated_at FROM practices \
         WHERE state = $1 ORDER BY updated_at LIMIT $2",
    )
    .bind(state.as_str())
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(desk_row).collect())
}

/// The rows of `ids`, most recently changed first.
pub async fn desk_rows(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<DeskRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, tax_code, practice_type, state, updated_at FROM practices \
         WHERE id = ANY($1) ORDER BY updated_at DESC",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(desk_row).collect())
}

/// The state an event moved the practice to, when that event has been applied.
pub async fn applied(
    pool: &PgPool,
    id: Uuid,
    event_key: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT to_state FROM practice_history WHERE practice_id = $1 AND event_key = $2",
    )
    .bind(id)
    .bind(event_key)
    .fetch_optional(pool)
    .await
}
