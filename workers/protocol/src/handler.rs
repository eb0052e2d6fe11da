//! The protocol worker's handler: registers the validated practices in hand, in one
//! transaction, each with its number, its signed segnatura and its move to `registered`.
//!
//! A citizen's integration gets its own number and refers to the incoming registration of the
//! practice it answers (`refers_to`, and `PrimaRegistrazione` in its segnatura).
//!
//! A redelivered practice finds its registration (event key `protocol`) and keeps its number;
//! a practice no longer waiting (withdrawn meanwhile) is left alone. Everything that can fail
//! for one practice alone is checked before numbers are reserved, so that a failure after the
//! reservation rolls the whole batch back and leaves no gap.

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Europe::Rome;
use sportello_register::register::{
    self, Clock, Direction, NewRegistration, legal_date, legal_year,
};
use sportello_register::segnatura::{
    ClassCode, Classification, Contacts, Document, Impronta, LegalPerson, NaturalPerson, Party,
    Recipient, RegistrationId, Segnatura,
};
use sportello_register::signature::{AooSigner, SignatureError};
use sportello_register::{INCOMING_EVENT, Keeper, PRIMARY_DOCUMENT_NAME};
use sportello_shared::broker::Outgoing;
use sportello_shared::catalog::Catalog;
use sportello_shared::domain::media;
use sportello_shared::domain::privacy::scrub;
use sportello_shared::domain::protocol_number::ProtocolNumber;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::domain::submission::Submission;
use sportello_shared::domain::tax_code::FiledTaxCode;
use sportello_shared::messages::{StageMessage, hand_over, route};
use sportello_shared::procedure;
use sportello_shared::store::{self, Store, StoreError};
use sportello_shared::worker::{BatchHandler, Incoming, Outcome};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use tracing::{info, warn};
use uuid::Uuid;

const ACTOR: &str = "worker:protocol";

pub struct Protocol {
    pub store: Store,
    pub catalog: Arc<Catalog>,
    pub keeper: Keeper,
    pub signer: Arc<AooSigner>,
    pub clock: Arc<dyn Clock>,
    /// The procedure's day (`procedure.day_secs`).
    pub day_secs: u64,
    pub batch_size: usize,
    pub practice_exchange: String,
    pub events_exchange: String,
}

/// A validated practice ready for its number.
struct Pending {
    id: Uuid,
    subject: String,
    channel: String,
    classification: Classification,
    sender: Party,
    correspondents: serde_json::Value,
    primary: Vec<u8>,
    attachments: Vec<Document>,
    documents: serde_json::Value,
    /// For a citizen's integration: the incoming registration of the practice it answers.
    first: Option<FirstRegistration>,
    /// The practice's type in the catalog: its term starts with the registration.
    practice_type: String,
    /// For a citizen's integration: the practice it answers, whose term resumes.
    integrates: Option<Uuid>,
}

/// The registration a new one refers to: its row id and its identifier in the segnatura.
#[derive(Clone)]
struct FirstRegistration {
    row_id: i64,
    id: RegistrationId,
}

/// What became of one practice of the batch.
enum Disposition {
    Registered,
    /// Nothing to do now; these outputs (maybe none) still have to go out.
    Settled(Vec<Outgoing>),
    Refused(String),
}

impl BatchHandler for Protocol {
    fn name(&self) -> &'static str {
        "protocol"
    }

    fn max_batch(&self) -> usize {
        self.batch_size
    }

    async fn handle_batch(&self, messages: &[Incoming]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = messages.iter().map(|_| None).collect();
        let mut wanted: BTreeMap<Uuid, Vec<usize>> = BTreeMap::new();
        for (i, message) in messages.iter().enumerate() {
            match StageMessage::parse(&message.body) {
                Ok(stage) => wanted.entry(stage.practice_id).or_default().push(i),
                Err(reason) => outcomes[i] = Some(Outcome::Reject(reason)),
            }
        }
        let mut refused = Vec::new();
        let mut ids: Vec<Uuid> = wanted.keys().copied().collect();
        let registered = loop {
            match self.register_all(ids.clone()).await {
                Err(BatchError::BadPractice(id, reason)) => {
                    warn!(practice_id = %id, reason = %scrub(&reason), "left out of the batch");
                    ids.retain(|other| *other != id);
                    refused.push((id, reason));
                }
                other => break other,
            }
        };
        for (id, reason) in refused {
            let indices = &wanted[&id];
            outcomes[indices[0]] = Some(Outcome::Reject(reason));
            for &i in &indices[1..] {
                outcomes[i] = Some(Outcome::Done(Vec::new()));
            }
        }
        match registered {
            Ok(results) => {
                for (id, result) in results {
                    let indices = &wanted[&id];
                    let first = match result {
                        Disposition::Registered => Outcome::Done(self.passed_on(id)),
                        Disposition::Settled(outputs) => Outcome::Done(outputs),
                        Disposition::Refused(reason) => Outcome::Reject(reason),
                    };
                    // A practice twice in one batch: the copies have nothing left to do.
                    for &i in &indices[1..] {
                        outcomes[i] = Some(Outcome::Done(Vec::new()));
                    }
                    outcomes[indices[0]] = Some(first);
                }
            }
            Err(err) => {
                warn!(error = %err, "registration batch rolled back; will retry");
                for indices in wanted.values() {
                    for &i in indices {
                        outcomes[i] = Some(Outcome::Retry(err.to_string()));
                    }
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::Retry("no outcome".into())))
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
enum BatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("signing the segnatura: {0}")]
    Signature(String),
    /// One practice's text makes no valid segnatura: leave it out and register the others.
    #[error("practice {0}: {1}")]
    BadPractice(Uuid, String),
}

impl Protocol {
    async fn register_all(
        &self,
        ids: Vec<Uuid>,
    ) -> Result<BTreeMap<Uuid, Disposition>, BatchError> {
        let mut tx = self.store.begin().await?;
        let rows = store::lock_many(&mut tx, &ids).await?;
        let registered_before: HashSet<Uuid> =
            register::registered_by_event(&mut tx, &ids, INCOMING_EVENT).await?;
        let mut documents = store::document_facts_of(&mut tx, &ids).await?;
        let integrated: Vec<Uuid> = rows.iter().filter_map(|row| row.integrates).collect();
        let firsts = self.incoming_registrations(&mut tx, &integrated).await?;
        let mut results: BTreeMap<Uuid, Disposition> = ids
            .iter()
            .map(|id| {
                (
                    *id,
                    Disposition::Refused(format!("practice {id} does not exist")),
                )
            })
            .collect();
        let mut pending = Vec::new();
        for row in rows {
            let id = row.id;
            let state = row.state.as_str();
            let settled = if registered_before.contains(&id) {
                // Registered before; pass it on again only if the crash came before that.
                let again = state == PracticeState::Registered.as_str();
                Disposition::Settled(if again {
                    self.passed_on(id)
                } else {
                    Vec::new()
                })
            } else if state != PracticeState::Validated.as_str() {
                info!(practice_id = %id, %state, "not waiting for registration any more");
                Disposition::Settled(Vec::new())
            } else {
                let docs = documents.remove(&id).unwrap_or_default();
                let first = match row.integrates {
                    None => Ok(None),
                    Some(parent) => firsts.get(&parent).cloned().map(Some).ok_or_else(|| {
                        format!("the practice it integrates ({parent}) has no registration")
                    }),
                };
                match first.and_then(|first| self.pending(&row, &docs, first)) {
                    Ok(ready) => {
                        pending.push(ready);
                        continue;
                    }
                    Err(reason) => Disposition::Refused(reason),
                }
            };
            results.insert(id, settled);
        }
        if !pending.is_empty() {
            let now = self.clock.now();
            let year = legal_year(now);
            let register = self.keeper.register_id();
            let first = register::reserve(&mut tx, &register, year, pending.len()).await?;
            // Signing (CPU) on the other cores while the practices move (database).
            let pending = Arc::new(std::mem::take(&mut pending));
            let signing = {
                let (keeper, signer, pending) =
                    (self.keeper.clone(), self.signer.clone(), pending.clone());
                tokio::task::spawn_blocking(move || {
                    sign_all(&keeper, &signer, &pending, first, now)
                })
            };
            let changes: Vec<(Uuid, serde_json::Value)> = pending
                .iter()
                .enumerate()
                .map(|(offset, practice)| {
                    let number = first.after(offset);
                    let registration = serde_json::json!({
                        "register": register.code,
                        "year": year,
                        "number": number.to_string(),
                        "date": legal_date(now),
                    });
                    (practice.id, registration)
                })
                .collect();
            store::advance_many(
                &mut tx,
                PracticeState::Validated,
                PracticeState::Registered,
                ACTOR,
                INCOMING_EVENT,
                &changes,
            )
            .await?;
            let signed = signing
                .await
                .map_err(|e| BatchError::Signature(format!("signing stopped: {e}")))??;
            let mut batch = Vec::with_capacity(pending.len());
            for ((offset, practice), signed) in pending.iter().enumerate().zip(signed) {
                let number = first.after(offset);
                batch.push(NewRegistration {
                    year,
                    number,
                    direction: Direction::Incoming,
                    registered_at: now,
                    practice_id: practice.id,
                    event_key: INCOMING_EVENT.to_owned(),
                    subject: practice.subject.clone(),
                    correspondents: practice.correspondents.clone(),
                    classification: serde_json::json!({
                        "code": class_code(&practice.classification),
                        "description": practice.classification.name,
                    }),
                    channel: practice.channel.clone(),
                    documents: practice.documents.clone(),
                    primary_document: practice.primary.clone(),
                    refers_to: practice.first.as_ref().map(|first| first.row_id),
                    segnatura: signed,
                });
                results.insert(practice.id, Disposition::Registered);
            }
            register::insert_many(&mut tx, &register, &batch).await?;
            // The procedure's clock, in the same commit: the protocol date starts the term of a
            // new practice (art. 18-bis) and ends the suspension an integration answers.
            let protocol_date = legal_date(now);
            for practice in pending.iter() {
                match practice.integrates {
                    Some(parent) => {
                        procedure::resume(&mut tx, parent, now, self.day_secs).await?;
                    }
                    None => {
                        if let Some(kind) = self.catalog.get(&practice.practice_type) {
                            procedure::start(&mut tx, practice.id, kind, protocol_date, now)
                                .await?;
                        }
                    }
                }
            }
            tx.commit().await?;
            info!(registered = batch.len(), "registrations committed");
        } else {
            tx.commit().await?;
        }
        Ok(results)
    }

    /// Everything a practice's registration needs, from its row and its documents; an error
    /// says why this practice cannot be registered (the others of the batch still can).
    fn pending(
        &self,
        row: &store::LockedPractice,
        documents: &[store::StoredDocument],
        first: Option<FirstRegistration>,
    ) -> Result<Pending, String> {
        let id = row.id;
        let stored = &row.submission;
        let practice_type = row.practice_type.clone();
        let (channel, subject) = (row.channel.clone(), row.subject.clone());
        let submission: Submission = serde_json::from_value(stored.clone())
            .map_err(|e| format!("stored submission unreadable: {e}"))?;
        let kind = self.catalog.get(&practice_type).ok_or_else(|| {
            format!("practice type `{practice_type}` is no longer in the catalog")
        })?;
        let applicant = &submission.applicant;
        let tax_code = FiledTaxCode::file(&applicant.tax_code)
            .map_err(|e| format!("applicant.tax_code has {e}"))?;
        let person = NaturalPerson {
            given_name: applicant.given_name.trim().to_owned(),
            family_name: applicant.family_name.trim().to_owned(),
            title: None,
            codice_fiscale: Some(tax_code.as_str().to_owned()),
            contacts: Some(Contacts {
                emails: vec![applicant.email.trim().to_owned()],
                ..Contacts::default()
            }),
        };
        let sender = match &applicant.company {
            Some(company) => Party::LegalPerson(LegalPerson {
                name: company.name.trim().to_owned(),
                vat_number: Some(company.vat_number.trim().to_owned()),
                contacts: None,
                people: vec![person],
            }),
            None => Party::NaturalPerson(person),
        };
        let primary = serde_json::to_vec(&stored).map_err(|e| e.to_string())?;
        let mut attachments = Vec::with_capacity(documents.len());
        let mut listed = vec![serde_json::json!({
            "file_name": PRIMARY_DOCUMENT_NAME,
            "media_type": "application/json",
            "role": "istanza",
            "impronta": Impronta::of(&primary).to_base64(),
        })];
        for document in documents {
            let fingerprint = Impronta::from_hex(&document.sha256).map_err(|e| e.to_string())?;
            let media_type = media::canonical(&document.declared_media_type);
            let label = kind
                .documents
                .iter()
                .find(|d| d.role == document.role)
                .map(|d| d.label.clone());
            listed.push(serde_json::json!({
                "file_name": document.file_name,
                "media_type": media_type,
                "role": document.role,
                "impronta": fingerprint.to_base64(),
            }));
            attachments.push(Document {
                file_name: document.file_name.clone(),
                mime_type: media_type,
                description: label,
                fingerprint,
                location: None,
            });
        }
        let pending = Pending {
            id,
            subject,
            channel,
            classification: Classification {
                name: kind.classification.description.clone(),
                code: ClassCode::Flat(kind.classification.code.clone()),
            },
            correspondents: serde_json::json!([{
                "role": "mittente",
                "given_name": applicant.given_name,
                "family_name": applicant.family_name,
                "tax_code": tax_code.as_str(),
                "email": applicant.email,
                "company": applicant.company.as_ref().map(|c| serde_json::json!({"name": c.name, "vat_number": c.vat_number})),
            }]),
            sender,
            primary,
            attachments,
            documents: serde_json::Value::Array(listed),
            first,
            practice_type,
            integrates: row.integrates,
        };
        Ok(pending)
    }

    /// The incoming registrations of the practices that integrations answer, by practice.
    async fn incoming_registrations(
        &self,
        tx: &mut store::Tx,
        practices: &[Uuid],
    ) -> Result<HashMap<Uuid, FirstRegistration>, sqlx::Error> {
        if practices.is_empty() {
            return Ok(HashMap::new());
        }
        let registrations =
            register::by_event_in(tx, &self.keeper.register_id(), practices, INCOMING_EVENT)
                .await?;
        Ok(registrations
            .into_iter()
            .map(|registration| {
                let id = RegistrationId {
                    administration: self.keeper.administration.clone(),
                    aoo: self.keeper.aoo.clone(),
                    register: self.keeper.register.clone(),
                    number: registration.number,
                    date: registration.registration_date,
                    time: None,
                };
                let first = FirstRegistration {
                    row_id: registration.id,
                    id,
                };
                (registration.practice_id, first)
            })
            .collect())
    }

    fn passed_on(&self, id: Uuid) -> Vec<Outgoing> {
        hand_over(
            &self.practice_exchange,
            route::STORE,
            &self.events_exchange,
            id,
            PracticeState::Registered,
        )
    }
}

fn channel_label(channel: &str) -> &'static str {
    match channel {
        "counter" => "lo sportello fisico",
        _ => "il portale",
    }
}

fn class_code(classification: &Classification) -> String {
    match &classification.code {
        ClassCode::Flat(code) => code.clone(),
        ClassCode::Path(levels) => levels
            .iter()
            .map(|l| l.code.as_str())
            .collect::<Vec<_>>()
            .join("."),
    }
}

/// Signs the batch's segnature on every core: signing is the CPU-heavy part of a batch.
/// A practice whose text cannot make a segnatura is named, so the caller can leave it out
/// and register the others (its number is never taken: the transaction is rolled back).
fn sign_all(
    keeper: &Keeper,
    signer: &AooSigner,
    pending: &[Pending],
    first: ProtocolNumber,
    now: DateTime<Utc>,
) -> Result<Vec<String>, BatchError> {
    let sign = |offset: usize, practice: &Pending| {
        let referred = practice.first.as_ref().map(|first| first.id.clone());
        let segnatura = segnatura(keeper, practice, first.after(offset), now, referred);
        signer.sign(&segnatura, now).map_err(|e| match e {
            SignatureError::Segnatura(reason) => BatchError::BadPractice(
                practice.id,
                format!("no segnatura can be made for this practice: {reason}"),
            ),
            other => BatchError::Signature(other.to_string()),
        })
    };
    let sign_part = |offset: usize, part: &[Pending]| {
        part.iter()
            .enumerate()
            .map(|(i, practice)| sign(offset + i, practice))
            .collect::<Result<Vec<_>, _>>()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = pending.len().div_ceil(threads).max(1);
    if chunk >= pending.len() {
        return sign_part(0, pending);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = pending
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| scope.spawn(move || sign_part(c * chunk, part)))
            .collect();
        let mut signed = Vec::with_capacity(pending.len());
        for handle in handles {
            signed.extend(handle.join().expect("signing threads do not panic")?);
        }
        Ok(signed)
    })
}

/// The segnatura of an incoming registration, before it is signed.
fn segnatura(
    keeper: &Keeper,
    practice: &Pending,
    number: ProtocolNumber,
    at: DateTime<Utc>,
    first: Option<RegistrationId>,
) -> Segnatura {
    let local = at.with_timezone(&Rome);
    Segnatura {
        registration: RegistrationId {
            administration: keeper.administration.clone(),
            aoo: keeper.aoo.clone(),
            register: keeper.register.clone(),
            number,
            date: local.date_naive(),
            time: local.time().with_nanosecond(0),
        },
        first_registration: first,
        subject: practice.subject.clone(),
        classification: practice.classification.clone(),
        dossier: None,
        reserved: None,
        sender: practice.sender.clone(),
        recipients: vec![Recipient::new(keeper.as_party())],
        primary_document: Document {
            file_name: PRIMARY_DOCUMENT_NAME.to_owned(),
            mime_type: "application/json".to_owned(),
            description: Some(format!(
                "Istanza presentata tramite {}",
                channel_label(&practice.channel)
            )),
            fingerprint: Impronta::of(&practice.primary),
            location: None,
        },
        attachments: practice.attachments.clone(),
    }
}
