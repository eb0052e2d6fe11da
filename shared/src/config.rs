//! Configuration in layers: compiled-in defaults, then one file, then environment variables.
//!
//! The file is the first that exists of: the path given on the command line or in
//! `SPORTELLO_CONFIG`, `./sportello.toml`, `/etc/sportello/sportello.toml`. Environment
//! variables `SPORTELLO__SECTION__KEY` override single keys (e.g. `SPORTELLO__DATABASE__URL`).
//! Secrets are wrapped so that printing the settings never prints them.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    pub http: HttpSettings,
    pub municipality: MunicipalitySettings,
    pub startup: StartupSettings,
    /// The procedure's clock: timers, and per desk the responsabile and the remedies.
    #[serde(default)]
    pub procedure: ProcedureSettings,
    /// Where the settings came from, for error messages; not a configuration key.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerSettings {
    /// Where the broker is (scheme, host, port, virtual host); the credentials come from
    /// `logins` (see [`crate::parties`]). A URL with credentials of its own is used as it is
    /// only where no party is chosen; `guest` is refused either way.
    pub url: SecretString,
    pub topology_file: String,
    /// Prefix of every exchange and queue name; empty in production.
    pub namespace: String,
    pub connect_timeout_secs: u64,
    /// The other nodes of the broker's cluster (`host:port`), tried in order after the URL's
    /// own when it does not answer: a connection lost with its node is opened again on another.
    pub failover_hosts: Vec<String>,
    /// One login per party (a worker kind, `portal`, `counter`, `api`, `operations`, each back
    /// office's `login` from queues.toml): `[broker.logins.<party>] password = "…"`. The user
    /// name is the party's, namespaced ([`crate::parties::user_name`]).
    #[serde(default)]
    pub logins: BTreeMap<String, BrokerLogin>,
    /// The management login that creates the parties' users (`sportello broker users`).
    #[serde(default)]
    pub admin: Option<BrokerAdminSettings>,
    /// The party this process speaks as on its connections; chosen by the command, never
    /// read from a file.
    #[serde(skip)]
    pub party: Option<String>,
}

/// One party's broker password.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerLogin {
    pub password: SecretString,
}

/// The RabbitMQ management HTTP API and an administrator's login, for creating users.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerAdminSettings {
    /// e.g. `http://127.0.0.1:15672`
    pub management_url: String,
    pub user: String,
    pub password: SecretString,
}

impl BrokerSettings {
    /// The same settings, speaking as `party` on every connection opened with them.
    pub fn as_party(&self, party: &str) -> BrokerSettings {
        BrokerSettings {
            party: Some(party.to_owned()),
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// The runtime role: reads and writes rows, never the schema (see `migrations/`, whose
    /// grants say what each table allows it).
    pub url: SecretString,
    /// The owner role, which holds the schema and runs the migrations (`sportello db migrate`);
    /// empty where the process never migrates, as workers do not.
    pub owner_url: SecretString,
    pub max_connections: u32,
    /// The other servers of the same database (`host:port`: a streaming standby), tried in order
    /// after the URLs' own host: the store keeps to the one that is read-write, and follows a
    /// promotion ([`crate::store::primary`]). Empty: the URL's server only.
    pub failover_hosts: Vec<String>,
    /// With failover hosts, how often the store checks that its server is still read-write.
    pub failover_check_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectStoreSettings {
    pub endpoint: String,
    /// The other nodes of the same store (a Garage cluster's S3 endpoints, each a URL), tried in
    /// turn when `endpoint` does not answer. Empty: `endpoint` alone.
    pub failover_endpoints: Vec<String>,
    pub region: String,
    /// Where senders upload and intake parks large documents until storage archives them.
    pub staging_bucket: String,
    /// The legal archive (registered documents, segnature, results, daily registers).
    pub archive_bucket: String,
    /// The process's key, for parties without one of their own in `keys`.
    pub access_key: String,
    pub secret_key: SecretString,
    /// Each party's own key (`intake`, `validation`, `storage`, …, `api`, `portal`), holding
    /// only the bucket permissions that party needs.
    #[serde(default)]
    pub keys: std::collections::BTreeMap<String, PartyKey>,
    pub staging_prefix: String,
    pub inline_limit_bytes: usize,
    pub request_timeout_secs: u64,
    /// How long the read-only links dispatch gives back offices stay valid.
    pub link_validity_secs: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyKey {
    pub access_key: String,
    pub secret_key: SecretString,
}

impl ObjectStoreSettings {
    /// The staging prefix without surrounding slashes, as keys are built and checked with it.
    pub fn staging_root(&self) -> &str {
        self.staging_prefix.trim_matches('/')
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// maildev's REST API, for the tests that read what was sent; empty in production.
    pub web_api: String,
    /// The sender of citizen emails, e.g. `Comune di Bergamo <noreply@comune.bergamo.it>`.
    pub from: String,
    /// Empty: the relay takes mail without authentication.
    pub username: String,
    pub password: SecretString,
    /// Bounds every send: lettre's own timeout covers only connecting.
    pub timeout_secs: u64,
    pub pool_size: u32,
    /// Result documents are attached when together they are at most this big; otherwise the
    /// email says how to get them.
    pub max_attachments_bytes: u64,
    /// The certified-mail relay, used when the citizen gave a PEC address. Absent: every
    /// notification goes to the ordinary address.
    #[serde(default)]
    pub pec: Option<PecRelaySettings>,
}

/// How the connection to a mail relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same host (maildev, a local MTA).
    None,
    /// Plain connection upgraded with STARTTLS, refused if the server does not offer it.
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

/// A PEC provider's relay: always authenticated and encrypted in production.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PecRelaySettings {
    pub host: String,
    #[serde(default = "PecRelaySettings::default_port")]
    pub port: u16,
    #[serde(default = "PecRelaySettings::default_tls")]
    pub tls: SmtpTls,
    /// The administration's PEC mailbox: PEC providers accept only their own senders.
    pub from: String,
    #[serde(default)]
    pub username: String,
    #[serde(default = "PecRelaySettings::no_password")]
    pub password: SecretString,
}

impl PecRelaySettings {
    fn default_port() -> u16 {
        465
    }
    fn default_tls() -> SmtpTls {
        SmtpTls::Tls
    }
    fn no_password() -> SecretString {
        SecretString::from("")
    }
}

/// Who writes to the citizen, and where the counter is: read by every email's footer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MunicipalitySettings {
    pub name: String,
    /// The contact address; its domain also names our Message-IDs.
    pub email: String,
    pub phone: String,
    pub website: String,
    pub counter_address: String,
    /// One timetable for every desk, one line per group of days.
    pub opening_hours: Vec<String>,
}

/// The procedure's clock (L. 241/1990) and what the receipt says per desk (art. 8).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcedureSettings {
    /// `due_soon` fires this many days before the due date.
    pub due_soon_days: u32,
    /// How often the timer job looks at the clocks.
    pub timer_interval_secs: u64,
    /// The length of one procedure day in seconds: 86400 in production (Italian calendar
    /// days). A demo shortens it so that terms run out in seconds: the clock's day is then the
    /// protocol date plus the scaled days since registration.
    pub day_secs: u64,
    /// For desks without their own entry.
    pub responsabile: String,
    pub remedies: String,
    /// `[procedure.desks.<desk code>]`: `responsabile`, `remedies`.
    pub desks: BTreeMap<String, DeskProcedure>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DeskProcedure {
    /// The responsabile del procedimento (art. 5-6), name and role.
    pub responsabile: String,
    #[serde(default)]
    pub remedies: Option<String>,
}

impl Default for ProcedureSettings {
    fn default() -> Self {
        ProcedureSettings {
            due_soon_days: 5,
            timer_interval_secs: 60,
            day_secs: 86_400,
            responsabile: "Il responsabile del servizio competente".to_owned(),
            remedies: "In caso di inerzia può rivolgersi al titolare del potere sostitutivo \
                       (art. 2 c.9-bis L. 241/1990), il Segretario generale, e ricorrere al TAR \
                       contro il silenzio (art. 117 c.p.a.) finché dura l'inadempimento e \
                       comunque entro un anno dalla scadenza del termine."
                .to_owned(),
            desks: BTreeMap::new(),
        }
    }
}

impl ProcedureSettings {
    /// The responsabile del procedimento and the remedies of `desk`.
    pub fn desk(&self, desk: &str) -> (&str, &str) {
        match self.desks.get(desk) {
            Some(own) => (
                own.responsabile.as_str(),
                own.remedies.as_deref().unwrap_or(&self.remedies),
            ),
            None => (self.responsabile.as_str(), self.remedies.as_str()),
        }
    }
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

/// How `sportello run` and `sportello serve` start while a service they need is down.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartupSettings {
    /// How long a starting process waits for PostgreSQL, the object store and RabbitMQ, retrying
    /// with backoff, before it gives up; 0: give up at the first failure.
    pub wait_secs: u64,
}

/// The HTTP service (`sportello serve`, or `sportello run` when `enabled`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Whether `sportello run` serves HTTP too, beside its workers.
    pub enabled: bool,
    pub listen: String,
    /// Requests with a larger body are refused with 413 before they are read.
    pub max_body_bytes: usize,
    /// No longer read (tokens are signed with `signing_key` and the issuers' own keys); still
    /// accepted so that a sportello.toml written before that loads, until stack-up.sh rewrites it.
    #[serde(default)]
    pub jwt_secret: Option<SecretString>,
    /// The `aud` every bearer token must name: a token minted for another service is refused.
    pub audience: String,
    /// The `iss` of the tokens sportello signs itself (`sportello token`).
    pub issuer: String,
    /// Path of sportello's own PKCS#8 PEM private key (Ed25519 → EdDSA, P-256 → ES256); its
    /// public half checks sportello's tokens. Empty: sportello signs none and trusts only
    /// `issuers`.
    pub signing_key: String,
    /// The other parties whose tokens are accepted (the portal, the counter application), by
    /// name; each with its public key, so that sportello can check but never mint them.
    #[serde(default)]
    pub issuers: BTreeMap<String, IssuerSettings>,
    /// Seconds a token is still accepted after its `exp` (clock skew between issuers and us).
    pub clock_leeway_secs: u64,
    /// A request not answered within this many seconds gets 503 (live streams: their opening).
    pub request_timeout_secs: u64,
    /// Live event streams open at once, in all and per caller; beyond: 503 and 429.
    pub max_streams: usize,
    pub max_streams_per_caller: usize,
    /// Submissions per minute per caller, with bursts of `submissions_burst`; beyond: 429.
    pub submissions_per_minute: u32,
    pub submissions_burst: u32,
    /// The cruscotto and the citizen's area: sign-in, sessions, front-end assets.
    #[serde(default)]
    pub web: WebSettings,
}

/// The web pages (`[http.web]`): how sessions last, when sign-in locks, where the front-end
/// packages installed by `npm ci` are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    /// The `node_modules` folder of `web/package.json` (relative: to the working directory).
    pub assets_dir: String,
    /// The address citizens and operators open (hand-over links are printed with it); empty:
    /// `http://` + `http.listen`.
    pub public_url: String,
    /// A session ends this long after sign-in, whatever happens…
    pub operator_session_secs: u64,
    pub citizen_session_secs: u64,
    /// …or after this long without a request.
    pub idle_secs: u64,
    /// Wrong passwords in a row that lock an operator's account, and for how long.
    pub max_login_failures: u32,
    pub lockout_secs: u64,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            assets_dir: "web/node_modules".to_owned(),
            public_url: String::new(),
            operator_session_secs: 8 * 3600,
            citizen_session_secs: 3600,
            idle_secs: 1800,
            max_login_failures: 5,
            lockout_secs: 900,
        }
    }
}

/// A party that signs tokens for this service with its own key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerSettings {
    /// The `iss` its tokens carry (default: the table's name).
    #[serde(default)]
    pub iss: Option<String>,
    /// Path of its PEM public key (SubjectPublicKeyInfo, `openssl pkey -pubout`).
    pub public_key: String,
    /// `EdDSA` (Ed25519) or `ES256` (P-256).
    pub algorithm: String,
    /// What its tokens may grant: `citizen`, or operator roles (`counter`, `protocol_officer`,
    /// `operations`). A token granting more is refused.
    pub may_mint: Vec<String>,
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

    pub fn owner_url(&self) -> &str {
        self.owner_url.expose_secret()
    }
}

impl BrokerSettings {
    pub fn url(&self) -> &str {
        self.url.expose_secret()
    }
}

impl SmtpSettings {
    pub fn password(&self) -> &str {
        self.password.expose_secret()
    }
}

impl PecRelaySettings {
    pub fn password(&self) -> &str {
        self.password.expose_secret()
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

    fn with_overrides(pairs: &[(&str, &str)]) -> Result<Settings, config::ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        for (key, value) in pairs {
            builder = builder.set_override(*key, *value)?;
        }
        builder.build()?.try_deserialize()
    }

    #[test]
    fn the_pec_relay_is_an_optional_table_with_defaults() {
        let settings = with_overrides(&[]).unwrap();
        assert!(
            settings.smtp.pec.is_none(),
            "no PEC relay unless configured"
        );
        assert_eq!(settings.smtp.tls, SmtpTls::None);
        assert!(settings.municipality.opening_hours.len() >= 2);

        // What `SPORTELLO__SMTP__PEC__HOST` and friends produce: a table with some keys.
        let settings = with_overrides(&[
            ("smtp.pec.host", "smtps.pec.example.it"),
            ("smtp.pec.from", "protocollo@pec.example.it"),
            ("smtp.pec.password", "pec-s3cret"),
        ])
        .unwrap();
        let pec = settings.smtp.pec.as_ref().unwrap();
        assert_eq!((pec.port, pec.tls), (465, SmtpTls::Tls));
        assert_eq!(pec.password(), "pec-s3cret");
        assert!(!format!("{settings:?}").contains("pec-s3cret"));

        // A relay without its sender is a mistake, not a silent default.
        let err = with_overrides(&[("smtp.pec.host", "smtps.pec.example.it")]).unwrap_err();
        assert!(err.to_string().contains("from"), "{err}");
        let err = with_overrides(&[("smtp.tls", "ssl")]).unwrap_err();
        assert!(err.to_string().contains("ssl"), "{err}");
    }
}
