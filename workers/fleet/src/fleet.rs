//! Runs workers in one process until told to stop.
//!
//! Each worker runs under the shared plumbing's supervisor; SIGINT or SIGTERM cancels them all,
//! they stop taking messages, finish the ones in hand, and this returns.

use crate::app::App;
use anyhow::{Context, bail};
use sportello_dispatch::Dispatch;
use sportello_intake::Intake;
use sportello_notification::Notifier;
use sportello_protocol::handler::Protocol;
use sportello_register::Keeper;
use sportello_register::daily;
use sportello_register::register::{SystemClock, legal_date};
use sportello_register::segnatura::{IpaCode, RegisterCode};
use sportello_register::signature::AooSigner;
use sportello_returns::Returns;
use sportello_shared::broker;
use sportello_shared::config::ProtocolSettings;
use sportello_shared::worker::{self, Handler};
use sportello_storage::Storage;
use sportello_validation::Validation;
use std::path::Path;
use std::sync::Arc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The workers this build can run, in pipeline order.
pub use sportello_shared::topology::WORKERS;

/// Declares the whole topology on the broker (idempotent).
pub async fn apply_topology(app: &App) -> anyhow::Result<()> {
    let connection = broker::connect(&app.settings.broker, "topology")
        .await
        .context("RabbitMQ")?;
    let channel = connection.create_channel().await?;
    app.topology.apply(&channel).await?;
    let _ = connection.close(200, "done".into()).await;
    Ok(())
}

/// Resolves `all` and checks the names before anything starts.
pub fn resolve(names: &[String]) -> anyhow::Result<Vec<&'static str>> {
    if names.is_empty() || names.iter().any(|n| n == "all") {
        return Ok(WORKERS.to_vec());
    }
    names
        .iter()
        .map(|name| {
            WORKERS.iter().copied().find(|w| w == name).ok_or_else(|| {
                anyhow::anyhow!("unknown worker `{name}` (known: {})", WORKERS.join(", "))
            })
        })
        .collect()
}

/// Runs `workers` until `shutdown` is cancelled; waits for the broker first (`startup`).
pub async fn run(
    app: Arc<App>,
    workers: &[&str],
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if !crate::startup::apply_topology(&app, &shutdown).await? {
        return Ok(());
    }
    let mut running = JoinSet::new();
    // The HTTP API rides along when the deployment asks for it; checked before any worker
    // starts, so a missing token key stops the process at once.
    if app.settings.http.enabled {
        let state = crate::http::api_state(&app, shutdown.clone())?;
        running.spawn(sportello_api::bind_and_serve(state));
    }
    for name in workers {
        match *name {
            "intake" => spawn(&mut running, &app, intake(&app)?, &shutdown),
            "validation" => spawn(&mut running, &app, validation(&app)?, &shutdown),
            "notification" => spawn(&mut running, &app, notification(&app)?, &shutdown),
            "storage" => spawn(&mut running, &app, storage(&app)?, &shutdown),
            "dispatch" => {
                spawn(&mut running, &app, dispatch(&app)?, &shutdown);
                // The procedure's timers tell the back offices, as dispatch does.
                running.spawn(crate::timers::job(
                    app.clone(),
                    Arc::new(SystemClock),
                    shutdown.clone(),
                ));
            }
            "returns" => spawn(&mut running, &app, returns(&app)?, &shutdown),
            "protocol" => {
                running.spawn(worker::run_batched(
                    app.settings.broker.clone(),
                    app.topology.clone(),
                    Arc::new(protocol(&app)?),
                    shutdown.clone(),
                ));
                running.spawn(daily_register_job(app.clone(), shutdown.clone()));
            }
            other => bail!("unknown worker `{other}`"),
        }
    }
    info!(workers = ?workers, "fleet running");
    while let Some(finished) = running.join_next().await {
        finished.context("a worker task failed")??;
    }
    info!("fleet stopped");
    Ok(())
}

fn spawn<H: Handler>(
    running: &mut JoinSet<anyhow::Result<()>>,
    app: &App,
    handler: H,
    shutdown: &CancellationToken,
) {
    running.spawn(worker::run(
        app.settings.broker.clone(),
        app.topology.clone(),
        Arc::new(handler),
        shutdown.clone(),
    ));
}

pub fn intake(app: &App) -> anyhow::Result<Intake> {
    Ok(Intake {
        store: app.store.clone(),
        objects: app.objects_for("intake")?,
        catalog: app.catalog.clone(),
        inline_limit: app.settings.object_store.inline_limit_bytes,
        max_message_bytes: app.settings.intake.max_message_bytes,
        practice_exchange: app.exchange("practice")?,
        events_exchange: app.exchange("events")?,
    })
}

pub fn validation(app: &App) -> anyhow::Result<Validation> {
    Ok(Validation {
        store: app.store.clone(),
        objects: app.objects_for("validation")?,
        catalog: app.catalog.clone(),
        practice_exchange: app.exchange("practice")?,
        events_exchange: app.exchange("events")?,
    })
}

pub fn protocol(app: &App) -> anyhow::Result<Protocol> {
    Ok(Protocol {
        store: app.store.clone(),
        catalog: app.catalog.clone(),
        keeper: keeper(&app.settings.protocol)?,
        signer: Arc::new(signer(&app.settings.protocol)?),
        clock: Arc::new(SystemClock),
        day_secs: app.settings.procedure.day_secs,
        batch_size: app.settings.protocol.batch_size,
        practice_exchange: app.exchange("practice")?,
        events_exchange: app.exchange("events")?,
    })
}

pub fn storage(app: &App) -> anyhow::Result<Storage> {
    Ok(Storage {
        store: app.store.clone(),
        objects: app.objects_for("storage")?,
        practice_exchange: app.exchange("practice")?,
        events_exchange: app.exchange("events")?,
        catalog: app.catalog.clone(),
        procedure: app.settings.procedure.clone(),
        municipality: app.settings.municipality.clone(),
    })
}

pub fn dispatch(app: &App) -> anyhow::Result<Dispatch> {
    Ok(Dispatch {
        store: app.store.clone(),
        objects: app.objects_for("dispatch")?,
        catalog: app.catalog.clone(),
        backoffice_exchange: app.exchange("backoffice")?,
        events_exchange: app.exchange("events")?,
        link_validity_secs: app.settings.object_store.link_validity_secs,
    })
}

/// The returns worker registers result documents as outgoing: it signs with the AOO's key.
pub fn returns(app: &App) -> anyhow::Result<Returns> {
    Ok(Returns {
        store: app.store.clone(),
        objects: app.objects_for("returns")?,
        catalog: app.catalog.clone(),
        keeper: keeper(&app.settings.protocol)?,
        signer: Arc::new(signer(&app.settings.protocol)?),
        clock: Arc::new(SystemClock),
        day_secs: app.settings.procedure.day_secs,
        events_exchange: app.exchange("events")?,
        topology: app.topology.clone(),
        namespace: app.settings.broker.namespace.clone(),
        procedure: app.settings.procedure.clone(),
        municipality: app.settings.municipality.clone(),
    })
}

/// The notification worker with its SMTP relays; a bad sender or TLS setting stops the start.
pub fn notification(app: &App) -> anyhow::Result<Notifier> {
    Notifier::new(
        app.store.clone(),
        app.objects_for("notification")?,
        app.catalog.clone(),
        &app.settings.smtp,
        &app.settings.municipality,
        &app.settings.procedure,
    )
    .context("notification worker (smtp, municipality settings)")
}

/// The administration, AOO and register named by the settings.
pub fn keeper(settings: &ProtocolSettings) -> anyhow::Result<Keeper> {
    Ok(Keeper {
        administration: IpaCode::with_description(
            &settings.administration_code,
            &settings.administration_name,
        ),
        aoo: IpaCode::with_description(&settings.aoo_code, &settings.aoo_name),
        register: RegisterCode::new(&settings.register_code)
            .with_context(|| format!("protocol.register_code `{}`", settings.register_code))?,
    })
}

/// The AOO's signing key and certificate; the protocol worker does not start without them.
pub fn signer(settings: &ProtocolSettings) -> anyhow::Result<AooSigner> {
    if settings.signing_key.is_empty() || settings.signing_certificate.is_empty() {
        bail!(
            "protocol.signing_key and protocol.signing_certificate must name the AOO's key and certificate (deploy/local/stack-up.sh makes a development pair)"
        );
    }
    AooSigner::from_pem_files(
        Path::new(&settings.signing_key),
        Path::new(&settings.signing_certificate),
    )
    .with_context(|| format!("loading the AOO's signing key {}", settings.signing_key))
}

/// Closes yesterday's register soon after midnight, and checks again every hour: producing a
/// day is idempotent, so every replica may run this.
async fn daily_register_job(app: Arc<App>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let register = keeper(&app.settings.protocol)?.register_id();
    let objects = app.objects_for("protocol")?;
    loop {
        let today = legal_date(chrono::Utc::now());
        if let Some(yesterday) = today.pred_opt() {
            match daily::produce(app.store.pool(), &objects, &register, yesterday, today).await {
                Ok(done) if done.created => {
                    info!(day = %done.day, entries = done.entries, key = %done.object_key, "daily register produced")
                }
                Ok(_) => {}
                Err(err) => warn!(error = %err, "daily register not produced yet; will try again"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
            _ = shutdown.cancelled() => return Ok(()),
        }
    }
}

/// A token cancelled by the first SIGINT or SIGTERM.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        info!("stop requested: finishing the messages in hand");
        cancel.cancel();
    });
    token
}
