//! The endpoints, one module per group, and what every endpoint shares: JSON bodies, the
//! answers for unknown paths and methods, and the panic guard.

pub mod catalog;
pub mod dlq;
pub mod due;
pub mod events;
pub mod folder;
pub mod health;
pub mod registrations;
pub mod stats;
pub mod submissions;

use crate::error::{ApiError, body_error};
use crate::{ApiState, Route};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

pub fn all() -> Vec<Route> {
    let route = |method, path, handler| Route {
        method,
        path,
        handler,
    };
    vec![
        route("get", "/health", get(health::health)),
        route("get", "/ready", get(health::ready)),
        route("get", "/metrics", get(health::metrics)),
        route("get", "/openapi.json", get(openapi)),
        route("get", "/catalog", get(catalog::catalog)),
        route("get", "/catalog/{type}", get(catalog::practice_type)),
        route("get", "/stats/procedure-times", get(stats::procedure_times)),
        route(
            "get",
            "/citizens/{cf}/practices",
            get(folder::citizen_practices),
        ),
        route("get", "/practices", get(due::practices)),
        route("get", "/practices/{id}", get(folder::practice)),
        route("get", "/practices/{id}/receipt", get(folder::receipt)),
        route(
            "get",
            "/practices/{id}/events",
            get(events::practice_events),
        ),
        route("post", "/submissions", post(submissions::submit)),
        route("get", "/dlq", get(dlq::list)),
        route("post", "/dlq/replay", post(dlq::replay_all)),
        route("get", "/dlq/{id}", get(dlq::show)),
        route("post", "/dlq/{id}/replay", post(dlq::replay)),
        route("post", "/dlq/{id}/discard", post(dlq::discard)),
        route(
            "post",
            "/registrations/{year}/{number}/annulment",
            post(registrations::annul),
        ),
    ]
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI).into_response()
}

pub async fn no_route() -> ApiError {
    ApiError::NoRoute
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

pub fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    ApiError::internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

/// A JSON request body: 415 unless it says it is JSON, 413 past the limit, 400 when it is not
/// JSON at all, 422 when it is JSON of the wrong shape (unknown field, wrong type).
pub fn json_body<T: DeserializeOwned>(
    state: &ApiState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = read_json_bytes(state, headers, body)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|err| ApiError::BadRequest(format!("the body is not valid JSON: {err}")))?;
    // serde would build a struct from an array too (`["x"]` as `{"reason": "x"}`): every body
    // of this API is an object, so say so instead.
    if !value.is_object() {
        return Err(ApiError::Unprocessable(
            "the body must be a JSON object".to_owned(),
        ));
    }
    serde_json::from_value(value).map_err(|err| {
        ApiError::Unprocessable(format!("the body does not have the expected shape: {err}"))
    })
}

/// The bytes of a JSON request body, checked for media type and size.
pub fn read_json_bytes(
    state: &ApiState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    let bytes = body.map_err(|r| body_error(r, state.services().settings.http.max_body_bytes))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" && !essence.ends_with("+json") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "the body must be JSON (Content-Type: application/json), not `{content_type}`"
        )));
    }
    Ok(bytes)
}

/// 202, 200 and friends with a JSON body.
pub fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}
