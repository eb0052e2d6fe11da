//! The folder store in PostgreSQL: practices, their documents and their append-only history.
//!
//! Every state change goes through [`transition`], which takes the row lock, refuses what the
//! state machine does not allow, and records the change under an *event key*: a redelivered
//! message carries the same key and finds its transition already there, so it adds nothing.
//! Workers that have work of their own to commit (the register, say) call [`transition`] inside
//! their transaction, so the work and the state change commit together or not at all.

pub mod primary;
pub mod reads;
mod snapshot;
mod transitions;

pub use snapshot::Snapshot;
pub use transitions::{Applied, Transition, advance_many, transition};

use crate::config::DatabaseSettings;
use crate::domain::state::PracticeState;
use crate::domain::tax_code::FiledTaxCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Row, Transaction};
use std::time::Duration;
use uuid::Uuid;

pub type Tx = Transaction<'static, Postgres>;

/// The schema this build is made for, embedded at compile time (see `build.rs`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

fn latest_migration() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Refuses a database whose schema is behind (or ahead of) this build, with what to do.
async fn check_schema(pool: &PgPool) -> Result<(), StoreError> {
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
            .or_else(|err| match &err {
                // 42P01: no migrations table yet, i.e. a database nobody has migrated.
                sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => Ok(None),
                _ => Err(err),
            })?;
    let wanted = latest_migration();
    match applied {
        Some(version) if version == wanted => Ok(()),
        Some(version) if version > wanted => Err(StoreError::Schema(format!(
            "the database schema is at version {version}, newer than this build's {wanted}: run a newer sportello"
        ))),
        other => Err(StoreError::Schema(format!(
            "the database schema is at version {}, this build needs {wanted}: run `sportello db migrate` (as the schema owner)",
            other.unwrap_or(0)
        ))),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("database schema: {0}")]
    Schema(String),
    #[error("{0}")]
    Configuration(String),
    #[error("practice {0} does not exist")]
    UnknownPractice(Uuid),
    #[error("practice {id}: the transition {from} → {to} is not allowed")]
    Refused {
        id: Uuid,
        from: PracticeState,
        to: PracticeState,
    },
    /// A bulk move found practices no longer in the state the caller locked them in: the
    /// caller's own invariant broke, and waiting cannot mend it.
    #[error("{missing} of {of} practices were not in `{from}` any more")]
    NotAllIn {
        from: PracticeState,
        missing: u64,
        of: usize,
    },
    #[error("practice {id}: stored state `{state}` is unknown")]
    CorruptState { id: Uuid, state: String },
}

impl StoreError {
    /// Whether waiting may help (the database is down or busy) or the request itself is wrong.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(err) => is_transient(err),
            StoreError::Migration(_) => true,
            _ => false,
        }
    }
}

/// Whether a database error may go away by itself. PostgreSQL says so in the SQLSTATE: class
/// 22 (data exception: a NUL character, a value too long, bad encoding), class 23 (integrity
/// constraint violation) and class 54 (a value beyond a limit, such as an index entry too
/// large) are the data's fault and fail again on every retry; a decoding error
/// is a mismatch between code and schema. Lost connections, timeouts, deadlocks, serialization
/// failures and a server shutting down are worth another try.
pub fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => !db.code().is_some_and(|code| {
            ["22", "23", "54"]
                .iter()
                .any(|class| code.starts_with(class))
        }),
        sqlx::Error::Decode(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Encode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::RowNotFound => false,
        _ => true,
    }
}

/// The server `url` names or, with failover hosts, the first read-write one among them; and
/// all of them, in order.
async fn read_write_server(
    url: &str,
    settings: &DatabaseSettings,
) -> Result<(PgConnectOptions, Vec<PgConnectOptions>), StoreError> {
    let base: PgConnectOptions = url.parse()?;
    if settings.failover_hosts.is_empty() {
        return Ok((base.clone(), vec![base]));
    }
    let candidates =
        primary::candidates(&base, &settings.failover_hosts).map_err(StoreError::Configuration)?;
    let timeout = Duration::from_secs(settings.failover_check_secs.max(2));
    match primary::read_write_among(&candidates, timeout).await {
        Some(options) => Ok((options, candidates)),
        None => Err(StoreError::Database(sqlx::Error::Configuration(
            format!(
                "no read-write PostgreSQL among {}",
                candidates
                    .iter()
                    .map(primary::server_of)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into(),
        ))),
    }
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects as the runtime role and checks that the schema is the one this build was made
    /// for. It never migrates: the runtime role may not change the schema (that is what keeps
    /// the register's append-only triggers in place), so `sportello db migrate` does, as the
    /// owner.
    ///
    /// With `database.failover_hosts`, it connects to the read-write server among them and
    /// follows a promotion for as long as the pool lives ([`primary`]).
    pub async fn connect(settings: &DatabaseSettings) -> Result<Store, StoreError> {
        let (options, candidates) = read_write_server(settings.url(), settings).await?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        check_schema(&pool).await?;
        if candidates.len() > 1 {
            tokio::spawn(primary::follow(
                pool.clone(),
                candidates,
                options,
                Duration::from_secs(settings.failover_check_secs.max(1)),
            ));
        }
        Ok(Store { pool })
    }

    /// Applies the embedded migrations as the schema owner (`database.owner_url`); idempotent,
    /// and concurrent runs are serialised by sqlx's advisory lock. Returns the schema version.
    pub async fn migrate(settings: &DatabaseSettings) -> Result<i64, StoreError> {
        if settings.owner_url().is_empty() {
            return Err(StoreError::Schema(
                "database.owner_url is empty: migrations run as the schema owner (set SPORTELLO__DATABASE__OWNER_URL)".to_owned(),
            ));
        }
        let (options, _) = read_write_server(settings.owner_url(), settings).await?;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        let migrated = MIGRATOR.run(&pool).await;
        pool.close().await;
        migrated?;
        Ok(latest_migration())
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// The practice that holds `idempotency_key`, with the digest it was first received with.
    pub async fn find_by_idempotency_key(
        &self,
        idempotency_key: &str,
    ) -> Result<Option<(Uuid, String)>, StoreError> {
        let row =
            sqlx::query("SELECT id, submission_digest FROM practices WHERE idempotency_key = $1")
                .bind(idempotency_key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|row| (row.get("id"), row.get("submission_digest"))))
    }

    /// The practice whose document is the upload under `staged_key`, if one claimed it: an
    /// upload serves one practice only (a unique index holds it under races too).
    pub async fn staged_key_claimant(&self, staged_key: &str) -> Result<Option<Uuid>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT practice_id FROM practice_documents WHERE staged_key = $1 LIMIT 1",
        )
        .bind(staged_key)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records a new practice in `received` with its documents. Returns `false` when another
    /// delivery recorded the same idempotency key first (nothing is written then).
    pub async fn record_received(
        &self,
        practice: &NewPractice,
        documents: &[NewDocument],
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO practices (id, idempotency_key, submission_digest, submission, practice_type, \
             channel, operator_id, tax_code, subject, integrates, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'received') \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(practice.id)
        .bind(&practice.idempotency_key)
        .bind(&practice.digest)
        .bind(&practice.submission)
        .bind(&practice.practice_type)
        .bind(&practice.channel)
        .bind(&practice.operator_id)
        .bind(&practice.tax_code)
        .bind(&practice.subject)
        .bind(practice.integrates)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        for (position, document) in documents.iter().enumerate() {
            sqlx::query(
                "INSERT INTO practice_documents (practice_id, position, role, file_name, declared_media_type, \
                 declared_sha256, sha256, size_bytes, content, staged_key) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(practice.id)
            .bind(position as i32)
            .bind(&document.role)
            .bind(&document.file_name)
            .bind(&document.declared_media_type)
            .bind(&document.declared_sha256)
            .bind(&document.sha256)
            .bind(document.size as i64)
            .bind(document.content.as_deref())
            .bind(document.staged_key.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO practice_history (practice_id, from_state, to_state, actor, event_key, details) \
             VALUES ($1, NULL, 'received', $2, 'intake', $3)",
        )
        .bind(practice.id)
        .bind(&practice.actor)
        .bind(serde_json::json!({ "channel": practice.channel, "practice_type": practice.practice_type }))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Keeps a submission that reused a key with different content, for the operator to see.
    pub async fn record_conflict(
        &self,
        idempotency_key: &str,
        practice_id: Uuid,
        digest: &str,
        submission: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO submission_conflicts (idempotency_key, practice_id, received_digest, submission) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (idempotency_key, received_digest) DO NOTHING",
        )
        .bind(idempotency_key)
        .bind(practice_id)
        .bind(digest)
        .bind(submission)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn practice(&self, id: Uuid) -> Result<Option<PracticeRecord>, StoreError> {
        snapshot::practice(&self.pool, id).await
    }

    pub async fn documents(&self, id: Uuid) -> Result<Vec<StoredDocument>, StoreError> {
        snapshot::documents(&self.pool, id).await
    }

    /// One read-only transaction for the reads of a delivery ([`Snapshot`]).
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Snapshot::begin(&self.pool).await
    }

    /// A transition in a transaction of its own.
    pub async fn transition(&self, change: &Transition<'_>) -> Result<Applied, StoreError> {
        let mut tx = self.begin().await?;
        let applied = transition(&mut tx, change).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// The citizen's folder: every practice of `tax_code`, oldest first, with its history.
    pub async fn folder(&self, tax_code: &FiledTaxCode) -> Result<Vec<FolderEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, idempotency_key, submission, practice_type, channel, operator_id, tax_code, subject, \
             integrates, state, rejection_reasons, received_at, updated_at FROM practices \
             WHERE tax_code = $1 ORDER BY received_at, id",
        )
        .bind(tax_code)
        .fetch_all(&self.pool)
        .await?;
        let mut folder = Vec::with_capacity(rows.len());
        for row in rows {
            let practice = PracticeRecord::from_row(row)?;
            let history = self.history(practice.id).await?;
            let procedure = crate::procedure::view(&self.pool, practice.id).await?;
            folder.push(FolderEntry {
                practice,
                history,
                procedure,
            });
        }
        Ok(folder)
    }

    pub async fn history(&self, id: Uuid) -> Result<Vec<HistoryEntry>, StoreError> {
        snapshot::history(&self.pool, id).await
    }
}

/// What intake knows of a practice before it is stored.
#[derive(Debug, Clone)]
pub struct NewPractice {
    pub id: Uuid,
    pub idempotency_key: String,
    pub digest: String,
    pub submission: serde_json::Value,
    pub practice_type: String,
    pub channel: String,
    pub operator_id: Option<String>,
    pub tax_code: FiledTaxCode,
    pub subject: String,
    pub integrates: Option<Uuid>,
    pub actor: String,
}

#[derive(Debug, Clone)]
pub struct NewDocument {
    pub role: String,
    pub file_name: String,
    pub declared_media_type: String,
    pub declared_sha256: String,
    pub sha256: String,
    pub size: u64,
    pub content: Option<Vec<u8>>,
    pub staged_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StoredDocument {
    pub position: i32,
    pub role: String,
    pub file_name: String,
    pub declared_media_type: String,
    pub declared_sha256: String,
    pub sha256: String,
    pub size: u64,
    pub content: Option<Vec<u8>>,
    pub staged_key: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PracticeRecord {
    pub id: Uuid,
    pub idempotency_key: String,
    #[serde(skip)]
    pub submission: serde_json::Value,
    pub practice_type: String,
    pub channel: String,
    pub operator_id: Option<String>,
    #[serde(skip)]
    pub tax_code: FiledTaxCode,
    pub subject: String,
    pub integrates: Option<Uuid>,
    pub state: PracticeState,
    pub rejection_reasons: Option<serde_json::Value>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PracticeRecord {
    fn from_row(row: sqlx::postgres::PgRow) -> Result<PracticeRecord, StoreError> {
        let id: Uuid = row.get("id");
        let state: String = row.get("state");
        let state = state
            .parse()
            .map_err(|_| StoreError::CorruptState { id, state })?;
        Ok(PracticeRecord {
            id,
            idempotency_key: row.get("idempotency_key"),
            submission: row.get("submission"),
            practice_type: row.get("practice_type"),
            channel: row.get("channel"),
            operator_id: row.get("operator_id"),
            tax_code: row.get("tax_code"),
            subject: row.get("subject"),
            integrates: row.get("integrates"),
            state,
            rejection_reasons: row.get("rejection_reasons"),
            received_at: row.get("received_at"),
            updated_at: row.get("updated_at"),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub from: Option<String>,
    pub to: String,
    pub actor: String,
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FolderEntry {
    #[serde(flatten)]
    pub practice: PracticeRecord,
    pub history: Vec<HistoryEntry>,
    /// The procedure's clock (term, due date), once registered.
    pub procedure: Option<crate::procedure::ClockView>,
}

/// A practice locked for a change of several steps (the register's batch), as read under lock.
#[derive(Debug, Clone)]
pub struct LockedPractice {
    pub id: Uuid,
    pub state: String,
    pub submission: serde_json::Value,
    pub practice_type: String,
    pub channel: String,
    pub subject: String,
    pub integrates: Option<Uuid>,
}

/// Locks `ids` (those that exist) in id order — the order every worker locks in, so batches
/// never deadlock — and reads them.
pub async fn lock_many(tx: &mut Tx, ids: &[Uuid]) -> Result<Vec<LockedPractice>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, state, submission, practice_type, channel, subject, integrates FROM practices \
         WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .iter()
        .map(|row| LockedPractice {
            id: row.get("id"),
            state: row.get("state"),
            submission: row.get("submission"),
            practice_type: row.get("practice_type"),
            channel: row.get("channel"),
            subject: row.get("subject"),
            integrates: row.get("integrates"),
        })
        .collect())
}

/// The documents of many practices, without their bytes, by practice.
pub async fn document_facts_of(
    tx: &mut Tx,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<StoredDocument>>, StoreError> {
    let rows = sqlx::query(
        "SELECT practice_id, position, role, file_name, declared_media_type, declared_sha256, sha256, size_bytes, \
         staged_key FROM practice_documents WHERE practice_id = ANY($1) ORDER BY practice_id, position",
    )
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    let mut by_practice: std::collections::HashMap<Uuid, Vec<StoredDocument>> = Default::default();
    for row in rows {
        by_practice
            .entry(row.get("practice_id"))
            .or_default()
            .push(snapshot::stored_document(&row, None));
    }
    Ok(by_practice)
}
