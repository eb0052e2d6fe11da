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
