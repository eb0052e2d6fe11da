//! The daily register (registro giornaliero di protocollo): every registration and annulment of
//! one day, fixed in an object that is never rewritten, with a manifest carrying its SHA-256,
//! ready for the preservation system by the next working day.
//!
//! Producing a day twice gives the same answer: the day is recorded once in `daily_registers`,
//! and an object already in the store is only ever compared, never overwritten.

use crate::register::RegisterId;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use sportello_shared::domain::protocol_number::ProtocolNumber;
use sportello_shared::objects::{ObjectError, ObjectStore, sha256_hex};
use sqlx::{PgPool, Row};

#[derive(Debug, Clone, Serialize)]
pub struct DailyRegister {
    pub day: NaiveDate,
    pub object_key: String,
    pub manifest_key: String,
    pub sha256: String,
    pub entries: i32,
    /// False when the day had been produced before: nothing was written this time.
    pub created: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DailyError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("object store: {0}")]
    Objects(#[from] ObjectError),
    #[error("{key} already holds a different daily register: refusing to overwrite it")]
    Conflict { key: String },
    #[error("the register of {0} cannot be produced before the day is over")]
    NotOver(NaiveDate),
}

impl DailyError {
    pub fn is_transient(&self) -> bool {
        match self {
            DailyError::Database(_) => true,
            DailyError::Objects(e) => e.is_transient(),
            _ => false,
        }
    }
}

#[derive(Serialize)]
struct Entry {
    anno: i32,
    numero: String,
    direzione: String,
    registrato_il: DateTime<Utc>,
    oggetto: String,
    corrispondenti: serde_json::Value,
    classifica: serde_json::Value,
    documenti: serde_json::Value,
    pratica: uuid::Uuid,
}

#[derive(Serialize)]
struct AnnulmentEntry {
    anno: i32,
    numero: String,
    annullato_il: DateTime<Utc>,
    operatore: String,
    motivo: String,
    provvedimento: String,
}

#[derive(Serialize)]
struct Document<'a> {
    amministrazione_aoo: &'a str,
    registro: &'a str,
    giorno: NaiveDate,
    registrazioni: Vec<Entry>,
    annullamenti: Vec<AnnulmentEntry>,
}

fn keys(register: &RegisterId, day: NaiveDate) -> (String, String) {
    let base = format!(
        "registro-giornaliero/{}/{}/{}/{day}",
        register.aoo,
        register.code,
        day.year()
    );
    (format!("{base}.json"), format!("{base}.manifest.json"))
}

/// Produces (or finds) the daily register of `day`. `today` is the current legal date: a day
/// is closed only once it is over.
pub async fn produce(
    pool: &PgPool,
    objects: &ObjectStore,
    register: &RegisterId,
    day: NaiveDate,
    today: NaiveDate,
) -> Result<DailyRegister, DailyError> {
    if day >= today {
        return Err(DailyError::NotOver(day));
    }
    if let Some(row) = sqlx::query(
        "SELECT object_key, manifest_key, sha256, entries FROM daily_registers \
         WHERE aoo = $1 AND register = $2 AND day = $3",
    )
    .bind(&register.aoo)
    .bind(&register.code)
    .bind(day)
    .fetch_optional(pool)
    .await?
    {
        return Ok(DailyRegister {
            day,
            object_key: row.get("object_key"),
            manifest_key: row.get("manifest_key"),
            sha256: row.get("sha256"),
            entries: row.get("entries"),
            created: false,
        });
    }
    let registrations = of_day(
        pool,
        register,
        day,
        "SELECT year, number, direction, registered_at, subject, correspondents, classification, documents, \
         practice_id FROM registrations WHERE aoo = $1 AND register = $2 AND registration_date = $3 \
         ORDER BY year, number",
    )
    .await?
    .into_iter()
    .map(|row| Entry {
        anno: row.get("year"),
        numero: row.get::<ProtocolNumber, _>("number").to_string(),
        direzione: row.get("direction"),
        registrato_il: row.get("registered_at"),
        oggetto: row.get("subject"),
        corrispondenti: row.get("correspondents"),
        classifica: row.get("classification"),
        documenti: row.get("documents"),
        pratica: row.get("practice_id"),
    })
    .collect::<Vec<_>>();
    let annulments = of_day(
        pool,
        register,
        day,
        "SELECT r.year, r.number, a.annulled_at, a.operator, a.reason, a.measure \
         FROM registration_annulments a JOIN registrations r ON r.id = a.registration_id \
         WHERE r.aoo = $1 AND r.register = $2 AND a.annulled_date = $3 ORDER BY a.annulled_at, r.number",
    )
    .await?
    .into_iter()
    .map(|row| AnnulmentEntry {
        anno: row.get("year"),
        numero: row.get::<ProtocolNumber, _>("number").to_string(),
        annullato_il: row.get("annulled_at"),
        operatore: row.get("operator"),
        motivo: row.get("reason"),
        provvedimento: row.get("measure"),
    })
    .collect::<Vec<_>>();
    let entries = (registrations.len() + annulments.len()) as i32;
    let document = Document {
        amministrazione_aoo: &register.aoo,
        registro: &register.code,
        giorno: day,
        registrazioni: registrations,
        annullamenti: annulments,
    };
    let bytes = serde_json::to_vec_pretty(&document).expect("the daily register serialises");
    let sha256 = sha256_hex(&bytes);
    let (object_key, manifest_key) = keys(register, day);
    put_once(objects, &object_key, &bytes, "application/json").await?;
    let manifest = serde_json::json!({
        "oggetto": object_key,
        "sha256": sha256,
        "dimensione": bytes.len(),
        "voci": entries,
        "giorno": day,
        "registro": register.code,
        "aoo": register.aoo,
    });
    let manifest = serde_json::to_vec_pretty(&manifest).expect("the manifest serialises");
    put_once(objects, &manifest_key, &manifest, "application/json").await?;
    sqlx::query(
        "INSERT INTO daily_registers (aoo, register, day, object_key, manifest_key, sha256, entries) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&register.aoo)
    .bind(&register.code)
    .bind(day)
    .bind(&object_key)
    .bind(&manifest_key)
    .bind(&sha256)
    .bind(entries)
    .execute(pool)
    .await?;
    Ok(DailyRegister {
        day,
        object_key,
        manifest_key,
        sha256,
        entries,
        created: true,
    })
}

/// The rows `sql` selects for one register and one day (`$1` AOO, `$2` register, `$3` day).
async fn of_day(
    pool: &PgPool,
    register: &RegisterId,
    day: NaiveDate,
    sql: &'static str,
) -> Result<Vec<sqlx::postgres::PgRow>, sqlx::Error> {
    sqlx::query(sql)
        .bind(&register.aoo)
        .bind(&register.code)
        .bind(day)
        .fetch_all(pool)
        .await
}

/// Writes `bytes` under `key` unless the same bytes are there already; different bytes there
/// are a conflict, never overwritten.
async fn put_once(
    objects: &ObjectStore,
    key: &str,
    bytes: &[u8],
    content_type: &str,
) -> Result<(), DailyError> {
    match objects.digest(key).await {
        Ok((sha256, _)) if sha256 == sha256_hex(bytes) => Ok(()),
        Ok(_) => Err(DailyError::Conflict {
            key: key.to_owned(),
        }),
        Err(ObjectError::NotFound(_)) => Ok(objects.put(key, bytes, content_type).await?),
        Err(e) => Err(e.into()),
    }
}
