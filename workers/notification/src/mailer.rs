//! The SMTP relays: the ordinary one, and the PEC provider's when there is one.
//!
//! Each relay is a lettre transport with a connection pool (idle connections are checked with
//! NOOP before reuse, so a relay that restarted costs nothing but a reconnect). lettre's own
//! timeout covers only connecting, so every send is also bounded by ours: a relay that accepts
//! the connection and then says nothing must not hold a worker forever.
//!
//! A failure is *permanent* only when the relay says so with a 5xx reply (no such mailbox,
//! message refused): sending again would fail the same way. Everything else — 4xx replies,
//! refused or dropped connections, TLS trouble, our timeout — is *temporary*.

use lettre::message::Mailbox;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::response::{Code, Severity};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;
use sportello_shared::config::{PecRelaySettings, SmtpSettings, SmtpTls};
use std::time::Duration;

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

/// One relay: its pooled transport, the sender it writes as, and our bound on a send.
pub struct Relay {
    name: &'static str,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
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
        let tls = match spec.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(tls_parameters()?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(spec.host)
            .port(spec.port)
            .tls(tls)
            .timeout(Some(spec.timeout))
            .pool_config(PoolConfig::new().max_size(spec.pool_size));
        if !spec.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                spec.username.to_owned(),
                spec.password.to_owned(),
            ));
        }
        Ok(Relay {
            name: spec.name,
            transport: builder.build(),
            from,
            timeout: spec.timeout,
        })
    }

    /// The sender the messages of this relay must carry.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Hands `message` to the relay; `Ok` carries the relay's reply (often its queue id).
    pub async fn send(&self, message: Message) -> Result<String, SendError> {
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Err(_) => Err(SendError::Temporary(format!(
                "the {} relay did not finish the send within {} s",
                self.name,
                self.timeout.as_secs_f32()
            ))),
            Ok(Err(error)) => Err(classify(&error)),
            Ok(Ok(response)) => Ok(response.message().collect::<Vec<_>>().join(" ")),
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
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    /// How the peer answers RCPT TO.
    #[derive(Clone, Copy)]
    enum Peer {
        Rcpt(&'static str),
        /// Accepts the connection and never says a word.
        Mute,
    }

    async fn serve(peer: Peer) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
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
                            match line.get(..4).unwrap_or("").to_ascii_uppercase().as_str() {
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
        port
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
        let relay = relay(serve(peer).await, timeout);
        let message = message(&relay);
        relay.send(message).await
    }

    #[tokio::test]
    async fn an_accepted_message_is_sent() {
        let reply = send_to(Peer::Rcpt("250 2.1.5 ok"), Duration::from_secs(5))
            .await
            .unwrap();
        assert!(reply.contains("queued as 42"), "{reply}");
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
        let err = relay.send(message(&relay)).await.unwrap_err();
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
