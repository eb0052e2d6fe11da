//! One read-only transaction for everything a delivery reads before it acts. A worker that
//! reads the practice, then its documents, its history or its registrations, each through the
//! pool, opens and commits a transaction per read; a [`Snapshot`] opens one, and every read in
//! it sees the same moment of the folder.
//!
//! The reads themselves are here too, over any executor: the pool's one-shot reads of
//! [`super::Store`] and a snapshot's are the same statements.

use super::{HistoryEntry, PracticeRecord, StoreError, StoredDocument, Tx};
use sqlx::{PgConnection, PgExecutor, PgPool, Row};
use uuid::Uuid;

/// A read-only transaction; [`Snapshot::close`] ends it (dropping it rolls back, which for
/// reads is the same).
pub struct Snapshot {
    tx: Tx,
}

impl Snapshot {
    pub(super) async fn begin(pool: &PgPool) -> Result<Snapshot, StoreError> {
        Ok(Snapshot {
            tx: pool.begin_with("BEGIN READ ONLY").await?,
        })
    }

    pub async fn practice(&mut self, id: Uuid) -> Result<Option<PracticeRecord>, StoreError> {
        practice(&mut *self.tx, id).await
    }

    pub async fn documents(&mut self, id: Uuid) -> Result<Vec<StoredDocument>, StoreError> {
        documents(&mut *self.tx, id).await
    }

    pub async fn history(&mut self, id: Uuid) -> Result<Vec<HistoryEntry>, StoreError> {
        history(&mut *self.tx, id).await
    }

    /// For the reads of the libraries that own other tables (the register, the archive).
    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub async fn close(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }
}

pub(super) async fn practice<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
) -> Result<Option<PracticeRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT id, idempotency_key, submission, practice_type, channel, operator_id, tax_code, subject, \
         integrates, state, rejection_reasons, received_at, updated_at FROM practices WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    row.map(PracticeRecord::from_row).transpose()
}

pub(super) async fn documents<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
) -> Result<Vec<StoredDocument>, StoreError> {
    let rows = sqlx::query(
        "SELECT position, role, file_name, declared_media_type, declared_sha256, sha256, size_bytes, \
         content, staged_key FROM practice_documents WHERE practice_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .iter()
        .map(|row| stored_document(row, row.get("content")))
        .collect())
}

/// A `practice_documents` row; `content` apart, for the reads that leave the bytes out.
pub(super) fn stored_document(
    row: &sqlx::postgres::PgRow,
    content: Option<Vec<u8>>,
) -> StoredDocument {
    StoredDocument {
        position: row.get("position"),
        role: row.get("role"),
        file_name: row.get("file_name"),
        declared_media_type: row.get("declared_media_type"),
        declared_sha256: row.get("declared_sha256"),
        sha256: row.get("sha256"),
        size: row.get::<i64, _>("size_bytes") as u64,
        content,
        staged_key: row.get("staged_key"),
    }
}

pub(super) async fn history<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT from_state, to_state, actor, details, at FROM practice_history \
         WHERE practice_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| HistoryEntry {
            from: row.get("from_state"),
            to: row.get("to_state"),
            actor: row.get("actor"),
            details: row.get("details"),
            at: row.get("at"),
        })
        .collect())
}
