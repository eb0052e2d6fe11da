//! The citizen's folder as the API shows it: read-only queries over the folder, the register
//! and, when their tables exist, the workers that come later (archive keys, notifications).
//!
//! The shapes here are the API's contract (see `openapi.json`): fields are added, never renamed.
//! Documents are read as whole rows (`to_jsonb`) so that a column the storage worker adds — the
//! archive key — shows up without a change here; notifications likewise appear as soon as their
//! table exists, and are an empty list before.

use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sportello_protocol::register::{self, format_number};
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// One practice in the citizen's list.
#[derive(Debug, Clone, Serialize)]
pub struct PracticeSummary {
    pub id: Uuid,
    pub practice_type: String,
    pub subject: String,
    pub state: String,
    pub channel: String,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The protocol number of the incoming registration, once registered.
    pub protocol: Option<ProtocolRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProtocolRef {
    pub register: String,
    pub year: i32,
    /// At least seven digits, as written on the register.
    pub number: String,
    pub date: NaiveDate,
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

#[derive(Debug, Clone, Serialize)]
pub struct RegistrationView {
    pub register: String,
    pub aoo: String,
    pub year: i32,
    pub number: String,
    pub direction: String,
    pub registered_at: DateTime<Utc>,
    pub date: NaiveDate,
    /// The documents the registration covers, each with its impronta (base64 SHA-256).
    pub documents: serde_json::Value,
    pub annulment: Option<AnnulmentView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AnnulmentView {
    pub annulled_at: DateTime<Utc>,
    pub operator: String,
    pub reason: String,
    pub measure: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DocumentView {
    pub position: i64,
    pub role: String,
    pub file_name: String,
    pub media_type: String,
    pub size_bytes: i64,
    /// SHA-256 of the bytes as received, lowercase hex.
    pub sha256: String,
    /// The same digest as the register writes it: base64.
    pub impronta: String,
    /// Where the archived copy lives in the object store; `null` until storage archives it.
    pub archive_key: Option<String>,
}

/// A practice with everything the folder knows of it.
#[derive(Debug, Clone, Serialize)]
pub struct PracticeView {
    pub id: Uuid,
    pub tax_code: String,
    pub practice_type: String,
    pub subject: String,
    pub channel: String,
    pub operator_id: Option<String>,
    pub integrates: Option<Uuid>,
    pub state: String,
    pub rejection_reasons: Option<serde_json::Value>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub timeline: Vec<Transition>,
    pub registrations: Vec<RegistrationView>,
    pub documents: Vec<DocumentView>,
    pub notifications: Vec<serde_json::Value>,
}

/// The practices of `tax_code`, oldest first.
pub async fn practices_of(
    pool: &PgPool,
    tax_code: &str,
) -> Result<Vec<PracticeSummary>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT p.id, p.practice_type, p.subject, p.state, p.channel, p.received_at, p.updated_at, \
         r.register, r.year, r.number, r.registration_date \
         FROM practices p \
         LEFT JOIN LATERAL (SELECT register, year, number, registration_date FROM registrations \
             WHERE practice_id = p.id AND direction = 'incoming' ORDER BY id LIMIT 1) r ON true \
         WHERE p.tax_code = $1 ORDER BY p.received_at, p.id",
    )
    .bind(tax_code)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let number: Option<i64> = row.get("number");
            PracticeSummary {
                id: row.get("id"),
                practice_type: row.get("practice_type"),
                subject: row.get("subject"),
                state: row.get("state"),
                channel: row.get("channel"),
                received_at: row.get("received_at"),
                updated_at: row.get("updated_at"),
                protocol: number.map(|number| ProtocolRef {
                    register: row.get("register"),
                    year: row.get("year"),
                    number: format_number(number),
                    date: row.get("registration_date"),
                }),
            }
        })
        .collect())
}

/// The tax code a practice belongs to, or `None` when there is no such practice.
pub async fn owner(pool: &PgPool, id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT tax_code FROM practices WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
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

/// Everything the folder knows of a practice, or `None` when there is no such practice.
pub async fn practice(pool: &PgPool, id: Uuid) -> Result<Option<PracticeView>, sqlx::Error> {
    let Some(row) = sqlx::query(
        "SELECT id, tax_code, practice_type, subject, channel, operator_id, integrates, state, \
         rejection_reasons, received_at, updated_at FROM practices WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(PracticeView {
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
        timeline: transitions_since(pool, id, 0).await?,
        registrations: registrations(pool, id).await?,
        documents: documents(pool, id).await?,
        notifications: notifications(pool, id).await?,
    }))
}

async fn registrations(pool: &PgPool, id: Uuid) -> Result<Vec<RegistrationView>, sqlx::Error> {
    Ok(register::of_practice(pool, id)
        .await?
        .into_iter()
        .map(|r| RegistrationView {
            register: r.register,
            aoo: r.aoo,
            year: r.year,
            number: format_number(r.number),
            direction: r.direction,
            registered_at: r.registered_at,
            date: r.registration_date,
            documents: r.documents,
            annulment: r.annulment.map(|a| AnnulmentView {
                annulled_at: a.annulled_at,
                operator: a.operator,
                reason: a.reason,
                measure: a.measure,
            }),
        })
        .collect())
}

async fn documents(pool: &PgPool, id: Uuid) -> Result<Vec<DocumentView>, sqlx::Error> {
    // Whole rows minus the bytes: a column added later (archive_key) needs no change here.
    let rows: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT to_jsonb(d) - 'content' FROM practice_documents d \
         WHERE practice_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(document_view).collect())
}

fn document_view(row: &serde_json::Value) -> DocumentView {
    let text = |key: &str| row[key].as_str().unwrap_or_default().to_owned();
    let sha256 = text("sha256");
    let impronta = hex::decode(&sha256)
        .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes))
        .unwrap_or_default();
    DocumentView {
        position: row["position"].as_i64().unwrap_or_default(),
        role: text("role"),
        file_name: text("file_name"),
        media_type: text("declared_media_type"),
        size_bytes: row["size_bytes"].as_i64().unwrap_or_default(),
        sha256,
        impronta,
        archive_key: row
            .get("archive_key")
            .and_then(|k| k.as_str())
            .map(str::to_owned),
    }
}

/// The notifications of a practice, when the notification worker's table exists.
async fn notifications(pool: &PgPool, id: Uuid) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('notifications') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(Vec::new());
    }
    let rows: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT to_jsonb(n) - 'practice_id' FROM notifications n WHERE n.practice_id = $1 ORDER BY n.id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(notification_view).collect())
}

/// A notification row without its rendered bodies (they can be long, and the folder needs the
/// status, not the text).
fn notification_view(mut row: serde_json::Value) -> serde_json::Value {
    if let Some(map) = row.as_object_mut() {
        map.retain(|key, _| !matches!(key.as_str(), "body_text" | "body_html" | "html" | "text"));
    }
    row
}
