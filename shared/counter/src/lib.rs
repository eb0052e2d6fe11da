//! What the counter does to a practice by hand: a withdrawal (asked by the citizen, at the
//! counter or in the citizen's area) and the hand-over of a physical product.
//!
//! The rules live here once, so that `sportello practice`, the cruscotto and the citizen's
//! area cannot disagree: a withdrawal is possible only before an outcome (the state machine
//! says so), it stops the procedure's clock in the same commit, and a back office that
//! already received the practice is told; a hand-over is possible only for a completed
//! practice whose outcome is a product to collect at the counter.
//!
//! Nothing here publishes: each action returns the messages to send after its commit, and the
//! caller publishes them on its own connection. Doing the same action again is harmless and
//! returns the same messages, so a caller that crashed between the commit and the publish
//! repeats the action to send them.

use sportello_backoffice::{SCHEMA_VERSION, ToBackOffice, Withdrawal};
use sportello_shared::broker::Outgoing;
use sportello_shared::catalog::Catalog;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::messages::PracticeEvent;
use sportello_shared::store::{Applied, Store, StoreError, Transition, reads};
use sportello_shared::topology::{Topology, TopologyError};
use uuid::Uuid;

/// Who asked for a withdrawal: the citizen themselves, or an operator on their behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WithdrawnBy {
    Citizen,
    Operator(String),
}

impl WithdrawnBy {
    fn kind(&self) -> &'static str {
        match self {
            WithdrawnBy::Citizen => "citizen",
            WithdrawnBy::Operator(_) => "operator",
        }
    }

    fn actor(&self) -> String {
        match self {
            WithdrawnBy::Citizen => "citizen".to_owned(),
            WithdrawnBy::Operator(id) => format!("operator:{id}"),
        }
    }
}

/// What an action changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Moved(PracticeState),
    AlreadyDone(PracticeState),
}

/// An action's result: what changed, and what to publish now that it is committed.
#[derive(Debug)]
pub struct Acted {
    pub done: Done,
    pub outgoing: Vec<Outgoing>,
}

#[derive(Debug, thiserror::Error)]
pub enum CounterError {
    #[error("practice {0} does not exist")]
    Unknown(Uuid),
    #[error("practice {id} is `{from}`: it cannot become `{to}`")]
    NotNow {
        id: Uuid,
        from: PracticeState,
        to: PracticeState,
    },
    #[error("practice {0} has no physical product to hand over")]
    NoProduct(Uuid),
    #[error("the operator's id is blank")]
    BlankOperator,
    #[error("type `{0}` is not in the catalog")]
    UnknownType(String),
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for CounterError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::UnknownPractice(id) => CounterError::Unknown(id),
            StoreError::Refused { id, from, to } => CounterError::NotNow { id, from, to },
            other => CounterError::Store(other),
        }
    }
}

impl From<sqlx::Error> for CounterError {
    fn from(err: sqlx::Error) -> Self {
        CounterError::Store(StoreError::Database(err))
    }
}

/// The parts an action reads and writes.
pub struct Counter<'a> {
    pub store: &'a Store,
    pub catalog: &'a Catalog,
    pub topology: &'a Topology,
    /// The procedure's day, in seconds (shortened in demos and tests).
    pub day_secs: u64,
}

impl Counter<'_> {
    /// Withdraws a practice before its outcome; a back office already working on it is told.
    pub async fn withdraw(&self, id: Uuid, by: &WithdrawnBy) -> Result<Acted, CounterError> {
        if let WithdrawnBy::Operator(operator) = by
            && operator.trim().is_empty()
        {
            return Err(CounterError::BlankOperator);
        }
        let practice = self
            .store
            .practice(id)
            .await?
            .ok_or(CounterError::Unknown(id))?;
        let reached_back_office =
            reads::times_entered(self.store.pool(), id, PracticeState::Dispatched).await? > 0;
        let done = self
            .move_to(
                id,
                PracticeState::Withdrawn,
                &by.actor(),
                "withdrawal",
                serde_json::json!({ "by": by.kind() }),
            )
            .await?;
        let mut outgoing = vec![self.event(id, PracticeState::Withdrawn)?];
        if reached_back_office {
            let office = self
                .catalog
                .get(&practice.practice_type)
                .map(|kind| kind.back_office.clone())
                .ok_or_else(|| CounterError::UnknownType(practice.practice_type.clone()))?;
            let body = ToBackOffice::Withdrawal(Withdrawal {
                schema_version: SCHEMA_VERSION,
                practice_id: id,
                back_office: office.clone(),
                by: by.kind().to_owned(),
                at: chrono::Utc::now(),
            });
            outgoing.push(Outgoing::json(
                &self.topology.exchange("backoffice")?.name,
                &office,
                &body,
                Some(id),
            ));
        }
        Ok(Acted { done, outgoing })
    }

    /// Records that a completed practice's physical product was handed over at the counter.
    pub async fn deliver(&self, id: Uuid, operator: &str) -> Result<Acted, CounterError> {
        let operator = operator.trim();
        if operator.is_empty() {
            return Err(CounterError::BlankOperator);
        }
        let history = self.store.history(id).await?;
        if history.is_empty() {
            return Err(CounterError::Unknown(id));
        }
        let completion = history
            .iter()
            .rev()
            .find(|h| h.to == PracticeState::Completed.as_str());
        if completion.is_some_and(|c| c.details["pickup"] != true) {
            return Err(CounterError::NoProduct(id));
        }
        let done = self
            .move_to(
                id,
                PracticeState::Delivered,
                &format!("operator:{operator}"),
                "delivery",
                serde_json::json!({ "operator": operator }),
            )
            .await?;
        let outgoing = vec![self.event(id, PracticeState::Delivered)?];
        Ok(Acted { done, outgoing })
    }

    async fn move_to(
        &self,
        id: Uuid,
        to: PracticeState,
        actor: &str,
        event_key: &str,
        details: serde_json::Value,
    ) -> Result<Done, CounterError> {
        let mut tx = self.store.begin().await?;
        let applied = sportello_shared::store::transition(
            &mut tx,
            &Transition {
                practice_id: id,
                to,
                actor,
                event_key,
                details,
                rejection_reasons: None,
            },
        )
        .await?;
        match applied {
            Applied::Moved { .. } => {
                // An action that ends the procedure stops its clock in the same commit.
                if sportello_shared::procedure::concludes(to) {
                    sportello_shared::procedure::conclude(
                        &mut tx,
                        id,
                        chrono::Utc::now(),
                        self.day_secs,
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(Done::Moved(to))
            }
            Applied::AlreadyApplied => Ok(Done::AlreadyDone(to)),
        }
    }

    fn event(&self, id: Uuid, state: PracticeState) -> Result<Outgoing, CounterError> {
        Ok(PracticeEvent::new(id, state).outgoing(&self.topology.exchange("events")?.name))
    }
}
