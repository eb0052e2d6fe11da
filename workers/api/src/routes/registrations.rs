//! `POST /registrations/{year}/{number}/annulment`: the protocol officer annuls a registration
//! of the fleet's register (`protocol.aoo_code`, `protocol.register_code`), as `sportello
//! protocol annul` does, with the protocol worker's own function. The registration stays
//! readable, marked with the time, the officer and the authorising measure (provvedimento);
//! the database refuses to change or delete either. The answer is the registration as the
//! practice's timeline shows it.

use crate::ApiState;
use crate::auth::{Caller, OperatorRole};
use crate::error::ApiError;
use crate::folder::RegistrationView;
use crate::routes::json_body;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use sportello_register::register::{self, AnnulError, AnnulRequest, RegisterId};
use sportello_shared::domain::protocol_number::ProtocolNumber;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Annulment {
    pub reason: String,
    /// The authorising measure (provvedimento).
    pub measure: String,
}

impl From<AnnulError> for ApiError {
    fn from(err: AnnulError) -> ApiError {
        match err {
            AnnulError::Unknown { .. } => ApiError::NotFound(err.to_string()),
            AnnulError::AlreadyAnnulled(_) => ApiError::Conflict(err.to_string()),
            AnnulError::Missing(_) => ApiError::Unprocessable(err.to_string()),
            AnnulError::Database(err) => err.into(),
        }
    }
}

pub async fn annul(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<(i32, ProtocolNumber)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RegistrationView>, ApiError> {
    let officer = caller.require(OperatorRole::ProtocolOfficer)?.to_owned();
    let Path((year, number)) = path?;
    let Annulment { reason, measure } = json_body(&state, &headers, body)?;
    if reason.contains('\0') || measure.contains('\0') {
        return Err(ApiError::Unprocessable(
            "reason and measure must not contain NUL characters".to_owned(),
        ));
    }
    let protocol = &state.services().settings.protocol;
    let register = RegisterId {
        aoo: protocol.aoo_code.clone(),
        code: protocol.register_code.clone(),
    };
    let request = AnnulRequest {
        year,
        number,
        operator: &format!("operator:{officer}"),
        reason: &reason,
        measure: &measure,
    };
    let annulled = register::annul(
        state.services().store.pool(),
        &register,
        &request,
        chrono::Utc::now(),
    )
    .await?;
    Ok(Json(annulled.into()))
}
