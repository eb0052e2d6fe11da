//! `GET /stats/procedure-times`: the actual times of the procedures, per practice type (L.
//! 241/1990 art. 2 c.4-bis), public as the law wants them: no token, nothing personal, cacheable
//! for a minute.

use crate::ApiState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use sportello_shared::procedure::times::{self, TypeTimes};

#[derive(Debug, Serialize)]
pub struct ProcedureTimes {
    pub computed_at: chrono::DateTime<chrono::Utc>,
    pub types: Vec<TypeTimes>,
}

pub async fn procedure_times(State(state): State<ApiState>) -> Result<impl IntoResponse, ApiError> {
    let services = state.services();
    let types =
        times::procedure_times(services.store.pool(), services.settings.procedure.day_secs).await?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=60")],
        Json(ProcedureTimes {
            computed_at: chrono::Utc::now(),
            types,
        }),
    ))
}
