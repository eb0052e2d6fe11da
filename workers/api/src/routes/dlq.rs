//! The error queues over HTTP, for operators with the operations role only: the same
//! operations as `sportello dlq`.
//!
//! Listing first sweeps the error queues into the parking table (see [`crate::dlq`]), so the
//! ids it answers stay valid for show, replay and discard.

use crate::ApiState;
use crate::auth::{Caller, OperatorRole};
use crate::dlq::{self, DlqError, Parked, ParkedDetail, SweepReport};
use crate::error::ApiError;
use crate::routes::{json_body, read_json_bytes};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

impl From<DlqError> for ApiError {
    fn from(err: DlqError) -> ApiError {
        match err {
            DlqError::NotFound(_) => ApiError::NotFound(err.to_string()),
            DlqError::AlreadySettled { .. } => ApiError::Conflict(err.to_string()),
            DlqError::MissingReason | DlqError::MissingOperator => {
                ApiError::Unprocessable(err.to_string())
            }
            DlqError::Broker(_) => ApiError::Unavailable(err.to_string()),
            DlqError::Database(err) => err.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Settled messages (replayed, discarded) too.
    #[serde(default)]
    pub all: bool,
    pub stage: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Listing {
    pub swept: SweepReport,
    pub messages: Vec<Parked>,
}

async fn sweep(state: &ApiState) -> Result<SweepReport, ApiError> {
    Ok(dlq::sweep_now(state).await?)
}

/// A stage filter must name a worker of the topology: a typo would otherwise list nothing and
/// look like an empty error queue.
fn known_stage(state: &ApiState, stage: Option<&str>) -> Result<(), String> {
    let Some(stage) = stage else {
        return Ok(());
    };
    let topology = &state.services().topology;
    if topology.workers().any(|w| w.worker == stage) {
        return Ok(());
    }
    let known: Vec<&str> = topology.workers().map(|w| w.worker.as_str()).collect();
    Err(format!(
        "unknown stage `{}` (known: {})",
        stage.escape_debug(),
        known.join(", ")
    ))
}

pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Listing>, ApiError> {
    caller.require(OperatorRole::Operations)?;
    let Query(query) = query?;
    known_stage(&state, query.stage.as_deref()).map_err(ApiError::BadRequest)?;
    let swept = sweep(&state).await?;
    let messages = dlq::list(
        state.services().store.pool(),
        query.all,
        query.stage.as_deref(),
    )
    .await?;
    Ok(Json(Listing { swept, messages }))
}

pub async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<ParkedDetail>, ApiError> {
    caller.require(OperatorRole::Operations)?;
    let Path(id) = id?;
    Ok(Json(dlq::show(state.services().store.pool(), id).await?))
}

pub async fn replay(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Parked>, ApiError> {
    let operator = caller.actor();
    caller.require(OperatorRole::Operations)?;
    let Path(id) = id?;
    Ok(Json(
        dlq::replay(state.services().store.pool(), state.link(), id, &operator).await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayAll {
    /// Only this stage's messages (a worker name: intake, validation, …).
    pub stage: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Replayed {
    pub swept: SweepReport,
    pub replayed: Vec<Parked>,
}

pub async fn replay_all(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Replayed>, ApiError> {
    let operator = caller.actor();
    caller.require(OperatorRole::Operations)?;
    let filter: ReplayAll = match &body {
        Ok(bytes) if bytes.is_empty() => ReplayAll::default(),
        _ => json_body(&state, &headers, body)?,
    };
    known_stage(&state, filter.stage.as_deref()).map_err(ApiError::Unprocessable)?;
    let swept = sweep(&state).await?;
    let pool = state.services().store.pool();
    let mut replayed = Vec::new();
    for parked in dlq::list(pool, false, filter.stage.as_deref()).await? {
        match dlq::replay(pool, state.link(), parked.id, &operator).await {
            Ok(done) => replayed.push(done),
            // Another operator got there first: not an error for "replay everything".
            Err(DlqError::AlreadySettled { .. }) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(Json(Replayed { swept, replayed }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discard {
    pub reason: String,
}

pub async fn discard(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Parked>, ApiError> {
    let operator = caller.actor();
    caller.require(OperatorRole::Operations)?;
    let Path(id) = id?;
    // Checked before parsing so that an empty body says what is missing.
    let bytes = read_json_bytes(&state, &headers, body)?;
    let Discard { reason } = json_body(&state, &headers, Ok(bytes))?;
    if reason.contains('\0') {
        return Err(ApiError::Unprocessable(
            "the reason must not contain NUL characters".to_owned(),
        ));
    }
    Ok(Json(
        dlq::discard(state.services().store.pool(), id, &operator, &reason).await?,
    ))
}
