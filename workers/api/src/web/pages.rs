//! The pages: sign-in and hand-over, the cruscotto, the citizen's area.
//!
//! Every page reads through the API's own functions (the folder queries, the submission path)
//! with a [`Caller`] made from the session, so a page shows and does exactly what the same
//! person could over the JSON API, and a citizen asking for another citizen's practice gets
//! the same 404.

use crate::ApiState;
use crate::auth::{Caller, OperatorRole, Session};
use crate::folder;
use crate::published;
use crate::web::accounts::{self, LoginError};
use crate::web::session::{self, Found, LOGIN_CSRF_COOKIE, SESSION_COOKIE, WebUser};
use crate::web::view::{Refusal, page, page_with};
use axum::Form;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use serde::Serialize;
use sportello_shared::domain::tax_code;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

pub(super) type Fields = HashMap<String, String>;

/// The session's user, or the way to the sign-in page.
async fn signed_in(
    state: &ApiState,
    headers: &HeaderMap,
    operator: bool,
) -> Result<WebUser, Refusal> {
    match session::find(state, headers).await? {
        Found::Live(user) if user.is_operator() == operator => Ok(user),
        Found::Live(_) => Err(Refusal::NotFound),
        Found::None => Err(Refusal::SignIn {
            operator,
            expired: false,
        }),
        Found::Ended => Err(Refusal::SignIn {
            operator,
            expired: true,
        }),
    }
}

/// An operator with `role`.
pub(super) async fn operator(
    state: &ApiState,
    headers: &HeaderMap,
    role: OperatorRole,
) -> Result<WebUser, Refusal> {
    let user = signed_in(state, headers, true).await?;
    if !user.has(role) {
        return Err(Refusal::Role(role.as_str()));
    }
    Ok(user)
}

/// The form's CSRF token must be the session's.
pub(super) fn csrf(user: &WebUser, fields: &Fields) -> Result<(), Refusal> {
    match fields.get("csrf") {
        Some(token) if session::same(token, &user.csrf) => Ok(()),
        _ => Err(Refusal::Csrf),
    }
}

/// What every page's frame shows of its user.
pub(super) fn who(user: &WebUser) -> serde_json::Value {
    serde_json::json!({
        "name": user.name,
        "operator": user.is_operator(),
        "id": user.operator_id(),
        "roles": session::role_names(user),
        "csrf": user.csrf,
    })
}

fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

// ───────────────────────────── Signing in ─────────────────────────────

pub async fn home(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Result<Response, Refusal> {
    Ok(match session::find(&state, &headers).await? {
        Found::Live(user) if user.is_operator() => Redirect::to("/cruscotto").into_response(),
        Found::Live(_) => Redirect::to("/area-personale").into_response(),
        _ if q.contains_key("cittadino") => page(
            "refusal.html",
            serde_json::json!({
                "title": "Area personale",
                "message": if q.contains_key("scaduta") {
                    "La sessione è scaduta. Per rientrare nell'area personale acceda di nuovo dal portale del Comune con SPID o CIE."
                } else {
                    "Per entrare nell'area personale acceda dal portale del Comune con SPID o CIE."
                },
                "status": 200,
            }),
        ),
        _ => Redirect::to("/accesso").into_response(),
    })
}

fn signin_page(
    state: &ApiState,
    headers: &HeaderMap,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<String>,
) -> Response {
    let token = session::random_token();
    let cookie = session::set_cookie(state, headers, LOGIN_CSRF_COOKIE, &token, 1800);
    with_cookie(
        page_with(
            status,
            "signin.html",
            serde_json::json!({ "csrf": token, "notice": notice, "error": error }),
        ),
        cookie,
    )
}

pub async fn signin_form(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let notice = if q.contains_key("scaduta") {
        Some("La sessione è scaduta: acceda di nuovo.")
    } else if q.contains_key("uscito") {
        Some("È uscito dal cruscotto.")
    } else {
        None
    };
    signin_page(&state, &headers, StatusCode::OK, notice, None)
}

pub async fn signin(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Result<Response, Refusal> {
    // Double submit: the form's token must be the one this browser got with the form.
    let expected = session::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    match fields.get("csrf") {
        Some(token) if !expected.is_empty() && session::same(token, &expected) => {}
        _ => return Err(Refusal::Csrf),
    }
    let id = fields.get("operatore").map(|s| s.trim()).unwrap_or("");
    let password = fields.get("password").map(String::as_str).unwrap_or("");
    let web = &state.services().settings.http.web;
    let lockout = std::time::Duration::from_secs(web.lockout_secs);
    match accounts::verify(
        state.services().store.pool(),
        id,
        password,
        web.max_login_failures,
        lockout,
    )
    .await
    {
        Ok(account) => {
            let caller = Caller::Operator {
                id: account.id.clone(),
                roles: account.roles,
            };
            let secret = session::open(&state, &caller, None)
                .await?
                .expect("an operator session opens");
            tracing::info!(operator = %account.id, "operator signed in");
            let cookie = session::set_cookie(
                &state,
                &headers,
                SESSION_COOKIE,
                &secret,
                web.operator_session_secs,
            );
            let clear = session::set_cookie(&state, &headers, LOGIN_CSRF_COOKIE, "", 0);
            Ok(with_cookie(
                with_cookie(Redirect::to("/cruscotto").into_response(), cookie),
                clear,
            ))
        }
        Err(LoginError::Wrong) => Ok(signin_page(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            None,
            Some("Identificativo o password non corretti.".to_owned()),
        )),
        Err(LoginError::Locked(until)) => {
            let minutes = ((until - chrono::Utc::now()).num_seconds().max(0) + 59) / 60;
            Ok(signin_page(
                &state,
                &headers,
                StatusCode::LOCKED,
                None,
                Some(format!(
                    "Troppi tentativi non riusciti: l'accesso è bloccato per {minutes} minuti."
                )),
            ))
        }
        Err(LoginError::Database(err)) => Err(err.into()),
    }
}

/// The portal's hand-over: its citizen token, once, for a session.
pub async fn handover(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Result<Response, Refusal> {
    let token = q.get("token").map(String::as_str).unwrap_or("");
    let refused = || {
        page_with(
            StatusCode::UNAUTHORIZED,
            "refusal.html",
            serde_json::json!({
                "title": "Accesso non riuscito",
                "message": "Il collegamento non è valido o è scaduto. Torni al portale del Comune e acceda di nuovo.",
                "status": 401,
            }),
        )
    };
    let Ok(checked) = state.keys().check(token) else {
        return Ok(refused());
    };
    let Caller::Citizen { .. } = checked.caller else {
        return Ok(refused());
    };
    let Some(secret) =
        session::open(&state, &checked.caller, Some(&session::sha256_hex(token))).await?
    else {
        return Ok(page_with(
            StatusCode::CONFLICT,
            "refusal.html",
            serde_json::json!({
                "title": "Collegamento già usato",
                "message": "Questo collegamento di accesso è già stato usato. Torni al portale del Comune e acceda di nuovo.",
                "status": 409,
            }),
        ));
    };
    let ttl = state.services().settings.http.web.citizen_session_secs;
    let cookie = session::set_cookie(&state, &headers, SESSION_COOKIE, &secret, ttl);
    Ok(with_cookie(
        Redirect::to("/area-personale").into_response(),
        cookie,
    ))
}

pub async fn signout(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Result<Response, Refusal> {
    let user = match session::find(&state, &headers).await? {
        Found::Live(user) => user,
        _ => return Ok(Redirect::to("/accesso").into_response()),
    };
    csrf(&user, &fields)?;
    session::end(&state, &user).await?;
    let target = if user.is_operator() {
        "/accesso?uscito=1"
    } else {
        "/?cittadino=1"
    };
    let clear = session::set_cookie(&state, &headers, SESSION_COOKIE, "", 0);
    Ok(with_cookie(Redirect::to(target).into_response(), clear))
}

// ───────────────────────────── The cruscotto ─────────────────────────────

#[derive(Serialize)]
struct Count {
    state: String,
    label: &'static str,
    count: i64,
}

/// The Italian name of a state, as the pages show it.
pub fn state_label(state: &str) -> &'static str {
    match state {
        "received" => "Ricevuta",
        "validated" => "Verificata",
        "rejected" => "Respinta",
        "registered" => "Protocollata",
        "stored" => "Archiviata",
        "dispatched" => "Inviata all'ufficio",
        "in_progress" => "In lavorazione",
        "integration_requested" => "In attesa di integrazione",
        "completed" => "Conclusa",
        "denied" => "Non accolta",
        "withdrawn" => "Ritirata",
        "delivered" => "Consegnata",
        _ => "Altro",
    }
}

#[derive(Serialize)]
struct Row {
    id: Uuid,
    tax_code: String,
    practice_type: String,
    title: String,
    state: String,
    label: &'static str,
    updated_at: String,
}

fn title_of(state: &ApiState, code: &str) -> String {
    state
        .services()
        .catalog
        .get(code)
        .map(|t| t.title.clone())
        .unwrap_or_else(|| code.to_owned())
}

async fn rows(state: &ApiState, sql: &str) -> Result<Vec<Row>, sqlx::Error> {
    let found: Vec<(Uuid, String, String, String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(state.services().store.pool())
            .await?;
    Ok(found
        .into_iter()
        .map(|(id, tax_code, practice_type, st, at)| Row {
            id,
            title: title_of(state, &practice_type),
            tax_code,
            practice_type,
            label: state_label(&st),
            state: st,
            updated_at: at
                .with_timezone(&chrono_tz::Europe::Rome)
                .format("%d/%m/%Y %H:%M")
                .to_string(),
        })
        .collect())
}

const ROW: &str =
    "SELECT p.id, p.tax_code, p.practice_type, p.state, p.updated_at FROM practices p";

pub async fn desk(State(state): State<ApiState>, headers: HeaderMap) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::Counter).await?;
    let pool = state.services().store.pool();
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, count(*) FROM practices GROUP BY state ORDER BY state")
            .fetch_all(pool)
            .await?;
    let counts: Vec<Count> = counts
        .into_iter()
        .map(|(state, count)| Count {
            label: state_label(&state),
            state,
            count,
        })
        .collect();
    let pickup = rows(
        &state,
        &format!(
            "{ROW} WHERE p.state = 'completed' AND EXISTS (SELECT 1 FROM practice_history h \
             WHERE h.practice_id = p.id AND h.to_state = 'completed' AND h.details->>'pickup' = 'true') \
             ORDER BY p.updated_at LIMIT 50"
        ),
    )
    .await?;
    let waiting = rows(
        &state,
        &format!("{ROW} WHERE p.state = 'integration_requested' ORDER BY p.updated_at LIMIT 50"),
    )
    .await?;
    let failed = rows(
        &state,
        &format!(
            "{ROW} WHERE EXISTS (SELECT 1 FROM notifications n WHERE n.practice_id = p.id \
             AND n.status IN ('failed_temporary', 'failed_permanent')) ORDER BY p.updated_at DESC LIMIT 50"
        ),
    )
    .await?;
    let parked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM parked_messages m WHERE NOT EXISTS \
         (SELECT 1 FROM parked_message_settlements s WHERE s.parked_id = m.id)",
    )
    .fetch_one(pool)
    .await?;
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
    let cf = tax_code::normalise(&text);
    if cf.len() == 16 && cf.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(Redirect::to(&format!("/cruscotto/cittadini/{cf}")).into_response());
    }
    let protocol = text.split_once('/').and_then(|(a, b)| {
        let (a, b) = (a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?);
        // Years have four digits; whichever side looks like one is the year.
        if (1900..=2999).contains(&a) {
            Some((a, b))
        } else {
            Some((b, a))
        }
    });
    let found = match protocol {
        Some((year, number)) => {
            let sql = format!(
                "{ROW} JOIN registrations r ON r.practice_id = p.id \
                 WHERE r.year = {year} AND r.number = {number} ORDER BY p.updated_at"
            );
            rows(&state, &sql).await?
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
    let cf = tax_code::normalise(&cf);
    if cf.is_empty() || cf.len() > 32 || !cf.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Refusal::NotFound);
    }
    let practices = summaries(
        &state,
        folder::practices_of(state.services().store.pool(), &cf).await?,
    );
    Ok(page(
        "folder.html",
        serde_json::json!({ "user": who(&user), "tax_code": cf, "practices": practices }),
    ))
}

#[derive(Serialize)]
struct Summary {
    #[serde(flatten)]
    practice: folder::PracticeSummary,
    title: String,
    label: &'static str,
}

fn summaries(state: &ApiState, list: Vec<folder::PracticeSummary>) -> Vec<Summary> {
    list.into_iter()
        .map(|p| Summary {
            title: title_of(state, &p.practice_type),
            label: state_label(&p.state),
            practice: p,
        })
        .collect()
}

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
    let id: Uuid = id.parse().map_err(|_| Refusal::NotFound)?;
    let Some(view) = folder::practice(state.services().store.pool(), id).await? else {
        return Err(Refusal::NotFound);
    };
    // Another citizen's practice does not exist, as far as a citizen can tell.
    if !user.caller.may_read(&view.tax_code) {
        return Err(Refusal::NotFound);
    }
    let labels: BTreeMap<&str, &str> = [
        "received",
        "validated",
        "rejected",
        "registered",
        "stored",
        "dispatched",
        "in_progress",
        "integration_requested",
        "completed",
        "denied",
        "withdrawn",
        "delivered",
    ]
    .into_iter()
    .map(|s| (s, state_label(s)))
    .collect();
    // What the office asked for last, shown beside the integration form.
    let asked = view
        .timeline
        .iter()
        .rev()
        .find(|t| t.to == "integration_requested")
        .map(|t| t.details.clone());
    let kind = state
        .services()
        .catalog
        .get(&view.practice_type)
        .map(published::practice_type);
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
            "kind": kind,
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
) -> Result<Response, Refusal> {
    let user = operator(&state, &headers, OperatorRole::Counter).await?;
    practice_page(&state, &user, &id, "/cruscotto", Said::default()).await
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
    let (fields, documents) = read_form(multipart).await?;
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

/// A multipart form's text fields, and its files (`doc_<role>`) as the contract's inline
/// documents; empty file inputs are left out.
async fn read_form(mut multipart: Multipart) -> Result<(Fields, Vec<serde_json::Value>), Refusal> {
    let mut fields = Fields::new();
    let mut documents = Vec::new();
    while let Some(part) = multipart.next_field().await.map_err(|e| {
        Refusal::BadRequest(format!("Il modulo non è stato ricevuto per intero: {e}"))
    })? {
        let name = part.name().unwrap_or("").to_owned();
        if let Some(role) = name.strip_prefix("doc_") {
            let role = role.to_owned();
            let file_name = part.file_name().unwrap_or("").to_owned();
            let media_type = part
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_owned();
            let bytes: Bytes = part.bytes().await.map_err(|e| {
                Refusal::BadRequest(format!("Un documento non è stato ricevuto per intero: {e}"))
            })?;
            if !bytes.is_empty() {
                documents.push(serde_json::json!({
                    "role": role,
                    "file_name": file_name,
                    "media_type": media_type,
                    "sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
                    "content_base64": base64::engine::general_purpose::STANDARD.encode(&bytes),
                }));
            }
        } else {
            let value = part.text().await.unwrap_or_default();
            fields.insert(name, value);
        }
    }
    Ok((fields, documents))
}

/// Publishes `submission` through `POST /submissions`'s own path, as `user`; the refusal's
/// message otherwise.
async fn publish_submission(
    state: &ApiState,
    user: &WebUser,
    submission: &serde_json::Value,
) -> Result<(), String> {
    let subject = match &user.caller {
        Caller::Operator { id, .. } => id.clone(),
        Caller::Citizen { tax_code } => tax_code.clone(),
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

// ───────────────────────────── The citizen's area ─────────────────────────────

pub async fn citizen_home(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let user = signed_in(&state, &headers, false).await?;
    let cf = user.tax_code().unwrap_or_default().to_owned();
    let practices = summaries(
        &state,
        folder::practices_of(state.services().store.pool(), &cf).await?,
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
        .then_some("Integrazione inviata: l'ufficio la riceverà dopo la protocollazione.");
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
    let (fields, documents) = read_form(multipart).await?;
    csrf(&user, &fields)?;
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
        })?
        .filter(|r| user.caller.may_read(&r.tax_code))
        .ok_or(Refusal::NotFound)?;
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
    if record.state != sportello_shared::domain::state::PracticeState::IntegrationRequested {
        return refuse("La pratica non è in attesa di integrazioni.".to_owned()).await;
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
