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
mod tests {
    //! Classification is checked against real lettre errors: a scripted SMTP peer on the
    //! loopback answers what each case needs.

    use super::*;
    use crate::letter::{self, Letter};
    use crate::templates::Rendered;
    use sportello_shared::domain::email::EmailAddress;
    use std::sync::Arc;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    /// How the peer answers RCPT TO.
    #[derive(Clone, Copy)]
    enum Peer {
        Rcpt(&'static str),
        /// Accepts the connection and never says a word.
        Mute,
    }

    /// What the peer heard: `connect` for each connection, then each command's verb.
    type Heard = Arc<std::sync::Mutex<Vec<String>>>;

    async fn serve(peer: Peer) -> (u16, Heard) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let heard = Heard::default();
        let log = heard.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                log.lock().unwrap().push("connect".into());
                let log = log.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let rcpt = match peer {
                        Peer::Mute => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            return;
                        }
                        Peer::Rcpt(reply) => reply,
                    };
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 peer ESMTP\r\n").await;
                    let mut in_data = false;
                    while let Ok(Some(line)) = lines.next_line().await {
                        let reply: &str = if in_data {
                            if line != "." {
                                continue;
                            }
                            in_data = false;
                            "250 2.0.0 queued as 42"
                        } else {
                            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                            log.lock().unwrap().push(verb.clone());
                            match verb.as_str() {
                                "EHLO" | "HELO" => "250 peer",
                                "MAIL" | "RSET" | "NOOP" => "250 2.0.0 ok",
                                "RCPT" => rcpt,
                                "DATA" => {
                                    in_data = true;
                                    "354 go ahead"
                                }
                                "QUIT" => {
                                    let _ = write.write_all(b"221 bye\r\n").await;
                                    return;
                                }
                                _ => "502 5.5.2 what?",
                            }
                        };
                        if write
                            .write_all(format!("{reply}\r\n").as_bytes())
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        (port, heard)
    }

    fn relay(port: u16, timeout: Duration) -> Relay {
        Relay::new(&RelaySpec {
            name: "SMTP",
            host: "127.0.0.1",
            port,
            tls: SmtpTls::None,
            username: "",
            password: "",
            from: "Comune di Prova <noreply@comune.example.it>",
            from_setting: "smtp.from",
            timeout,
            pool_size: 2,
        })
        .unwrap()
    }

    fn message(relay: &Relay) -> Message {
        let to = letter::mailbox(
            "Mario Rossi",
            &EmailAddress::parse("mario.rossi@example.it").unwrap(),
        )
        .unwrap();
        let rendered = Rendered {
            subject: "Prova".into(),
            text: "Prova\n".into(),
            html: "<p>Prova</p>".into(),
        };
        letter::compose(&Letter {
            from: relay.from(),
            reply_to: None,
            to: &to,
            message_id: "<prova@comune.example.it>",
            rendered: &rendered,
            attachments: &[],
        })
        .unwrap()
    }

    async fn send_to(peer: Peer, timeout: Duration) -> Result<String, SendError> {
        let relay = relay(serve(peer).await.0, timeout);
        let message = message(&relay);
        relay.send(&message).await
    }

    #[tokio::test]
    async fn an_accepted_message_is_sent() {
        let reply = send_to(Peer::Rcpt("250 2.1.5 ok"), Duration::from_secs(5))
            .await
            .unwrap();
        assert!(reply.contains("queued as 42"), "{reply}");
    }

    #[tokio::test]
    async fn connecting_says_nothing_of_the_message_and_the_connection_is_reused() {
        let (port, heard) = serve(Peer::Rcpt("250 2.1.5 ok")).await;
        let relay = relay(port, Duration::from_secs(5));
        let mut session = relay.connect().await.unwrap();
        assert_eq!(*heard.lock().unwrap(), ["connect", "EHLO"]);
        session.send(&message(&relay)).await.unwrap();
        assert_eq!(
            *heard.lock().unwrap(),
            ["connect", "EHLO", "MAIL", "RCPT", "DATA"]
        );
        drop(session);
        relay.send(&message(&relay)).await.unwrap();
        let heard = heard.lock().unwrap();
        assert_eq!(
            heard.iter().filter(|v| *v == "connect").count(),
            1,
            "{heard:?}"
        );
        assert_eq!(
            heard[5], "NOOP",
            "an idle connection is checked before reuse"
        );
    }

    #[tokio::test]
    async fn a_connection_that_failed_is_not_reused() {
        let (port, heard) = serve(Peer::Rcpt("451 4.3.0 try again later")).await;
        let relay = relay(port, Duration::from_secs(5));
        assert!(relay.send(&message(&relay)).await.is_err());
        assert!(relay.send(&message(&relay)).await.is_err());
        let heard = heard.lock().unwrap();
        assert_eq!(
            heard.iter().filter(|v| *v == "connect").count(),
            2,
            "{heard:?}"
        );
    }

    #[tokio::test]
    async fn a_5xx_reply_is_permanent() {
        let err = send_to(
            Peer::Rcpt("550 5.1.1 mailbox unavailable"),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(err.is_permanent(), "{err:?}");
        assert!(err.to_string().contains("mailbox unavailable"), "{err}");
    }

    #[tokio::test]
    async fn a_4xx_reply_is_temporary() {
        let err = send_to(
            Peer::Rcpt("451 4.3.0 try again later"),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, SendError::Temporary(_)), "{err:?}");
        assert!(err.to_string().contains("try again later"), "{err}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_temporary() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let relay = relay(port, Duration::from_secs(5));
        let err = relay.send(&message(&relay)).await.unwrap_err();
        assert!(matches!(err, SendError::Temporary(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_silent_relay_is_cut_off_by_our_timeout() {
        let started = std::time::Instant::now();
        let err = send_to(Peer::Mute, Duration::from_millis(700))
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Temporary(_)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn only_5xx_codes_are_permanent() {
        use lettre::transport::smtp::response::{Category, Detail};
        let code = |severity| Code::new(severity, Category::MailSystem, Detail::Zero);
        assert!(is_permanent(Some(code(
            Severity::PermanentNegativeCompletion
        ))));
        assert!(!is_permanent(Some(code(
            Severity::TransientNegativeCompletion
        ))));
        assert!(!is_permanent(None), "no reply code: a connection problem");
    }

    #[test]
    fn a_bad_sender_setting_is_named() {
        let err = Relay::new(&RelaySpec {
            name: "SMTP",
            host: "127.0.0.1",
            port: 25,
            tls: SmtpTls::None,
            username: "",
            password: "",
            from: "Comune di Prova",
            from_setting: "smtp.from",
            timeout: Duration::from_secs(1),
            pool_size: 1,
        })
        .err()
        .unwrap();
        assert!(
            err.to_string().starts_with("smtp.from `Comune di Prova`"),
            "{err}"
        );
    }
}
