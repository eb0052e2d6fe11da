//! `sportello serve` and `sportello token`: the HTTP service over the fleet's parts, and the
//! bearer tokens it accepts.

use crate::app::App;
use anyhow::Context;
use clap::ValueEnum;
use sportello_api::auth::{Keys, Role};
use sportello_api::{ApiState, Services};
use sportello_shared::config::HttpSettings;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The API's state over the app's connected parts; its broker connections log in as `api`.
pub fn api_state(app: &App, shutdown: CancellationToken) -> anyhow::Result<ApiState> {
    ApiState::new(
    let mut settings = app.settings.clone();
    settings.broker = settings.broker.as_party("api");
        Services {
            settings,
            store: app.store.clone(),
            objects: app.objects.clone(),
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

/// A signed token for the demo and the tests.
pub fn token(
    http: &HttpSettings,
    role: TokenRole,
    tax_code: Option<&str>,
    operator_id: Option<&str>,
    valid_for: &str,
) -> anyhow::Result<String> {
    let ttl = parse_duration(valid_for)
        .with_context(|| format!("--valid-for `{valid_for}`: write it like 30m, 8h or 7d"))?;
    let keys = Keys::new(http.jwt_secret())?;
    let role = match role {
        TokenRole::Citizen => Role::Citizen,
        TokenRole::Operator => Role::Operator,
    };
    Ok(keys.mint(role, tax_code, operator_id, ttl)?)
}

fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok().filter(|n| *n > 0)?;
    let seconds = match unit {
        "s" => number,
        "m" => number.checked_mul(60)?,
        "h" => number.checked_mul(3600)?,
        "d" => number.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_as_operators_write_them() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("8h"), Some(Duration::from_secs(8 * 3600)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("8"), None);
        assert_eq!(parse_duration("0h"), None);
        assert_eq!(parse_duration("h"), None);
    }
}
