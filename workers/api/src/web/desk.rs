//! The cruscotto's desk: the day's counts and lists, the search, a citizen's folder, and a new
//! practice filed at the counter on the citizen's behalf (its form built from the catalog).

use super::pages::{Fields, csrf, operator, state_label, summaries, title_of, who};
use crate::ApiState;
use crate::auth::{Caller, OperatorRole, Session};
use crate::folder;
use crate::published;
use crate::web::session::WebUser;
use crate::web::view::{Refusal, page, page_with};
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use serde::Serialize;
use sportello_register::register::{self, RegisterId};
use sportello_shared::domain::impronta::Impronta;
use sportello_shared::domain::protocol_number::ProtocolNumber;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::domain::tax_code::{FiledTaxCode, TAX_CODE_LEN};
use sportello_shared::store::reads;
use sportello_shared::{notifications, parked};
use uuid::Uuid;

#[derive(Serialize)]
struct Count {
    state: String,
    label: &'static str,
    count: i64,
}

#[derive(Serialize)]
struct Row {
    id: Uuid,
    tax_code: FiledTaxCode,
    practice_type: String,
    title: String,
    state: String,
    label: &'static str,
    updated_at: String,
}

/// The cruscotto's rows, as the folder reads them out.
fn rows(state: &ApiState, found: Vec<reads::DeskRow>) -> Vec<Row> {
    found
        .into_iter()
        .map(|r| Row {
            id: r.id,
            title: title_of(state, &r.practice_type),
            tax_code: r.tax_code,
            practice_type: r.practice_type,
            label: state_label(&r.state),
            state: r.state,
            updated_at: r
                .updated_at
                .with_timezone(&chrono_tz::Europe::Rome)
                .format("%d/%m/%Y %H:%M")
                .to_string(),
        })
        .collect()
}

/// How many of each list the desk shows.
const DESK_LIST: i64 = 50;

pub async fn desk(State(state): State<ApiState>, headers: HeaderMap) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::Counter).await?;
    let pool = state.services().store.pool();
    let counts: Vec<Count> = reads::counts_by_state(pool)
        .await?
        .into_iter()
        .map(|(state, count)| Count {
            label: state_label(&state),
            state,
            count,
        })
        .collect();
    let pickup = rows(&state, reads::ready_for_pickup(pool, DESK_LIST).await?);
    let mut waiting = reads::in_state(pool, PracticeState::IntegrationRequested, DESK_LIST).await?;
    waiting.extend(reads::in_state(pool, PracticeState::ObservationsRequested, DESK_LIST).await?);
    waiting.sort_by_key(|r| r.updated_at);
    let waiting = rows(&state, waiting);
    let failed_ids = notifications::practices_with_failures(pool, DESK_LIST).await?;
    let failed = rows(&state, reads::desk_rows(pool, &failed_ids).await?);
    let parked: i64 = parked::waiting_by_stage(pool)
        .await?
        .iter()
        .map(|(_, n)| n)
        .sum();
    Ok(page(
        "desk.html",
        serde_json::json!({ "user": who(&user), "counts": counts, "pickup": pickup, "waiting": waiting, "failed": failed, "parked": parked }),
    ))
}

/// A tax code, a protocol number (`2026/0000012` or `12/2026`) or a practice id.
pub async fn search(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::Counter).await?;
    let text = q.get("q").map(|s| s.trim()).unwrap_or("").to_owned();
    if let Ok(id) = text.parse::<Uuid>() {
        return Ok(Redirect::to(&format!("/cruscotto/pratiche/{id}")).into_response());
    }
    if let Some(cf) = FiledTaxCode::named(&text).filter(|cf| cf.as_str().len() == TAX_CODE_LEN) {
        let to = format!("/cruscotto/cittadini/{}", cf.as_str());
        return Ok(Redirect::to(&to).into_response());
    }
    let protocol = text.split_once('/').and_then(|(a, b)| {
        let (a, b) = (a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?);
        // Years have four digits; whichever side looks like one is the year.
        let (year, number) = if (1900..=2999).contains(&a) {
            (a, b)
        } else {
            (b, a)
        };
        Some((i32::try_from(year).ok()?, ProtocolNumber::new(number).ok()?))
    });
    let found = match protocol {
        Some((year, number)) => {
            let settings = &state.services().settings.protocol;
            let register = RegisterId {
                aoo: settings.aoo_code.clone(),
                code: settings.register_code.clone(),
            };
            let pool = state.services().store.pool();
            let ids = register::practices_numbered(pool, &register, year, number).await?;
            rows(&state, reads::desk_rows(pool, &ids).await?)
        }
        None => Vec::new(),
    };
    Ok(page(
        "desk.html",
        serde_json::json!({ "user": who(&user), "searched": text, "results": found, "search_only": true }),
    ))
}

pub async fn folder(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(cf): Path<String>,
) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::Counter).await?;
    let cf = FiledTaxCode::named(&cf).ok_or(Refusal::NotFound)?;
    let practices = summaries(
        &state,
        folder::practices_of(state.services().store.pool(), &cf).await?,
    );
    Ok(page(
        "folder.html",
        serde_json::json!({ "user": who(&user), "tax_code": cf, "practices": practices }),
    ))
}

pub async fn new_practice(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::Counter).await?;
    let catalog = published::catalog(&state.services().catalog);
    Ok(page(
        "new_pick.html",
        serde_json::json!({ "user": who(&user), "catalog": catalog }),
    ))
}

fn form_page(
    state: &ApiState,
    user: &WebUser,
    code: &str,
    status: StatusCode,
    values: &Fields,
    errors: &[String],
) -> Result<Response, Refusal> {
    let t = state
        .services()
        .catalog
        .get(code)
        .ok_or(Refusal::NotFound)?;
    Ok(page_with(
        status,
        "new_form.html",
        serde_json::json!({ "user": who(user), "kind": published::practice_type(t), "values": values, "errors": errors }),
    ))
}

pub async fn new_practice_form(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::Counter).await?;
    form_page(&state, &user, &code, StatusCode::OK, &Fields::new(), &[])
}

/// The form of a new practice at the counter: its fields and documents become a submission on
/// the counter channel under the operator's id, published through `POST /submissions`'s path.
pub async fn file_practice(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    multipart: Multipart,
) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::Counter).await?;
    let t = state
        .services()
        .catalog
        .get(&code)
        .ok_or(Refusal::NotFound)?
        .clone();
    let (fields, documents) = read_form(&state, &user, multipart).await?;
    csrf(&user, &fields)?;
    let operator_id = user.operator_id().unwrap_or_default().to_owned();
    let text = |key: &str| {
        fields
            .get(key)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let mut data = serde_json::Map::new();
    for field in &t.fields {
        let raw = text(&format!("f_{}", field.name));
        let value = match field.kind {
            sportello_shared::catalog::FieldKind::Boolean => match raw.as_str() {
                "si" => serde_json::Value::Bool(true),
                "no" => serde_json::Value::Bool(false),
                _ => continue,
            },
            _ if raw.is_empty() => continue,
            _ => serde_json::Value::String(raw),
        };
        data.insert(field.name.clone(), value);
    }
    let mut applicant = serde_json::json!({
        "tax_code": text("cf"),
        "given_name": text("nome"),
        "family_name": text("cognome"),
        "email": text("email"),
    });
    if t.requires_company {
        applicant["company"] =
            serde_json::json!({"name": text("impresa"), "vat_number": text("partita_iva")});
    }
    // One key per filled-in form: a second click on «Invia» names the same practice.
    let key = match fields.get("chiave").filter(|k| !k.is_empty()) {
        Some(k) => k.clone(),
        None => format!("sportello:{operator_id}:{}", Uuid::new_v4()),
    };
    let submission = serde_json::json!({
        "schema_version": 1,
        "idempotency_key": key,
        "channel": {"kind": "counter", "operator_id": operator_id},
        "practice_type": t.code,
        "applicant": applicant,
        "subject": text("oggetto"),
        "data": data,
        "documents": documents,
    });
    match publish_submission(&state, &user, &submission).await {
        Ok(()) => {
            let id = sportello_shared::domain::submission::practice_id_for(&key);
            taken_in(&state, id).await;
            Ok(Redirect::to(&format!("/cruscotto/pratiche/{id}")).into_response())
        }
        Err(message) => form_page(
            &state,
            &user,
            &code,
            StatusCode::UNPROCESSABLE_ENTITY,
            &fields,
            &[message],
        ),
    }
}

/// A multipart form's text fields, and its files (`doc_<role>`) as the contract's documents;
/// empty file inputs are left out. A file up to `object_store.inline_limit_bytes` rides inline;
/// a larger one is put in the staging area first (with its SHA-256 checked by the store) and
/// referenced by its `staged_key`, so that no large document travels through the broker.
/// The form's CSRF token comes before its files (the forms put it first): no file of a forged
/// form is read, let alone staged.
pub(super) async fn read_form(
    state: &ApiState,
    user: &WebUser,
    mut multipart: Multipart,
) -> Result<(Fields, Vec<serde_json::Value>), Refusal> {
    let mut fields = Fields::new();
    let mut documents = Vec::new();
    let inline_limit = state.services().settings.object_store.inline_limit_bytes;
    while let Some(part) = multipart.next_field().await.map_err(|e| {
        Refusal::BadRequest(format!("Il modulo non è stato ricevuto per intero: {e}"))
    })? {
        let name = part.name().unwrap_or("").to_owned();
        if let Some(role) = name.strip_prefix("doc_") {
            csrf(user, &fields)?;
            let role = role.to_owned();
            let file_name = part.file_name().unwrap_or("").to_owned();
            let media_type = part
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_owned();
            let bytes: Bytes = part.bytes().await.map_err(|e| {
                Refusal::BadRequest(format!("Un documento non è stato ricevuto per intero: {e}"))
            })?;
            if bytes.is_empty() {
                continue;
            }
            let sha256 = Impronta::of(&bytes).to_hex();
            let mut document = serde_json::json!({
                "role": role,
                "file_name": file_name,
                "media_type": media_type,
                "sha256": sha256,
            });
            if bytes.len() <= inline_limit {
                document["content_base64"] = base64::engine::general_purpose::STANDARD
                    .encode(&bytes)
                    .into();
            } else {
                document["staged_key"] = stage(state, &bytes, &sha256).await?.into();
            }
            documents.push(document);
        } else {
            let value = part.text().await.unwrap_or_default();
            fields.insert(name, value);
        }
    }
    Ok((fields, documents))
}

/// Puts a large upload in the staging area under a fresh upload key.
async fn stage(state: &ApiState, bytes: &[u8], sha256: &str) -> Result<String, Refusal> {
    let objects = &state.services().objects;
    let key = sportello_shared::domain::staged_key::new_upload_key(objects.staging_prefix());
    objects
        .put_checked(&key, bytes, "application/octet-stream", sha256)
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "an upload could not be staged");
            Refusal::Unavailable(
                "Il documento non è stato caricato: l'archivio temporaneo non è raggiungibile. Riprovi tra poco."
                    .into(),
            )
        })?;
    Ok(key)
}

/// Publishes `submission` through `POST /submissions`'s own path, as `user`; the refusal's
/// message otherwise.
pub(super) async fn publish_submission(
    state: &ApiState,
    user: &WebUser,
    submission: &serde_json::Value,
) -> Result<(), String> {
    let subject = match &user.caller {
        Caller::Operator { id, .. } => id.clone(),
        Caller::Citizen { tax_code } => tax_code.as_str().to_owned(),
    };
    let session = Session {
        caller: user.caller.clone(),
        issuer: crate::web::bridge::ISSUER.to_owned(),
        subject,
        accepted_until: u64::MAX,
    };
    let mut json_headers = HeaderMap::new();
    json_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = Bytes::from(serde_json::to_vec(submission).expect("JSON"));
    match crate::routes::submissions::submit(State(state.clone()), session, json_headers, Ok(body))
        .await
    {
        Ok(response) if response.status() == StatusCode::ACCEPTED => Ok(()),
        Ok(response) => Err(format!("Risposta inattesa: {}", response.status())),
        Err(err) => Err(err.to_string()),
    }
}

/// Waits, a few seconds at most, for intake to take the practice in, so that the page the
/// form leads to shows it (the broker has it already; intake is usually a matter of
/// milliseconds). Past that the page answers as for any practice not yet known.
async fn taken_in(state: &ApiState, id: Uuid) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(_)) = state.services().store.practice(id).await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
