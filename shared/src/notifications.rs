//! The notifications table (migrations `0003_notifications.sql`, `0009_notification_attempts.sql`):
//! what was to be sent, to whom, and what became of it. This module owns the table: the
//! notification worker writes it (its `record`), the citizen's folder (`sportello folder`, the
//! HTTP API) reads it through [`of_practices`] and [`of_practice`], and nobody else names it.
//!
//! Sending is not transactional, so the record brackets it. The row is inserted `queued` (a
//! redelivered event finds it), then claimed ([`claim`]): a session-level advisory lock on a
//! connection of our own, so two deliveries of one event never send at the same moment, and a
//! worker that dies lets go with its connection. Right before the SMTP transaction the attempt
//! is counted and committed ([`Claim::begin_attempt`]: `sending`, `attempts + 1`, its start
//! time); right after the relay's reply the row is settled.
//!
//! What holds, then: `attempts` is never less than the copies the relay took. A worker killed
//! after the relay took the message and before the settlement leaves `sending`; the redelivered
//! event claims the row again and sends again, with the same Message-ID (mail clients show it
//! once) and one attempt more. A transaction cut off there by a dropped connection or our
//! timeout ends `failed_temporary` and is retried the same way. Those are the only ways to a
//! second copy: SMTP has no way to ask a relay whether it already has a message.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres, Row};
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    /// An attempt is under way, or was cut off by a crash (its outcome is unknown).
    Sending,
    Sent,
    /// The last attempt failed in a way that may pass; the event will come again.
    FailedTemporary,
    /// It can never go out as it is (refused by the relay, no usable address).
    FailedPermanent,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::FailedTemporary => "failed_temporary",
            Status::FailedPermanent => "failed_permanent",
        }
    }

    fn parse(text: &str) -> Option<Status> {
        [
            Status::Queued,
            Status::Sending,
            Status::Sent,
            Status::FailedTemporary,
            Status::FailedPermanent,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }

    /// Nothing more will be tried for this notification.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Sent | Status::FailedPermanent)
    }
}

/// A notification about to be attempted.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    pub practice_id: Uuid,
    pub event: &'a str,
    pub recipient: &'a str,
    pub channel: &'a str,
    pub template: &'a str,
    pub message_id: &'a str,
}

/// Records the notification as `queued` unless a delivery of the same event already did;
/// returns its row's id, for [`claim`]. One statement: the row a concurrent delivery inserted is
/// locked and returned by the conflict clause (a no-op update, which a `DO NOTHING` would not
/// return), so no second read can miss it.
pub async fn enqueue(pool: &PgPool, new: &NewNotification<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO notifications (practice_id, event, recipient, channel, template, status, message_id) \
         VALUES ($1, $2, $3, $4, $5, 'queued', $6) \
         ON CONFLICT (practice_id, event) DO UPDATE SET event = notifications.event RETURNING id",
    )
    .bind(new.practice_id)
    .bind(new.event)
    .bind(new.recipient)
    .bind(new.channel)
    .bind(new.template)
    .bind(new.message_id)
    .fetch_one(pool)
    .await
}

/// The first key of our advisory locks ("NOTI"): the two-key space, apart from sqlx's
/// migration lock (one key) and anyone else's.
const LOCK_CLASS: i32 = 0x4E4F_5449;

/// The second key: the row's id folded into 31 bits (a collision only makes two
/// notifications take turns).
fn lock_key(id: i64) -> i32 {
    i32::try_from(id.rem_euclid(i64::from(i32::MAX))).expect("folded into i32")
}

/// The notification of one event, held by this delivery until [`Claim::settle`],
/// [`Claim::release`] or drop.
pub struct Claim {
    /// The connection whose session holds the advisory lock. Taken out when the lock is let go
    /// properly; still here on drop means an error path, and the connection is closed then,
    /// which lets go of the lock too.
    connection: Option<PoolConnection<Postgres>>,
    /// Where a settlement goes when the claim's own connection died with its server (a
    /// failover): the pool, which follows the read-write server.
    pool: PgPool,
    id: i64,
    pub status: Status,
    /// Attempts counted so far (this one included once [`Claim::begin_attempt`] ran).
    pub attempts: i32,
    counted: bool,
}

/// How long the outcome of a send is tried again when the claim's connection died with its
/// server: longer than a failover takes to move the pool (`database.failover_check_secs`).
pub const SETTLE_PATIENCE: Duration = Duration::from_secs(20);

/// The settlement of notification `$1`: status `$2`, `$3` more attempts, error `$4`; and a
/// condition on the row.
macro_rules! settle_sql {
    ($condition:literal) => {
        concat!(
            "UPDATE notifications SET status = $2, attempts = attempts + $3, \
             last_error = COALESCE($4, last_error), updated_at = now(), \
             sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END WHERE id = $1",
            $condition
        )
    };
}

/// The server or the connection went away (not a statement the server refused).
fn is_connection_lost(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Io(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::PoolTimedOut
    ) || matches!(err, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")))
}

/// Claims notification `id` (from [`enqueue`]). `None` when another delivery holds it right now
/// (it is sending: come back later).
pub async fn claim(pool: &PgPool, id: i64) -> Result<Option<Claim>, sqlx::Error> {
    let mut connection = pool.acquire().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(LOCK_CLASS)
        .bind(lock_key(id))
        .fetch_one(&mut *connection)
        .await?;
    if !locked {
        return Ok(None);
    }
    let mut claim = Claim {
        connection: Some(connection),
        pool: pool.clone(),
        id,
        status: Status::Queued,
        attempts: 0,
        counted: false,
    };
    // Read only now, in a statement of its own: a snapshot taken before the lock could predate
    // the settlement of the delivery that held it.
    let row = sqlx::query("SELECT status, attempts FROM notifications WHERE id = $1")
        .bind(id)
        .fetch_one(claim.connection())
        .await?;
    let status: String = row.get("status");
    claim.status = Status::parse(&status).ok_or_else(|| {
        sqlx::Error::Decode(format!("unknown notification status `{status}`").into())
    })?;
    claim.attempts = row.get("attempts");
    Ok(Some(claim))
}

/// What happened to the claimed notification.
#[derive(Debug, Clone, Copy)]
pub struct Settlement<'a> {
    pub status: Status,
    /// A send was tried. It counts in `attempts` here unless [`Claim::begin_attempt`] counted
    /// it already (an attempt that failed before a connection opened is counted afterwards:
    /// nothing of it can have reached the relay).
    pub attempted: bool,
    pub error: Option<&'a str>,
}

impl Claim {
    fn connection(&mut self) -> &mut sqlx::PgConnection {
        self.connection
            .as_mut()
            .expect("a claim keeps its connection until it is settled or released")
    }

    /// Counts the attempt and commits it, with `sending` and its start time, before the SMTP
    /// transaction begins; returns its number.
    pub async fn begin_attempt(&mut self) -> Result<i32, sqlx::Error> {
        let id = self.id;
        let attempts: i32 = sqlx::query_scalar(
            "UPDATE notifications SET status = 'sending', attempts = attempts + 1, \
             attempt_started_at = now(), updated_at = now() WHERE id = $1 RETURNING attempts",
        )
        .bind(id)
        .fetch_one(self.connection())
        .await?;
        self.status = Status::Sending;
        self.attempts = attempts;
        self.counted = true;
        Ok(attempts)
    }

    ///
    /// After a send, the outcome must not be lost with the claim's connection (the relay has the
    /// message: a lost outcome means a second copy): when that connection's server went away,
    /// the outcome is written through the pool, which follows the read-write server, for up to
    /// [`SETTLE_PATIENCE`] — only while the row is still this attempt's (`sending`); the
    /// advisory lock went with the dead session.
    pub async fn settle(mut self, settlement: Settlement<'_>) -> Result<(), sqlx::Error> {
        let id = self.id;
        let uncounted = settlement.attempted && !self.counted;
        let written = sqlx::query(settle_sql!(""))
            .bind(id)
            .bind(settlement.status.as_str())
            .bind(i32::from(uncounted))
            .bind(settlement.error)
            .execute(self.connection())
            .await;
        match written {
            Ok(_) => self.unlock().await,
            Err(err) if self.counted && is_connection_lost(&err) => {
                // The dead connection is not given back to the pool.
                if let Some(connection) = self.connection.take() {
                    drop(connection.detach());
                }
                let deadline = tokio::time::Instant::now() + SETTLE_PATIENCE;
                loop {
                    let retried = sqlx::query(settle_sql!(" AND status = 'sending'"))
                        .bind(id)
                        .bind(settlement.status.as_str())
                        .bind(0)
                        .bind(settlement.error)
                        .execute(&self.pool)
                        .await;
                    match retried {
                        Ok(_) => return Ok(()),
                        Err(again) if tokio::time::Instant::now() >= deadline => return Err(again),
                        Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
                    }
                }
            }
            Err(err) => Err(err),
        }
    }

    /// Gives up without trying to send: nothing a retry could change (a bad address, a
    /// message that cannot be composed).
    pub async fn refuse(self, error: &str) -> Result<(), sqlx::Error> {
        self.settle(Settlement {
            status: Status::FailedPermanent,
            attempted: false,
            error: Some(error),
        })
        .await
    }

    /// Lets go of the row without changing it.
    pub async fn release(self) -> Result<(), sqlx::Error> {
        self.unlock().await
    }

    async fn unlock(mut self) -> Result<(), sqlx::Error> {
        let id = self.id;
        sqlx::query("SELECT pg_advisory_unlock($1, $2)")
            .bind(LOCK_CLASS)
            .bind(lock_key(id))
            .execute(self.connection())
            .await?;
        // Unlocked: the connection may serve others again.
        self.connection = None;
        Ok(())
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(connection) = &mut self.connection {
            // Still locked (an error on the way): closing the session is what lets go.
            connection.close_on_drop();
        }
    }
}

/// A notification as the citizen's folder shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    #[serde(skip)]
    pub practice_id: Uuid,
    pub event: String,
    pub channel: String,
    /// Shown to the citizen and the operator reading the folder; never logged unmasked.
    pub recipient: String,
    pub template: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub message_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Notifications by practice, oldest first.
pub type Notifications = BTreeMap<Uuid, Vec<Notification>>;

/// The notifications of some practices.
pub async fn of_practices(
    pool: &PgPool,
    practice_ids: &[Uuid],
) -> Result<Notifications, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT practice_id, event, channel, recipient, template, status, attempts, last_error, \
         message_id, created_at, updated_at, sent_at FROM notifications \
         WHERE practice_id = ANY($1) ORDER BY created_at, id",
    )
    .bind(practice_ids)
    .fetch_all(pool)
    .await?;
    let mut by_practice = Notifications::new();
    for row in rows {
        let notification = Notification {
            practice_id: row.get("practice_id"),
            event: row.get("event"),
            channel: row.get("channel"),
            recipient: row.get("recipient"),
            template: row.get("template"),
            status: row.get("status"),
            attempts: row.get("attempts"),
            last_error: row.get("last_error"),
            message_id: row.get("message_id"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
            sent_at: row.get("sent_at"),
        };
        by_practice
            .entry(notification.practice_id)
            .or_default()
            .push(notification);
    }
    Ok(by_practice)
}

/// A notification of one practice with its row id: an email to the citizen about one step,
/// with its delivery, as the HTTP API's folder shows it (`NotificationView` there).
#[derive(Debug, Clone, Serialize)]
pub struct NotificationRow {
    pub id: i64,
    /// The state the email is about (`registered`, `rejected`, …).
    pub event: String,
    /// `email` or `pec`.
    pub channel: String,
    pub template: String,
    /// The citizen's address: shown because this is the citizen's own folder (or an operator's
    /// view of it).
    pub recipient: String,
    /// `queued`, `sending` (an attempt under way, or cut off by a crash), `sent`,
    /// `failed_temporary` or `failed_permanent`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// The notifications of one practice with their ids, in the order they were queued (by id).
pub async fn of_practice(
    pool: &PgPool,
    practice_id: Uuid,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, event, channel, template, recipient, status, attempts, last_error, created_at, \
         updated_at, sent_at FROM notifications WHERE practice_id = $1 ORDER BY id",
    )
    .bind(practice_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| NotificationRow {
            id: row.get("id"),
            event: row.get("event"),
            channel: row.get("channel"),
            template: row.get("template"),
            recipient: row.get("recipient"),
            status: row.get("status"),
            attempts: row.get("attempts"),
            last_error: row.get("last_error"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
            sent_at: row.get("sent_at"),
        })
        .collect())
}

/// The practices with an email that failed (for now or for good), latest failure first.
pub async fn practices_with_failures(pool: &PgPool, limit: i64) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT practice_id FROM notifications \
         WHERE status IN ('failed_temporary', 'failed_permanent') \
         GROUP BY practice_id ORDER BY max(updated_at) DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_fold_every_id_into_31_bits() {
        assert_eq!(lock_key(1), 1);
        assert_eq!(lock_key(i64::from(i32::MAX) + 5), 5);
        assert!(lock_key(i64::MAX) >= 0);
    }

    #[test]
    fn statuses_round_trip_and_only_two_are_final() {
        for status in [
            Status::Queued,
            Status::Sending,
            Status::Sent,
            Status::FailedTemporary,
            Status::FailedPermanent,
        ] {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{}\"", status.as_str())
            );
        }
        assert!(Status::Sent.is_final() && Status::FailedPermanent.is_final());
        assert!(!Status::Queued.is_final() && !Status::FailedTemporary.is_final());
        assert!(
            !Status::Sending.is_final(),
            "an attempt cut off by a crash is tried again"
        );
        assert_eq!(Status::parse("delivered"), None);
    }
}
