//! The notifications table (migration `0003_notifications.sql`): what was to be sent, to whom,
//! and what became of it.
//!
//! Sending is not transactional, so the record brackets it: the row is inserted `queued` (a
//! redelivered event finds it), then locked for the send ([`claim`]), so two deliveries of one
//! event handled at the same moment take turns and the second finds `sent`. A crash after the
//! relay took the message and before the row says `sent` can still send a second copy; it
//! carries the same Message-ID, so mail clients show it once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sportello_shared::store::Tx;
use sqlx::{PgPool, Row};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
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
            Status::Sent => "sent",
            Status::FailedTemporary => "failed_temporary",
            Status::FailedPermanent => "failed_permanent",
        }
    }

    fn parse(text: &str) -> Option<Status> {
        [
            Status::Queued,
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

/// Records the notification as `queued` unless a delivery of the same event already did.
pub async fn enqueue(pool: &PgPool, new: &NewNotification<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notifications (practice_id, event, recipient, channel, template, status, message_id) \
         VALUES ($1, $2, $3, $4, $5, 'queued', $6) ON CONFLICT (practice_id, event) DO NOTHING",
    )
    .bind(new.practice_id)
    .bind(new.event)
    .bind(new.recipient)
    .bind(new.channel)
    .bind(new.template)
    .bind(new.message_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// The row of one notification, locked until [`Claim::settle`] or drop.
pub struct Claim {
    tx: Tx,
    id: i64,
    pub status: Status,
    pub attempts: i32,
}

/// Locks the notification of (`practice_id`, `event`); [`enqueue`] must have run.
pub async fn claim(pool: &PgPool, practice_id: Uuid, event: &str) -> Result<Claim, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query(
        "SELECT id, status, attempts FROM notifications WHERE practice_id = $1 AND event = $2 FOR UPDATE",
    )
    .bind(practice_id)
    .bind(event)
    .fetch_one(&mut *tx)
    .await?;
    let status: String = row.get("status");
    Ok(Claim {
        tx,
        id: row.get("id"),
        status: Status::parse(&status).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown notification status `{status}`").into())
        })?,
        attempts: row.get("attempts"),
    })
}

/// What happened to the claimed notification.
#[derive(Debug, Clone, Copy)]
pub struct Settlement<'a> {
    pub status: Status,
    /// A send was tried (counts in `attempts`).
    pub attempted: bool,
    pub error: Option<&'a str>,
}

impl Claim {
    pub async fn settle(mut self, settlement: Settlement<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE notifications SET status = $2, attempts = attempts + $3, \
             last_error = COALESCE($4, last_error), updated_at = now(), \
             sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END WHERE id = $1",
        )
        .bind(self.id)
        .bind(settlement.status.as_str())
        .bind(i32::from(settlement.attempted))
        .bind(settlement.error)
        .execute(&mut *self.tx)
        .await?;
        self.tx.commit().await
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

    /// Releases the row without changing it.
    pub async fn release(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_only_two_are_final() {
        for status in [
            Status::Queued,
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
        assert_eq!(Status::parse("delivered"), None);
    }
}
