//! The store side of the state machine: one [`transition`] (row lock, the machine's check, the
//! history entry under its event key) and [`advance_many`] for a batch moving together.

use super::{StoreError, Tx};
use crate::domain::state::PracticeState;
use uuid::Uuid;

/// A requested state change and why.
#[derive(Debug, Clone)]
pub struct Transition<'a> {
    pub practice_id: Uuid,
    pub to: PracticeState,
    /// `worker:validation`, `operator:OP-1`, `backoffice:bo.tributi`, `citizen`.
    pub actor: &'a str,
    /// The same cause always gives the same key (e.g. `validation`, or a return's message id).
    pub event_key: &'a str,
    pub details: serde_json::Value,
    /// Stored on the practice for the folder when the practice is rejected.
    pub rejection_reasons: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The practice moved from `from`.
    Moved { from: PracticeState },
    /// This event had already been applied: nothing was written.
    AlreadyApplied,
}

/// Applies `change` inside `tx`: locks the practice, refuses transitions the state machine does
/// not allow, and writes nothing for an event it has already seen.
pub async fn transition(tx: &mut Tx, change: &Transition<'_>) -> Result<Applied, StoreError> {
    let id = change.practice_id;
    let state: String = sqlx::query_scalar("SELECT state FROM practices WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::UnknownPractice(id))?;
    let from: PracticeState = state
        .parse()
        .map_err(|_| StoreError::CorruptState { id, state })?;
    let seen: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM practice_history WHERE practice_id = $1 AND event_key = $2",
    )
    .bind(id)
    .bind(change.event_key)
    .fetch_optional(&mut **tx)
    .await?;
    if seen.is_some() {
        return Ok(Applied::AlreadyApplied);
    }
    if !from.can_move_to(change.to) {
        return Err(StoreError::Refused {
            id,
            from,
            to: change.to,
        });
    }
    sqlx::query(
        "INSERT INTO practice_history (practice_id, from_state, to_state, actor, event_key, details) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(change.to.as_str())
    .bind(change.actor)
    .bind(change.event_key)
    .bind(&change.details)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE practices SET state = $2, updated_at = now(), \
         rejection_reasons = COALESCE($3, rejection_reasons) WHERE id = $1",
    )
    .bind(id)
    .bind(change.to.as_str())
    .bind(&change.rejection_reasons)
    .execute(&mut **tx)
    .await?;
    Ok(Applied::Moved { from })
}

/// Moves many practices, all in `from`, to `to` in a few statements: for batch workers that have
/// locked the practices and checked their state in the same transaction. Refuses what the state
/// machine refuses, and fails (so the caller rolls back) if any practice was not in `from`.
pub async fn advance_many(
    tx: &mut Tx,
    from: PracticeState,
    to: PracticeState,
    actor: &str,
    event_key: &str,
    changes: &[(Uuid, serde_json::Value)],
) -> Result<(), StoreError> {
    let Some((first, _)) = changes.first() else {
        return Ok(());
    };
    if !from.can_move_to(to) {
        return Err(StoreError::Refused {
            id: *first,
            from,
            to,
        });
    }
    let ids: Vec<Uuid> = changes.iter().map(|(id, _)| *id).collect();
    let details: Vec<serde_json::Value> = changes.iter().map(|(_, d)| d.clone()).collect();
    let moved = sqlx::query(
        "UPDATE practices SET state = $2, updated_at = now() WHERE id = ANY($1) AND state = $3",
    )
    .bind(&ids)
    .bind(to.as_str())
    .bind(from.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if moved != ids.len() as u64 {
        return Err(StoreError::NotAllIn {
            from,
            missing: ids.len() as u64 - moved,
            of: ids.len(),
        });
    }
    sqlx::query(
        "INSERT INTO practice_history (practice_id, from_state, to_state, actor, event_key, details) \
         SELECT id, $2, $3, $4, $5, details FROM UNNEST($1::uuid[], $6::jsonb[]) AS t(id, details)",
    )
    .bind(&ids)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(actor)
    .bind(event_key)
    .bind(&details)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
