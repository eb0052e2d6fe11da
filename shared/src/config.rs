//! Configuration in layers: compiled-in defaults, then one file, then environment variables.
//!
//! The file is the first that exists of: the path given on the command line or in
//! `SPORTELLO_CONFIG`, `./sportello.toml`, `/etc/sportello/sportello.toml`. Environment
//! variables `SPORTELLO__SECTION__KEY` override single keys (e.g. `SPORTELLO__DATABASE__URL`).
//! Secrets are wrapped so that printing the settings never prints them.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::path::{Path, PathBuf};

const DEFAULTS: &str = include_str!("../config/defaults.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub broker: BrokerSettings,
    pub database: DatabaseSettings,
    pub object_store: ObjectStoreSettings,
    pub smtp: SmtpSettings,
    pub catalog: CatalogSettings,
    pub intake: IntakeSettings,
    pub log: LogSettings,
    pub protocol: ProtocolSettings,
    /// Where the settings came from, for error messages; not a configuration key.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerSettings {
    pub url: SecretString,
    pub topology_file: String,
    /// Prefix of every exchange and queue name; empty in production.
    pub namespace: String,
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectStoreSettings {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: SecretString,
    pub staging_prefix: String,
    pub inline_limit_bytes: usize,
    pub request_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: String,
    pub web_api: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSettings {
    pub file: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSettings {
    pub max_message_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Auto,
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolSettings {
    pub administration_code: String,
    pub administration_name: String,
    pub aoo_code: String,
    pub aoo_name: String,
    pub register_code: String,
    pub batch_size: usize,
    pub signing_key: String,
    pub signing_certificate: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    Missing(PathBuf),
    #[error("configuration: {0}")]
    Invalid(#[from] config::ConfigError),
}

impl Settings {
    /// Loads the layered settings; `explicit` is the `--config` flag, if any.
    pub fn load(explicit: Option<&Path>) -> Result<Settings, ConfigError> {
        let file = Self::locate(explicit)?;
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = &file {
            builder = builder
                .add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("SPORTELLO")
                .prefix_separator("__")
                .separator("__"),
        );
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        settings.source = file;
        Ok(settings)
    }

    fn locate(explicit: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
        let chosen = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("SPORTELLO_CONFIG").map(PathBuf::from));
        if let Some(path) = chosen {
            return if path.exists() {
                Ok(Some(path))
            } else {
                Err(ConfigError::Missing(path))
            };
        }
        Ok(["sportello.toml", "/etc/sportello/sportello.toml"]
            .into_iter()
            .map(PathBuf::from)
            .find(|path| path.is_file()))
    }
}

impl DatabaseSettings {
    pub fn url(&self) -> &str {
        self.url.expose_secret()
    }
}

impl BrokerSettings {
    pub fn url(&self) -> &str {
        self.url.expose_secret()
    }
}

/// A URL safe to print: the password, if any, replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_alone_are_a_complete_configuration() {
        let settings: Settings = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        assert_eq!(settings.object_store.region, "garage");
        assert_eq!(settings.log.format, LogFormat::Auto);
    }

    #[test]
    fn secrets_do_not_print() {
        let settings: Settings = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .set_override("database.url", "postgres://app:hunter2@db/x")
            .unwrap()
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
        assert_eq!(
            redact_url(settings.database.url()),
            "postgres://app:***@db/x"
        );
    }
}
