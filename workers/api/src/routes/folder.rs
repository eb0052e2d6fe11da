//! `GET /citizens/{cf}/practices`, `GET /practices/{id}` and `GET /practices/{id}/receipt`:
//! the folder, as its owner or a counter operator reads it (an operator without the counter
//! role gets 403).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::{ApiState, folder};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde::Serialize;
use sportello_shared::domain::tax_code::FiledTaxCode;
use uuid::Uuid;

#[derive(Debug, Serialize)]
pub struct CitizenPractices {
    pub tax_code: FiledTaxCode,
    pub practices: Vec<folder::PracticeSummary>,
}

pub async fn citizen_practices(
    State(state): State<ApiState>,
    caller: Caller,
    cf: Result<Path<String>, PathRejection>,
) -> Result<Json<CitizenPractices>, ApiError> {
    caller.reader()?;
    let Path(cf) = cf?;
    // Practices are filed under the code without blanks (`FiledTaxCode`); a path that carries
    // blanks is not a code at all, and is told so.
    let not_a_code = || ApiError::BadRequest("a tax code is made of letters and digits".to_owned());
    let tax_code = Some(cf.trim())
        .filter(|typed| !typed.contains(char::is_whitespace))
        .and_then(FiledTaxCode::named)
        .ok_or_else(not_a_code)?;
    // Another citizen's folder does not exist, as far as a citizen can tell.
    if !caller.may_read(&tax_code) {
        return Err(ApiError::NotFound("no such folder".to_owned()));
    }
    let practices = folder::practices_of(state.services().store.pool(), &tax_code).await?;
    Ok(Json(CitizenPractices {
        tax_code,
        practices,
    }))
}

pub async fn practice(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<folder::PracticeView>, ApiError> {
    caller.reader()?;
    let Path(id) = id?;
    let view = folder::practice(state.services().store.pool(), id)
        .await?
        .filter(|view| caller.may_read(&view.tax_code))
        .ok_or_else(ApiError::not_found_practice)?;
    Ok(Json(view))
}

/// Whether `caller` may see practice `id`: a missing practice and someone else's look the same.
pub async fn readable(state: &ApiState, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    caller.reader()?;
    match folder::owner(state.services().store.pool(), id).await? {
        Some(owner) if caller.may_read(&owner) => Ok(()),
        _ => Err(ApiError::not_found_practice()),
    }
}

/// The practice's receipt PDF (art. 18-bis L. 241/1990): the archived copy once storage has
/// archived it (its SHA-256 checked against the index), else the same bytes made from the
/// registration. 404 before the practice is registered and for an integration (its receipt
/// is the email: the procedure started with the practice it answers).
pub async fn receipt(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let Path(id) = id?;
    readable(&state, &caller, id).await?;
    let pdf = folder::receipt(state.services(), id)
        .await?
        .ok_or_else(|| ApiError::NotFound("this practice has no receipt (yet)".to_owned()))?;
    tracing::info!(practice = %id, "receipt downloaded");
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"ricevuta.pdf\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        pdf,
    )
        .into_response())
}
