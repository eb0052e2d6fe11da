//! `sportello serve` and `sportello token`: the HTTP service over the fleet's parts, and the
//! bearer tokens it accepts.

use crate::app::App;
use anyhow::{Context, anyhow};
use clap::ValueEnum;
use sportello_api::auth::{Keys, OperatorRole, Signer, Subject};
use sportello_api::{ApiState, Services};
use sportello_shared::config::HttpSettings;
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The API's state over the app's connected parts; its broker connections log in as `api`.
pub fn api_state(app: &App, shutdown: CancellationToken) -> anyhow::Result<ApiState> {
    let mut settings = app.settings.clone();
    settings.broker = settings.broker.as_party("api");
    ApiState::new(
        Services {
            settings,
            store: app.store.clone(),
            objects: app.objects_for("api")?,
            catalog: app.catalog.clone(),
            topology: app.topology.clone(),
        },
        shutdown,
    )
}

/// Serves HTTP on `http.listen` until `shutdown`, the topology declared first (the live
/// events bind to the `events` exchange).
pub async fn serve(app: Arc<App>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let state = api_state(&app, shutdown.clone())?;
    if !crate::startup::apply_topology(&app, &shutdown).await? {
        return Ok(());
    }
    sportello_api::bind_and_serve(state).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenRole {
    Citizen,
    Operator,
}

/// What `sportello token` was asked for.
#[derive(Debug, Clone)]
pub struct TokenRequest<'a> {
    pub role: TokenRole,
    pub tax_code: Option<&'a str>,
    pub operator_id: Option<&'a str>,
    /// Comma-separated operator roles.
    pub roles: &'a str,
    /// Another configured issuer's name and its private key, instead of sportello's own.
    pub issuer: Option<(&'a str, &'a Path)>,
    pub valid_for: &'a str,
}

/// A signed token for the demo, the tests and operations: sportello's own (operators only,
/// `http.signing_key`), or another configured issuer's with its private key, where the local
/// stack plays the portal or the counter application (in production they sign their own, and
/// sportello never holds their keys). Checked as the service would check it before it is
/// printed, so a key that does not match the configuration is said here, not by a 401 later.
pub fn token(http: &HttpSettings, request: &TokenRequest<'_>) -> anyhow::Result<String> {
    let ttl = sportello_shared::timing::parse_duration(request.valid_for).with_context(|| {
        format!(
            "--valid-for `{}`: write it like 30m, 8h or 7d",
            request.valid_for
        )
    })?;
    let keys = Keys::from_settings(http)?;
    let signer = match request.issuer {
        None => keys
            .own()
            .cloned()
            .context("http.signing_key is not set: sportello has no key to sign with")?,
        Some((name, key)) => {
            let issuer = http
                .issuers
                .get(name)
                .with_context(|| format!("--issuer {name}: not in [http.issuers]"))?;
            let pem = std::fs::read(key).with_context(|| format!("--key {}", key.display()))?;
            Signer::from_pem(
                issuer.iss.as_deref().unwrap_or(name),
                &http.audience,
                &pem,
                &key.display().to_string(),
            )?
        }
    };
    let roles = OperatorRole::parse_list(request.roles).map_err(|e| anyhow!("--roles: {e}"))?;
    let subject = match request.role {
        TokenRole::Citizen => Subject::Citizen {
            tax_code: request.tax_code.unwrap_or(""),
        },
        TokenRole::Operator => Subject::Operator {
            id: request.operator_id.unwrap_or(""),
            roles: &roles,
        },
    };
    let claims = signer.claims(&subject, ttl)?;
    keys.check_grants(&claims)
        .with_context(|| match request.role {
            TokenRole::Citizen => {
                "citizens' tokens come from the portal: --issuer portal --key <its private key>"
            }
            TokenRole::Operator => {
                "operators' tokens come from sportello or the counter application"
            }
        })?;
    let token = signer.sign(&claims)?;
    keys.check(&token).map_err(|err| {
        anyhow!("the token would be refused ({err}): is --key the private half of the issuer's public_key?")
    })?;
    Ok(token)
}
