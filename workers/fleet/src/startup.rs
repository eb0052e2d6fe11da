//! Starting while a service is down: `sportello run` and `sportello serve` wait for PostgreSQL,
//! the object store and RabbitMQ instead of exiting, so that a fleet started before its
//! services — or restarted during an outage — comes up by itself.
//!
//! A running worker already reconnects to the broker by itself (`shared::worker`); this covers
//! the start, before there is anything to reconnect. Only what waiting can cure is waited for
//! (a refused or timed-out connection, a database still starting); a wrong configuration — a
//! bad catalog, a missing database, refused credentials — still stops the start at once. Every
//! retry is logged with its error and the next delay; the wait is bounded by
//! `startup.wait_secs`, and SIGINT/SIGTERM ends it at once. One-shot commands meant for an
//! operator do not come through here: they fail fast with the error.

use crate::app::App;
use anyhow::Context;
use sportello_shared::broker::{self, BrokerError};
use sportello_shared::config::{Settings, redact_url};
use sportello_shared::objects::ObjectError;
use sportello_shared::store::{self, StoreError};
use sportello_shared::timing::Backoff;
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The first pause between tries; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Short enough that a fleet notices a returning service within seconds.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How long a start may wait, and what stops it early.
#[derive(Clone)]
pub struct Patience {
    pub bound: Duration,
    pub shutdown: CancellationToken,
}

impl Patience {
    pub fn new(settings: &Settings, shutdown: &CancellationToken) -> Patience {
        Patience {
            bound: Duration::from_secs(settings.startup.wait_secs),
            shutdown: shutdown.clone(),
        }
    }
}

/// A service being waited for: its name, and where it was looked for (no secrets).
pub type Awaited = (&'static str, String);

/// Tries `connect` until it succeeds, fails in a way waiting cannot cure (`awaited` says which
/// service a failure is waiting for, or `None`), or the patience runs out. `Ok(None)`: a stop
/// was requested while waiting.
pub async fn wait_for<T, E, F, Fut>(
    patience: &Patience,
    awaited: impl Fn(&E) -> Option<Awaited>,
    mut connect: F,
) -> anyhow::Result<Option<T>>
where
    E: Into<anyhow::Error> + Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let deadline = started + patience.bound;
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    let mut tries = 0u32;
    loop {
        tries += 1;
        let outcome = tokio::select! {
            outcome = connect() => outcome,
            _ = patience.shutdown.cancelled() => return Ok(None),
        };
        let error = match outcome {
            Ok(value) => {
                if tries > 1 {
                    info!(waited = ?started.elapsed(), tries, "service reachable; starting");
                }
                return Ok(Some(value));
            }
            Err(error) => error,
        };
        let now = Instant::now();
        let Some((service, at)) = awaited(&error).filter(|_| now < deadline) else {
            let error: anyhow::Error = error.into();
            return Err(if tries > 1 {
                error.context(format!(
                    "gave up after waiting {} s ({tries} tries)",
                    started.elapsed().as_secs()
                ))
            } else {
                error
            });
        };
        let pause = backoff.next_pause().min(deadline - now);
        warn!(
            service,
            at,
            error = %format_args!("{error:#}"),
            retry_in = ?pause,
            waited = ?started.elapsed(),
            gives_up_in = ?(deadline - now),
            "{service} not reachable yet; waiting for it before starting"
        );
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = patience.shutdown.cancelled() => return Ok(None),
        }
    }
}

/// The parts of a long-running process, built as every command builds them ([`App::build`]),
/// and the object store answering; tried again while PostgreSQL or the object store is away.
/// A wrong configuration is found on the first try and stops the start.
pub async fn app(settings: Settings, shutdown: &CancellationToken) -> anyhow::Result<Option<App>> {
    let patience = Patience::new(&settings, shutdown);
    let database = redact_url(settings.database.url());
    let endpoint = settings.object_store.endpoint.clone();
    let (settings, endpoint) = (&settings, endpoint.as_str());
    wait_for(
        &patience,
        |error: &anyhow::Error| awaited_service(error, &database, endpoint),
        move || async move {
            let app = App::build(settings.clone()).await?;
            app.objects
                .ping()
                .await
                .with_context(|| format!("the object store at {endpoint}"))?;
            Ok::<_, anyhow::Error>(app)
        },
    )
    .await
}

/// Which service a failed start waits for: the first error of the chain that says.
fn awaited_service(error: &anyhow::Error, database: &str, endpoint: &str) -> Option<Awaited> {
    let postgres = || ("PostgreSQL", database.to_owned());
    for cause in error.chain() {
        if let Some(e) = cause.downcast_ref::<StoreError>() {
            return e.is_transient().then(postgres);
        }
        if let Some(e) = cause.downcast_ref::<sqlx::Error>() {
            return store::is_transient(e).then(postgres);
        }
        if let Some(e) = cause.downcast_ref::<ObjectError>() {
            return e
                .is_transient()
                .then(|| ("the object store", endpoint.to_owned()));
        }
    }
    None
}

/// Whether a failed broker connection may pass by itself: nobody listening, no answer, a
/// dropped connection. The broker refusing us (credentials, virtual host) will not.
pub fn broker_waitable(error: &BrokerError) -> bool {
    match error {
        BrokerError::Timeout(_) => true,
        BrokerError::Amqp(error) => matches!(
            error.kind(),
            lapin::ErrorKind::IOError(_)
                | lapin::ErrorKind::MissingHeartbeatError
                | lapin::ErrorKind::InvalidConnectionState(_)
        ),
        _ => false,
    }
}

/// Declares the topology once the broker answers. `Ok(false)`: a stop was requested first.
pub async fn apply_topology(app: &App, shutdown: &CancellationToken) -> anyhow::Result<bool> {
    let patience = Patience::new(&app.settings, shutdown);
    let at = redact_url(app.settings.broker.url());
    let connected = wait_for(
        &patience,
        |error: &BrokerError| broker_waitable(error).then(|| ("RabbitMQ", at.clone())),
        || broker::connect(&app.settings.broker, "topology"),
    )
    .await?;
    let Some(connection) = connected else {
        return Ok(false);
    };
    let channel = connection.create_channel().await?;
    app.topology
        .apply(&channel)
        .await
        .context("declaring the topology")?;
    let _ = connection.close(200, "done".into()).await;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Failed = std::io::Error;

    fn failed(text: &str) -> Failed {
        std::io::Error::other(text.to_owned())
    }

    fn here(_: &Failed) -> Option<Awaited> {
        Some(("svc", "here".into()))
    }

    fn patience(bound: Duration) -> Patience {
        Patience {
            bound,
            shutdown: CancellationToken::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_waitable_failure_is_retried_until_it_passes() {
        let mut tries = 0;
        let got = wait_for(&patience(Duration::from_secs(60)), here, || {
            tries += 1;
            let now = tries;
            async move {
                if now < 4 {
                    Err(failed("down"))
                } else {
                    Ok(now)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(got, Some(4));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_waiting_cannot_cure_stops_at_once() {
        let mut tries = 0;
        let err = wait_for(
            &patience(Duration::from_secs(60)),
            |_: &Failed| None,
            || {
                tries += 1;
                async { Err::<(), _>(failed("bad password")) }
            },
        )
        .await
        .unwrap_err();
        assert_eq!(tries, 1);
        assert!(format!("{err:#}").contains("bad password"), "{err:#}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_is_bounded_and_says_how_long_it_waited() {
        let started = Instant::now();
        let err = wait_for(&patience(Duration::from_secs(30)), here, || async {
            Err::<(), _>(failed("refused"))
        })
        .await
        .unwrap_err();
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
            "{waited:?}"
        );
        let err = format!("{err:#}");
        assert!(err.starts_with("gave up after waiting 30 s"), "{err}");
        assert!(err.ends_with(": refused"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_the_wait_at_once() {
        let patience = patience(Duration::from_secs(600));
        let stop = patience.shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            stop.cancel();
        });
        let started = Instant::now();
        let got = wait_for(&patience, here, || async {
            Err::<(), _>(failed("refused"))
        })
        .await
        .unwrap();
        assert!(got.is_none());
        assert!(started.elapsed() < Duration::from_secs(4));
    }
}

#[cfg(test)]
mod classification {
    use super::*;

    #[test]
    fn a_start_waits_for_a_service_away_but_not_for_a_wrong_configuration() {
        let refused = anyhow::Error::new(StoreError::Database(sqlx::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        )))
        .context("PostgreSQL at postgres://sportello@127.0.0.1:1/x");
        assert_eq!(
            awaited_service(&refused, "db", "s3").map(|a| a.0),
            Some("PostgreSQL")
        );
        let away = anyhow::Error::new(ObjectError::Unavailable("connection refused".into()))
            .context("the object store");
        assert_eq!(
            awaited_service(&away, "db", "s3"),
            Some(("the object store", "s3".to_owned()))
        );
        let wrong = anyhow::anyhow!("queues.toml: `back_offices` has no queue for bo.x");
        assert_eq!(awaited_service(&wrong, "db", "s3"), None);
        assert!(!broker_waitable(&BrokerError::Nacked {
            exchange: "x".into(),
            routing_key: "y".into(),
        }));
        assert!(broker_waitable(&BrokerError::Timeout(Duration::from_secs(
            1
        ))));
    }
}
