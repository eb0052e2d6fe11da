//! The procedure's timer job (L. 241/1990): every `procedure.timer_interval_secs` it fires the
//! clocks' `due_soon` and `overdue` events (`sportello_shared::procedure::fire_timers`, durable
//! in PostgreSQL, once per practice and kind whatever the number of replicas), then tells each
//! practice's back office with a [`Reminder`], from an outbox: an event whose reminder did not
//! go out (a crash between the commit and the publish) goes out on the next pass. When the
//! term of a type whose silence is consent passes, it also tells the returns worker
//! ([`SilenceDue`]), which turns the silence into its attestation (art. 20 L. 241/1990).
//!
//! It rides with the dispatch worker (the party that may write to the back offices); every
//! replica may run it.

use crate::app::App;
use anyhow::Context;
use sportello_backoffice::{Reminder, SCHEMA_VERSION, ToBackOffice};
use sportello_register::register::Clock;
use sportello_shared::broker::{self, Outgoing, Publisher};
use sportello_shared::catalog::Silence;
use sportello_shared::messages::SilenceDue;
use sportello_shared::procedure::{self, Fired};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How many clocks one pass takes at most.
const PASS_LIMIT: i64 = 500;

/// Runs the timer job until `shutdown`; a failed pass is logged and tried again.
pub async fn job(
    app: Arc<App>,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let interval = Duration::from_secs(app.settings.procedure.timer_interval_secs.max(1));
    let fired_by = format!(
        "{}:{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "fleet".to_owned()),
        std::process::id()
    );
    let mut publisher: Option<(lapin::Connection, Publisher)> = None;
    loop {
        match pass(&app, &*clock, &fired_by, &mut publisher).await {
            Ok(0) => {}
            Ok(fired) => info!(fired, "procedure timers fired"),
            Err(err) => {
                publisher = None;
                warn!(error = %format!("{err:#}"), "procedure timers: pass failed; will try again")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.cancelled() => return Ok(()),
        }
    }
}

/// One pass: fire what is due, then publish every reminder not yet out. Returns the events fired.
pub async fn pass(
    app: &App,
    clock: &dyn Clock,
    fired_by: &str,
    publisher: &mut Option<(lapin::Connection, Publisher)>,
) -> anyhow::Result<usize> {
    let settings = &app.settings.procedure;
    let mut fired = 0;
    loop {
        let pass = procedure::fire_timers(
            app.store.pool(),
            clock.now(),
            settings.day_secs,
            settings.due_soon_days,
            fired_by,
            PASS_LIMIT,
        )
        .await?;
        fired += pass.fired.len();
        for event in &pass.fired {
            info!(practice_id = %event.practice_id, kind = %event.kind, due_on = %event.due_on, "procedure timer fired");
        }
        if (pass.looked_at as i64) < PASS_LIMIT || pass.fired.is_empty() {
            break;
        }
    }
    publish_reminders(app, publisher).await?;
    Ok(fired)
}

async fn publish_reminders(
    app: &App,
    publisher: &mut Option<(lapin::Connection, Publisher)>,
) -> anyhow::Result<()> {
    let mut tx = app.store.begin().await?;
    let pending = procedure::unpublished(&mut tx, PASS_LIMIT).await?;
    if pending.is_empty() {
        return Ok(());
    }
    if publisher.is_none() {
        let broker = app.settings.broker.as_party("dispatch");
        let connection = broker::connect(&broker, "timers")
            .await
            .context("RabbitMQ")?;
        let opened = Publisher::open(&connection).await?;
        *publisher = Some((connection, opened));
    }
    let (_, publisher) = publisher.as_ref().expect("opened above");
    let exchange = app.exchange("backoffice")?;
    let events = app.exchange("events")?;
    for event in &pending {
        let Some(kind) = app.catalog.get(&event.practice_type) else {
            warn!(practice_id = %event.practice_id, practice_type = %event.practice_type, "procedure timer: type not in the catalog; no reminder");
            procedure::mark_published(&mut tx, event).await?;
            continue;
        };
        publisher
            .publish(&reminder(&exchange, &kind.back_office, event))
            .await?;
        if event.kind == "overdue" && event.silence == Silence::Consent.as_str() {
            // Silence is consent here: the returns worker registers the attestation.
            publisher
                .publish(&SilenceDue::new(event.practice_id).outgoing(&events))
                .await?;
        }
        procedure::mark_published(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The reminder of `event` for `back_office`.
pub fn reminder(exchange: &str, back_office: &str, event: &Fired) -> Outgoing {
    let body = ToBackOffice::Reminder(Reminder {
        schema_version: SCHEMA_VERSION,
        reminder_id: format!("{}:{}", event.practice_id, event.kind),
        practice_id: event.practice_id,
        back_office: back_office.to_owned(),
        event: event.kind.clone(),
        due_on: event.due_on,
        fired_on: event.fired_on,
    });
    Outgoing::json(exchange, back_office, &body, Some(event.practice_id))
}
