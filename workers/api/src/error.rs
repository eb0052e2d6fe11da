//! Every failure of the HTTP service as one JSON shape: `{"error": code, "message": text}`.
//!
//! Handlers return [`ApiError`]; axum's own rejections (bad path parameter, body too large,
//! unreadable body) are turned into it too, so a client never gets an empty body or a plain
//! text error, and nothing a client sends can produce a 500 — a 500 means a service behind us
//! failed, and its cause is logged here, not shown to the client.

use axum::Json;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tracing::error;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request is not what the endpoint reads (malformed JSON, bad parameter).
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed JSON that breaks the contract (unknown field, wrong type, unknown type).
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("no such endpoint")]
    NoRoute,
    #[error("this endpoint does not answer to that method")]
    MethodNotAllowed,
    /// A service we depend on is down: the client may try again.
    #[error("{0}")]
    Unavailable(String),
    /// Too many requests of this caller: try again after `retry_after` seconds (if known).
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Option<u64>,
    },
    /// This caller has as many live streams open as it may.
    #[error("{0}")]
    TooManyStreams(String),
    /// The service as a whole is at its limit (not a fault of ours nor of a service behind us).
    #[error("{0}")]
    Busy(String),
    /// The request took longer than `http.request_timeout_secs`.
    #[error("no answer within {0:?}; try again")]
    Timeout(std::time::Duration),
    /// Our fault; the cause is logged, the client gets a generic message.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

#[derive(Debug, Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) | ApiError::Busy(_) | ApiError::Timeout(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::RateLimited { .. } | ApiError::TooManyStreams(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable name of the error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unprocessable(_) => "invalid",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::NoRoute => "no_route",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::TooManyStreams(_) => "too_many_streams",
            ApiError::Busy(_) => "busy",
            ApiError::Timeout(_) => "timeout",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> ApiError {
        ApiError::Internal(err.into())
    }

    pub fn not_found_practice() -> ApiError {
        // The same answer whether the practice does not exist or belongs to someone else, so
        // that a citizen cannot probe which ids exist.
        ApiError::NotFound("no such practice".to_owned())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal(err) => {
                error!(error = format!("{err:#}"), "request failed");
                "internal error; the cause is in the service's log".to_owned()
            }
            ApiError::Unavailable(reason) => {
                error!(%reason, "a service the request needs is unavailable");
                self.to_string()
            }
            _ => self.to_string(),
        };
        let mut response = (
            status,
            Json(Body {
                error: self.code(),
                message,
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::RateLimited {
            retry_after: Some(seconds),
            ..
        } = &self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
        }
        response
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        ApiError::BadRequest(format!("bad path parameter: {}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::BadRequest(format!("bad query string: {}", rejection.body_text()))
    }
}

/// Reading a body fails for two reasons a client controls: it is too large, or the
/// connection broke while sending it.
pub fn body_error(rejection: BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge { limit }
    } else {
        ApiError::BadRequest(format!("cannot read the body: {}", rejection.body_text()))
    }
}

impl From<sportello_shared::store::StoreError> for ApiError {
    fn from(err: sportello_shared::store::StoreError) -> ApiError {
        if err.is_transient() {
            ApiError::Unavailable(format!("the folder store is unavailable: {err}"))
        } else {
            ApiError::internal(err)
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> ApiError {
        sportello_shared::store::StoreError::from(err).into()
    }
}
