//! `POST /submissions`: intake over HTTP, for the portal and the counter application.
//!
//! The body is a submission (contract v1), checked with the intake worker's own parser, so
//! that what the API accepts intake accepts too; it is published to the intake exchange with a
//! publisher confirm before the answer, so a 202 means the broker has it. The practice id
//! derives from the idempotency key: the same key answers the same id, and a practice already
//! taken in is not published again. The same key with different content is a 409 (intake
//! would keep the first and record a conflict).
//!
//! Each caller (issuer and subject) may submit `http.submissions_per_minute`, in bursts of
//! `http.submissions_burst`; beyond, 429 with `Retry-After`. Every authenticated attempt
//! counts, valid or not, so that a flood of bad submissions is limited as well.

use crate::ApiState;
use crate::auth::{Caller, OperatorRole, Session};
use crate::error::ApiError;
use crate::routes::{json_response, read_json_bytes};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use sportello_shared::broker::Outgoing;
use sportello_shared::domain::contract::parse_submission;
use sportello_shared::domain::submission::{Channel, Submission, practice_id_for};
use sportello_shared::domain::tax_code::FiledTaxCode;
use sportello_shared::messages::route;
use sportello_shared::objects::sha256_hex;
use tracing::info;
use uuid::Uuid;

#[derive(Debug, Serialize)]
pub struct Accepted {
    pub practice_id: Uuid,
    /// `accepted` when published now, `known` when intake already has this practice.
    pub status: &'static str,
    pub links: Links,
}

#[derive(Debug, Serialize)]
pub struct Links {
    pub practice: String,
    pub events: String,
}

pub async fn submit(
    State(state): State<ApiState>,
    session: Session,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = &session.caller;
    if let Caller::Operator { .. } = caller {
        caller.require(OperatorRole::Counter)?;
    }
    if let Err(wait) = state
        .submissions()
        .take(&session.holder(), std::time::Instant::now())
    {
        return Err(ApiError::RateLimited {
            message: "too many submissions from this caller; try again later".to_owned(),
            retry_after: Some(wait.as_secs_f64().ceil().max(1.0) as u64),
        });
    }
    let bytes = read_json_bytes(&state, &headers, body)?;
    if let Err(err) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        return Err(ApiError::BadRequest(format!(
            "the body is not valid JSON: {err}"
        )));
    }
    let submission = parse_submission(&bytes, state.services().objects.staging_prefix())
        .map_err(ApiError::Unprocessable)?;
    allowed(caller, &submission)?;
    if state
        .services()
        .catalog
        .get(&submission.practice_type)
        .is_none()
    {
        return Err(ApiError::Unprocessable(format!(
            "unknown practice type `{}`: not in the catalog",
            submission.practice_type
        )));
    }
    let id = practice_id_for(&submission.idempotency_key);
    // The digest intake records, computed the same way, so a retry of the same content is
    // told apart from a different practice reusing the key.
    let digest = sha256_hex(&serde_json::to_vec(&submission).expect("submissions serialise"));
    let known = state
        .services()
        .store
        .find_by_idempotency_key(&submission.idempotency_key)
        .await?;
    let status = match known {
        Some((_, existing)) if existing != digest => {
            return Err(ApiError::Conflict(format!(
                "idempotency key `{}` already names practice {id} with different content",
                submission.idempotency_key
            )));
        }
        Some(_) => "known",
        None => {
            let exchange = state
                .services()
                .topology
                .exchange("intake")
                .map_err(ApiError::internal)?
                .name
                .clone();
            let mut message = Outgoing::json(&exchange, route::SUBMISSION, &(), Some(id));
            message.body = bytes.to_vec();
            state.link().publish(&message).await.map_err(|err| {
                ApiError::Unavailable(format!("the broker did not take the submission: {err}"))
            })?;
            info!(practice_id = %id, actor = %caller.actor(), "submission published");
            "accepted"
        }
    };
    let practice = format!("/practices/{id}");
    let mut response = json_response(
        StatusCode::ACCEPTED,
        &Accepted {
            practice_id: id,
            status,
            links: Links {
                events: format!("{practice}/events"),
                practice: practice.clone(),
            },
        },
    );
    if let Ok(location) = HeaderValue::from_str(&practice) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// A citizen submits for themselves through the portal; an operator submits at the counter,
/// under their own operator id, for any citizen.
fn allowed(caller: &Caller, submission: &Submission) -> Result<(), ApiError> {
    match (caller, &submission.channel) {
        (Caller::Citizen { tax_code }, Channel::Portal) => {
            if FiledTaxCode::file(&submission.applicant.tax_code).as_ref() == Ok(tax_code) {
                Ok(())
            } else {
                Err(ApiError::Forbidden(
                    "a citizen submits only for themselves (applicant.tax_code must be yours)"
                        .to_owned(),
                ))
            }
        }
        (Caller::Citizen { .. }, Channel::Counter { .. }) => Err(ApiError::Forbidden(
            "only a counter operator submits through the counter channel".to_owned(),
        )),
        (Caller::Operator { id, .. }, Channel::Counter { operator_id }) => {
            if operator_id == id {
                Ok(())
            } else {
                Err(ApiError::Forbidden(format!(
                    "channel.operator_id must be your own operator id ({id})"
                )))
            }
        }
        (Caller::Operator { .. }, Channel::Portal) => Err(ApiError::Forbidden(
            "an operator submits through the counter channel (channel.kind = \"counter\")"
                .to_owned(),
        )),
    }
}
