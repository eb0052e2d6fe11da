//! The register in PostgreSQL: gapless numbers, append-only registrations, annulments.
//!
//! Numbering: one counter row per (AOO, register, year). A transaction that registers takes
//! the row lock, reserves exactly as many numbers as it inserts, and commits both together — a
//! rollback gives the numbers back, so there is never a gap, and the lock makes every worker on
//! every machine take its turn, so there is never a duplicate. Registering a batch in one
//! transaction pays one commit for many numbers.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Europe::Rome;
use serde::Serialize;
use sportello_shared::domain::protocol_number::ProtocolNumber;
use sportello_shared::store::Tx;
use sqlx::{PgPool, Row};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// The register a fleet numbers in: the AOO's IPA code and the register code (`PG`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterId {
    pub aoo: String,
    pub code: String,
}

/// Time, injectable so that tests can cross midnight and New Year's Eve at will.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The legal date and year of an instant: Italian local time.
pub fn legal_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Rome).date_naive()
}

pub fn legal_year(at: DateTime<Utc>) -> i32 {
    legal_date(at).year()
}

/// Locks the year's counter and reserves `count` numbers; returns the first of them.
pub async fn reserve(
    tx: &mut Tx,
    register: &RegisterId,
    year: i32,
    count: usize,
) -> Result<ProtocolNumber, sqlx::Error> {
    sqlx::query(
        "INSERT INTO register_counters (aoo, register, year, last_number) VALUES ($1, $2, $3, 0) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&register.aoo)
    .bind(&register.code)
    .bind(year)
    .execute(&mut **tx)
    .await?;
    let last: i64 = sqlx::query_scalar(
        "SELECT last_number FROM register_counters WHERE aoo = $1 AND register = $2 AND year = $3 FOR UPDATE",
    )
    .bind(&register.aoo)
    .bind(&register.code)
    .bind(year)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE register_counters SET last_number = $4 WHERE aoo = $1 AND register = $2 AND year = $3",
    )
    .bind(&register.aoo)
    .bind(&register.code)
    .bind(year)
    .bind(last + count as i64)
    .execute(&mut **tx)
    .await?;
    ProtocolNumber::new(last + 1).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Incoming,
    Outgoing,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
        }
    }
}

/// A registration about to be written; the number and time were given by [`reserve`] and the
/// clock in the same transaction.
#[derive(Debug, Clone)]
pub struct NewRegistration {
    pub year: i32,
    pub number: ProtocolNumber,
    pub direction: Direction,
    pub registered_at: DateTime<Utc>,
    pub practice_id: Uuid,
    pub event_key: String,
    pub subject: String,
    pub correspondents: serde_json::Value,
    pub classification: serde_json::Value,
    pub channel: String,
    pub documents: serde_json::Value,
    pub primary_document: Vec<u8>,
    pub refers_to: Option<i64>,
    pub segnatura: String,
}

/// Inserts the registrations of one batch in one statement; they share year, direction and
/// time (one transaction, one clock reading).
pub async fn insert_many(
    tx: &mut Tx,
    register: &RegisterId,
    batch: &[NewRegistration],
) -> Result<(), sqlx::Error> {
    let Some(first) = batch.first() else {
        return Ok(());
    };
    debug_assert!(
        batch
            .iter()
            .all(|r| r.year == first.year && r.registered_at == first.registered_at)
    );
    let json = |f: fn(&NewRegistration) -> &serde_json::Value| {
        batch.iter().map(|r| f(r).clone()).collect::<Vec<_>>()
    };
    let text =
        |f: fn(&NewRegistration) -> &String| batch.iter().map(|r| f(r).clone()).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO registrations (aoo, register, year, direction, registered_at, registration_date, number, \
         practice_id, event_key, subject, correspondents, classification, channel, documents, primary_document, \
         refers_to, segnatura) \
         SELECT $1, $2, $3, $4, $5, $6, t.* FROM UNNEST($7::bigint[], $8::uuid[], $9::text[], $10::text[], \
         $11::jsonb[], $12::jsonb[], $13::text[], $14::jsonb[], $15::bytea[], $16::bigint[], $17::text[]) AS t",
    )
    .bind(&register.aoo)
    .bind(&register.code)
    .bind(first.year)
    .bind(first.direction.as_str())
    .bind(first.registered_at)
    .bind(legal_date(first.registered_at))
    .bind(batch.iter().map(|r| r.number).collect::<Vec<_>>())
    .bind(batch.iter().map(|r| r.practice_id).collect::<Vec<_>>())
    .bind(text(|r| &r.event_key))
    .bind(text(|r| &r.subject))
    .bind(json(|r| &r.correspondents))
    .bind(json(|r| &r.classification))
    .bind(text(|r| &r.channel))
    .bind(json(|r| &r.documents))
    .bind(batch.iter().map(|r| r.primary_document.clone()).collect::<Vec<_>>())
    .bind(batch.iter().map(|r| r.refers_to).collect::<Vec<_>>())
    .bind(text(|r| &r.segnatura))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn insert(
    tx: &mut Tx,
    register: &RegisterId,
    new: &NewRegistration,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO registrations (aoo, register, year, number, direction, registered_at, registration_date, \
         practice_id, event_key, subject, correspondents, classification, channel, documents, primary_document, \
         refers_to, segnatura) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id",
    )
    .bind(&register.aoo)
    .bind(&register.code)
    .bind(new.year)
    .bind(new.number)
    .bind(new.direction.as_str())
    .bind(new.registered_at)
    .bind(legal_date(new.registered_at))
    .bind(new.practice_id)
    .bind(&new.event_key)
    .bind(&new.subject)
    .bind(&new.correspondents)
    .bind(&new.classification)
    .bind(&new.channel)
    .bind(&new.documents)
    .bind(&new.primary_document)
    .bind(new.refers_to)
    .bind(&new.segnatura)
    .fetch_one(&mut **tx)
    .await
}

/// A registration as the protocol officer reads it, annulment included.
#[derive(Debug, Clone, Serialize)]
pub struct Registration {
    #[serde(skip)]
    pub id: i64,
    pub aoo: String,
    pub register: String,
    pub year: i32,
    pub number: ProtocolNumber,
    pub direction: String,
    pub registered_at: DateTime<Utc>,
    pub registration_date: NaiveDate,
    pub practice_id: Uuid,
    pub subject: String,
    pub correspondents: serde_json::Value,
    pub classification: serde_json::Value,
    pub channel: String,
    pub documents: serde_json::Value,
    pub refers_to: Option<(i32, ProtocolNumber)>,
    pub annulment: Option<Annulment>,
    #[serde(skip)]
    pub segnatura: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Annulment {
    pub annulled_at: DateTime<Utc>,
    pub operator: String,
    pub reason: String,
    pub measure: String,
}

const SELECT_REGISTRATION: &str = "SELECT r.id, r.aoo, r.register, r.year, r.number, r.direction, r.registered_at, \
     r.registration_date, r.practice_id, r.subject, r.correspondents, r.classification, r.channel, r.documents, \
     r.segnatura, f.year AS ref_year, f.number AS ref_number, \
     a.annulled_at, a.operator, a.reason, a.measure \
     FROM registrations r \
     LEFT JOIN registrations f ON f.id = r.refers_to \
     LEFT JOIN registration_annulments a ON a.registration_id = r.id ";

fn registration_from_row(row: sqlx::postgres::PgRow) -> Registration {
    let annulled_at: Option<DateTime<Utc>> = row.get("annulled_at");
    let ref_year: Option<i32> = row.get("ref_year");
    let ref_number: Option<ProtocolNumber> = row.get("ref_number");
    Registration {
        id: row.get("id"),
        aoo: row.get("aoo"),
        register: row.get("register"),
        year: row.get("year"),
        number: row.get("number"),
        direction: row.get("direction"),
        registered_at: row.get("registered_at"),
        registration_date: row.get("registration_date"),
        practice_id: row.get("practice_id"),
        subject: row.get("subject"),
        correspondents: row.get("correspondents"),
        classification: row.get("classification"),
        channel: row.get("channel"),
        documents: row.get("documents"),
        refers_to: ref_year.zip(ref_number),
        annulment: annulled_at.map(|annulled_at| Annulment {
            annulled_at,
            operator: row.get("operator"),
            reason: row.get("reason"),
            measure: row.get("measure"),
        }),
        segnatura: row.get("segnatura"),
    }
}

pub async fn find(
    pool: &PgPool,
    register: &RegisterId,
    year: i32,
    number: ProtocolNumber,
) -> Result<Option<Registration>, sqlx::Error> {
    let sql = format!(
        "{SELECT_REGISTRATION} WHERE r.aoo = $1 AND r.register = $2 AND r.year = $3 AND r.number = $4"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&register.aoo)
        .bind(&register.code)
        .bind(year)
        .bind(number)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(registration_from_row))
}

/// The practices that registration `year`/`number` of `register` belongs to (one, or none).
pub async fn practices_numbered(
    pool: &PgPool,
    register: &RegisterId,
    year: i32,
    number: ProtocolNumber,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT practice_id FROM registrations WHERE aoo = $1 AND register = $2 \
         AND year = $3 AND number = $4",
    )
    .bind(&register.aoo)
    .bind(&register.code)
    .bind(year)
    .bind(number)
    .fetch_all(pool)
    .await
}

/// The registrations of one practice, oldest first (the incoming one, then outgoing ones).
pub async fn of_practice<'e>(
    db: impl sqlx::PgExecutor<'e>,
    practice_id: Uuid,
) -> Result<Vec<Registration>, sqlx::Error> {
    let sql = format!("{SELECT_REGISTRATION} WHERE r.practice_id = $1 ORDER BY r.id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(practice_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(registration_from_row).collect())
}

/// The protocol number of a practice's incoming registration, as the citizen's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingNumber {
    pub register: String,
    pub year: i32,
    pub number: ProtocolNumber,
    pub registration_date: NaiveDate,
}

/// The first incoming registration (lowest id) of each of `practice_ids` that has one.
pub async fn first_incoming_of(
    pool: &PgPool,
    practice_ids: &[Uuid],
) -> Result<HashMap<Uuid, IncomingNumber>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT DISTINCT ON (practice_id) practice_id, register, year, number, registration_date \
         FROM registrations WHERE practice_id = ANY($1) AND direction = 'incoming' \
         ORDER BY practice_id, id",
    )
    .bind(practice_ids)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let number = IncomingNumber {
                register: row.get("register"),
                year: row.get("year"),
                number: row.get("number"),
                registration_date: row.get("registration_date"),
            };
            (row.get("practice_id"), number)
        })
        .collect())
}

/// The registration a cause produced for a practice (`protocol` for the incoming one), read
/// outside a transaction.
pub async fn of_event<'e>(
    db: impl sqlx::PgExecutor<'e>,
    practice_id: Uuid,
    event_key: &str,
) -> Result<Option<Registration>, sqlx::Error> {
    let sql = format!("{SELECT_REGISTRATION} WHERE r.practice_id = $1 AND r.event_key = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(practice_id)
        .bind(event_key)
        .fetch_optional(db)
        .await?;
    Ok(row.map(registration_from_row))
}

/// The practices among `practice_ids` for which a cause (`event_key`) produced a registration
/// already, read in the registering transaction.
pub async fn registered_by_event(
    tx: &mut Tx,
    practice_ids: &[Uuid],
    event_key: &str,
) -> Result<HashSet<Uuid>, sqlx::Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT practice_id FROM registrations WHERE practice_id = ANY($1) AND event_key = $2",
    )
    .bind(practice_ids)
    .bind(event_key)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids.into_iter().collect())
}

/// A registration as a later one refers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRegistration {
    pub practice_id: Uuid,
    pub id: i64,
    pub number: ProtocolNumber,
    pub registration_date: NaiveDate,
}

/// The registrations a cause (`event_key`) produced for `practice_ids` in one register of
/// one AOO, read in the registering transaction.
pub async fn by_event_in(
    tx: &mut Tx,
    register: &RegisterId,
    practice_ids: &[Uuid],
    event_key: &str,
) -> Result<Vec<EventRegistration>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT practice_id, id, number, registration_date FROM registrations \
         WHERE practice_id = ANY($1) AND event_key = $2 AND aoo = $3 AND register = $4",
    )
    .bind(practice_ids)
    .bind(event_key)
    .bind(&register.aoo)
    .bind(&register.code)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| EventRegistration {
            practice_id: row.get("practice_id"),
            id: row.get("id"),
            number: row.get("number"),
            registration_date: row.get("registration_date"),
        })
        .collect())
}

/// The registration a cause already produced, if any: (id, year, number).
pub async fn by_event(
    tx: &mut Tx,
    practice_id: Uuid,
    event_key: &str,
) -> Result<Option<(i64, i32, ProtocolNumber)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, year, number FROM registrations WHERE practice_id = $1 AND event_key = $2",
    )
    .bind(practice_id)
    .bind(event_key)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|row| (row.get("id"), row.get("year"), row.get("number"))))
}

#[derive(Debug, thiserror::Error)]
pub enum AnnulError {
    #[error("registration {year}/{number} does not exist in register {register}")]
    Unknown {
        register: String,
        year: i32,
        number: ProtocolNumber,
    },
    #[error("registration {0} is already annulled")]
    AlreadyAnnulled(String),
    #[error("{0} must not be empty")]
    Missing(&'static str),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The protocol officer's request to annul a registration.
#[derive(Debug, Clone, Copy)]
pub struct AnnulRequest<'a> {
    pub year: i32,
    pub number: ProtocolNumber,
    pub operator: &'a str,
    pub reason: &'a str,
    /// The authorising measure (provvedimento).
    pub measure: &'a str,
}

/// Annuls a registration: it stays readable, marked with date, operator and measure.
pub async fn annul(
    pool: &PgPool,
    register: &RegisterId,
    request: &AnnulRequest<'_>,
    at: DateTime<Utc>,
) -> Result<Registration, AnnulError> {
    let AnnulRequest {
        year,
        number,
        operator,
        reason,
        measure,
    } = *request;
    for (value, name) in [
        (operator, "operator"),
        (reason, "reason"),
        (measure, "measure"),
    ] {
        if value.trim().is_empty() {
            return Err(AnnulError::Missing(name));
        }
    }
    let existing =
        find(pool, register, year, number)
            .await?
            .ok_or_else(|| AnnulError::Unknown {
                register: register.code.clone(),
                year,
                number,
            })?;
    let inserted = sqlx::query(
        "INSERT INTO registration_annulments (registration_id, annulled_at, annulled_date, operator, reason, measure) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (registration_id) DO NOTHING",
    )
    .bind(existing.id)
    .bind(at)
    .bind(legal_date(at))
    .bind(operator.trim())
    .bind(reason.trim())
    .bind(measure.trim())
    .execute(pool)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(AnnulError::AlreadyAnnulled(format!("{year}/{number}")));
    }
    Ok(find(pool, register, year, number)
        .await?
        .expect("the registration was just read"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_legal_year_is_the_italian_one() {
        // 23:30 UTC on 31 December is already 1 January in Rome.
        let new_year = Utc.with_ymd_and_hms(2026, 12, 31, 23, 30, 0).unwrap();
        assert_eq!(legal_year(new_year), 2027);
        assert_eq!(
            legal_date(new_year),
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
        );
        let summer = Utc.with_ymd_and_hms(2026, 7, 31, 21, 59, 0).unwrap();
        assert_eq!(
            legal_date(summer),
            NaiveDate::from_ymd_opt(2026, 7, 31).unwrap()
        );
    }
}
