//! `sportello practice`: what a counter operator does to a practice by hand — record a
//! withdrawal, hand over a physical product. The rules are `sportello_counter`'s; this module
//! parses the command and publishes what the action returns.

use crate::app::App;
use anyhow::Context;
use sportello_counter::{Acted, Counter};
pub use sportello_counter::{Done, WithdrawnBy};
use sportello_shared::broker::{self, Outgoing, Publisher};
use uuid::Uuid;

/// `--by` of `sportello practice withdraw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Requester {
    Citizen,
    Operator,
}

impl Requester {
    /// Who withdraws: the citizen, or `operator` on their behalf.
    pub fn withdrawn_by(self, operator: Option<&str>) -> WithdrawnBy {
        match self {
            Requester::Citizen => WithdrawnBy::Citizen,
            Requester::Operator => WithdrawnBy::Operator(operator.unwrap_or("").to_owned()),
        }
    }
}

fn counter(app: &App) -> Counter<'_> {
    Counter {
        store: &app.store,
        catalog: &app.catalog,
        topology: &app.topology,
        day_secs: app.settings.procedure.day_secs,
    }
}

/// Withdraws a practice before its outcome; a back office already working on it is told.
pub async fn withdraw(app: &App, id: Uuid, by: &WithdrawnBy) -> anyhow::Result<Done> {
    let Acted { done, outgoing } = counter(app).withdraw(id, by).await?;
    publish(app, &outgoing).await?;
    Ok(done)
}

/// Records that a physical product was handed over at the counter.
pub async fn deliver(app: &App, id: Uuid, operator: &str) -> anyhow::Result<Done> {
    let Acted { done, outgoing } = counter(app).deliver(id, operator).await?;
    publish(app, &outgoing).await?;
    Ok(done)
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
