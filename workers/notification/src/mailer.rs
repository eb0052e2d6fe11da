//! The SMTP relays: the ordinary one, and the PEC provider's when there is one.
//!
//! A send is two steps, so that the notifications table can count an attempt right before the
//! only part of it that can deliver anything: [`Relay::connect`] opens a connection (or takes an
//! idle one, checked with NOOP) with greeting, STARTTLS and AUTH done, and
//! [`Session::send`] is the SMTP transaction alone (MAIL, RCPT, DATA), returning at the server's
//! reply to the message. A healthy connection goes back to the relay's idle set when its
//! [`Session`] is dropped, so a relay that restarted costs nothing but a reconnect.
//!
//! lettre's own timeout covers single reads and writes, so both steps are also bounded by ours:
//! a relay that accepts the connection and then says nothing must not hold a worker forever.
//!
//! A failure is *permanent* only when the relay says so with a 5xx reply (no such mailbox,
//! message refused): sending again would fail the same way. Everything else — 4xx replies,
//! refused or dropped connections, TLS trouble, our timeout — is *temporary*.

use lettre::Message;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::{Code, Severity};
use serde::Serialize;
use sportello_shared::config::{PecRelaySettings, SmtpSettings, SmtpTls};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An idle connection older than this is closed rather than checked: relays drop idle clients
/// after a minute or so, and a NOOP to a half-closed socket only costs time.
const IDLE_LIMIT: Duration = Duration::from_secs(30);

/// How the citizen is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    /// Certified mail, through the PEC relay.
    Pec,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Pec => "pec",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later.
    #[error("{0}")]
    Temporary(String),
    /// The relay refused for good.
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent(_))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("{setting} `{value}` is not a valid sender: {reason}")]
    Sender {
        setting: &'static str,
        value: String,
        reason: String,
    },
    #[error("TLS for {host}: {reason}")]
    Tls { host: String, reason: String },
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
}

/// Whether a reply code means "never": only 5xx does.
pub fn is_permanent(status: Option<Code>) -> bool {
    matches!(
        status,
        Some(Code {
            severity: Severity::PermanentNegativeCompletion,
            ..
        })
    )
}

/// Sorts a transport error into temporary or permanent, keeping its whole cause chain.
pub fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !reason.contains(&cause_text) {
            reason.push_str(": ");
            reason.push_str(&cause_text);
        }
        source = cause.source();
    }
    if is_permanent(error.status()) {
        SendError::Permanent(reason)
    } else {
        SendError::Temporary(reason)
    }
}

/// How a relay's connections are secured.
enum Security {
    Plain,
    /// STARTTLS after the greeting, required.
    StartTls(TlsParameters),
    /// TLS from the first byte (SMTPS).
    Wrapper(TlsParameters),
}

/// One relay: where it is, how to log in, the sender it writes as, our bound on each step,
/// and its idle connections.
pub struct Relay {
    name: &'static str,
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    from: Mailbox,
    timeout: Duration,
    pool_size: usize,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

/// What a relay needs, whichever section of the settings it comes from.
pub struct RelaySpec<'a> {
    pub name: &'static str,
    pub host: &'a str,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: &'a str,
    pub password: &'a str,
    pub from: &'a str,
    pub from_setting: &'static str,
    pub timeout: Duration,
    pub pool_size: u32,
}

impl Relay {
    pub fn new(spec: &RelaySpec<'_>) -> Result<Relay, MailerError> {
        let from: Mailbox = spec
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| MailerError::Sender {
                setting: spec.from_setting,
                value: spec.from.to_owned(),
                reason: e.to_string(),
            })?;
        if spec.timeout.is_zero() {
            return Err(MailerError::Zero("smtp.timeout_secs"));
        }
        if spec.pool_size == 0 {
            return Err(MailerError::Zero("smtp.pool_size"));
        }
        let tls_parameters = || {
            TlsParameters::new(spec.host.to_owned()).map_err(|e| MailerError::Tls {
                host: spec.host.to_owned(),
                reason: e.to_string(),
            })
        };
        let security = match spec.tls {
            SmtpTls::None => Security::Plain,
            SmtpTls::Starttls => Security::StartTls(tls_parameters()?),
            SmtpTls::Tls => Security::Wrapper(tls_parameters()?),
        };
        let credentials = (!spec.username.is_empty())
            .then(|| Credentials::new(spec.username.to_owned(), spec.password.to_owned()));
        Ok(Relay {
            name: spec.name,
            host: spec.host.to_owned(),
            port: spec.port,
            security,
            credentials,
            hello: ClientId::default(),
            from,
            timeout: spec.timeout,
            pool_size: spec.pool_size as usize,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The sender the messages of this relay must carry.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// A connection ready for a transaction: an idle one that still answers NOOP, or a new one
    /// (greeting, EHLO, STARTTLS, AUTH). Nothing of a message has been said yet.
    pub async fn connect(&self) -> Result<Session<'_>, SendError> {
        while let Some((mut connection, since)) = self.take_idle() {
            if since.elapsed() < IDLE_LIMIT
                && tokio::time::timeout(self.timeout, connection.test_connected())
                    .await
                    .unwrap_or(false)
            {
                return Ok(self.session(connection));
            }
        }
        match tokio::time::timeout(self.timeout, self.open()).await {
            Err(_) => Err(self.too_slow("connect")),
            Ok(Err(error)) => Err(error),
            Ok(Ok(connection)) => Ok(self.session(connection)),
        }
    }

    /// Connects and sends in one go (no attempt to count in between).
    pub async fn send(&self, message: &Message) -> Result<String, SendError> {
        self.connect().await?.send(message).await
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, SendError> {
        let classified = |error: lettre::transport::smtp::Error| classify(&error);
        let mut connection = match &self.security {
            // Our own socket, with Nagle's algorithm off: lettre writes a message's end in a
            // small segment of its own, which otherwise waits for the relay's delayed ACK
            // (~40 ms a message, whatever the relay's pace).
            Security::Plain => {
                let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                    .await
                    .map_err(|e| {
                        SendError::Temporary(format!(
                            "the {} relay at {}:{}: {e}",
                            self.name, self.host, self.port
                        ))
                    })?;
                let _ = stream.set_nodelay(true);
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                    .await
                    .map_err(classified)?
            }
            security => {
                let wrapper = match security {
                    Security::Wrapper(parameters) => Some(parameters.clone()),
                    _ => None,
                };
                AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &self.hello,
                    wrapper,
                    None,
                )
                .await
                .map_err(classified)?
            }
        };
        if let Security::StartTls(parameters) = &self.security {
            connection
                .starttls(parameters.clone(), &self.hello)
                .await
                .map_err(classified)?;
        }
        if let Some(credentials) = &self.credentials {
            connection
                .auth(DEFAULT_MECHANISMS, credentials)
                .await
                .map_err(classified)?;
        }
        Ok(connection)
    }

    fn take_idle(&self) -> Option<(AsyncSmtpConnection, Instant)> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn session(&self, connection: AsyncSmtpConnection) -> Session<'_> {
        Session {
            relay: self,
            connection: Some(connection),
        }
    }

    fn too_slow(&self, step: &str) -> SendError {
        SendError::Temporary(format!(
            "the {} relay did not {step} within {} s",
            self.name,
            self.timeout.as_secs_f32()
        ))
    }
}

/// An open connection to a relay, between transactions. Dropped healthy, it goes back to the
/// relay's idle connections; after a failure it is closed.
pub struct Session<'r> {
    relay: &'r Relay,
    connection: Option<AsyncSmtpConnection>,
}

impl Session<'_> {
    /// The SMTP transaction: MAIL, RCPT, DATA and the message. `Ok` carries the server's reply
    /// to the message (often its queue id): from then on the relay has it.
    pub async fn send(&mut self, message: &Message) -> Result<String, SendError> {
        let Some(connection) = self.connection.as_mut() else {
            return Err(SendError::Temporary(format!(
                "the {} relay connection was lost",
                self.relay.name
            )));
        };
        let bytes = message.formatted();
        let sent = tokio::time::timeout(
            self.relay.timeout,
            connection.send(message.envelope(), &bytes),
        )
        .await;
        let failure = match sent {
            Ok(Ok(response)) => return Ok(response.message().collect::<Vec<_>>().join(" ")),
            Ok(Err(error)) => classify(&error),
            Err(_) => self.relay.too_slow("finish the send"),
        };
        // Whatever the relay said, the connection is in an unknown state: never reused.
        self.connection = None;
        Err(failure)
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if connection.has_broken() {
            return;
        }
        let mut idle = self.relay.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.relay.pool_size {
            idle.push((connection, Instant::now()));
        }
    }
}

/// The relays of the fleet.
pub struct Mailer {
    email: Relay,
    pec: Option<Relay>,
}

impl Mailer {
    pub fn new(email: Relay, pec: Option<Relay>) -> Mailer {
        Mailer { email, pec }
    }

    pub fn from_settings(settings: &SmtpSettings) -> Result<Mailer, MailerError> {
        let timeout = Duration::from_secs(settings.timeout_secs);
        let email = Relay::new(&RelaySpec {
            name: "SMTP",
            host: &settings.host,
            port: settings.port,
            tls: settings.tls,
            username: &settings.username,
            password: settings.password(),
            from: &settings.from,
            from_setting: "smtp.from",
            timeout,
            pool_size: settings.pool_size,
        })?;
        let pec = settings
            .pec
            .as_ref()
            .map(|pec: &PecRelaySettings| {
                Relay::new(&RelaySpec {
                    name: "PEC",
                    host: &pec.host,
                    port: pec.port,
                    tls: pec.tls,
                    username: &pec.username,
                    password: pec.password(),
                    from: &pec.from,
                    from_setting: "smtp.pec.from",
                    timeout,
                    pool_size: settings.pool_size,
                })
            })
            .transpose()?;
        Ok(Mailer { email, pec })
    }

    pub fn has_pec(&self) -> bool {
        self.pec.is_some()
    }

    /// The relay of `channel`; PEC falls back to nothing, never silently to ordinary mail.
    pub fn relay(&self, channel: Channel) -> Option<&Relay> {
        match channel {
            Channel::Email => Some(&self.email),
            Channel::Pec => self.pec.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests;
