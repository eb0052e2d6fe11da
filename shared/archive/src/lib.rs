//! The archive, as a library: where registered documents live for good, how they get there,
//! and the index of what is there (`practice_archive_objects`, owned here).
//!
//! Layout: [`layout`] names archive keys (`archivio/<aoo>/<register>/<year>/<number>/…`) and
//! is the one way to write them — never over something else, always read back and checked;
//! [`record_archived`] indexes what was written, in the caller's transaction. Storage archives
//! a practice's documents with these, returns a back office's results.

pub mod layout;

use sportello_shared::store::Tx;
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
