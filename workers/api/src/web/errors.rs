//! The error queues in the cruscotto, for operators with the `operations` role: the list
//! (after a sweep that parks what waits in the queues, as `GET /dlq`), one message with its
//! headers and body, replay and discard with a reason — through [`crate::dlq`], the library
//! `sportello dlq` and `/dlq…` use, so the record of who did what is the same.

use crate::ApiState;
use crate::auth::OperatorRole;
use crate::dlq::{self, DlqError, Parked};
use crate::web::pages::{Fields, csrf, operator, who};
use crate::web::session::WebUser;
use crate::web::view::{Refusal, page, page_with};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

fn refusal(err: DlqError) -> Refusal {
    match err {
        DlqError::NotFound(_) => Refusal::NotFound,
        DlqError::Database(err) => err.into(),
        other => {
            tracing::error!(error = %other, "an error-queue page failed");
            Refusal::Unavailable(
                "Le code di errore non sono al momento raggiungibili. Riprovi tra poco.".into(),
            )
        }
    }
}

fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::Rome)
        .format("%d/%m/%Y %H:%M:%S")
        .to_string()
}

/// `/cruscotto/code-errore`: what waits for an operator (`?tutti=1`: settled ones too).
pub async fn list(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::Operations).await?;
    dlq::sweep_now(&state).await.map_err(refusal)?;
    let all = q.contains_key("tutti");
    let messages = dlq::list(state.services().store.pool(), all, None)
        .await
        .map_err(refusal)?;
    let rows: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "id": m.id, "stage": m.stage, "reason": m.reason, "attempts": m.attempts,
                "practice_id": m.practice_id, "status": m.status, "parked_at": time(m.parked_at),
            })
        })
        .collect();
    Ok(page(
        "errors.html",
        serde_json::json!({ "user": who(&user), "messages": rows, "all": all }),
    ))
}

async fn detail(
    state: &ApiState,
    user: &crate::web::session::WebUser,
    id: i64,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<Response, Refusal> {
    let found = dlq::show(state.services().store.pool(), id)
        .await
        .map_err(refusal)?;
    let body = match &found.body.json {
        Some(json) => serde_json::to_string_pretty(json).unwrap_or_default(),
        None => format!(
            "(non è JSON: {} byte, in base64)\n{}",
            found.body.size_bytes, found.body.base64
        ),
    };
    let settlement = found.parked.settlement.as_ref().map(|s| {
        serde_json::json!({"action": s.action, "operator": s.operator, "reason": s.reason, "at": time(s.at)})
    });
    Ok(page_with(
        status,
        "error.html",
        serde_json::json!({
            "user": who(user),
            "m": {
                "id": found.parked.id, "stage": found.parked.stage, "reason": found.parked.reason,
                "attempts": found.parked.attempts, "practice_id": found.parked.practice_id,
                "error_queue": found.parked.error_queue, "work_queue": found.parked.work_queue,
                "status": found.parked.status, "parked_at": time(found.parked.parked_at),
                "failed_at": found.parked.failed_at.map(time),
            },
            "settlement": settlement,
            "headers": serde_json::to_string_pretty(&found.headers).unwrap_or_default(),
            "body": body,
            "notice": notice,
            "error": error,
        }),
    ))
}

/// `/cruscotto/code-errore/{id}`.
pub async fn show(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Fields>,
) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::Operations).await?;
    let id: i64 = id.parse().map_err(|_| Refusal::NotFound)?;
    let notice = match q.get("esito").map(String::as_str) {
        Some("ripubblicato") => Some("Messaggio ripubblicato nella sua coda di lavoro."),
        Some("scartato") => Some("Messaggio scartato: il motivo è registrato."),
        _ => None,
    };
    detail(&state, &user, id, StatusCode::OK, notice, None).await
}

fn settled_message(err: &DlqError) -> Option<String> {
    match err {
        DlqError::AlreadySettled {
            action, operator, ..
        } => Some(format!(
            "Il messaggio è già stato {} da {operator}.",
            if action == "replayed" {
                "ripubblicato"
            } else {
                "scartato"
            }
        )),
        DlqError::MissingReason => {
            Some("Indichi il motivo per cui il messaggio è scartato.".into())
        }
        _ => None,
    }
}

/// `POST /cruscotto/code-errore/{id}/ripubblica`.
pub async fn replay(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::Operations).await?;
    csrf(&user, &fields)?;
    let id: i64 = id.parse().map_err(|_| Refusal::NotFound)?;
    let done = dlq::replay(
        state.services().store.pool(),
        state.link(),
        id,
        &user.caller.actor(),
    )
    .await;
    settle(&state, &user, id, "ripubblicato", done).await
}

/// `POST /cruscotto/code-errore/{id}/scarta`, with `motivo`.
pub async fn discard(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::Operations).await?;
    csrf(&user, &fields)?;
    let id: i64 = id.parse().map_err(|_| Refusal::NotFound)?;
    let reason = fields.get("motivo").map(String::as_str).unwrap_or("");
    let done = dlq::discard(
        state.services().store.pool(),
        id,
        &user.caller.actor(),
        reason,
    )
    .await;
    settle(&state, &user, id, "scartato", done).await
}

/// After a replay or a discard: back to the message's page with `esito`, or the page again with
/// why nothing was done (422 for a missing reason, 409 for a message settled meanwhile).
async fn settle(
    state: &ApiState,
    user: &WebUser,
    id: i64,
    esito: &str,
    done: Result<Parked, DlqError>,
) -> Result<Response, Refusal> {
    let err = match done {
        Ok(_) => {
            return Ok(
                Redirect::to(&format!("/cruscotto/code-errore/{id}?esito={esito}")).into_response(),
            );
        }
        Err(err) => err,
    };
    match settled_message(&err) {
        Some(message) => {
            let status = if matches!(err, DlqError::MissingReason) {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::CONFLICT
            };
            detail(state, user, id, status, None, Some(&message)).await
        }
        None => Err(refusal(err)),
    }
}
