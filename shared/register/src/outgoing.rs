//! Outgoing registrations: the documents the municipality sends back to a citizen (a
//! certificate, a permit) are registered in the same register as the request they answer.
//!
//! The segnatura names the AOO as sender, the citizen as recipient and, as `PrimaRegistrazione`,
//! the incoming registration of the practice, so the register links question and answer. One
//! registration per cause (event key): a redelivered outcome finds its registration and keeps
//! its number.

use crate::Keeper;
use crate::register::{self, Clock, Direction, NewRegistration, legal_year};
use crate::segnatura::{
    Classification, Document, Impronta, NaturalPerson, Party, Recipient, RegistrationId, Segnatura,
};
use crate::signature::AooSigner;
use chrono::NaiveDate;
use sportello_shared::domain::protocol_number::ProtocolNumber;
use sportello_shared::store::Tx;
use sqlx::Row;
use uuid::Uuid;

/// A document to send, with its bytes.
#[derive(Debug, Clone)]
pub struct OutgoingDocument {
    pub file_name: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// What to register; the first document is the primary one.
#[derive(Debug, Clone)]
pub struct OutgoingRequest<'a> {
    pub practice_id: Uuid,
    pub event_key: &'a str,
    pub subject: &'a str,
    pub classification: Classification,
    pub recipient: NaturalPerson,
    pub documents: &'a [OutgoingDocument],
    /// The database id of the incoming registration this answers.
    pub first_registration: i64,
}

#[derive(Debug, Clone)]
pub struct RegisteredOutgoing {
    pub id: i64,
    pub year: i32,
    pub number: ProtocolNumber,
    pub segnatura: String,
    /// `false` when the cause had already registered it (redelivery).
    pub created: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OutgoingError {
    #[error("an outgoing registration needs at least one document")]
    NoDocument,
    #[error("the incoming registration {0} does not exist")]
    UnknownFirst(i64),
    #[error("signing the segnatura: {0}")]
    Signature(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Registers `request` as outgoing inside `tx` (the caller commits), or finds the registration
/// its event key already produced.
pub async fn register_outgoing(
    tx: &mut Tx,
    keeper: &Keeper,
    signer: &AooSigner,
    clock: &dyn Clock,
    request: &OutgoingRequest<'_>,
) -> Result<RegisteredOutgoing, OutgoingError> {
    if let Some((id, year, number)) =
        register::by_event(tx, request.practice_id, request.event_key).await?
    {
        let segnatura: String =
            sqlx::query_scalar("SELECT segnatura FROM registrations WHERE id = $1")
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
        return Ok(RegisteredOutgoing {
            id,
            year,
            number,
            segnatura,
            created: false,
        });
    }
    let (primary, attachments) = request
        .documents
        .split_first()
        .ok_or(OutgoingError::NoDocument)?;
    let first = sqlx::query(
        "SELECT year, number, registration_date, channel FROM registrations WHERE id = $1",
    )
    .bind(request.first_registration)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(OutgoingError::UnknownFirst(request.first_registration))?;
    let first_date: NaiveDate = first.get("registration_date");
    let now = clock.now();
    let year = legal_year(now);
    let register_id = keeper.register_id();
    let number = register::reserve(tx, &register_id, year, 1).await?;
    let document = |d: &OutgoingDocument| Document {
        file_name: d.file_name.clone(),
        mime_type: d.media_type.clone(),
        description: None,
        fingerprint: Impronta::of(&d.bytes),
        location: None,
    };
    let registration = |number: ProtocolNumber, date: NaiveDate| RegistrationId {
        administration: keeper.administration.clone(),
        aoo: keeper.aoo.clone(),
        register: keeper.register.clone(),
        number,
        date,
        time: None,
    };
    let segnatura = Segnatura {
        registration: registration(number, register::legal_date(now)),
        first_registration: Some(registration(first.get("number"), first_date)),
        subject: request.subject.to_owned(),
        classification: request.classification.clone(),
        dossier: None,
        reserved: None,
        sender: keeper.as_party(),
        recipients: vec![Recipient::new(Party::NaturalPerson(
            request.recipient.clone(),
        ))],
        primary_document: document(primary),
        attachments: attachments.iter().map(document).collect(),
    };
    let signed = signer
        .sign(&segnatura, now)
        .map_err(|e| OutgoingError::Signature(e.to_string()))?;
    let listed: Vec<serde_json::Value> = request
        .documents
        .iter()
        .map(|d| {
            serde_json::json!({
                "file_name": d.file_name,
                "media_type": d.media_type,
                "role": "esito",
                "impronta": Impronta::of(&d.bytes).to_base64(),
            })
        })
        .collect();
    let person = &request.recipient;
    let id = register::insert(
        tx,
        &register_id,
        &NewRegistration {
            year,
            number,
            direction: Direction::Outgoing,
            registered_at: now,
            practice_id: request.practice_id,
            event_key: request.event_key.to_owned(),
            subject: request.subject.to_owned(),
            correspondents: serde_json::json!([{
                "role": "destinatario",
                "given_name": person.given_name,
                "family_name": person.family_name,
                "tax_code": person.codice_fiscale,
            }]),
            classification: serde_json::json!({
                "code": match &request.classification.code {
                    crate::segnatura::ClassCode::Flat(code) => code.clone(),
                    crate::segnatura::ClassCode::Path(levels) => levels
                        .iter()
                        .map(|l| l.code.as_str())
                        .collect::<Vec<_>>()
                        .join("."),
                },
                "description": request.classification.name,
            }),
            channel: first.get("channel"),
            documents: serde_json::Value::Array(listed),
            primary_document: primary.bytes.clone(),
            refers_to: Some(request.first_registration),
            segnatura: signed.clone(),
        },
    )
    .await?;
    Ok(RegisteredOutgoing {
        id,
        year,
        number,
        segnatura: signed,
        created: true,
    })
}
