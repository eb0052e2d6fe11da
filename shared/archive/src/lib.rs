//! The archive, as a library: where registered documents live for good, how they get there,
//! and the index of what is there (`practice_archive_objects`, owned here).
//!
//! Layout: [`layout`] names archive keys (`archivio/<aoo>/<register>/<year>/<number>/…`) and
//! is the one way to write them — never over other bytes, each write proved by the store against
//! its impronta;
//! [`record_archived`] indexes what was written, in the caller's transaction; [`of_practice`]
//! and [`of_registration`] read the index back. Storage archives a practice's documents with
//! these, returns a back office's results; dispatch links them, the API shows and opens them.

pub mod layout;

use chrono::{DateTime, Utc};
use sportello_shared::store::Tx;
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// One object put in the archive, as recorded in the folder and the archive index.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Archived {
    pub kind: &'static str,
    pub file_name: String,
    pub media_type: String,
    pub object_key: String,
    pub sha256: String,
    pub size: u64,
}

/// Records archived objects in the index; a repeated key is a redelivery and adds nothing.
pub async fn record_archived(
    tx: &mut Tx,
    practice_id: Uuid,
    registration_id: i64,
    archived: &[Archived],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO practice_archive_objects (object_key, practice_id, kind, registration_id, file_name, \
         media_type, sha256, size_bytes) \
         SELECT t.key, $1, t.kind, $2, t.file_name, t.media_type, t.sha256, t.size \
         FROM UNNEST($3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[]) \
         AS t(key, kind, sha256, size, file_name, media_type) ON CONFLICT (object_key) DO NOTHING",
    )
    .bind(practice_id)
    .bind(registration_id)
    .bind(archived.iter().map(|a| a.object_key.clone()).collect::<Vec<_>>())
    .bind(archived.iter().map(|a| a.kind.to_owned()).collect::<Vec<_>>())
    .bind(archived.iter().map(|a| a.sha256.clone()).collect::<Vec<_>>())
    .bind(archived.iter().map(|a| a.size as i64).collect::<Vec<_>>())
    .bind(archived.iter().map(|a| a.file_name.clone()).collect::<Vec<_>>())
    .bind(archived.iter().map(|a| a.media_type.clone()).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One entry of the archive index.
#[derive(Debug, Clone)]
pub struct Indexed {
    pub object_key: String,
    /// `document`, `primary`, `segnatura`, `receipt` or `result`.
    pub kind: String,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub stored_at: DateTime<Utc>,
    pub registration_id: i64,
}

const INDEXED: &str = "SELECT object_key, kind, file_name, media_type, sha256, size_bytes, \
                       stored_at, registration_id FROM practice_archive_objects";

fn indexed(row: &sqlx::postgres::PgRow) -> Indexed {
    Indexed {
        object_key: row.get("object_key"),
        kind: row.get("kind"),
        file_name: row.get("file_name"),
        media_type: row.get("media_type"),
        sha256: row.get("sha256"),
        size_bytes: row.get("size_bytes"),
        stored_at: row.get("stored_at"),
        registration_id: row.get("registration_id"),
    }
}

/// Everything archived for a practice, registration by registration, in archiving order.
pub async fn of_practice(pool: &PgPool, practice_id: Uuid) -> Result<Vec<Indexed>, sqlx::Error> {
    let sql =
        format!("{INDEXED} WHERE practice_id = $1 ORDER BY registration_id, stored_at, object_key");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(practice_id)
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(indexed).collect())
}

/// What one registration archived, by key.
pub async fn of_registration<'e>(
    db: impl sqlx::PgExecutor<'e>,
    registration_id: i64,
) -> Result<Vec<Indexed>, sqlx::Error> {
    let sql = format!("{INDEXED} WHERE registration_id = $1 ORDER BY object_key");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(registration_id)
        .fetch_all(db)
        .await?;
    Ok(rows.iter().map(indexed).collect())
}
