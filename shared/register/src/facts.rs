//! A registration as the other stages need it (the archive, dispatch, the folder): read from
//! the register here, so that no other crate runs SQL on `registrations`.

use sportello_shared::domain::impronta::Impronta;
use sportello_shared::domain::protocol_number::ProtocolNumber;
use sqlx::Row;
use uuid::Uuid;

/// The incoming registration, as far as the archive needs it.
pub struct RegistrationFacts {
    pub id: i64,
    pub aoo: String,
    pub register: String,
    pub year: i32,
    pub number: ProtocolNumber,
    pub documents: serde_json::Value,
    pub primary_document: Vec<u8>,
    pub segnatura: String,
}

/// Reads the registration a cause produced for a practice (`protocol` for the incoming one),
/// on any connection: a pooled one (one statement, no transaction to open and throw away) or
/// a transaction's (`&mut *tx`).
pub async fn registration_facts(
    connection: &mut sqlx::PgConnection,
    practice_id: Uuid,
    event_key: &str,
) -> Result<Option<RegistrationFacts>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, aoo, register, year, number, documents, primary_document, segnatura \
         FROM registrations WHERE practice_id = $1 AND event_key = $2",
    )
    .bind(practice_id)
    .bind(event_key)
    .fetch_optional(connection)
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

/// The SHA-256 (hex) behind a registration's base64 impronta.
pub fn impronta_hex(impronta: &str) -> Option<String> {
    Impronta::from_base64(impronta).ok().map(|i| i.to_hex())
}
