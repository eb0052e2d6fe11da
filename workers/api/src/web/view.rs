//! Rendering: the templates (compiled in, HTML auto-escaped) and the refusal pages.
//!
//! Why a module of its own: every page answers a refusal the same way — an Italian page with
//! the right status (401 no session, 403 missing role or CSRF, 404 not found or not yours,
//! 423 locked) — and a page navigation without a session goes to the sign-in page instead.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::Environment;
use serde::Serialize;
use std::sync::OnceLock;

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("signin.html", include_str!("templates/signin.html")),
            ("refusal.html", include_str!("templates/refusal.html")),
            ("desk.html", include_str!("templates/desk.html")),
            ("folder.html", include_str!("templates/folder.html")),
            ("practice.html", include_str!("templates/practice.html")),
            ("new_pick.html", include_str!("templates/new_pick.html")),
            ("new_form.html", include_str!("templates/new_form.html")),
            ("citizen.html", include_str!("templates/citizen.html")),
            ("practices.html", include_str!("templates/practices.html")),
            ("errors.html", include_str!("templates/errors.html")),
            ("error.html", include_str!("templates/error.html")),
            (
                "registration.html",
                include_str!("templates/registration.html"),
            ),
        ] {
            env.add_template(name, source)
                .unwrap_or_else(|err| panic!("template {name}: {err}"));
        }
        env.add_filter("ora", local_time);
        env.add_filter("data", local_date);
        env
    })
}

/// An instant (RFC 3339, as the folder serialises it) in Italian local time, as the counter
/// and citizens read clocks; anything else is shown as it came.
fn local_time(value: String) -> String {
    match chrono::DateTime::parse_from_rfc3339(&value) {
        Ok(at) => at
            .with_timezone(&chrono_tz::Europe::Rome)
            .format("%d/%m/%Y %H:%M:%S")
            .to_string(),
        Err(_) => value,
    }
}

/// A calendar date (`2026-12-01`) the Italian way (`01/12/2026`).
fn local_date(value: String) -> String {
    match chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d") {
        Ok(day) => day.format("%d/%m/%Y").to_string(),
        Err(_) => value,
    }
}

/// A page, 200.
pub fn page(name: &str, context: impl Serialize) -> Response {
    page_with(StatusCode::OK, name, context)
}

pub fn page_with(status: StatusCode, name: &str, context: impl Serialize) -> Response {
    match environment()
        .get_template(name)
        .and_then(|t| t.render(minijinja::value::Serde(context)))
    {
        Ok(html) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(template = name, error = %err, "a page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "Errore interno").into_response()
        }
    }
}

/// A file to save, never shown in the pages' origin: `attachment`, no sniffing, sandboxed, not
/// cached. `file_name` must already be a plain name (letters, digits, `.-_`).
pub fn download(file_name: &str, media_type: &str, bytes: Vec<u8>) -> Response {
    let media_type = header::HeaderValue::from_str(media_type)
        .unwrap_or(header::HeaderValue::from_static("application/octet-stream"));
    let disposition =
        header::HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
            .unwrap_or(header::HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, media_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                header::HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                header::HeaderValue::from_static("sandbox"),
            ),
            (
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// Why a page is not shown.
#[derive(Debug)]
pub enum Refusal {
    /// No live session: a page goes to the sign-in, `expired` says whether one has ended.
    SignIn {
        operator: bool,
        expired: bool,
    },
    /// A form without its CSRF token, or with another's.
    Csrf,
    /// An operator without the role.
    Role(&'static str),
    NotFound,
    BadRequest(String),
    Unavailable(String),
}

impl From<sqlx::Error> for Refusal {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(error = %err, "a page's query failed");
        Refusal::Unavailable("Il servizio non è al momento disponibile. Riprovi tra poco.".into())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            Refusal::SignIn { operator, expired } => {
                let mut target = if operator {
                    "/accesso".to_owned()
                } else {
                    "/?cittadino=1".to_owned()
                };
                if expired {
                    target.push_str(if operator { "?scaduta=1" } else { "&scaduta=1" });
                }
                return Redirect::to(&target).into_response();
            }
            Refusal::Csrf => (
                StatusCode::FORBIDDEN,
                "Richiesta non valida",
                "Il modulo non contiene il codice di sicurezza atteso (CSRF): ricarichi la pagina e riprovi.".to_owned(),
            ),
            Refusal::Role(role) => (
                StatusCode::FORBIDDEN,
                "Accesso non consentito",
                format!("Questa funzione richiede il ruolo «{role}»."),
            ),
            Refusal::NotFound => (
                StatusCode::NOT_FOUND,
                "Pagina non trovata",
                "Ciò che cerca non esiste o non è accessibile con questo profilo.".to_owned(),
            ),
            Refusal::BadRequest(message) => (StatusCode::BAD_REQUEST, "Richiesta non valida", message),
            Refusal::Unavailable(message) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Servizio non disponibile",
                message,
            ),
        };
        page_with(
            status,
            "refusal.html",
            serde_json::json!({ "title": title, "message": message, "status": status.as_u16() }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sportello_shared::catalog::Catalog;

    /// Renders through [`page`], as the handlers do: a template error is a 500.
    fn renders(name: &str, context: serde_json::Value) {
        let response = page(name, context);
        assert_eq!(response.status(), StatusCode::OK, "{name} did not render");
    }

    #[test]
    fn every_form_of_the_catalog_and_the_desk_render() {
        let user = serde_json::json!({"name": "Giulia", "operator": true, "id": "OP-1", "roles": ["counter"], "csrf": "x"});
        let catalog = Catalog::embedded().unwrap();
        for t in catalog.types() {
            renders(
                "new_form.html",
                serde_json::json!({"user": user, "kind": crate::published::practice_type(t), "values": {}, "errors": ["e"]}),
            );
        }
        renders(
            "new_pick.html",
            serde_json::json!({"user": user, "catalog": crate::published::catalog(&catalog)}),
        );
        renders(
            "desk.html",
            serde_json::json!({"user": user, "counts": [], "pickup": [], "waiting": [], "failed": [], "parked": 0}),
        );
        renders(
            "signin.html",
            serde_json::json!({"csrf": "x", "notice": null, "error": "e"}),
        );
        renders(
            "errors.html",
            serde_json::json!({"user": user, "all": false, "messages": [{"id": 1, "stage": "intake", "reason": "r", "attempts": 1, "practice_id": null, "status": "parked", "parked_at": "01/12/2026 12:00:00"}]}),
        );
        renders(
            "error.html",
            serde_json::json!({"user": user, "m": {"id": 1, "stage": "intake", "reason": "r", "attempts": 1, "practice_id": null, "error_queue": "q.errors", "work_queue": "q", "status": "parked", "parked_at": "x", "failed_at": null}, "settlement": null, "headers": "{}", "body": "{}", "notice": null, "error": null}),
        );
    }

    /// The citizen's page of a practice the office wants completed: what is missing and the
    /// form to send it, shown; on another state the form is there but hidden, for the live
    /// timeline to reveal.
    #[test]
    fn the_integration_form_follows_the_state() {
        let catalog = Catalog::embedded().unwrap();
        let kind = crate::published::practice_type(catalog.get("edilizia.cila").unwrap());
        let render = |state: &str| {
            let context = serde_json::json!({
                "user": {"name": "FRRPLA71C02A944P", "operator": false, "csrf": "x"},
                "title": "CILA", "label": "", "labels_json": "{}", "labels": {},
                "asked": {"missing": ["Ricevuta dei diritti"], "message": "Servono i documenti.", "deadline": "2026-12-31"},
                "kind": kind, "notice": null, "errors": [],
                "practice": {"id": "0b6a8f7e-0000-4000-8000-000000000000", "state": state, "subject": "CILA",
                             "tax_code": "FRRPLA71C02A944P", "registrations": [], "timeline": [], "documents": [], "notifications": []},
            });
            environment()
                .get_template("practice.html")
                .unwrap()
                .render(minijinja::value::Serde(context))
                .unwrap()
        };
        let asked = render("integration_requested");
        assert!(asked.contains("id=\"integrazione\""), "{asked}");
        assert!(asked.contains("<li>Ricevuta dei diritti</li>"), "{asked}");
        assert!(
            !asked.contains("data-show-in=\"integration_requested\" hidden"),
            "{asked}"
        );
        let later = render("dispatched");
        assert!(
            later.contains("data-show-in=\"integration_requested\" hidden"),
            "{later}"
        );
    }
}
