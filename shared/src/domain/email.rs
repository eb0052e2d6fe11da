//! Email addresses of citizens (ordinary mail and PEC), parsed once at the edge.
//!
//! The check is deliberately pragmatic rather than a full RFC 5322 parser: it accepts the
//! addresses real mail providers hand out and refuses everything that could hurt downstream.
//! Above all, an [`EmailAddress`] can never contain whitespace or control characters, so it can
//! be written into a mail header without any chance of header injection.
//!
//! Addresses are personal data: `Display` and `Debug` print a masked form; only
//! [`EmailAddress::as_str`] and serialization give the full value.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The longest address that fits in an SMTP forward-path (RFC 5321).
pub const MAX_EMAIL_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the email address is empty")]
    Empty,
    #[error("the email address is longer than {MAX_EMAIL_LEN} characters")]
    TooLong,
    #[error("the email address contains whitespace or control characters")]
    ForbiddenCharacter,
    #[error("the email address must contain exactly one @")]
    NotOneAt,
    #[error("the part before the @ is empty, too long, or has characters not allowed there")]
    BadLocalPart,
    #[error("the domain after the @ is not a valid internet domain")]
    BadDomain,
}

/// A syntactically valid email address; the domain is lowercased, the local part kept as typed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<EmailAddress, EmailError> {
        // Control characters are refused before trimming: a trailing CR LF is a sign of someone
        // trying to smuggle headers, not of a careless paste.
        if raw.chars().any(char::is_control) {
            return Err(EmailError::ForbiddenCharacter);
        }
        let address = raw.trim_matches(' ');
        if address.is_empty() {
            return Err(EmailError::Empty);
        }
        if address.chars().any(char::is_whitespace) {
            return Err(EmailError::ForbiddenCharacter);
        }
        if address.len() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = match address.split_once('@') {
            Some((local, domain)) if !domain.contains('@') => (local, domain),
            _ => return Err(EmailError::NotOneAt),
        };
        if !local_part_is_valid(local) {
            return Err(EmailError::BadLocalPart);
        }
        if !domain_is_valid(domain) {
            return Err(EmailError::BadDomain);
        }
        Ok(EmailAddress(format!(
            "{local}@{}",
            domain.to_ascii_lowercase()
        )))
    }

    /// The full address: for the mail transport and the citizen's own folder only.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain part, lowercase.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

/// Dot-atom of RFC 5322: atext characters, dots only between them. Quoted local parts are
/// refused: no provider a citizen uses hands them out, and they are a classic injection vector.
fn local_part_is_valid(local: &str) -> bool {
    const ATEXT_SYMBOLS: &[u8] = b"!#$%&'*+-/=?^_`{|}~";
    !local.is_empty()
        && local.len() <= MAX_LOCAL_LEN
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || ATEXT_SYMBOLS.contains(&b))
        })
}

/// A DNS host name with at least two labels. Internationalised domains must arrive in their
/// ASCII (punycode) form, which is what mail transports expect anyway.
fn domain_is_valid(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    // An all-digit top-level label would make the domain look like an IP address.
    let tld_ok = labels
        .last()
        .is_some_and(|tld| tld.len() >= 2 && !tld.bytes().all(|b| b.is_ascii_digit()));
    labels.len() >= 2 && labels.iter().all(label_ok) && tld_ok
}

/// Masks a raw string that is (or might be) an email address, for logs and messages:
/// `mario.rossi@example.it` becomes `m***@e***.it`.
///
/// Only the first character of each part and an alphanumeric top-level domain survive;
/// anything unusual (control characters, no @) is masked whole.
pub fn mask_email(raw: &str) -> String {
    let raw = raw.trim();
    let first_visible = |part: &str| -> String {
        match part.chars().next() {
            Some(c) if c.is_ascii_alphanumeric() => format!("{c}***"),
            _ => "***".to_owned(),
        }
    };
    let Some((local, domain)) = raw.rsplit_once('@') else {
        return "***".to_owned();
    };
    let masked_domain = match domain.rsplit_once('.') {
        Some((name, tld))
            if !tld.is_empty()
                && tld.len() <= 24
                && tld.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            format!("{}.{}", first_visible(name), tld.to_ascii_lowercase())
        }
        _ => first_visible(domain),
    };
    format!("{}@{masked_domain}", first_visible(local))
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_email(&self.0))
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", mask_email(&self.0))
    }
}

impl FromStr for EmailAddress {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EmailAddress::parse(s)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        EmailAddress::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(address: EmailAddress) -> String {
        address.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_are_accepted() {
        for address in [
            "mario.rossi@example.it",
            "m@e.it",
            "anna+sportello@posta.comune.bergamo.it",
            "o'brien@example.co.uk",
            "x_y-z@sub-domain.example.com",
            "info@pec.xn--comune-bza.it",
            "utente@mail.example.museum",
        ] {
            assert!(EmailAddress::parse(address).is_ok(), "{address}");
        }
    }

    #[test]
    fn domain_is_lowercased_and_blanks_trimmed() {
        let address = EmailAddress::parse("  Mario.Rossi@Example.IT ").unwrap();
        assert_eq!(address.as_str(), "Mario.Rossi@example.it");
        assert_eq!(address.domain(), "example.it");
    }

    #[test]
    fn header_injection_is_impossible() {
        for address in [
            "mario@example.it\r\nBcc: victim@example.com",
            "mario@example.it\n",
            "mario@example.it\r",
            "\tmario@example.it",
            "mario@exa\0mple.it",
            "mario rossi@example.it",
            "mario@example.it\u{85}",
            "mario@example.it\u{2028}",
            "mario\u{a0}rossi@example.it",
        ] {
            assert_eq!(
                EmailAddress::parse(address),
                Err(EmailError::ForbiddenCharacter),
                "{address:?}"
            );
        }
    }

    #[test]
    fn malformed_addresses_are_refused() {
        use EmailError::*;
        let cases = [
            ("", Empty),
            ("   ", Empty),
            ("mario.example.it", NotOneAt),
            ("mario@rossi@example.it", NotOneAt),
            ("@example.it", BadLocalPart),
            (".mario@example.it", BadLocalPart),
            ("mario.@example.it", BadLocalPart),
            ("ma..rio@example.it", BadLocalPart),
            ("\"mario\"@example.it", BadLocalPart),
            ("mario(x)@example.it", BadLocalPart),
            ("màrio@example.it", BadLocalPart),
            ("mario@", BadDomain),
            ("mario@localhost", BadDomain),
            ("mario@-example.it", BadDomain),
            ("mario@example-.it", BadDomain),
            ("mario@example..it", BadDomain),
            ("mario@example.it.", BadDomain),
            ("mario@exa_mple.it", BadDomain),
            ("mario@192.168.0.1", BadDomain),
            ("mario@[192.168.0.1]", BadDomain),
            ("mario@example.i", BadDomain),
        ];
        for (address, expected) in cases {
            assert_eq!(EmailAddress::parse(address), Err(expected), "{address:?}");
        }
    }

    #[test]
    fn length_limits_hold() {
        let long_local = format!("{}@example.it", "a".repeat(65));
        assert_eq!(
            EmailAddress::parse(&long_local),
            Err(EmailError::BadLocalPart)
        );
        let long_label = format!("a@{}.it", "b".repeat(64));
        assert_eq!(EmailAddress::parse(&long_label), Err(EmailError::BadDomain));
        let exactly = |last_label: usize| {
            format!(
                "a@{}.{}.{}.{}.it",
                "c".repeat(63),
                "d".repeat(63),
                "e".repeat(63),
                "f".repeat(last_label)
            )
        };
        assert_eq!(exactly(57).len(), MAX_EMAIL_LEN);
        assert!(EmailAddress::parse(&exactly(57)).is_ok());
        assert_eq!(EmailAddress::parse(&exactly(58)), Err(EmailError::TooLong));
    }

    #[test]
    fn display_and_debug_are_masked() {
        let address = EmailAddress::parse("mario.rossi@example.it").unwrap();
        assert_eq!(address.to_string(), "m***@e***.it");
        let debug = format!("{address:?}");
        assert_eq!(debug, "EmailAddress(m***@e***.it)");
        assert!(!debug.contains("rossi") && !debug.contains("example"));
    }

    #[test]
    fn raw_masking_never_leaks() {
        assert_eq!(mask_email("mario.rossi@example.it"), "m***@e***.it");
        assert_eq!(mask_email("a@pec.comune.bergamo.it"), "a***@p***.it");
        assert_eq!(mask_email("not an address"), "***");
        assert_eq!(mask_email(""), "***");
        assert_eq!(mask_email("@"), "***@***");
        let nasty = mask_email("\r\nBcc: x@evil.example\r\n.com");
        assert!(
            !nasty.contains('\n') && !nasty.contains("evil"),
            "{nasty:?}"
        );
        let nasty = mask_email("x@y.c\r\nom");
        assert!(!nasty.contains('\r'), "{nasty:?}");
    }

    #[test]
    fn serde_is_the_full_address_and_goes_through_parse() {
        let address = EmailAddress::parse("mario.rossi@example.it").unwrap();
        let json = serde_json::to_string(&address).unwrap();
        assert_eq!(json, "\"mario.rossi@example.it\"");
        assert_eq!(
            serde_json::from_str::<EmailAddress>(&json).unwrap(),
            address
        );
        assert!(serde_json::from_str::<EmailAddress>("\"a@b.it\\r\\nBcc: c@d.it\"").is_err());
    }
}
