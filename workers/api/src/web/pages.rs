//! What every page shares (the session's user, the CSRF check, the frame's data, the Italian
//! names of states), and the sign-in, hand-over and sign-out pages.
//!
//! Every page reads through the API's own functions (the folder queries, the submission path)
//! with a [`Caller`] made from the session, so a page shows and does exactly what the same
//! person could over the JSON API, and a citizen asking for another citizen's practice gets
//! the same 404.

use crate::ApiState;
use crate::auth::{Caller, OperatorRole};
use crate::folder;
use crate::web::accounts::{self, LoginError};
use crate::web::session::{self, Found, LOGIN_CSRF_COOKIE, SESSION_COOKIE, WebUser};
use crate::web::view::{Refusal, page, page_with};
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use std::collections::HashMap;

pub(super) type Fields = HashMap<String, String>;

/// The session's user, or the way to the sign-in page.
pub(super) async fn signed_in(
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
        "observations_requested" => "In attesa di osservazioni",
        "completed" => "Conclusa",
        "denied" => "Non accolta",
        "withdrawn" => "Ritirata",
        "delivered" => "Consegnata",
        "silent_consent" => "Accolta per silenzio-assenso",
        _ => "Altro",
    }
}

pub(super) fn title_of(state: &ApiState, code: &str) -> String {
    state
        .services()
        .catalog
        .get(code)
        .map(|t| t.title.clone())
        .unwrap_or_else(|| code.to_owned())
}

#[derive(Serialize)]
pub(super) struct Summary {
    #[serde(flatten)]
    practice: folder::PracticeSummary,
    title: String,
    label: &'static str,
}

pub(super) fn summaries(state: &ApiState, list: Vec<folder::PracticeSummary>) -> Vec<Summary> {
    list.into_iter()
        .map(|p| Summary {
            title: title_of(state, &p.practice_type),
            label: state_label(&p.state),
            practice: p,
        })
        .collect()
}
