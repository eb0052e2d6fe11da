//! The protocol officer's pages: a registration of the register as it stands (number, date,
//! direction, subject, correspondents, documents with their impronta, the signed segnatura)
//! and its annulment, with the same function `POST /registrations/{year}/{number}/annulment`
//! and `sportello protocol annul` call.

use super::pages::{Fields, csrf, operator, who};
use crate::ApiState;
use crate::auth::OperatorRole;
use crate::web::session::WebUser;
use crate::web::view::{Refusal, download, page_with};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use sportello_register::register::{self, AnnulError, AnnulRequest, RegisterId};
use sportello_shared::domain::protocol_number::ProtocolNumber;

fn register_id(state: &ApiState) -> RegisterId {
    let protocol = &state.services().settings.protocol;
    RegisterId {
        aoo: protocol.aoo_code.clone(),
        code: protocol.register_code.clone(),
    }
}

async fn found(
    state: &ApiState,
    year: i32,
    number: ProtocolNumber,
) -> Result<register::Registration, Refusal> {
    register::find(
        state.services().store.pool(),
        &register_id(state),
        year,
        number,
    )
    .await?
    .ok_or(Refusal::NotFound)
}

async fn registration_page(
    state: &ApiState,
    user: &WebUser,
    (year, number): (i32, ProtocolNumber),
    status: StatusCode,
    notice: Option<&str>,
    errors: &[String],
) -> Result<Response, Refusal> {
    let registration = found(state, year, number).await?;
    Ok(page_with(
        status,
        "registration.html",
        serde_json::json!({
            "user": who(user),
            "number": registration.number.to_string(),
            "registration": registration,
            "notice": notice,
            "errors": errors,
        }),
    ))
}

pub async fn registration(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((year, number)): Path<(i32, ProtocolNumber)>,
    Query(q): Query<Fields>,
) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::ProtocolOfficer).await?;
    let notice = q
        .contains_key("annullata")
        .then_some("La registrazione è stata annullata.");
    registration_page(&state, &user, (year, number), StatusCode::OK, notice, &[]).await
}

/// The signed segnatura XML of the registration, as the register holds it.
pub async fn segnatura(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((year, number)): Path<(i32, ProtocolNumber)>,
) -> Result<Response, Refusal> {
    operator(&state, &headers, OperatorRole::ProtocolOfficer).await?;
    let registration = found(&state, year, number).await?;
    let name = format!("segnatura-{year}-{number}.xml");
    Ok(download(
        &name,
        "application/xml; charset=utf-8",
        registration.segnatura.into_bytes(),
    ))
}

/// The officer annuls the registration, naming the reason and the authorising measure.
pub async fn annul(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((year, number)): Path<(i32, ProtocolNumber)>,
    Form(fields): Form<Fields>,
) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::ProtocolOfficer).await?;
    csrf(&user, &fields)?;
    let text = |key: &str| fields.get(key).map(|v| v.trim()).unwrap_or("").to_owned();
    let (reason, measure) = (text("motivo"), text("provvedimento"));
    let refuse = async |message: &str, status: StatusCode| {
        registration_page(
            &state,
            &user,
            (year, number),
            status,
            None,
            &[message.to_owned()],
        )
        .await
    };
    if reason.is_empty() || measure.is_empty() {
        return refuse(
            "Indichi il motivo dell'annullamento e il provvedimento che lo autorizza.",
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    if reason.contains('\0') || measure.contains('\0') {
        return Err(Refusal::BadRequest("Caratteri non ammessi.".into()));
    }
    let officer = format!("operator:{}", user.operator_id().unwrap_or_default());
    let request = AnnulRequest {
        year,
        number,
        operator: &officer,
        reason: &reason,
        measure: &measure,
    };
    match register::annul(
        state.services().store.pool(),
        &register_id(&state),
        &request,
        chrono::Utc::now(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "/cruscotto/protocollo/{year}/{number}?annullata=1"
        ))
        .into_response()),
        Err(AnnulError::Unknown { .. }) => Err(Refusal::NotFound),
        Err(AnnulError::AlreadyAnnulled(_)) => {
            refuse("La registrazione è già annullata.", StatusCode::CONFLICT).await
        }
        Err(AnnulError::Missing(what)) => {
            refuse(&format!("Manca: {what}."), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(AnnulError::Database(err)) => Err(err.into()),
    }
}
