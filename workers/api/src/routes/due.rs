//! `GET /practices?due=overdue|soon`: the practices whose term has passed or is close
//! (L. 241/1990), for counter operators; computed from the procedure's clocks at this moment.

use crate::ApiState;
use crate::auth::{Caller, OperatorRole};
use crate::error::ApiError;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use sportello_shared::procedure::{self, DueEntry, Status};

#[derive(Debug, Deserialize)]
pub struct DueQuery {
    pub due: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DueList {
    pub due: &'static str,
    pub practices: Vec<DueEntry>,
}

pub async fn practices(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<DueQuery>, QueryRejection>,
) -> Result<Json<DueList>, ApiError> {
    caller.require(OperatorRole::Counter)?;
    let Query(query) =
        query.map_err(|_| ApiError::BadRequest("due must be `overdue` or `soon`".to_owned()))?;
    let (due, wanted) = match query.due.as_deref() {
        Some("overdue") => ("overdue", Status::Overdue),
        Some("soon") => ("soon", Status::DueSoon),
        _ => {
            return Err(ApiError::BadRequest(
                "due must be `overdue` or `soon`".to_owned(),
            ));
        }
    };
    let services = state.services();
    let settings = &services.settings.procedure;
    let practices = procedure::due_list(
        services.store.pool(),
        wanted,
        chrono::Utc::now(),
        settings.day_secs,
        settings.due_soon_days,
    )
    .await?;
    Ok(Json(DueList { due, practices }))
}
