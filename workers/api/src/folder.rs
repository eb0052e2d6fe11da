//! The citizen's folder as the API shows it, assembled from what each table's owner reads out:
//! the folder (`sportello_shared::store::reads`), the register, the notifications
//! (`sportello_shared::notifications`) and the archive index.
//!
//! The shapes here are the API's contract (see `openapi.json`): fields are added, never renamed.
//! Archive keys come from the archive's index (`sportello_archive`): a document has its key
//! once storage has archived it, `null` before.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sportello_register::register;
use sportello_shared::domain::impronta::Impronta;
use sportello_shared::domain::tax_code::FiledTaxCode;
use sportello_shared::notifications;
use sportello_shared::procedure;
use sportello_shared::store::reads;
use sqlx::PgPool;
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
    /// The date by which the procedure must end (L. 241/1990), once registered.
    pub due_on: Option<NaiveDate>,
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
pub use sportello_shared::store::reads::Transition;

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

/// One object the storage stage archived for the practice: its documents, the istanza, the
/// segnatura of each registration, the back office's result documents.
#[derive(Debug, Clone, Serialize)]
pub struct ArchivedObject {
    pub key: String,
    /// `document`, `primary`, `segnatura` or `result`.
    pub kind: String,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub impronta: String,
    pub size_bytes: i64,
    pub stored_at: DateTime<Utc>,
    /// The registration the object belongs to (`2026/0000042`).
    pub registration: String,
}

/// A practice with everything the folder knows of it.
#[derive(Debug, Clone, Serialize)]
pub struct PracticeView {
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
    pub timeline: Vec<Transition>,
    pub registrations: Vec<RegistrationView>,
    pub documents: Vec<DocumentView>,
    pub archive: Vec<ArchivedObject>,
    pub notifications: Vec<NotificationView>,
    /// The procedure's clock (term, due date, suspension), once registered.
    pub procedure: Option<procedure::ClockView>,
}

/// An email to the citizen about one step, with its delivery.
pub use sportello_shared::notifications::NotificationRow as NotificationView;

/// The practices of `tax_code`, oldest first.
pub async fn practices_of(
    pool: &PgPool,
    tax_code: &FiledTaxCode,
) -> Result<Vec<PracticeSummary>, sqlx::Error> {
    let practices = reads::practices_of(pool, tax_code).await?;
    let ids: Vec<Uuid> = practices.iter().map(|p| p.id).collect();
    let mut numbers = register::first_incoming_of(pool, &ids).await?;
    let mut due = procedure::due_dates_of(pool, &ids).await?;
    Ok(practices
        .into_iter()
        .map(|p| PracticeSummary {
            due_on: due.remove(&p.id),
            protocol: numbers.remove(&p.id).map(|r| ProtocolRef {
                register: r.register,
                year: r.year,
                number: r.number.to_string(),
                date: r.registration_date,
            }),
            id: p.id,
            practice_type: p.practice_type,
            subject: p.subject,
            state: p.state,
            channel: p.channel,
            received_at: p.received_at,
            updated_at: p.updated_at,
        })
        .collect())
}

/// The tax code a practice belongs to, or `None` when there is no such practice.
pub async fn owner(pool: &PgPool, id: Uuid) -> Result<Option<FiledTaxCode>, sqlx::Error> {
    reads::owner(pool, id).await
}

/// The transitions of a practice after `after` (a `seq`), oldest first.
pub async fn transitions_since(
    pool: &PgPool,
    id: Uuid,
    after: i64,
) -> Result<Vec<Transition>, sqlx::Error> {
    reads::transitions_since(pool, id, after).await
}

/// Everything the folder knows of a practice, or `None` when there is no such practice.
pub async fn practice(pool: &PgPool, id: Uuid) -> Result<Option<PracticeView>, sqlx::Error> {
    let Some(p) = reads::practice(pool, id).await? else {
        return Ok(None);
    };
    let archive = archived(pool, id).await?;
    Ok(Some(PracticeView {
        id: p.id,
        tax_code: p.tax_code,
        practice_type: p.practice_type,
        subject: p.subject,
        channel: p.channel,
        operator_id: p.operator_id,
        integrates: p.integrates,
        state: p.state,
        rejection_reasons: p.rejection_reasons,
        received_at: p.received_at,
        updated_at: p.updated_at,
        timeline: transitions_since(pool, id, 0).await?,
        registrations: registrations(pool, id).await?,
        documents: documents(&archive, pool, id).await?,
        archive,
        notifications: notifications(pool, id).await?,
        procedure: procedure::view(pool, id).await?,
    }))
}

async fn registrations(pool: &PgPool, id: Uuid) -> Result<Vec<RegistrationView>, sqlx::Error> {
    Ok(register::of_practice(pool, id)
        .await?
        .into_iter()
        .map(RegistrationView::from)
        .collect())
}

impl From<register::Registration> for RegistrationView {
    fn from(r: register::Registration) -> RegistrationView {
        RegistrationView {
            register: r.register,
            aoo: r.aoo,
            year: r.year,
            number: r.number.to_string(),
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
        }
    }
}

fn impronta(sha256_hex: &str) -> String {
    Impronta::from_hex(sha256_hex)
        .map(|impronta| impronta.to_base64())
        .unwrap_or_default()
}

async fn archived(pool: &PgPool, id: Uuid) -> Result<Vec<ArchivedObject>, sqlx::Error> {
    let numbers: std::collections::HashMap<i64, String> = register::of_practice(pool, id)
        .await?
        .into_iter()
        .map(|r| (r.id, format!("{}/{}", r.year, r.number)))
        .collect();
    Ok(sportello_archive::of_practice(pool, id)
        .await?
        .into_iter()
        .map(|o| ArchivedObject {
            impronta: impronta(&o.sha256),
            registration: numbers.get(&o.registration_id).cloned().unwrap_or_default(),
            key: o.object_key,
            kind: o.kind,
            file_name: o.file_name,
            media_type: o.media_type,
            sha256: o.sha256,
            size_bytes: o.size_bytes,
            stored_at: o.stored_at,
        })
        .collect())
}

async fn documents(
    archive: &[ArchivedObject],
    pool: &PgPool,
    id: Uuid,
) -> Result<Vec<DocumentView>, sqlx::Error> {
    Ok(reads::documents_of(pool, id)
        .await?
        .into_iter()
        .map(|d| {
            // The archived copy of this document: same bytes; the name breaks the tie when the
            // citizen sent the same file twice.
            let copies: Vec<&ArchivedObject> = archive
                .iter()
                .filter(|a| a.kind == "document" && a.sha256 == d.sha256)
                .collect();
            let archive_key = copies
                .iter()
                .find(|a| a.file_name == d.file_name)
                .or(copies.first())
                .map(|a| a.key.clone());
            DocumentView {
                position: i64::from(d.position),
                role: d.role,
                media_type: d.declared_media_type,
                size_bytes: d.size_bytes,
                impronta: impronta(&d.sha256),
                sha256: d.sha256,
                file_name: d.file_name,
                archive_key,
            }
        })
        .collect())
}

/// The notifications of a practice, oldest first.
async fn notifications(pool: &PgPool, id: Uuid) -> Result<Vec<NotificationView>, sqlx::Error> {
    notifications::of_practice(pool, id).await
}

/// The receipt of practice `id` (see `sportello_register::receipt`): the archived copy when it
/// is there and matches its recorded SHA-256, else the PDF made from the incoming registration;
/// `None` before registration and for an integration.
pub async fn receipt(
    services: &crate::Services,
    id: Uuid,
) -> Result<Option<Vec<u8>>, crate::error::ApiError> {
    use sportello_register::receipt::ReceiptFacts;
    let pool = services.store.pool();
    let Some(practice) = services.store.practice(id).await.map_err(store_error)? else {
        return Ok(None);
    };
    if practice.integrates.is_some() {
        return Ok(None);
    }
    let archived = archived(pool, id)
        .await?
        .into_iter()
        .find(|o| o.kind == "receipt")
        .map(|o| (o.key, o.sha256));
    if let Some((key, sha256)) = archived {
        match services.objects.get(&key).await {
            Ok(bytes) if sportello_shared::objects::sha256_hex(&bytes) == sha256 => {
                return Ok(Some(bytes));
            }
            Ok(_) => {
                tracing::error!(practice = %id, "the archived receipt does not match its SHA-256")
            }
            Err(err) => {
                tracing::warn!(practice = %id, error = %err, "the archived receipt could not be read")
            }
        }
    }
    let Some(kind) = services.catalog.get(&practice.practice_type) else {
        return Ok(None);
    };
    let registration = register::of_practice(pool, id)
        .await?
        .into_iter()
        .find(|r| r.direction == "incoming");
    Ok(registration.map(|r| {
        ReceiptFacts::of(
            &r,
            kind,
            &services.settings.procedure,
            &services.settings.municipality,
        )
        .pdf()
    }))
}

fn store_error(err: sportello_shared::store::StoreError) -> crate::error::ApiError {
    match err {
        sportello_shared::store::StoreError::Database(err) => err.into(),
        other => crate::error::ApiError::Internal(other.into()),
    }
}
