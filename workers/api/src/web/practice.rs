//! A practice's page, for the operator and for its citizen: state, protocol numbers, the live
//! timeline, documents, emails; and what each may do from it — the citizen's integration, a
//! withdrawal, the hand-over of a product at the counter.

use super::desk::{publish_submission, read_form};
use super::pages::{Fields, csrf, operator, signed_in, state_label, summaries, title_of, who};
use crate::ApiState;
use crate::auth::OperatorRole;
use crate::folder;
use crate::published;
use crate::web::session::WebUser;
use crate::web::view::{Refusal, download, page, page_with};
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use sportello_counter::{Counter, CounterError, WithdrawnBy};
use sportello_shared::domain::impronta::Impronta;
use sportello_shared::domain::state::PracticeState;
use std::collections::BTreeMap;
use uuid::Uuid;

/// What a practice page says beside the practice: a form's outcome.
#[derive(Default)]
struct Said<'a> {
    status: Option<StatusCode>,
    notice: Option<&'a str>,
    errors: &'a [String],
}

async fn practice_page(
    state: &ApiState,
    user: &WebUser,
    id: &str,
    base: &str,
    said: Said<'_>,
) -> Result<Response, Refusal> {
    let view = own_view(state, user, id).await?;
    let labels: BTreeMap<&str, &str> = PracticeState::ALL
        .iter()
        .map(|s| (s.as_str(), state_label(s.as_str())))
        .collect();
    let last_details = |to: &str| {
        let last = view.timeline.iter().rev().find(|t| t.to == to);
        last.map(|t| t.details.clone())
    };
    // What the office asked for last, shown beside the integration form.
    let asked = last_details("integration_requested");
    // The reasons of the last preavviso di rigetto, beside the observations form.
    let preavviso = last_details("observations_requested");
    let kind = state
        .services()
        .catalog
        .get(&view.practice_type)
        .map(published::practice_type);
    // A product to collect: the office said so on completing, or the type always has one.
    let pickup = kind.as_ref().is_some_and(|k| k.physical_pickup)
        || view
            .timeline
            .iter()
            .any(|t| t.to == "completed" && t.details["pickup"] == true);
    let withdrawable: Vec<&str> = PracticeState::ALL
        .iter()
        .filter(|s| s.can_move_to(PracticeState::Withdrawn))
        .map(|s| s.as_str())
        .collect();
    Ok(page_with(
        said.status.unwrap_or(StatusCode::OK),
        "practice.html",
        serde_json::json!({
            "user": who(user),
            "base": base,
            "title": title_of(state, &view.practice_type),
            "label": state_label(&view.state),
            "labels_json": serde_json::to_string(&labels).expect("labels serialise"),
            "labels": labels,
            "asked": asked,
            "preavviso": preavviso,
            "kind": kind,
            "pickup": pickup,
            "withdrawable_states": withdrawable.join(" "),
            "withdrawable": withdrawable,
            "notice": said.notice,
            "errors": said.errors,
            "practice": view,
        }),
    ))
}

pub async fn operator_practice(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Fields>,
) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::Counter).await?;
    let notice = done_notice(&q);
    practice_page(
        &state,
        &user,
        &id,
        "/cruscotto",
        Said {
            notice,
            ..Said::default()
        },
    )
    .await
}

/// The notice a page shows after the action that led to it.
fn done_notice(q: &Fields) -> Option<&'static str> {
    match q.get("fatto").map(String::as_str) {
        Some("ritiro") => Some("La pratica è stata ritirata."),
        Some("consegna") => Some("La consegna allo sportello è stata registrata."),
        _ => None,
    }
}

pub async fn citizen_home(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let user = signed_in(&state, &headers, false).await?;
    let cf = user.tax_code().ok_or(Refusal::NotFound)?;
    let practices = summaries(
        &state,
        folder::practices_of(state.services().store.pool(), cf).await?,
    );
    Ok(page(
        "citizen.html",
        serde_json::json!({ "user": who(&user), "practices": practices }),
    ))
}

pub async fn citizen_practice(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Fields>,
) -> Result<Response, Refusal> {
    let user = signed_in(&state, &headers, false).await?;
    let notice = q
        .contains_key("integrazione")
        .then_some("Integrazione inviata: l'ufficio la riceverà dopo la protocollazione.")
        .or_else(|| done_notice(&q));
    practice_page(
        &state,
        &user,
        &id,
        "/area-personale",
        Said {
            notice,
            ..Said::default()
        },
    )
    .await
}

/// The citizen answers the office's integration request: what they upload becomes a
/// submission with `integrates`, on the portal's channel, through `POST /submissions`'s path;
/// validation, protocol, storage and dispatch take it from there.
pub async fn citizen_integration(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Result<Response, Refusal> {
    let user = signed_in(&state, &headers, false).await?;
    let (fields, documents) = read_form(&state, &user, multipart).await?;
    csrf(&user, &fields)?;
    let record = own_record(&state, &user, &id).await?;
    let practice_id = record.id;
    let refuse = |message: String| {
        let errors = [message];
        let state = state.clone();
        let user = user.clone();
        let id = id.clone();
        async move {
            practice_page(
                &state,
                &user,
                &id,
                "/area-personale",
                Said {
                    status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                    errors: &errors,
                    ..Said::default()
                },
            )
            .await
        }
    };
    if !matches!(
        record.state,
        PracticeState::IntegrationRequested | PracticeState::ObservationsRequested
    ) {
        return refuse("La pratica non è in attesa di integrazioni né di osservazioni.".to_owned())
            .await;
    }
    if documents.is_empty() {
        return refuse("Alleghi almeno un documento.".to_owned()).await;
    }
    let subject = fields
        .get("oggetto")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("Integrazione: {}", record.subject));
    let key = match fields.get("chiave").filter(|k| !k.is_empty()) {
        Some(k) => k.clone(),
        None => format!("area-personale:{practice_id}:{}", Uuid::new_v4()),
    };
    let submission = serde_json::json!({
        "schema_version": 1,
        "idempotency_key": key,
        "channel": {"kind": "portal"},
        "practice_type": record.practice_type,
        "applicant": record.submission["applicant"],
        "subject": subject,
        "integrates": practice_id,
        "documents": documents,
    });
    match publish_submission(&state, &user, &submission).await {
        Ok(()) => Ok(Redirect::to(&format!(
            "/area-personale/pratiche/{practice_id}?integrazione=inviata"
        ))
        .into_response()),
        Err(message) => refuse(message).await,
    }
}

fn counter(state: &ApiState) -> Counter<'_> {
    let services = state.services();
    Counter {
        store: &services.store,
        catalog: &services.catalog,
        topology: &services.topology,
        day_secs: services.settings.procedure.day_secs,
    }
}

/// What a person asked of the counter from a practice's page.
enum Action {
    Withdraw(Uuid, WithdrawnBy),
    Deliver(Uuid, String),
}

/// Does `action` and publishes what it returned. The action is repeatable: should the broker be
/// away, the person asks again and the same messages go out then.
async fn act(
    state: &ApiState,
    user: &WebUser,
    id: &str,
    base: &str,
    action: Action,
) -> Result<Response, Refusal> {
    let refuse = async |message: String, status: StatusCode| {
        let errors = [message];
        practice_page(
            state,
            user,
            id,
            base,
            Said {
                status: Some(status),
                errors: &errors,
                ..Said::default()
            },
        )
        .await
    };
    let counter = counter(state);
    let (acted, done) = match &action {
        Action::Withdraw(practice_id, by) => (counter.withdraw(*practice_id, by).await, "ritiro"),
        Action::Deliver(practice_id, operator) => {
            (counter.deliver(*practice_id, operator).await, "consegna")
        }
    };
    match acted {
        Ok(acted) => {
            for message in &acted.outgoing {
                if let Err(err) = state.link().publish(message).await {
                    tracing::error!(error = %err, "a counter action's message was not published");
                    return refuse(
                        "L'operazione è registrata ma non è stato possibile avvisare gli uffici: riprovi tra poco."
                            .to_owned(),
                        StatusCode::SERVICE_UNAVAILABLE,
                    )
                    .await;
                }
            }
            Ok(Redirect::to(&format!("{base}/pratiche/{id}?fatto={done}")).into_response())
        }
        Err(CounterError::NotNow { from, .. }) => {
            refuse(
                format!(
                    "Non è possibile: la pratica è «{}».",
                    state_label(from.as_str())
                ),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(CounterError::NoProduct(_)) => {
            refuse(
                "Questa pratica non prevede il ritiro di un prodotto allo sportello.".to_owned(),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(CounterError::Unknown(_)) => Err(Refusal::NotFound),
        Err(err) => {
            tracing::error!(error = %err, "a counter action failed");
            Err(Refusal::Unavailable(
                "Il servizio non è al momento disponibile. Riprovi tra poco.".into(),
            ))
        }
    }
}

/// The practice, when `user` may see it, or 404: another citizen's practice does not exist for
/// them.
async fn own_record(
    state: &ApiState,
    user: &WebUser,
    id: &str,
) -> Result<sportello_shared::store::PracticeRecord, Refusal> {
    let practice_id: Uuid = id.parse().map_err(|_| Refusal::NotFound)?;
    let record = state
        .services()
        .store
        .practice(practice_id)
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "a page's query failed");
            Refusal::Unavailable(
                "Il servizio non è al momento disponibile. Riprovi tra poco.".into(),
            )
        })?;
    record
        .filter(|r| user.caller.may_read(&r.tax_code))
        .ok_or(Refusal::NotFound)
}

/// The folder's view of the practice, when `user` may see it, or 404: another citizen's
/// practice does not exist, as far as a citizen can tell.
async fn own_view(
    state: &ApiState,
    user: &WebUser,
    id: &str,
) -> Result<folder::PracticeView, Refusal> {
    let id: Uuid = id.parse().map_err(|_| Refusal::NotFound)?;
    folder::practice(state.services().store.pool(), id)
        .await?
        .filter(|view| user.caller.may_read(&view.tax_code))
        .ok_or(Refusal::NotFound)
}

async fn own_practice(state: &ApiState, user: &WebUser, id: &str) -> Result<Uuid, Refusal> {
    Ok(own_record(state, user, id).await?.id)
}

/// A withdrawal: from the cruscotto (`OPERATOR`) on the citizen's behalf, or by the citizen
/// from their area, before the practice's outcome.
pub async fn withdraw_for<const OPERATOR: bool>(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, Refusal> {
    let user = counter_or_citizen(&state, &headers, OPERATOR).await?;
    csrf(&user, &fields)?;
    let practice_id = own_practice(&state, &user, &id).await?;
    let (by, base) = match user.operator_id() {
        Some(operator) => (WithdrawnBy::Operator(operator.to_owned()), "/cruscotto"),
        None => (WithdrawnBy::Citizen, "/area-personale"),
    };
    act(&state, &user, &id, base, Action::Withdraw(practice_id, by)).await
}

/// The counter hands over the practice's physical product to the citizen.
pub async fn deliver(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::Counter).await?;
    csrf(&user, &fields)?;
    let practice_id = own_practice(&state, &user, &id).await?;
    let operator_id = user.operator_id().unwrap_or_default().to_owned();
    act(
        &state,
        &user,
        &id,
        "/cruscotto",
        Action::Deliver(practice_id, operator_id),
    )
    .await
}

/// An archived object of the practice (a document, the istanza, a segnatura, a result), as
/// the archive holds it: only keys of the practice's own archive index are served, the bytes
/// are checked against the SHA-256 recorded at archiving, and the file always downloads
/// (never rendered in the page's origin).
async fn archived(
    state: &ApiState,
    user: &WebUser,
    id: &str,
    q: &Fields,
) -> Result<Response, Refusal> {
    let view = own_view(state, user, id).await?;
    let wanted = q.get("chiave").map(String::as_str).unwrap_or("");
    let object = view
        .archive
        .iter()
        .find(|o| o.key == wanted)
        .ok_or(Refusal::NotFound)?;
    let bytes = state
        .services()
        .objects
        .get(&object.key)
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "an archived object could not be read");
            Refusal::Unavailable(
                "L'archivio non è al momento raggiungibile. Riprovi tra poco.".into(),
            )
        })?;
    let digest = Impronta::of(&bytes).to_hex();
    if digest != object.sha256 {
        tracing::error!(practice = %view.id, "an archived object does not match its recorded SHA-256");
        return Err(Refusal::Unavailable(
            "Il documento archiviato non corrisponde alla sua impronta: è stato segnalato.".into(),
        ));
    }
    tracing::info!(practice = %id, kind = %object.kind, "archived object opened");
    let file_name: String = object
        .file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(download(&file_name, &object.media_type, bytes))
}

/// An archived object, from the cruscotto (`OPERATOR`) or the citizen's area.
pub async fn archived_for<const OPERATOR: bool>(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Fields>,
) -> Result<Response, Refusal> {
    let user = counter_or_citizen(&state, &headers, OPERATOR).await?;
    archived(&state, &user, &id, &q).await
}

/// The practice's receipt PDF, as `GET /practices/{id}/receipt` gives it.
async fn receipt(state: &ApiState, user: &WebUser, id: &str) -> Result<Response, Refusal> {
    let practice_id = own_practice(state, user, id).await?;
    let pdf = folder::receipt(state.services(), practice_id)
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "a receipt could not be made");
            Refusal::Unavailable(
                "La ricevuta non è al momento disponibile. Riprovi tra poco.".into(),
            )
        })?
        .ok_or(Refusal::NotFound)?;
    Ok(download("ricevuta.pdf", "application/pdf", pdf))
}

/// The receipt, from the cruscotto (`OPERATOR`) or the citizen's area.
pub async fn receipt_for<const OPERATOR: bool>(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let user = counter_or_citizen(&state, &headers, OPERATOR).await?;
    receipt(&state, &user, &id).await
}

/// A counter operator on the cruscotto's pages, the signed-in citizen on the area's.
async fn counter_or_citizen(
    state: &ApiState,
    headers: &HeaderMap,
    operator_page: bool,
) -> Result<WebUser, Refusal> {
    if operator_page {
        operator(state, headers, OperatorRole::Counter).await
    } else {
        signed_in(state, headers, false).await
    }
}
