//! Free text about a message — an error's reason, a parser's complaint — may quote what the
//! citizen sent. Before such text reaches a log line or an operator's error queue, every token
//! shaped like a tax code or an email address is masked, whether or not it is a valid one.

use super::email::mask_email;
use super::tax_code::mask_tax_code;

/// `text` with tax-code-shaped and email-shaped tokens masked; everything else as it was.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    for c in text.chars() {
        if is_token_char(c) {
            token.push(c);
        } else {
            push_masked(&mut out, &token);
            token.clear();
            out.push(c);
        }
    }
    push_masked(&mut out, &token);
    out
}

/// What an email address or a tax code can be made of.
fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-' | '@')
}

fn push_masked(out: &mut String, token: &str) {
    // A sentence's full stop is not part of an address.
    let body = token.trim_end_matches('.');
    let tail = &token[body.len()..];
    if looks_like_email(body) {
        out.push_str(&mask_email(body));
    } else if looks_like_tax_code(body) {
        out.push_str(&mask_tax_code(body));
    } else {
        out.push_str(body);
    }
    out.push_str(tail);
}

fn looks_like_email(token: &str) -> bool {
    match token.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.'),
        None => false,
    }
}

/// The shape of a codice fiscale (omocodia letters allowed in the digit places); the check
/// character is not verified: a mistyped tax code is personal data too.
fn looks_like_tax_code(token: &str) -> bool {
    const LETTERS: [usize; 9] = [0, 1, 2, 3, 4, 5, 8, 11, 15];
    let bytes = token.as_bytes();
    bytes.len() == 16
        && bytes.iter().enumerate().all(|(i, b)| {
            let b = b.to_ascii_uppercase();
            if LETTERS.contains(&i) {
                b.is_ascii_uppercase()
            } else {
                b.is_ascii_digit() || b"LMNPQRSTUV".contains(&b)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn a_parser_complaint_keeps_its_meaning_without_the_personal_data() {
        let complaint = "invalid type: string \"RSSMRA80A01H501U\", expected a map at line 1 \
                         column 40; applicant mario.rossi@example.it.";
        let scrubbed = scrub(complaint);
        assert!(!scrubbed.contains("RSSMRA80A01H501U"), "{scrubbed}");
        assert!(!scrubbed.contains("mario.rossi"), "{scrubbed}");
        assert!(
            scrubbed.starts_with("invalid type: string \"RSS"),
            "{scrubbed}"
        );
        assert!(scrubbed.contains("expected a map at line 1 column 40"));
        assert!(
            scrubbed.ends_with(".it."),
            "the full stop stays: {scrubbed}"
        );
    }

    #[test]
    fn omocodic_lower_case_and_wrong_check_characters_are_masked_too() {
        for code in ["BNCSFN80A01A7VQW", "rssmra80a01h501u", "RSSMRA80A01H501X"] {
            assert!(!scrub(&format!("tax code {code}")).contains(code), "{code}");
        }
    }

    #[test]
    fn ordinary_text_passes_unchanged() {
        for text in [
            "practice 3c3339b1-b627-522e-9812-d1008c7164e9 does not exist",
            "unknown field `priorita`, expected one of `schema_version`, `idempotency_key`",
            "the submission is 70000 bytes, above the limit of 65536",
            "database: error returned from database: division by zero",
        ] {
            assert_eq!(scrub(text), text);
        }
    }
}
