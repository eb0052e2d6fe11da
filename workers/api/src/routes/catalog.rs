//! `GET /catalog` and `GET /catalog/{type}`: the catalog, published ([`crate::published`]).
//!
//! Public and cacheable: the answer changes only when the deployment's catalog does, so it
//! carries a strong ETag (SHA-256 of the body) and a short `max-age`; a client that sends the
//! ETag back in `If-None-Match` gets 304 without the body.

use crate::ApiState;
use crate::error::ApiError;
use crate::published;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Shared caches may keep it a few minutes; after that they revalidate with the ETag.
const CACHE_CONTROL: &str = "public, max-age=300, must-revalidate";

pub async fn catalog(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let body = published::catalog(&state.services().catalog);
    cacheable(&headers, &body)
}

pub async fn practice_type(
    State(state): State<ApiState>,
    headers: HeaderMap,
    code: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(code) = code?;
    let found =
        state.services().catalog.get(&code).ok_or_else(|| {
            ApiError::NotFound(format!("no practice type `{}`", code.escape_debug()))
        })?;
    Ok(cacheable(&headers, &published::practice_type(found)))
}

/// The JSON body with its ETag, or 304 when the client already holds it.
fn cacheable(headers: &HeaderMap, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).expect("the catalog serialises");
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&bytes)[..16]));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|list| {
            list.split(',')
                .map(|tag| tag.trim().trim_start_matches("W/"))
                .any(|tag| tag == etag || tag == "*")
        });
    let etag_value = HeaderValue::from_str(&etag).expect("hex is a header value");
    let cache = HeaderValue::from_static(CACHE_CONTROL);
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_value), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, etag_value),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response()
}
