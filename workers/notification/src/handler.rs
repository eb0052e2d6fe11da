//! The notification worker: listens to every practice event and writes to the citizen when a
//! step matters to them.
//!
//! | state                   | email                                                      |
//! |-------------------------|------------------------------------------------------------|
//! | `registered`            | receipt: protocol number and date, every document's impronta |
//! | `rejected`              | the reasons validation gave                                |
//! | `integration_requested` | what is missing, by when, how to answer                    |
//! | `completed`             | the outcome, result documents attached when small          |
//! | `completed` + pickup    | ready at the counter, with the opening hours               |
//! | `denied`                | the reasons                                                |
//! | `withdrawn`             | confirmation                                               |
//! | `silent_consent`        | granted by silence (art. 20), the attestation attached      |
//!
//! Other states (received, validated, stored, dispatched, in_progress, delivered) are the
//! fleet's business, not the citizen's: they are acknowledged and nothing is sent.
//!
//! Everything the email says is read from the folder store and the register, never from the
//! event, so a late or repeated event still tells the truth; the details of a back-office step
//! come from the history entry that the event announced.

use crate::letter::{self, Attachment, Letter};
use crate::mailer::{Mailer, Relay, SendError};
use crate::record::{self, NewNotification, Settlement, Status};
use crate::templates::{
    Common, IntegratedView, Municipality, Notice, PracticeView, ProtocolView, Reason,
    RegisteredDocument, ResultDocument, Template, Templates, human_size,
};
use chrono::{DateTime, NaiveDate};
use chrono_tz::Europe::Rome;
use lettre::message::Mailbox;
use sportello_register::receipt::{RECEIPT_FILE_NAME, ReceiptFacts};
use sportello_register::register::{self, Registration};
use sportello_shared::catalog::Catalog;
use sportello_shared::config::{MunicipalitySettings, ProcedureSettings, SmtpSettings};
use sportello_shared::domain::email::{EmailAddress, mask_email};
use sportello_shared::domain::privacy::scrub;
use sportello_shared::domain::submission::Submission;
use sportello_shared::messages::{PracticeEvent, STAGE_SCHEMA_VERSION};
use sportello_shared::objects::ObjectStore;
use sportello_shared::store::{HistoryEntry, PracticeRecord, Store};
use sportello_shared::worker::{Handler, Incoming, Outcome};
use std::sync::Arc;
use tracing::{info, warn};

/// How far the clock of the worker that published an event may lag the database's: a history
/// entry this much younger than the event still counts as the one the event announced.
const CLOCK_SLACK: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

/// Who writes, as the emails and their headers need it.
pub struct Letterhead {
    pub municipality: Municipality,
    /// Names our Message-IDs: the domain of the municipality's contact address.
    pub domain: String,
    /// Citizens who answer reach the desk, not the no-reply sender.
    pub reply_to: Mailbox,
}

impl Letterhead {
    pub fn from_settings(settings: &MunicipalitySettings) -> anyhow::Result<Letterhead> {
        let contact = EmailAddress::parse(&settings.email).map_err(|e| {
            anyhow::anyhow!(
                "municipality.email `{}` is not an address: {e}",
                settings.email
            )
        })?;
        let name = letter::header_text("municipality.name", &settings.name)?;
        Ok(Letterhead {
            municipality: settings.clone(),
            domain: contact.domain().to_owned(),
            reply_to: letter::mailbox(name, &contact)?,
        })
    }
}

/// The worker's handler: built once from the settings, shared by every task of the worker.
pub struct Notifier {
    pub store: Store,
    pub objects: ObjectStore,
    pub catalog: Arc<Catalog>,
    pub mailer: Arc<Mailer>,
    pub letterhead: Arc<Letterhead>,
    pub templates: Arc<Templates>,
    /// Result documents larger than this, together, are not attached.
    pub max_attachments_bytes: u64,
    /// What the receipt PDF names besides the registration (art. 8: responsabile, remedies).
    pub procedure: Arc<ProcedureSettings>,
    pub municipality: Arc<MunicipalitySettings>,
}

impl Notifier {
    pub fn new(
        store: Store,
        objects: ObjectStore,
        catalog: Arc<Catalog>,
        smtp: &SmtpSettings,
        municipality: &MunicipalitySettings,
        procedure: &ProcedureSettings,
    ) -> anyhow::Result<Notifier> {
        Ok(Notifier {
            store,
            objects,
            catalog,
            mailer: Arc::new(Mailer::from_settings(smtp)?),
            letterhead: Arc::new(Letterhead::from_settings(municipality)?),
            templates: Arc::new(Templates::new()),
            max_attachments_bytes: smtp.max_attachments_bytes,
            procedure: Arc::new(procedure.clone()),
            municipality: Arc::new(municipality.clone()),
        })
    }
}

mod rules;
pub use rules::*;

impl Handler for Notifier {
    fn name(&self) -> &'static str {
        "notification"
    }

    async fn handle(&self, message: &Incoming) -> Outcome {
        let event: PracticeEvent = match serde_json::from_slice(&message.body) {
            Ok(event) => event,
            Err(e) => return Outcome::Reject(format!("not a practice event: {e}")),
        };
        if event.schema_version != STAGE_SCHEMA_VERSION {
            return Outcome::Reject(format!(
                "practice event schema_version {} is not supported (this build reads {STAGE_SCHEMA_VERSION})",
                event.schema_version
            ));
        }
        if !concerns_citizen(event.state) {
            return Outcome::Done(Vec::new());
        }
        self.notify(&event).await.unwrap_or_else(|outcome| outcome)
    }
}

/// The registrations an email speaks of: the practice's own and, for an integration, those of
/// the practice it answers.
struct Registrations {
    own: Vec<Registration>,
    answered: Vec<Registration>,
}

fn retry(e: impl std::fmt::Display) -> Outcome {
    Outcome::Retry(scrub(&e.to_string()))
}

impl Notifier {
    async fn notify(&self, event: &PracticeEvent) -> Result<Outcome, Outcome> {
        let id = event.practice_id;
        let pool = self.store.pool();
        // Everything the email is made of, read at one moment in one transaction.
        let mut snapshot = self.store.snapshot().await.map_err(retry)?;
        let practice = snapshot
            .practice(id)
            .await
            .map_err(retry)?
            .ok_or_else(|| Outcome::Reject(format!("practice {id} does not exist")))?;
        let history = snapshot.history(id).await.map_err(retry)?;
        let registrations = Registrations {
            own: register::of_practice(snapshot.connection(), id)
                .await
                .map_err(retry)?,
            answered: match practice.integrates {
                None => Vec::new(),
                Some(answered) => register::of_practice(snapshot.connection(), answered)
                    .await
                    .map_err(retry)?,
            },
        };
        snapshot.close().await.map_err(retry)?;
        let (event_name, entry) = occurrence(&history, event).ok_or_else(|| {
            Outcome::Reject(format!(
                "practice {id} has no history entry into `{}`",
                event.state
            ))
        })?;
        let template = template_for(event.state, &entry.details)
            .expect("only states that concern the citizen get here");
        let submission: Submission = serde_json::from_value(practice.submission.clone())
            .map_err(|e| Outcome::Reject(format!("stored submission unreadable: {e}")))?;
        let recipient = choose_recipient(&submission.applicant, self.mailer.has_pec());
        let message_id = letter::message_id(id, &event_name, &self.letterhead.domain);
        let notification = record::enqueue(
            pool,
            &NewNotification {
                practice_id: id,
                event: &event_name,
                recipient: &recipient.raw,
                channel: recipient.channel.as_str(),
                template: template.as_str(),
                message_id: &message_id,
            },
        )
        .await
        .map_err(retry)?;
        let Some(claim) = record::claim(pool, notification).await.map_err(retry)? else {
            // Another delivery of the same event is sending it now: it will settle the row,
            // and this one, back from the retry queue, will find it so.
            return Err(Outcome::Retry(format!(
                "{event_name}: another delivery of this event is sending it right now"
            )));
        };
        if claim.status.is_final() {
            info!(event = %event_name, status = claim.status.as_str(), "already notified; nothing to send");
            claim.release().await.map_err(retry)?;
            return Ok(Outcome::Done(Vec::new()));
        }
        if claim.status == Status::Sending {
            warn!(event = %event_name, attempts = claim.attempts, "the last attempt was cut off before its outcome was recorded; the relay may have the message: sending again with the same Message-ID");
        }
        let masked = mask_email(&recipient.raw);
        let address = match &recipient.address {
            Ok(address) => address,
            Err(e) => {
                let error = format!("the applicant's address is not usable: {e}");
                warn!(event = %event_name, to = %masked, %error, "notification cannot be sent");
                claim.refuse(&error).await.map_err(retry)?;
                return Ok(Outcome::Done(Vec::new()));
            }
        };
        // Everything the email needs is gathered and rendered before an attempt is counted.
        let prepared = self
            .content(&practice, &submission, &registrations, entry, template)
            .await
            .and_then(|(common, notice, attachments)| {
                self.templates
                    .render(&common, &notice)
                    .map(|rendered| (rendered, attachments))
                    .map_err(|e| {
                        // A template that does not render is our bug: the operator replays it
                        // once fixed.
                        Outcome::Reject(scrub(&e.to_string()))
                    })
            });
        let (rendered, attachments) = match prepared {
            Ok(prepared) => prepared,
            Err(outcome) => {
                claim.release().await.map_err(retry)?;
                return Err(outcome);
            }
        };
        let relay = self
            .mailer
            .relay(recipient.channel)
            .expect("PEC is chosen only when its relay is configured");
        let composed = letter::mailbox(&recipient.name, address).and_then(|to| {
            letter::compose(&Letter {
                from: relay.from(),
                reply_to: Some(&self.letterhead.reply_to),
                to: &to,
                message_id: &message_id,
                rendered: &rendered,
                attachments: &attachments,
            })
        });
        let message = match composed {
            Ok(message) => message,
            Err(e) => {
                let error = e.to_string();
                warn!(event = %event_name, to = %masked, %error, "notification refused");
                claim.refuse(&error).await.map_err(retry)?;
                return Ok(Outcome::Done(Vec::new()));
            }
        };
        self.attempt(claim, relay, &message, &event_name, template, &recipient)
            .await
    }

    /// One attempt: the connection opened first, the attempt counted and committed, then the
    /// SMTP transaction alone, and the row settled as soon as the relay has answered.
    async fn attempt(
        &self,
        mut claim: record::Claim,
        relay: &Relay,
        message: &lettre::Message,
        event_name: &str,
        template: Template,
        recipient: &Recipient,
    ) -> Result<Outcome, Outcome> {
        let masked = mask_email(&recipient.raw);
        let mut attempt = claim.attempts + 1;
        let sent = match relay.connect().await {
            // No connection: nothing reached the relay; the attempt is counted at settlement.
            Err(e) => Err(e),
            Ok(mut session) => {
                attempt = claim.begin_attempt().await.map_err(retry)?;
                session.send(message).await
            }
        };
        let (status, error) = match &sent {
            Ok(_) => (Status::Sent, None),
            Err(SendError::Temporary(e)) => (Status::FailedTemporary, Some(scrub(e))),
            Err(SendError::Permanent(e)) => (Status::FailedPermanent, Some(scrub(e))),
        };
        if let Err(e) = claim
            .settle(Settlement {
                status,
                attempted: true,
                error: error.as_deref(),
            })
            .await
        {
            // The relay may have the message already: the row stays `sending`, and the
            // redelivered event sends a second copy with the same Message-ID.
            warn!(event = %event_name, error = %e, "could not record the send; the event will come again");
            return Err(retry(e));
        }
        let channel = recipient.channel.as_str();
        Ok(match (status, error) {
            (Status::Sent, _) => {
                info!(event = %event_name, template = template.as_str(), to = %masked, channel, attempt, "notification sent");
                Outcome::Done(Vec::new())
            }
            (Status::FailedPermanent, error) => {
                let error = error.unwrap_or_default();
                warn!(event = %event_name, to = %masked, channel, attempt, %error, "the relay refused the notification for good");
                Outcome::Done(Vec::new())
            }
            (_, error) => Outcome::Retry(format!(
                "{event_name} to {masked}: attempt {attempt} failed: {}",
                error.unwrap_or_default()
            )),
        })
    }

    /// What the email says, gathered from the store, the register and the object store.
    async fn content(
        &self,
        practice: &PracticeRecord,
        submission: &Submission,
        registrations: &Registrations,
        entry: &HistoryEntry,
        template: Template,
    ) -> Result<(Common, Notice, Vec<Attachment>), Outcome> {
        let incoming = registrations.own.iter().find(|r| r.direction == "incoming");
        let kind = self.catalog.get(&practice.practice_type);
        let integrates = match practice.integrates {
            None => None,
            Some(answered) => {
                let protocol = (registrations.answered.iter())
                    .find(|r| r.direction == "incoming")
                    .map(|r| format!("{}/{}", r.number, r.year));
                Some(IntegratedView {
                    id: answered.to_string(),
                    protocol,
                })
            }
        };
        let common = Common {
            municipality: self.letterhead.municipality.clone(),
            citizen: format!(
                "{} {}",
                submission.applicant.given_name.trim(),
                submission.applicant.family_name.trim()
            ),
            practice: PracticeView {
                id: practice.id.to_string(),
                title: kind.map_or_else(|| practice.practice_type.clone(), |k| k.title.clone()),
                desk: kind.map_or_else(String::new, |k| k.desk.name.clone()),
                subject: practice.subject.clone(),
                integrates,
            },
            protocol: incoming.map(protocol_view),
        };
        let details = &entry.details;
        let mut attachments = Vec::new();
        let notice = match template {
            Template::Receipt => {
                let registration = incoming.ok_or_else(|| {
                    Outcome::Reject(format!(
                        "practice {} is registered but has no incoming registration",
                        practice.id
                    ))
                })?;
                // A first submission's receipt starts the procedure (art. 18-bis, art. 8): the
                // PDF states its term; an integration's receipt does not start another.
                let facts = match (kind, practice.integrates) {
                    (Some(kind), None) => Some(ReceiptFacts::of(
                        registration,
                        kind,
                        &self.procedure,
                        &self.municipality,
                    )),
                    _ => None,
                };
                if let Some(facts) = &facts {
                    attachments.push(Attachment {
                        file_name: RECEIPT_FILE_NAME.to_owned(),
                        media_type: "application/pdf".to_owned(),
                        bytes: facts.pdf(),
                    });
                }
                Notice::Receipt {
                    documents: registered_documents(registration),
                    term: facts.map(Box::new),
                }
            }
            Template::Rejection => Notice::Rejection {
                reasons: reason_messages(
                    practice
                        .rejection_reasons
                        .as_ref()
                        .unwrap_or(&details["reasons"]),
                )
                .into_iter()
                .map(|message| Reason { message })
                .collect(),
            },
            Template::IntegrationRequest => Notice::IntegrationRequest {
                missing: strings(&details["missing"]),
                deadline: details["deadline"].as_str().map(italian_date),
                message: non_empty(&details["message"]),
            },
            Template::Preavviso => Notice::Preavviso {
                reasons: reason_messages(&details["reasons"]),
                deadline: details["deadline"].as_str().map(italian_date),
                message: non_empty(&details["message"]),
            },
            Template::Outcome => {
                let (attached, to_collect, files) = self.result_documents(details).await?;
                attachments = files;
                Notice::Outcome {
                    outcome: non_empty(&details["outcome"]),
                    attached,
                    to_collect,
                }
            }
            Template::Pickup => Notice::Pickup {
                outcome: non_empty(&details["outcome"]),
            },
            Template::Denial => Notice::Denial {
                reasons: reason_messages(&details["reasons"]),
            },
            Template::Withdrawal => Notice::Withdrawal {},
            Template::SilentConsent => {
                let (attached, to_collect, files) = self.result_documents(details).await?;
                attachments = files;
                Notice::SilentConsent {
                    due_date: details["due_on"].as_str().map(italian_date),
                    formed_on: details["formed_on"].as_str().map(italian_date),
                    term_days: kind.map(|k| k.term_days),
                    attached,
                    to_collect,
                }
            }
        };
        Ok((common, notice, attachments))
    }

    /// Attaches the result documents when together they are small enough; lists them otherwise.
    async fn result_documents(
        &self,
        details: &serde_json::Value,
    ) -> Result<(Vec<ResultDocument>, Vec<ResultDocument>, Vec<Attachment>), Outcome> {
        let listed: Vec<&serde_json::Value> = details["documents"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let describe = |d: &serde_json::Value| ResultDocument {
            file_name: d["file_name"].as_str().unwrap_or("documento").to_owned(),
            size: human_size(d["size"].as_u64().unwrap_or(0)),
        };
        let total: u64 = listed.iter().map(|d| d["size"].as_u64().unwrap_or(0)).sum();
        let everything_fetchable = listed.iter().all(|d| d["object_key"].is_string());
        if listed.is_empty() || total > self.max_attachments_bytes || !everything_fetchable {
            return Ok((
                Vec::new(),
                listed.into_iter().map(describe).collect(),
                Vec::new(),
            ));
        }
        let mut files = Vec::with_capacity(listed.len());
        for document in &listed {
            let key = document["object_key"].as_str().unwrap_or_default();
            match self.objects.get(key).await {
                Ok(bytes) => files.push(Attachment {
                    file_name: document["file_name"]
                        .as_str()
                        .unwrap_or("documento")
                        .to_owned(),
                    media_type: document["media_type"]
                        .as_str()
                        .unwrap_or("application/octet-stream")
                        .to_owned(),
                    bytes,
                }),
                Err(e) if e.is_transient() => return Err(retry(e)),
                Err(e) => {
                    // The citizen still learns the outcome; the folder has the documents.
                    warn!(error = %e, "a result document is missing from the object store; listing instead of attaching");
                    return Ok((
                        Vec::new(),
                        listed.into_iter().map(describe).collect(),
                        Vec::new(),
                    ));
                }
            }
        }
        Ok((
            listed.into_iter().map(describe).collect(),
            Vec::new(),
            files,
        ))
    }
}

fn protocol_view(registration: &Registration) -> ProtocolView {
    let at: DateTime<chrono_tz::Tz> = registration.registered_at.with_timezone(&Rome);
    ProtocolView {
        register: registration.register.clone(),
        number: registration.number.to_string(),
        year: registration.year,
        date: registration
            .registration_date
            .format("%d/%m/%Y")
            .to_string(),
        time: at.format("%H:%M").to_string(),
    }
}

fn registered_documents(registration: &Registration) -> Vec<RegisteredDocument> {
    registration
        .documents
        .as_array()
        .map(|documents| {
            documents
                .iter()
                .map(|d| RegisteredDocument {
                    file_name: d["file_name"].as_str().unwrap_or("?").to_owned(),
                    media_type: d["media_type"].as_str().unwrap_or("?").to_owned(),
                    impronta: d["impronta"].as_str().unwrap_or("?").to_owned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reasons as validation writes them (`{code, field, message}`) or as back offices may
/// (plain strings).
fn reason_messages(reasons: &serde_json::Value) -> Vec<String> {
    reasons
        .as_array()
        .map(|reasons| {
            reasons
                .iter()
                .filter_map(|r| r.as_str().or_else(|| r["message"].as_str()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn non_empty(value: &serde_json::Value) -> Option<String> {
    value
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// `2026-04-30` → `30/04/2026`; anything else is shown as the back office wrote it.
fn italian_date(raw: &str) -> String {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_else(|_| raw.to_owned())
}

#[cfg(test)]
mod tests;
