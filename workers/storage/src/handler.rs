//! The storage worker: `registered → stored`.
//!
//! For one practice it archives the istanza (the primary document, from the registration), every
//! document (inline from the folder, or copied from the staging area) and the signed segnatura,
//! each read back and checked against its impronta; then it records the keys, removes the staged
//! copies and moves the practice on. Every step is safe to repeat: a redelivery finds its
//! objects already archived with the right digest and its transition already recorded.

use crate::archive::{self, Entry, Source};
use base64::Engine;
use sportello_shared::broker::Outgoing;
use sportello_shared::domain::staged_key;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::messages::{StageMessage, hand_over, route};
use sportello_shared::objects::{ObjectError, ObjectStore, sha256_hex};
use sportello_shared::store::{self, Applied, Store, StoreError, StoredDocument, Transition, Tx};
use sportello_shared::worker::{Failure, Handler, Incoming, Outcome};
use sqlx::Row;
use tracing::{info, warn};
use uuid::Uuid;

/// The event key of the move to `stored`.
pub const STORAGE_EVENT: &str = "storage";
/// The event key of a practice's incoming registration (the protocol worker's).
const INCOMING_REGISTRATION: &str = "protocol";
const ACTOR: &str = "worker:storage";
const PRIMARY_FILE_NAME: &str = "istanza.json";

pub struct Storage {
    pub store: Store,
    pub objects: ObjectStore,
    pub practice_exchange: String,
    pub events_exchange: String,
}

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

/// The incoming registration, as far as the archive needs it.
pub struct RegistrationFacts {
    pub id: i64,
    pub aoo: String,
    pub register: String,
    pub year: i32,
    pub number: i64,
    pub documents: serde_json::Value,
    pub primary_document: Vec<u8>,
    pub segnatura: String,
}

/// Reads the registration a cause produced for a practice (`protocol` for the incoming one).
pub async fn registration_facts(
    tx: &mut Tx,
    practice_id: Uuid,
    event_key: &str,
) -> Result<Option<RegistrationFacts>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, aoo, register, year, number, documents, primary_document, segnatura \
         FROM registrations WHERE practice_id = $1 AND event_key = $2",
    )
    .bind(practice_id)
    .bind(event_key)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|row| RegistrationFacts {
        id: row.get("id"),
        aoo: row.get("aoo"),
        register: row.get("register"),
        year: row.get("year"),
        number: row.get("number"),
        documents: row.get("documents"),
        primary_document: row.get("primary_document"),
        segnatura: row.get("segnatura"),
    }))
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

/// The SHA-256 (hex) behind a registration's base64 impronta.
pub fn impronta_hex(impronta: &str) -> Option<String> {
    base64::engine::general_purpose::STANDARD
        .decode(impronta)
        .ok()
        .filter(|digest| digest.len() == 32)
        .map(hex::encode)
}

impl Handler for Storage {
    fn name(&self) -> &'static str {
        "storage"
    }

    async fn handle(&self, message: &Incoming) -> Outcome {
        let stage = match StageMessage::parse(&message.body) {
            Ok(stage) => stage,
            Err(reason) => return Outcome::Reject(reason),
        };
        match self.store_practice(stage.practice_id).await {
            Ok(outputs) => Outcome::Done(outputs),
            Err(Failure::Retry(reason)) => {
                warn!(practice_id = %stage.practice_id, %reason, "storage will retry");
                Outcome::Retry(reason)
            }
            Err(Failure::Reject(reason)) => Outcome::Reject(reason),
        }
    }
}

impl Storage {
    /// A staged copy is read and removed only when it is one this system may touch: intake's
    /// own copy of exactly this document, or a sender's upload of the one shape intake takes.
    /// Anything else is refused before the object store hears of it, so a key that slipped
    /// past intake can never make storage read or delete an archived object.
    fn verified_staging_key<'k>(
        &self,
        id: Uuid,
        document: &StoredDocument,
        key: &'k str,
    ) -> Result<&'k str, Failure> {
        let position = usize::try_from(document.position).unwrap_or(usize::MAX);
        if staged_key::is_removable(self.objects.staging_prefix(), key, id, position) {
            Ok(key)
        } else {
            Err(Failure::Reject(format!(
                "ALARM: practice {id}, document {}: its staged key is not a staging object this system issued or accepts; nothing was read or removed",
                document.position
            )))
        }
    }

    async fn store_practice(&self, id: Uuid) -> Result<Vec<Outgoing>, Failure> {
        let practice = self
            .store
            .practice(id)
            .await?
            .ok_or_else(|| Failure::Reject(format!("practice {id} does not exist")))?;
        match practice.state {
            PracticeState::Registered => {}
            // Stored before; the crash may have come before dispatch heard of it.
            PracticeState::Stored => return Ok(self.passed_on(id)),
            other => {
                info!(practice_id = %id, state = %other, "not waiting for storage any more");
                return Ok(Vec::new());
            }
        }
        let mut tx = self.store.begin().await?;
        let registration = registration_facts(&mut tx, id, INCOMING_REGISTRATION)
            .await?
            .ok_or_else(|| {
                Failure::Reject(format!(
                    "practice {id} is registered but has no registration"
                ))
            })?;
        drop(tx);
        let documents = self.store.documents(id).await?;
        let listed = registration
            .documents
            .as_array()
            .cloned()
            .unwrap_or_default();
        if listed.len() != documents.len() + 1 {
            return Err(Failure::Reject(format!(
                "practice {id}: the registration lists {} documents, the folder holds {} plus the istanza",
                listed.len(),
                documents.len()
            )));
        }
        let impronta = |i: usize| -> Result<String, Failure> {
            listed[i]["impronta"]
                .as_str()
                .and_then(impronta_hex)
                .ok_or_else(|| {
                    Failure::Reject(format!(
                        "practice {id}: document {i} of the registration has no readable impronta"
                    ))
                })
        };
        let prefix = archive::registration_prefix(
            &registration.aoo,
            &registration.register,
            registration.year,
            registration.number,
        );
        let mut entries = vec![(
            "primary",
            PRIMARY_FILE_NAME.to_owned(),
            "application/json".to_owned(),
            Entry {
                key: archive::document_key(&prefix, 0, PRIMARY_FILE_NAME),
                source: Source::Bytes(&registration.primary_document),
                media_type: "application/json",
                sha256: impronta(0)?,
            },
        )];
        for (i, document) in documents.iter().enumerate() {
            let sha256 = impronta(i + 1)?;
            if sha256 != document.sha256 {
                return Err(Failure::Reject(format!(
                    "practice {id}: {} measured {} at intake but its impronta is {sha256}",
                    document.file_name, document.sha256
                )));
            }
            let source = match (&document.content, &document.staged_key) {
                (Some(bytes), _) => Source::Bytes(bytes),
                (None, Some(key)) => Source::Staged(self.verified_staging_key(id, document, key)?),
                (None, None) => {
                    return Err(Failure::Reject(format!(
                        "practice {id}: {} has neither bytes nor a staged copy",
                        document.file_name
                    )));
                }
            };
            entries.push((
                "document",
                document.file_name.clone(),
                document.declared_media_type.clone(),
                Entry {
                    key: archive::document_key(&prefix, i + 1, &document.file_name),
                    source,
                    media_type: &document.declared_media_type,
                    sha256,
                },
            ));
        }
        entries.push((
            "segnatura",
            "segnatura.xml".to_owned(),
            "application/xml".to_owned(),
            Entry {
                key: archive::segnatura_key(&prefix),
                source: Source::Bytes(registration.segnatura.as_bytes()),
                media_type: "application/xml",
                sha256: sha256_hex(registration.segnatura.as_bytes()),
            },
        ));
        let mut archived = Vec::with_capacity(entries.len());
        for (kind, file_name, media_type, entry) in &entries {
            let size = archive::put_verified(&self.objects, entry).await?;
            archived.push(Archived {
                kind,
                file_name: file_name.clone(),
                media_type: media_type.clone(),
                object_key: entry.key.clone(),
                sha256: entry.sha256.clone(),
                size,
            });
        }
        // Every archived copy is proven: the staged ones have done their job. A redelivery
        // after this point finds the archive complete and never needs them again.
        for document in &documents {
            if let Some(key) = &document.staged_key {
                let key = self.verified_staging_key(id, document, key)?;
                match self.objects.delete(key).await {
                    Ok(()) | Err(ObjectError::NotFound(_)) => {}
                    Err(err) => return Err(err.into()),
                }
            }
        }
        let mut tx = self.store.begin().await?;
        record_archived(&mut tx, id, registration.id, &archived).await?;
        let applied = store::transition(
            &mut tx,
            &Transition {
                practice_id: id,
                to: PracticeState::Stored,
                actor: ACTOR,
                event_key: STORAGE_EVENT,
                details: serde_json::json!({ "objects": archived }),
                rejection_reasons: None,
            },
        )
        .await;
        match applied {
            Ok(Applied::Moved { .. }) | Ok(Applied::AlreadyApplied) => {}
            // Withdrawn while its documents were being archived: they stay archived (they are
            // registered), and nothing more happens to the practice.
            Err(StoreError::Refused { from, .. }) => {
                info!(practice_id = %id, state = %from, "archived, but the practice moved on meanwhile");
                tx.commit().await?;
                return Ok(Vec::new());
            }
            Err(err) => return Err(err.into()),
        }
        tx.commit().await?;
        info!(practice_id = %id, objects = archived.len(), "practice stored");
        Ok(self.passed_on(id))
    }

    fn passed_on(&self, id: Uuid) -> Vec<Outgoing> {
        hand_over(
            &self.practice_exchange,
            route::DISPATCH,
            &self.events_exchange,
            id,
            PracticeState::Stored,
        )
    }
}
