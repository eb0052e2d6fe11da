//! The storage worker: `registered → stored`.
//!
//! For one practice it archives the istanza (the primary document, from the registration), every
//! document (inline from the folder, or copied from the staging area), the signed segnatura and
//! the receipt PDF (art. 18-bis L. 241/1990; first submissions only), together, each sent with its impronta for the store to verify; then it records the keys, removes the staged
//! copies and moves the practice on. Every step is safe to repeat: a redelivery finds its
//! objects already archived with the right digest and its transition already recorded.

use futures::future::try_join_all;
use sportello_archive::layout::{self as archive, Entry, Source};
use sportello_archive::{Archived, record_archived};
use sportello_register::facts::{impronta_hex, registration_facts};
use sportello_register::receipt::{RECEIPT_FILE_NAME, ReceiptFacts};
use sportello_register::register;
use sportello_register::{INCOMING_EVENT, PRIMARY_DOCUMENT_NAME};
use sportello_shared::broker::Outgoing;
use sportello_shared::catalog::Catalog;
use sportello_shared::config::{MunicipalitySettings, ProcedureSettings};
use sportello_shared::domain::staged_key;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::messages::{StageMessage, hand_over, route};
use sportello_shared::objects::{ObjectError, ObjectStore, sha256_hex};
use sportello_shared::store::{self, Applied, Store, StoreError, StoredDocument, Transition};
use sportello_shared::worker::{Failure, Handler, Incoming, Outcome};
use std::sync::Arc;
use tracing::{info, warn};
use uuid::Uuid;

/// The event key of the move to `stored`.
pub const STORAGE_EVENT: &str = "storage";
const ACTOR: &str = "worker:storage";
/// Objects of one practice in flight at once.
const ARCHIVE_CONCURRENCY: usize = 4;

pub struct Storage {
    pub store: Store,
    pub objects: ObjectStore,
    pub practice_exchange: String,
    pub events_exchange: String,
    /// What the receipt archived beside the segnatura names: the type's term and office, the
    /// desk's responsabile and remedies, the municipality.
    pub catalog: Arc<Catalog>,
    pub procedure: ProcedureSettings,
    pub municipality: MunicipalitySettings,
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
        // What the archive is made of, read in one transaction.
        let mut snapshot = self.store.snapshot().await?;
        let practice = snapshot
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
        let registration = registration_facts(snapshot.connection(), id, INCOMING_EVENT)
            .await?
            .ok_or_else(|| {
                Failure::Reject(format!(
                    "practice {id} is registered but has no registration"
                ))
            })?;
        let documents = snapshot.documents(id).await?;
        let incoming = match practice.integrates {
            None => register::of_event(snapshot.connection(), id, INCOMING_EVENT).await?,
            Some(_) => None,
        };
        snapshot.close().await?;
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
            PRIMARY_DOCUMENT_NAME.to_owned(),
            "application/json".to_owned(),
            Entry {
                key: archive::document_key(&prefix, 0, PRIMARY_DOCUMENT_NAME),
                source: Source::Bytes(&registration.primary_document),
                media_type: "application/json",
                sha256: impronta(0)?,
                certified: true,
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
                    certified: true,
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
                certified: true,
            },
        ));
        // A first submission's receipt, the same bytes the citizen got by email.
        let receipt = match (incoming, self.catalog.get(&practice.practice_type)) {
            (Some(r), Some(kind)) => {
                Some(ReceiptFacts::of(&r, kind, &self.procedure, &self.municipality).pdf())
            }
            _ => None,
        };
        if let Some(pdf) = &receipt {
            entries.push((
                "receipt",
                RECEIPT_FILE_NAME.to_owned(),
                "application/pdf".to_owned(),
                Entry {
                    key: archive::receipt_key(&prefix),
                    source: Source::Bytes(pdf),
                    media_type: "application/pdf",
                    sha256: sha256_hex(pdf),
                    certified: false,
                },
            ));
        }
        // A practice's objects go to the store together (each to its own key, each proved by
        // the store against its impronta), at most ARCHIVE_CONCURRENCY at a time: a large
        // staged copy holds one part in memory.
        let mut archived: Vec<Archived> = Vec::with_capacity(entries.len());
        for group in entries.chunks(ARCHIVE_CONCURRENCY) {
            let puts = group.iter().map(|(kind, file_name, media_type, entry)| {
                self.archive_one(kind, file_name, media_type, entry)
            });
            archived.extend(try_join_all(puts).await?);
        }
        // Every archived copy is proven: the staged ones have done their job. A redelivery
        // after this point finds the archive complete and never needs them again.
        let mut staged = Vec::new();
        for document in &documents {
            if let Some(key) = &document.staged_key {
                staged.push(self.verified_staging_key(id, document, key)?);
            }
        }
        for group in staged.chunks(ARCHIVE_CONCURRENCY) {
            try_join_all(group.iter().map(|key| self.remove_staged(key))).await?;
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

    /// One object into the archive, proved by the store against its impronta.
    async fn archive_one(
        &self,
        kind: &'static str,
        file_name: &str,
        media_type: &str,
        entry: &Entry<'_>,
    ) -> Result<Archived, Failure> {
        let size = archive::put_verified(&self.objects, entry).await?;
        Ok(Archived {
            kind,
            file_name: file_name.to_owned(),
            media_type: media_type.to_owned(),
            object_key: entry.key.clone(),
            sha256: entry.sha256.clone(),
            size,
        })
    }

    async fn remove_staged(&self, key: &str) -> Result<(), Failure> {
        match self.objects.delete(key).await {
            Ok(()) | Err(ObjectError::NotFound(_)) => Ok(()),
            Err(err) => Err(err.into()),
        }
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
