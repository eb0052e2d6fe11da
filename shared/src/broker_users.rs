//! Creates and updates every party's RabbitMQ user and permissions, and the queues' policies,
//! through the management HTTP API with the `[broker.admin]` login: `sportello broker users`
//! (and `broker policies` alone, for a live change) for a deployment, and each test's own
//! namespaced users and policies. What each party may do is [`crate::parties`]'; the passwords
//! are the deployment's (`[broker.logins.<party>]`), so running it again is idempotent.

use crate::config::BrokerSettings;
use crate::parties;
use crate::topology::Topology;
use anyhow::{Context, bail};
use secrecy::ExposeSecret;
use std::time::Duration;

/// Creates or updates the user and permissions of every party of `topology`; returns the user
/// names. Every party needs its password in `settings.logins` before anything is written.
pub async fn apply(settings: &BrokerSettings, topology: &Topology) -> anyhow::Result<Vec<String>> {
    let admin = Admin::new(settings)?;
    let parties = parties::all(topology);
    let missing: Vec<&str> = parties
        .iter()
        .filter(|p| !settings.logins.contains_key(p.as_str()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        bail!(
            "no password for {}: set [broker.logins.<party>] password for each",
            missing.join(", ")
        );
    }
    let mut users = Vec::with_capacity(parties.len());
    for party in &parties {
        let user = parties::user_name(&settings.namespace, party);
        let permissions = parties::permissions(topology, party)
            .with_context(|| format!("no permissions for the party `{party}`"))?;
        admin
            .put(
                &format!("users/{}", encode(&user)),
                serde_json::json!({
                    "password": settings.logins[party.as_str()].password.expose_secret(),
                    "tags": "",
                }),
            )
            .await?;
        admin
            .put(
                &format!("permissions/{}/{}", encode(&admin.vhost), encode(&user)),
                serde_json::json!({
                    "configure": permissions.configure,
                    "write": permissions.write,
                    "read": permissions.read,
                }),
            )
            .await?;
        users.push(user);
    }
    apply_policies_as(&admin, topology).await?;
    Ok(users)
}

/// Sets the policy of every work queue and retry tier of `topology` ([`Topology::policies`]);
/// returns their names. The queues follow at once, running or not yet declared.
pub async fn apply_policies(
    settings: &BrokerSettings,
    topology: &Topology,
) -> anyhow::Result<Vec<String>> {
    apply_policies_as(&Admin::new(settings)?, topology).await
}

async fn apply_policies_as(admin: &Admin, topology: &Topology) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for policy in topology.policies() {
        admin
            .put(
                &format!("policies/{}/{}", encode(&admin.vhost), encode(&policy.name)),
                policy.body(),
            )
            .await?;
        names.push(policy.name);
    }
    Ok(names)
}

/// Deletes these policies (a test's, at teardown); one already gone is no error.
pub async fn remove_policies(settings: &BrokerSettings, names: &[String]) -> anyhow::Result<()> {
    let admin = Admin::new(settings)?;
    for name in names {
        admin
            .delete(&format!(
                "policies/{}/{}",
                encode(&admin.vhost),
                encode(name)
            ))
            .await?;
    }
    Ok(())
}

/// The policies of the virtual host whose names start with `prefix` (a test sweep's).
pub async fn list_policies(settings: &BrokerSettings, prefix: &str) -> anyhow::Result<Vec<String>> {
    let admin = Admin::new(settings)?;
    let path = format!("policies/{}", encode(&admin.vhost));
    names_starting_with(&admin, &path, prefix).await
}

/// Deletes these users (a test's, at teardown); one already gone is no error.
pub async fn remove(settings: &BrokerSettings, users: &[String]) -> anyhow::Result<()> {
    let admin = Admin::new(settings)?;
    for user in users {
        admin.delete(&format!("users/{}", encode(user))).await?;
    }
    Ok(())
}

/// The users of the management API whose names start with `prefix` (a test sweep's).
pub async fn list(settings: &BrokerSettings, prefix: &str) -> anyhow::Result<Vec<String>> {
    let admin = Admin::new(settings)?;
    names_starting_with(&admin, "users", prefix).await
}

async fn names_starting_with(
    admin: &Admin,
    path: &str,
    prefix: &str,
) -> anyhow::Result<Vec<String>> {
    let items: Vec<serde_json::Value> = admin
        .request(reqwest::Method::GET, path, None)
        .await?
        .json()
        .await?;
    Ok(items
        .iter()
        .filter_map(|u| u["name"].as_str())
        .filter(|name| name.starts_with(prefix))
        .map(str::to_owned)
        .collect())
}

struct Admin {
    client: reqwest::Client,
    base: String,
    user: String,
    password: String,
    vhost: String,
}

impl Admin {
    fn new(settings: &BrokerSettings) -> anyhow::Result<Admin> {
        let admin = settings
            .admin
            .as_ref()
            .context("[broker.admin] (management_url, user, password) is not configured")?;
        let uri: lapin::uri::AMQPUri = settings
            .url()
            .parse()
            .map_err(|e| anyhow::anyhow!("broker.url: {e}"))?;
        Ok(Admin {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(settings.connect_timeout_secs.max(5)))
                .build()?,
            base: format!("{}/api", admin.management_url.trim_end_matches('/')),
            user: admin.user.clone(),
            password: admin.password.expose_secret().to_owned(),
            vhost: uri.vhost,
        })
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}/{path}", self.base))
            .basic_auth(&self.user, Some(&self.password));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("RabbitMQ management API at {}", self.base))?;
        let status = response.status();
        let already_gone = method == reqwest::Method::DELETE && status.as_u16() == 404;
        if !status.is_success() && !already_gone {
            let text = response.text().await.unwrap_or_default();
            bail!("RabbitMQ management API: {method} {path}: {status} {text}");
        }
        Ok(response)
    }

    async fn put(&self, path: &str, body: serde_json::Value) -> anyhow::Result<()> {
        self.request(reqwest::Method::PUT, path, Some(body))
            .await
            .map(|_| ())
    }

    async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.request(reqwest::Method::DELETE, path, None)
            .await
            .map(|_| ())
    }
}

/// A path segment: everything but unreserved characters percent-encoded (the vhost `/` too).
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
