//! `sportello practice`: what a counter operator does to a practice by hand — record a
//! withdrawal, hand over a physical product.

use crate::app::App;
use anyhow::{Context, bail};
use sportello_backoffice::{SCHEMA_VERSION, ToBackOffice, Withdrawal};
use sportello_shared::broker::{self, Outgoing, Publisher};
use sportello_shared::domain::state::PracticeState;
use sportello_shared::messages::PracticeEvent;
use sportello_shared::store::{Applied, StoreError, Transition, reads};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WithdrawnBy {
    Citizen,
    Operator,
}

impl WithdrawnBy {
    fn as_str(self) -> &'static str {
        match self {
            WithdrawnBy::Citizen => "citizen",
            WithdrawnBy::Operator => "operator",
        }
    }
}

/// What a command changed, for the operator's screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Moved(PracticeState),
    AlreadyDone(PracticeState),
}

/// Withdraws a practice before its outcome; a back office already working on it is told.
pub async fn withdraw(app: &App, id: Uuid, by: WithdrawnBy) -> anyhow::Result<Done> {
    let practice = app
        .store
        .practice(id)
        .await?
        .with_context(|| format!("practice {id} does not exist"))?;
    let reached_back_office =
        reads::times_entered(app.store.pool(), id, PracticeState::Dispatched).await? > 0;
    let applied = move_to(
        app,
        id,
        PracticeState::Withdrawn,
        by.as_str(),
        "withdrawal",
        serde_json::json!({ "by": by.as_str() }),
    )
    .await?;
    if let Done::Moved(_) | Done::AlreadyDone(PracticeState::Withdrawn) = applied {
        let mut outputs = vec![event(app, id, PracticeState::Withdrawn)?];
        if reached_back_office {
            let office = app
                .catalog
                .get(&practice.practice_type)
                .map(|kind| kind.back_office.clone())
                .with_context(|| format!("type `{}` not in the catalog", practice.practice_type))?;
            let body = ToBackOffice::Withdrawal(Withdrawal {
                schema_version: SCHEMA_VERSION,
                practice_id: id,
                back_office: office.clone(),
                by: by.as_str().to_owned(),
                at: chrono::Utc::now(),
            });
            outputs.push(Outgoing::json(
                &app.exchange("backoffice")?,
                &office,
                &body,
                Some(id),
            ));
        }
        publish(app, &outputs).await?;
    }
    Ok(applied)
}

/// Records that a physical product was handed over at the counter.
pub async fn deliver(app: &App, id: Uuid, operator: &str) -> anyhow::Result<Done> {
    if operator.trim().is_empty() {
        bail!("--operator must name the operator");
    }
    let history = app.store.history(id).await?;
    let completion = history
        .iter()
        .rev()
        .find(|h| h.to == PracticeState::Completed.as_str());
    if completion.is_some_and(|c| c.details["pickup"] != true) {
        bail!("practice {id} has no physical product to hand over");
    }
    let actor = format!("operator:{}", operator.trim());
    let applied = move_to(
        app,
        id,
        PracticeState::Delivered,
        &actor,
        "delivery",
        serde_json::json!({ "operator": operator.trim() }),
    )
    .await?;
    if applied == Done::Moved(PracticeState::Delivered) {
        publish(app, &[event(app, id, PracticeState::Delivered)?]).await?;
    }
    Ok(applied)
}

async fn move_to(
    app: &App,
    id: Uuid,
    to: PracticeState,
    actor: &str,
    event_key: &str,
    details: serde_json::Value,
) -> anyhow::Result<Done> {
    let mut tx = app.store.begin().await?;
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
    .await;
    match applied {
        Ok(Applied::Moved { .. }) => {
            // A withdrawal ends the procedure: its clock stops in the same commit.
            if sportello_shared::procedure::concludes(to) {
                let day_secs = app.settings.procedure.day_secs;
                sportello_shared::procedure::conclude(&mut tx, id, chrono::Utc::now(), day_secs)
                    .await?;
            }
            tx.commit().await?;
            Ok(Done::Moved(to))
        }
        Ok(Applied::AlreadyApplied) => Ok(Done::AlreadyDone(to)),
        Err(StoreError::Refused { from, .. }) => {
            bail!("practice {id} is `{from}`: it cannot become `{to}`")
        }
        Err(err) => Err(err.into()),
    }
}

fn event(app: &App, id: Uuid, state: PracticeState) -> anyhow::Result<Outgoing> {
    Ok(PracticeEvent::new(id, state).outgoing(&app.exchange("events")?))
}

async fn publish(app: &App, outputs: &[Outgoing]) -> anyhow::Result<()> {
    let connection = broker::connect(&app.settings.broker, "practice-cli")
        .await
        .context("RabbitMQ")?;
    let publisher = Publisher::open(&connection).await?;
    for output in outputs {
        publisher.publish(output).await?;
    }
    let _ = connection.close(200, "done".into()).await;
    Ok(())
}
