//! The HTTP service of Sportello: what the portal, the counter application and operations ask
//! of the fleet over HTTP.
//!
//! # Layout
//! - [`auth`]: bearer tokens (EdDSA/ES256 JWTs, one key per issuer), the operator roles, and
//!   the [`auth::Caller`] every protected route takes.
//! - [`limits`]: the caps on live streams and the submissions' rate limit, per caller.
//! - [`error`]: one JSON error shape for everything that goes wrong, client's fault or ours.
//! - [`folder`]: read-only queries of the citizen's folder (practices, timeline, registrations,
//!   documents, notifications), shaped as the API returns them.
//! - [`dlq`]: the error queues for operators — park, list, show, replay, discard; the
//!   `sportello dlq` command calls the same functions.
//! - [`published`]: the catalog as the cruscotto, the citizen's pages and portals read it.
//! - [`link`]: one lazily (re)opened broker connection for publishing and inspecting queues.
//! - [`web`]: the cruscotto and the citizen's area, server-rendered pages with sign-in.
//! - `routes/`: one module per group of endpoints; [`routes`] lists them all, so that the
//!   router and the OpenAPI test walk the same list.
//!
//! The service holds no state of its own but its limits' counters: every answer comes from
//! PostgreSQL or RabbitMQ, so any number of replicas can run behind a load balancer (each
//! limiting its own share).

pub mod auth;
pub mod dlq;
pub mod error;
pub mod folder;
pub mod limits;
pub mod link;
pub mod published;
mod routes;
pub mod web;

use anyhow::Context;
use auth::Keys;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use limits::{RateLimiter, StreamSlots};
use link::BrokerLink;
use sportello_shared::catalog::Catalog;
use sportello_shared::config::Settings;
use sportello_shared::objects::ObjectStore;
use sportello_shared::store::Store;
use sportello_shared::topology::Topology;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::info;
use uuid::Uuid;

/// The OpenAPI description of this service, served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The connected parts the service reads from and publishes to.
pub struct Services {
    pub settings: Settings,
    pub store: Store,
    pub objects: ObjectStore,
    pub catalog: Arc<Catalog>,
    pub topology: Arc<Topology>,
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

struct Inner {
    services: Services,
    keys: Keys,
    streams: Arc<StreamSlots>,
    submissions: RateLimiter,
    link: BrokerLink,
    /// Practice ids of the events seen on the `events` exchange: wakes the live streams.
    changes: broadcast::Sender<Uuid>,
    shutdown: CancellationToken,
}

impl ApiState {
    /// Reads the token keys the settings name (the service cannot run without) and builds the
    /// state; `shutdown` ends the server, the live streams and the event feed.
    pub fn new(services: Services, shutdown: CancellationToken) -> anyhow::Result<ApiState> {
        let keys = Keys::from_settings(&services.settings.http).context("the bearer-token keys")?;
        Ok(Self::with_keys(services, keys, shutdown))
    }

    /// The state with keys built by the caller (the tests play every issuer).
    pub fn with_keys(services: Services, keys: Keys, shutdown: CancellationToken) -> ApiState {
        // The pages follow practices live on the API's own endpoint with their session.
        let keys = web::bridge::trust(keys);
        let http = &services.settings.http;
        let streams = StreamSlots::new(http.max_streams, http.max_streams_per_caller);
        let submissions = RateLimiter::new(http.submissions_per_minute, http.submissions_burst);
        let link = BrokerLink::new(services.settings.broker.clone(), "api");
        let (changes, _) = broadcast::channel(1024);
        ApiState {
            inner: Arc::new(Inner {
                services,
                keys,
                streams,
                submissions,
                link,
                changes,
                // A child: the service stopping on its own must not stop the fleet around it.
                shutdown: shutdown.child_token(),
            }),
        }
    }

    pub fn services(&self) -> &Services {
        &self.inner.services
    }

    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    pub fn streams(&self) -> &Arc<StreamSlots> {
        &self.inner.streams
    }

    pub fn submissions(&self) -> &RateLimiter {
        &self.inner.submissions
    }

    pub fn link(&self) -> &BrokerLink {
        &self.inner.link
    }

    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    fn changes(&self) -> &broadcast::Sender<Uuid> {
        &self.inner.changes
    }
}

/// One endpoint: method, path (axum syntax, as in the OpenAPI document) and handler.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub handler: MethodRouter<ApiState>,
}

/// Every endpoint of the service.
pub fn routes() -> Vec<Route> {
    routes::all()
}

/// The service's router: every route, JSON errors for unknown paths and methods, a body limit,
/// a deadline for every answer, and panics turned into a JSON 500 instead of a dropped
/// connection.
pub fn router(state: ApiState) -> Router {
    let limit = state.services().settings.http.max_body_bytes;
    let timeout = Duration::from_secs(state.services().settings.http.request_timeout_secs.max(1));
    let mut router = Router::new();
    for route in routes() {
        router = router.route(route.path, route.handler);
    }
    router
        .merge(web::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            web::bridge::events,
        ))
        .fallback(routes::no_route)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(timeout, deadline))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            routes::panicked,
        ))
        .with_state(state)
}

/// Answers 503 when the handler (body reading included, so a client trickling its upload holds
/// a connection no longer than this) has not answered in time. A live stream's handler answers
/// at once; the stream itself is bounded by its token's expiry, not by this.
async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error::ApiError::Timeout(limit).into_response(),
    }
}

/// Serves on `listener` until the state's shutdown token is cancelled; live streams end then,
/// so the graceful shutdown does not wait for them.
pub async fn serve(state: ApiState, listener: TcpListener) -> anyhow::Result<()> {
    let address = listener.local_addr()?;
    let feed = tokio::spawn(routes::events::feed(state.clone()));
    let shutdown = state.shutdown().clone();
    info!(%address, "HTTP service listening");
    let served = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("HTTP server");
    state.shutdown().cancel();
    let _ = feed.await;
    state.link().close().await;
    info!("HTTP service stopped");
    served
}

/// Binds `http.listen` and serves (see [`serve`]).
pub async fn bind_and_serve(state: ApiState) -> anyhow::Result<()> {
    let listen = state.services().settings.http.listen.clone();
    let listener = TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on http.listen = {listen}"))?;
    serve(state, listener).await
}
