//! `GET /practices/{id}/events`: server-sent events that follow a practice live.
//!
//! Source: the `events` exchange. One consumer per process ([`feed`]) binds an exclusive,
//! auto-delete queue to `practice.#` and turns each event into a wake-up for the streams of
//! that practice; a woken stream reads the new transitions from the folder store, which stays
//! the one source of truth (an event says "something changed", the store says what). A slow
//! poll backs the wake-ups, so a stream catches up even while the broker is away. Each SSE
//! event carries the transition's `seq` as its id: a client that reconnects with
//! `Last-Event-ID` gets only what it missed.
//!
//! A stream lives as long as its token would be accepted (`exp` plus `http.clock_leeway_secs`):
//! then it sends an `expired` event and ends, so a revoked or leaked token cannot keep
//! watching, and the client reconnects with a fresh one. Each caller may hold
//! `http.max_streams_per_caller` streams at once (the next gets 429 `too_many_streams`), the
//! service `http.max_streams` (the next gets 503 `busy`).

use crate::ApiState;
use crate::auth::StreamSession;
use crate::error::ApiError;
use crate::folder;
use crate::limits::{StreamRefusal, StreamSlot};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use sportello_shared::broker::{self, BrokerError};
use sportello_shared::messages::PracticeEvent;
use sportello_shared::procedure;
use sportello_shared::timing::Backoff;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;
use tracing::{debug, info, warn};
use uuid::Uuid;

/// How often a stream reads the store when no event woke it.
const POLL: Duration = Duration::from_secs(2);

pub async fn practice_events(
    State(state): State<ApiState>,
    StreamSession(session): StreamSession,
    id: Result<Path<Uuid>, PathRejection>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Path(id) = id?;
    super::folder::readable(&state, &session.caller, id).await?;
    let slot = state
        .streams()
        .acquire(&session.holder())
        .map_err(|refusal| match refusal {
            StreamRefusal::PerHolder(max) => ApiError::TooManyStreams(format!(
                "this caller has {max} live streams open already, the most it may; close one first"
            )),
            StreamRefusal::Total(_) => {
                ApiError::Busy("the service has as many live streams open as it can".to_owned())
            }
        })?;
    let ends = tokio::time::Instant::now() + session.remaining();
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let follow = Follow {
        wake: state.changes().subscribe(),
        state,
        id,
        after,
        pending: VecDeque::new(),
        first: true,
        ends,
        expired: false,
        _slot: slot,
    };
    let stream = futures::stream::unfold(follow, Follow::next).map(Ok);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

struct Follow {
    state: ApiState,
    id: Uuid,
    /// The last `seq` sent.
    after: i64,
    pending: VecDeque<Event>,
    wake: broadcast::Receiver<Uuid>,
    first: bool,
    /// When the token stops being accepted: the stream ends then.
    ends: tokio::time::Instant,
    /// The `expired` event has been sent: nothing follows.
    expired: bool,
    /// Held while the stream lives; dropped with it, whether it ended or the client left.
    _slot: StreamSlot,
}

impl Follow {
    async fn next(mut self) -> Option<(Event, Follow)> {
        loop {
            if self.expired {
                return None;
            }
            if tokio::time::Instant::now() >= self.ends {
                self.expired = true;
                let event = Event::default()
                    .event("expired")
                    .data("the token expired; reconnect with a fresh one");
                return Some((event, self));
            }
            if let Some(event) = self.pending.pop_front() {
                return Some((event, self));
            }
            if !std::mem::take(&mut self.first) && !self.wait().await {
                return None;
            }
            if tokio::time::Instant::now() >= self.ends {
                continue;
            }
            let pool = self.state.services().store.pool();
            match folder::transitions_since(pool, self.id, self.after).await {
                Ok(transitions) => {
                    // Each event carries the procedure's due date as it stands (none before
                    // the registration starts the term).
                    let due_on = match transitions.is_empty() {
                        true => None,
                        false => procedure::view(pool, self.id)
                            .await
                            .ok()
                            .flatten()
                            .map(|clock| clock.due_on),
                    };
                    for transition in transitions {
                        self.after = transition.seq;
                        let mut data =
                            serde_json::to_value(&transition).expect("transitions serialise");
                        data["due_on"] = serde_json::json!(due_on);
                        let data = data.to_string();
                        self.pending.push_back(
                            Event::default()
                                .event("transition")
                                .id(transition.seq.to_string())
                                .data(data),
                        );
                    }
                }
                Err(err) => {
                    warn!(error = %err, practice_id = %self.id, "live stream: store unreadable; will try again")
                }
            }
        }
    }

    /// Waits for an event of this practice, the poll interval, the token's expiry (`true`: the
    /// loop then sees it), or shutdown (`false`).
    async fn wait(&mut self) -> bool {
        let poll = tokio::time::sleep_until(self.ends.min(tokio::time::Instant::now() + POLL));
        tokio::pin!(poll);
        loop {
            tokio::select! {
                woken = self.wake.recv() => match woken {
                    Ok(id) if id == self.id => return true,
                    Ok(_) => continue,
                    // Missed some: one of them may have been ours.
                    Err(broadcast::error::RecvError::Lagged(_)) => return true,
                    Err(broadcast::error::RecvError::Closed) => {
                        (&mut poll).await;
                        return true;
                    }
                },
                _ = &mut poll => return true,
                _ = self.state.shutdown().cancelled() => return false,
            }
        }
    }
}

/// Follows the `events` exchange until shutdown, reconnecting with backoff.
pub async fn feed(state: ApiState) {
    let mut backoff = Backoff::reconnecting();
    while !state.shutdown().is_cancelled() {
        let pause = backoff.next_pause();
        match follow_events(&state).await {
            Ok(()) => return,
            Err(err) => {
                warn!(error = %err, retry_in = ?pause, "live events: broker unavailable; streams fall back on polling");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = state.shutdown().cancelled() => return,
        }
    }
}

async fn follow_events(state: &ApiState) -> Result<(), BrokerError> {
    let services = state.services();
    let exchange = services
        .topology
        .exchange("events")
        .map(|e| e.name.clone())
        .unwrap_or_else(|_| "sportello.events".to_owned());
    let connection = broker::connect(&services.settings.broker, "api-events").await?;
    let channel = connection.create_channel().await?;
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    let queue_name = queue.name().as_str().to_owned();
    channel
        .queue_bind(
            queue_name.as_str().into(),
            exchange.as_str().into(),
            "practice.#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut consumer = channel
        .basic_consume(
            queue_name.as_str().into(),
            "api-events".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    info!(%exchange, "live events: following practice.#");
    loop {
        tokio::select! {
            next = consumer.next() => match next {
                Some(Ok(delivery)) => match serde_json::from_slice::<PracticeEvent>(&delivery.data) {
                    Ok(event) => {
                        let _ = state.changes().send(event.practice_id);
                    }
                    Err(err) => debug!(error = %err, "live events: not a practice event; ignored"),
                },
                Some(Err(err)) => return Err(err.into()),
                None => {
                    return Err(BrokerError::Amqp(lapin::Error::from(
                        lapin::ErrorKind::InvalidConnectionState(lapin::ConnectionState::Closed),
                    )));
                }
            },
            _ = state.shutdown().cancelled() => {
                let _ = connection.close(200, "stopping".into()).await;
                return Ok(());
            }
        }
    }
}
