//! The plumbing every worker shares: consume, hand to the handler, then ack, retry or fail.
//!
//! A worker's crate only says what to do with one message ([`Handler`]) and answers with an
//! [`Outcome`]. This module owns the rest:
//! - the outputs of a `Done` are published with confirms *before* the delivery is acked, so a
//!   crash in between means a redelivery, never a lost step (handlers are idempotent);
//! - `Retry` goes to the next retry tier (a TTL queue that dead-letters back), and once the tiers
//!   are used up, to the error queue;
//! - `Reject` and a panicking handler go straight to the error queue, with the reason, the stage
//!   and the attempt count in headers, so an operator can read and replay them;
//! - a lost connection is rebuilt by a supervisor loop with backoff (unacked messages are
//!   redelivered by the broker), and shutdown stops consuming, then lets the messages in hand
//!   finish.

use crate::broker::{self, BrokerError, Outgoing, Publisher, text};
use crate::config::BrokerSettings;
use crate::domain::privacy::scrub;
use crate::metrics::{self, Settled};
use crate::timing::Backoff;
use crate::topology::{Topology, WorkerQueues};
use futures::{FutureExt, StreamExt};
use lapin::{
    message::Delivery,
    options::{
        BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    },
    types::{AMQPValue, FieldTable},
};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, warn};

mod message;
pub use message::*;

/// A worker's domain logic. Must be idempotent: the same message may arrive more than once.
pub trait Handler: Send + Sync + 'static {
    /// The name of the worker, as in `queues.toml` (`[workers.<name>]`).
    fn name(&self) -> &'static str;
    fn handle(&self, message: &Incoming) -> impl Future<Output = Outcome> + Send;
}

/// Runs `handler` on its queue until `shutdown`, reconnecting whenever the broker goes away;
/// its connections log in as the worker's own party, whatever `broker` was chosen for.
pub async fn run<H: Handler>(
    broker: BrokerSettings,
    topology: Arc<Topology>,
    handler: Arc<H>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let wiring = Wiring::new(broker, &topology, handler.name())?;
    supervise(handler.name(), &shutdown, || {
        serve(&wiring, &handler, &shutdown)
    })
    .await;
    Ok(())
}

/// What every worker needs before its first connection: its own login, its queues, the errors
/// exchange and who republishes on a sender's behalf.
struct Wiring {
    broker: BrokerSettings,
    /// The worker's own login: the `user_id` of everything it publishes.
    user: String,
    queues: WorkerQueues,
    errors_exchange: String,
    republishers: Vec<String>,
}

impl Wiring {
    /// A missing password or an unknown worker is a configuration error: it stops the start
    /// now rather than reconnect for ever.
    fn new(broker: BrokerSettings, topology: &Topology, name: &str) -> anyhow::Result<Wiring> {
        let broker = broker.as_party(name);
        let user = broker::login_user(&broker)?;
        Ok(Wiring {
            queues: topology.worker(name)?.clone(),
            errors_exchange: topology.exchange("errors")?.name.clone(),
            republishers: republishers(topology, &broker.namespace),
            broker,
            user,
        })
    }
}

/// Reopens a session whenever it breaks, backing off while the broker stays away, until
/// shutdown.
async fn supervise<F, Fut>(name: &str, shutdown: &CancellationToken, mut session: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), BrokerError>>,
{
    let mut backoff = Backoff::reconnecting();
    while !shutdown.is_cancelled() {
        let started = Instant::now();
        let Err(err) = session().await else {
            return;
        };
        // A session that lasted was a recovery: the next loss starts the ladder again.
        if started.elapsed() > Duration::from_secs(30) {
            backoff.reset();
        }
        let pause = backoff.next_pause();
        warn!(worker = name, error = %err, retry_in = ?pause, "broker connection lost; reconnecting");
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// A consuming channel and a confirming publisher on one connection.
struct Session {
    connection: lapin::Connection,
    channel: lapin::Channel,
    consumer: lapin::Consumer,
    tag: String,
    context: Arc<Context>,
}

impl Session {
    async fn open(wiring: &Wiring, name: &str) -> Result<Session, BrokerError> {
        let queues = &wiring.queues;
        let connection = broker::connect(&wiring.broker, name).await?;
        let channel = connection.create_channel().await?;
        channel
            .basic_qos(queues.prefetch, BasicQosOptions::default())
            .await?;
        // Signed: what a worker publishes carries its own login, checked by the broker, so that
        // a consumer can tell our republishes (and trust their sender header) from a sender's.
        let publisher = Publisher::open_signed(&connection, &wiring.user).await?;
        let tag = format!("{name}-{}", uuid::Uuid::new_v4());
        let consumer = channel
            .basic_consume(
                queues.queue.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        info!(worker = name, queue = %queues.queue, "consuming");
        Ok(Session {
            connection,
            channel,
            consumer,
            tag,
            context: Arc::new(Context {
                queues: queues.clone(),
                errors_exchange: wiring.errors_exchange.clone(),
                publisher,
                republishers: wiring.republishers.clone(),
            }),
        })
    }

    /// Stops the flow of deliveries; what was prefetched but not started goes back to the
    /// queue when the channel closes.
    async fn cancel(&self) {
        let _ = self
            .channel
            .basic_cancel(self.tag.as_str().into(), BasicCancelOptions::default())
            .await;
    }

    async fn close(self) {
        let _ = self.channel.close(200, "worker stopping".into()).await;
        let _ = self.connection.close(200, "worker stopping".into()).await;
    }
}

fn consumer_gone() -> BrokerError {
    BrokerError::Amqp(lapin::Error::from(
        lapin::ErrorKind::InvalidConnectionState(lapin::ConnectionState::Closed),
    ))
}

/// One connection's life: returns `Ok` on shutdown, `Err` when the connection breaks.
async fn serve<H: Handler>(
    wiring: &Wiring,
    handler: &Arc<H>,
    shutdown: &CancellationToken,
) -> Result<(), BrokerError> {
    let queues = &wiring.queues;
    let mut session = Session::open(wiring, handler.name()).await?;
    let permits = Arc::new(Semaphore::new(queues.concurrency));
    let mut in_hand = JoinSet::new();
    let result = loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = shutdown.cancelled() => break Ok(()),
        };
        tokio::select! {
            next = session.consumer.next() => match next {
                Some(Ok(delivery)) => {
                    let handler = handler.clone();
                    let context = session.context.clone();
                    in_hand.spawn(async move {
                        process(&*handler, &context, delivery).await;
                        drop(permit);
                    });
                }
                Some(Err(err)) => break Err(BrokerError::from(err)),
                None => break Err(consumer_gone()),
            },
            _ = shutdown.cancelled() => break Ok(()),
        }
        while in_hand.try_join_next().is_some() {}
    };
    session.cancel().await;
    finish_in_hand(handler.name(), &mut in_hand).await;
    session.close().await;
    result
}

/// How long a stopping worker lets the messages in hand finish. Past it they are abandoned
/// unacked, and the broker gives them to another consumer when the connection closes: a
/// handler stuck on a dead service must not hold a shutdown (or a rolling restart) for ever.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

async fn finish_in_hand(name: &str, in_hand: &mut JoinSet<()>) {
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while in_hand.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(
            worker = name,
            abandoned = in_hand.len(),
            grace = ?SHUTDOWN_GRACE,
            "messages still in hand at the end of the shutdown grace: left unacked for the broker to deliver again"
        );
        in_hand.abort_all();
    }
}

/// A worker whose work is cheaper in batches: the deliveries in hand are handled together
/// (the register, say, commits many registrations at once). Outcomes come back one per message,
/// in order; each is settled on its own.
pub trait BatchHandler: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// The most messages handed over at once.
    fn max_batch(&self) -> usize;
    fn handle_batch(&self, messages: &[Incoming]) -> impl Future<Output = Vec<Outcome>> + Send;
}

/// How long a batch waits for more deliveries once it has one.
const BATCH_LINGER: Duration = Duration::from_millis(5);

/// Like [`run`], for a [`BatchHandler`].
pub async fn run_batched<H: BatchHandler>(
    broker: BrokerSettings,
    topology: Arc<Topology>,
    handler: Arc<H>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let wiring = Wiring::new(broker, &topology, handler.name())?;
    supervise(handler.name(), &shutdown, || {
        serve_batched(&wiring, &handler, &shutdown)
    })
    .await;
    Ok(())
}

async fn serve_batched<H: BatchHandler>(
    wiring: &Wiring,
    handler: &Arc<H>,
    shutdown: &CancellationToken,
) -> Result<(), BrokerError> {
    let queues = &wiring.queues;
    let mut session = Session::open(wiring, handler.name()).await?;
    let max = handler.max_batch().clamp(1, usize::from(queues.prefetch));
    let result = loop {
        let first = tokio::select! {
            next = session.consumer.next() => next,
            _ = shutdown.cancelled() => break Ok(()),
        };
        let mut batch = match first {
            Some(Ok(delivery)) => vec![delivery],
            Some(Err(err)) => break Err(BrokerError::from(err)),
            None => break Err(consumer_gone()),
        };
        let mut broken = None;
        while batch.len() < max {
            match tokio::time::timeout(BATCH_LINGER, session.consumer.next()).await {
                Ok(Some(Ok(delivery))) => batch.push(delivery),
                Ok(Some(Err(err))) => {
                    broken = Some(BrokerError::from(err));
                    break;
                }
                Ok(None) => {
                    broken = Some(consumer_gone());
                    break;
                }
                Err(_) => break,
            }
        }
        process_batch(&**handler, &session.context, batch).await;
        if let Some(err) = broken {
            break Err(err);
        }
    };
    session.cancel().await;
    session.close().await;
    result
}

async fn process_batch<H: BatchHandler>(handler: &H, context: &Context, batch: Vec<Delivery>) {
    let started = Instant::now();
    let incoming: Vec<Incoming> = batch
        .iter()
        .map(|d| Incoming::from_delivery(d, &context.republishers))
        .collect();
    let span = tracing::info_span!("batch", worker = handler.name(), size = batch.len());
    async {
        let outcomes = AssertUnwindSafe(handler.handle_batch(&incoming))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                let reason = format!("the handler panicked: {}", panic_message(&panic));
                incoming
                    .iter()
                    .map(|_| Outcome::Reject(reason.clone()))
                    .collect()
            });
        debug_assert_eq!(outcomes.len(), batch.len());
        let mut outcomes = outcomes.into_iter();
        // Every message's publishes go out together and their confirms are awaited together;
        // each message is still acked only after its own outputs are confirmed.
        let settling = incoming.iter().zip(&batch).map(|(message, delivery)| {
            let outcome = outcomes
                .next()
                .unwrap_or_else(|| Outcome::Retry("the batch handler gave no outcome".into()));
            finish(context, message, delivery, outcome, started)
        });
        futures::future::join_all(settling).await;
    }
    .instrument(span)
    .await
}

/// Settles one message and acks it, or returns it to the queue when that fails; `started` is
/// when its handling began, for the stage's latency.
async fn finish(
    context: &Context,
    incoming: &Incoming,
    delivery: &Delivery,
    outcome: Outcome,
    started: Instant,
) {
    let settled = match &outcome {
        Outcome::Done(_) => Settled::Done,
        Outcome::Retry(_) if (incoming.attempt as usize) < context.queues.retry_tiers.len() => {
            Settled::Retried
        }
        Outcome::Retry(_) | Outcome::Reject(_) => Settled::Failed,
    };
    match settle(context, incoming, delivery, outcome).await {
        Ok(()) => {
            // A failed ack means the channel is gone: the broker delivers the message again,
            // and the handler's idempotence makes that harmless. Said, not swallowed.
            if let Err(err) = delivery.ack(BasicAckOptions::default()).await {
                warn!(error = %err, "ack failed; the message will be delivered again");
            }
            metrics::record(&context.queues.worker, settled, started.elapsed());
        }
        Err(err) => {
            metrics::record(&context.queues.worker, Settled::Requeued, started.elapsed());
            // Nothing was lost: the message goes back to the queue and comes again.
            error!(error = %err, "could not publish the outcome; returning the message to the queue");
            if let Err(err) = delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await
            {
                warn!(error = %err, "nack failed; the broker returns the message when the channel closes");
            }
        }
    }
}

struct Context {
    queues: WorkerQueues,
    errors_exchange: String,
    publisher: Publisher,
    republishers: Vec<String>,
}

async fn process<H: Handler>(handler: &H, context: &Context, delivery: Delivery) {
    let incoming = Incoming::from_delivery(&delivery, &context.republishers);
    let span = tracing::info_span!(
        "message",
        worker = handler.name(),
        practice_id = incoming.practice_id.as_deref().unwrap_or("-"),
        attempt = incoming.attempt,
    );
    async {
        let started = Instant::now();
        let outcome = AssertUnwindSafe(handler.handle(&incoming))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                Outcome::Reject(format!("the handler panicked: {}", panic_message(&panic)))
            });
        finish(context, &incoming, &delivery, outcome, started).await;
        tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "settled");
    }
    .instrument(span)
    .await
}

/// Publishes whatever the outcome requires; the caller acks only if this succeeds.
async fn settle(
    context: &Context,
    incoming: &Incoming,
    delivery: &Delivery,
    outcome: Outcome,
) -> Result<(), BrokerError> {
    match outcome {
        Outcome::Done(outputs) => {
            // Pipelined on the one channel (sent in order), the confirms awaited together.
            futures::future::try_join_all(outputs.iter().map(|o| context.publisher.publish(o)))
                .await
                .map(|_| ())
        }
        Outcome::Retry(reason) => match context.queues.retry_tiers.get(incoming.attempt as usize) {
            Some(tier) => {
                let reason = scrub(&reason);
                warn!(%reason, retry_in = ?tier.delay, "transient failure; will retry");
                let mut headers = incoming.republished_headers();
                headers.insert(
                    ATTEMPT_HEADER.into(),
                    AMQPValue::LongUInt(incoming.attempt + 1),
                );
                let retry = Outgoing {
                    exchange: String::new(),
                    routing_key: tier.queue.clone(),
                    body: incoming.body.clone(),
                    headers,
                    message_id: delivery
                        .properties
                        .message_id()
                        .as_ref()
                        .map(|s| s.to_string()),
                    mandatory: true,
                };
                context.publisher.publish(&retry).await
            }
            None => {
                let reason = format!("gave up after {} retries: {reason}", incoming.attempt);
                to_error_queue(context, incoming, delivery, &reason).await
            }
        },
        Outcome::Reject(reason) => to_error_queue(context, incoming, delivery, &reason).await,
    }
}

async fn to_error_queue(
    context: &Context,
    incoming: &Incoming,
    delivery: &Delivery,
    reason: &str,
) -> Result<(), BrokerError> {
    let reason = scrub(reason);
    error!(%reason, queue = %context.queues.error_queue, "message moved to the error queue");
    let mut headers = incoming.republished_headers();
    headers.insert(ERROR_REASON_HEADER.into(), text(&reason));
    headers.insert(ERROR_STAGE_HEADER.into(), text(&context.queues.worker));
    headers.insert(ERROR_QUEUE_HEADER.into(), text(&context.queues.queue));
    headers.insert(
        ERROR_AT_HEADER.into(),
        text(&chrono::Utc::now().to_rfc3339()),
    );
    headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongUInt(incoming.attempt));
    let failed = Outgoing {
        exchange: context.errors_exchange.clone(),
        routing_key: context.queues.worker.clone(),
        body: incoming.body.clone(),
        headers,
        message_id: delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.to_string()),
        mandatory: true,
    };
    context.publisher.publish(&failed).await
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

#[cfg(test)]
mod tests;
