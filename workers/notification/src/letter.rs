//! From a rendered email to a MIME message: plain text and HTML as alternatives, result
//! documents as attachments, and headers nobody can smuggle anything into.
//!
//! Whatever reaches a header passes [`header_text`] first, which refuses line breaks and every
//! other control character instead of cleaning them: a name or a subject carrying CR LF is an
//! attack, not a typo. Addresses come only from a parsed [`EmailAddress`] (which cannot hold
//! whitespace), and names and subjects go through lettre's builder, which encodes them
//! (RFC 2047), so a quote or a comma in a name stays inside the name.

use crate::templates::Rendered;
use lettre::Address;
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart};
use sportello_shared::domain::email::EmailAddress;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LetterError {
    #[error(
        "{0} contains a line break or another control character: refused, it would go into a mail header"
    )]
    HeaderInjection(&'static str),
    #[error("the mail library refuses the address: {0}")]
    Address(String),
    #[error("attachment {file_name}: media type `{media_type}` is not valid")]
    MediaType {
        file_name: String,
        media_type: String,
    },
    #[error("the message cannot be built: {0}")]
    Build(String),
}

/// `value` if it can go into a header as it is; refused otherwise.
pub fn header_text<'a>(field: &'static str, value: &'a str) -> Result<&'a str, LetterError> {
    if value.chars().any(char::is_control) {
        return Err(LetterError::HeaderInjection(field));
    }
    Ok(value)
}

/// The citizen's mailbox: their name (when they gave one) and their parsed address.
pub fn mailbox(name: &str, address: &EmailAddress) -> Result<Mailbox, LetterError> {
    let name = header_text("the recipient's name", name)?.trim();
    let address: Address = address
        .as_str()
        .parse()
        .map_err(|e: lettre::address::AddressError| LetterError::Address(e.to_string()))?;
    Ok(Mailbox::new(
        (!name.is_empty()).then(|| name.to_owned()),
        address,
    ))
}

/// The Message-ID of the email about `event` of a practice: the same on every attempt, so that
/// a copy sent again after a crash is recognisably the same email.
pub fn message_id(practice_id: Uuid, event: &str, domain: &str) -> String {
    format!("<{practice_id}.{event}@{domain}>")
}

/// A result document to attach.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub file_name: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// Everything an email needs besides its transport.
#[derive(Debug, Clone, Copy)]
pub struct Letter<'a> {
    pub from: &'a Mailbox,
    /// Where a citizen's reply should go (the municipality's contact address).
    pub reply_to: Option<&'a Mailbox>,
    pub to: &'a Mailbox,
    pub message_id: &'a str,
    pub rendered: &'a Rendered,
    pub attachments: &'a [Attachment],
}

/// RFC 3834: tells auto-responders and vacation replies not to answer.
const AUTO_SUBMITTED: HeaderName = HeaderName::new_from_ascii_str("Auto-Submitted");

pub fn compose(letter: &Letter<'_>) -> Result<Message, LetterError> {
    let subject = header_text("the subject", &letter.rendered.subject)?;
    let message_id = header_text("the Message-ID", letter.message_id)?;
    let mut builder = Message::builder()
        .message_id(Some(message_id.to_owned()))
        .from(letter.from.clone())
        .to(letter.to.clone())
        .subject(subject)
        .date_now()
        .raw_header(HeaderValue::new(AUTO_SUBMITTED, "auto-generated".into()));
    if let Some(reply_to) = letter.reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    let body = MultiPart::alternative_plain_html(
        letter.rendered.text.clone(),
        letter.rendered.html.clone(),
    );
    let message = if letter.attachments.is_empty() {
        builder.multipart(body)
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for attachment in letter.attachments {
            let file_name = header_text("an attachment's file name", &attachment.file_name)?;
            let content_type =
                ContentType::parse(&attachment.media_type).map_err(|_| LetterError::MediaType {
                    file_name: file_name.to_owned(),
                    media_type: attachment.media_type.clone(),
                })?;
            mixed = mixed.singlepart(
                MimeAttachment::new(file_name.to_owned())
                    .body(attachment.bytes.clone(), content_type),
            );
        }
        builder.multipart(mixed)
    };
    message.map_err(|e| LetterError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(subject: &str) -> Rendered {
        Rendered {
            subject: subject.to_owned(),
            text: "Gentile Mario,\nla Sua pratica è registrata.\n".into(),
            html: "<p>Gentile Mario, la Sua pratica è registrata.</p>".into(),
        }
    }

    fn from() -> Mailbox {
        "Comune di Bergamo <noreply@comune.bergamo.it>"
            .parse()
            .unwrap()
    }

    fn to(name: &str) -> Result<Mailbox, LetterError> {
        mailbox(
            name,
            &EmailAddress::parse("mario.rossi@example.it").unwrap(),
        )
    }

    fn formatted(message: &Message) -> String {
        String::from_utf8(message.formatted()).unwrap()
    }

    #[test]
    fn a_letter_has_both_parts_a_stable_id_and_one_recipient() {
        let id = message_id(Uuid::from_u128(42), "registered", "comune.bergamo.it");
        let to = to("Mario Rossi").unwrap();
        let rendered = rendered("Ricevuta di protocollo n. 0000042 del 14/03/2026");
        let message = compose(&Letter {
            from: &from(),
            reply_to: Some(&"sportello@comune.bergamo.it".parse().unwrap()),
            to: &to,
            message_id: &id,
            rendered: &rendered,
            attachments: &[],
        })
        .unwrap();
        let source = formatted(&message);
        assert!(
            source.contains(&format!("Message-ID: {id}\r\n")),
            "{source}"
        );
        assert!(source.contains("multipart/alternative"));
        assert!(source.contains("text/plain; charset=utf-8"));
        assert!(source.contains("text/html; charset=utf-8"));
        assert!(source.contains("Auto-Submitted: auto-generated\r\n"));
        assert!(source.contains("Reply-To: sportello@comune.bergamo.it\r\n"));
        assert!(source.contains("Subject: Ricevuta di protocollo n. 0000042 del 14/03/2026\r\n"));
        assert_eq!(message.envelope().to().len(), 1);
        assert_eq!(
            message.envelope().to()[0].to_string(),
            "mario.rossi@example.it"
        );
    }

    #[test]
    fn message_ids_are_stable_per_practice_and_event() {
        let practice = Uuid::parse_str("6f1c0a52-1b2c-4d3e-8f40-5a6b7c8d9e0f").unwrap();
        let first = message_id(practice, "registered", "comune.bergamo.it");
        assert_eq!(
            first,
            "<6f1c0a52-1b2c-4d3e-8f40-5a6b7c8d9e0f.registered@comune.bergamo.it>"
        );
        assert_eq!(
            first,
            message_id(practice, "registered", "comune.bergamo.it")
        );
        assert_ne!(first, message_id(practice, "rejected", "comune.bergamo.it"));
        assert_ne!(
            first,
            message_id(Uuid::from_u128(1), "registered", "comune.bergamo.it")
        );
        assert_ne!(
            message_id(practice, "integration_requested", "comune.bergamo.it"),
            message_id(practice, "integration_requested.2", "comune.bergamo.it")
        );
    }

    #[test]
    fn header_injection_is_refused() {
        for name in [
            "Mario\r\nBcc: victim@example.com",
            "Mario\nBcc: victim@example.com",
            "Mario\rRossi",
            "Mario\u{0}Rossi",
            "Mario\u{85}Rossi",
        ] {
            assert_eq!(
                to(name).unwrap_err(),
                LetterError::HeaderInjection("the recipient's name"),
                "{name:?}"
            );
        }
        // The address itself cannot carry anything: it is refused when parsed.
        assert!(EmailAddress::parse("mario@example.it\r\nBcc: victim@example.com").is_err());

        let to = to("Mario Rossi").unwrap();
        let id = message_id(Uuid::from_u128(7), "registered", "comune.bergamo.it");
        let bad_subject = rendered("Ricevuta\r\nBcc: victim@example.com");
        let letter = Letter {
            from: &from(),
            reply_to: None,
            to: &to,
            message_id: &id,
            rendered: &bad_subject,
            attachments: &[],
        };
        assert_eq!(
            compose(&letter).unwrap_err(),
            LetterError::HeaderInjection("the subject")
        );

        let fine = rendered("Esito");
        let attachments = [Attachment {
            file_name: "esito.pdf\r\nContent-Type: text/html".into(),
            media_type: "application/pdf".into(),
            bytes: b"%PDF-1.7".to_vec(),
        }];
        let letter = Letter {
            rendered: &fine,
            attachments: &attachments,
            ..letter
        };
        assert_eq!(
            compose(&letter).unwrap_err(),
            LetterError::HeaderInjection("an attachment's file name")
        );
        let bad_id = "<x@y>\r\nBcc: victim@example.com".to_owned();
        let letter = Letter {
            message_id: &bad_id,
            attachments: &[],
            ..letter
        };
        assert_eq!(
            compose(&letter).unwrap_err(),
            LetterError::HeaderInjection("the Message-ID")
        );
    }

    #[test]
    fn awkward_names_and_subjects_are_encoded_not_interpreted() {
        let to = to("Rossi, Mario \"Bcc: victim@example.com\" <evil@example.com>").unwrap();
        let id = message_id(Uuid::from_u128(9), "rejected", "comune.bergamo.it");
        let rendered = rendered("La Sua pratica non è stata accettata");
        let message = compose(&Letter {
            from: &from(),
            reply_to: None,
            to: &to,
            message_id: &id,
            rendered: &rendered,
            attachments: &[],
        })
        .unwrap();
        // One recipient, the real one, whatever the name says.
        let recipients: Vec<String> = message
            .envelope()
            .to()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(recipients, ["mario.rossi@example.it"]);
        let source = formatted(&message);
        let headers = &source[..source.find("\r\n\r\n").unwrap()];
        assert!(!headers.contains("\r\nBcc:"), "{headers}");
        // Non-ASCII is written as encoded words, never as raw bytes in a header.
        assert!(headers.is_ascii(), "{headers}");
        assert!(
            headers.contains("Subject: La Sua pratica non =?utf-8?"),
            "{headers}"
        );
    }

    #[test]
    fn attachments_make_a_mixed_message() {
        let to = to("").unwrap();
        let id = message_id(Uuid::from_u128(3), "completed", "comune.bergamo.it");
        let rendered = rendered("La Sua pratica è conclusa");
        let attachments = [Attachment {
            file_name: "certificato.pdf".into(),
            media_type: "application/pdf".into(),
            bytes: b"%PDF-1.7 certificato".to_vec(),
        }];
        let message = compose(&Letter {
            from: &from(),
            reply_to: None,
            to: &to,
            message_id: &id,
            rendered: &rendered,
            attachments: &attachments,
        })
        .unwrap();
        let source = formatted(&message);
        assert!(source.contains("multipart/mixed"));
        assert!(source.contains("multipart/alternative"));
        assert!(source.contains("filename=\"certificato.pdf\""), "{source}");
        assert!(source.contains("To: mario.rossi@example.it\r\n"));

        let wrong = [Attachment {
            media_type: "not a type".into(),
            ..attachments[0].clone()
        }];
        let err = compose(&Letter {
            from: &from(),
            reply_to: None,
            to: &to,
            message_id: &id,
            rendered: &rendered,
            attachments: &wrong,
        })
        .unwrap_err();
        assert!(matches!(err, LetterError::MediaType { .. }), "{err}");
    }
}
