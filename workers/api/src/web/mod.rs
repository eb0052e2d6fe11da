//! The two fronts of the brief (§10), server-rendered: the operator's cruscotto (`/cruscotto`)
//! and the citizen's area (`/area-personale`), in Italian, on Bootstrap Italia.
//!
//! Why inside the API service: the pages read the same folder, publish through the same
//! submission path and follow practices on the same live endpoint as the portal and the
//! counter application do, so nothing here can disagree with the API. The pages are HTML
//! rendered with minijinja from the catalog validation reads; the browser runs two small
//! scripts of ours (the live timeline, the document upload) and the packages `npm ci` puts in
//! `web/node_modules`, served from there (`http.web.assets_dir`): no Node.js at run time.
//!
//! - [`accounts`]: operators' accounts (argon2id passwords, roles, lock-out);
//! - [`session`]: the session cookie and the CSRF tokens;
//! - [`pages`]: what every page shares, and sign-in, hand-over, sign-out;
//! - [`desk`]: the cruscotto's desk, search, folders and the counter's new practice;
//! - [`practice`]: a practice's page and what the operator or its citizen do from it;
//! - [`errors`]: the error queues' pages;
//! - [`protocol`]: the protocol officer's registration page and its annulment;
//! - [`bridge`]: lets a page's `EventSource` open `/practices/{id}/events` with its cookie.
//!
//! These routes are not in [`crate::routes`]: they are pages, not the JSON API the OpenAPI
//! document describes.

pub mod accounts;
pub mod bridge;
pub mod desk;
pub mod errors;
pub mod pages;
pub mod practice;
pub mod protocol;
pub mod session;
mod view;

use crate::ApiState;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::path::{Component, PathBuf};

/// The pages' router, merged into the service's.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/accesso", get(pages::signin_form).post(pages::signin))
        .route("/accesso/cittadino", get(pages::handover))
        .route("/esci", post(pages::signout))
        .route("/cruscotto", get(desk::desk))
        .route("/cruscotto/cerca", get(desk::search))
        .route("/cruscotto/cittadini/{cf}", get(desk::folder))
        .route("/cruscotto/pratiche/{id}", get(practice::operator_practice))
        .route(
            "/cruscotto/pratiche/{id}/ritiro",
            post(practice::withdraw_for::<true>),
        )
        .route("/cruscotto/pratiche/{id}/consegna", post(practice::deliver))
        .route(
            "/cruscotto/pratiche/{id}/archivio",
            get(practice::archived_for::<true>),
        )
        .route(
            "/cruscotto/pratiche/{id}/ricevuta",
            get(practice::receipt_for::<true>),
        )
        .route(
            "/cruscotto/protocollo/{year}/{number}",
            get(protocol::registration),
        )
        .route(
            "/cruscotto/protocollo/{year}/{number}/segnatura",
            get(protocol::segnatura),
        )
        .route(
            "/cruscotto/protocollo/{year}/{number}/annullamento",
            post(protocol::annul),
        )
        .route("/cruscotto/nuova", get(desk::new_practice))
        .route(
            "/cruscotto/nuova/{type}",
            get(desk::new_practice_form).post(desk::file_practice),
        )
        .route("/cruscotto/code-errore", get(errors::list))
        .route("/cruscotto/code-errore/{id}", get(errors::show))
        .route(
            "/cruscotto/code-errore/{id}/ripubblica",
            post(errors::replay),
        )
        .route("/cruscotto/code-errore/{id}/scarta", post(errors::discard))
        .route("/area-personale", get(practice::citizen_home))
        .route(
            "/area-personale/pratiche/{id}",
            get(practice::citizen_practice),
        )
        .route(
            "/area-personale/pratiche/{id}/integrazione",
            post(practice::citizen_integration),
        )
        .route(
            "/area-personale/pratiche/{id}/ritiro",
            post(practice::withdraw_for::<false>),
        )
        .route(
            "/area-personale/pratiche/{id}/archivio",
            get(practice::archived_for::<false>),
        )
        .route(
            "/area-personale/pratiche/{id}/ricevuta",
            get(practice::receipt_for::<false>),
        )
        .route("/static/app/{file}", get(own_asset))
        .route("/static/pkg/{*path}", get(package_asset))
}

/// Our own script and stylesheet, compiled in.
async fn own_asset(Path(file): Path<String>) -> Response {
    let (body, kind): (&'static str, &'static str) = match file.as_str() {
        "sportello.js" => (
            include_str!("assets/sportello.js"),
            "text/javascript; charset=utf-8",
        ),
        "sportello.css" => (
            include_str!("assets/sportello.css"),
            "text/css; charset=utf-8",
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The packages' files the pages use, from `http.web.assets_dir`: only the `dist` folders of
/// the two front-end packages, never anything else of `node_modules`.
async fn package_asset(State(state): State<ApiState>, Path(path): Path<String>) -> Response {
    const SERVED: [&str; 2] = ["bootstrap-italia/dist/", "htmx.org/dist/"];
    let relative = PathBuf::from(&path);
    let plain = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !plain || !SERVED.iter().any(|prefix| path.starts_with(prefix)) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(kind) = media_type(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let file = PathBuf::from(&state.services().settings.http.web.assets_dir).join(relative);
    match tokio::fs::read(&file).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, kind),
                // Pinned by the lockfile: a new version comes with a new deployment.
                (header::CACHE_CONTROL, "public, max-age=86400"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

fn media_type(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.')?.1;
    Some(match extension {
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "map" => "application/json",
        "svg" => "image/svg+xml",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "png" => "image/png",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_kinds_of_file_are_served() {
        assert_eq!(media_type("a/b.css"), Some("text/css; charset=utf-8"));
        assert_eq!(media_type("a/b.woff2"), Some("font/woff2"));
        assert_eq!(media_type("a/package.json"), None);
        assert_eq!(media_type("a/noextension"), None);
    }
}
