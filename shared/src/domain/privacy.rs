//! Free text about a message — an error's reason, a parser's complaint — may quote what the
//! citizen sent. Before such text reaches a log line or an operator's error queue, every token
//! shaped like a tax code or an email address is masked, whether or not it is a valid one.

use super::email::mask_email;
use super::tax_code::mask_tax_code;

/// `text` with every email-shaped stretch and every tax-code-shaped run masked; everything else
/// as it was. The one masker of the fleet: error reasons, relay replies, file names as shown.
pub fn scrub(text: &str) -> String {
    mask_tax_code_runs(&mask_email_runs(text))
}

/// Masks every address-shaped stretch around an `@`, however it is glued to what surrounds it
/// (`<mario@example.it>:`, `ci_mario@example.it.pdf`); a sentence's full stop stays.
fn mask_email_runs(text: &str) -> String {
    const LOCAL_SYMBOLS: &str = ".!#$%&'*+/=?^_`{|}~-";
    let is_local = |c: char| c.is_alphanumeric() || LOCAL_SYMBOLS.contains(c);
    let is_domain = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let (mut emitted, mut index) = (0, 0);
    while index < chars.len() {
        if chars[index] != '@' {
            index += 1;
            continue;
        }
        let mut left = index;
        while left > emitted && is_local(chars[left - 1]) {
            left -= 1;
        }
        let mut right = index + 1;
        while right < chars.len() && is_domain(chars[right]) {
            right += 1;
        }
        while right > index + 1 && matches!(chars[right - 1], '.' | '-') {
            right -= 1;
        }
        out.extend(&chars[emitted..left]);
        out.push_str(&mask_email(&chars[left..right].iter().collect::<String>()));
        emitted = right;
        index = right;
    }
    out.extend(&chars[emitted..]);
    out
}

/// Masks every run of letters and digits shaped like a tax code (`RSSMRA80A01H501U_ci.pdf`).
fn mask_tax_code_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if looks_like_tax_code(run) {
            out.push_str(&mask_tax_code(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
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
    fn addresses_in_relay_replies_are_masked() {
        let reply = "550 5.1.1 <mario.rossi@example.it>: Recipient address rejected (see \
                     giulia@example.org)";
        let masked = scrub(reply);
        assert!(
            !masked.contains("mario.rossi") && !masked.contains("giulia@"),
            "{masked}"
        );
        assert!(masked.contains("<m***@e***.it>"), "{masked}");
        assert!(masked.starts_with("550 5.1.1 <"));
    }

    #[test]
    fn personal_data_glued_into_a_file_name_is_masked() {
        let name = scrub("RSSMRA80A01H501U_ci_mario.rossi@example.it.pdf");
        assert!(!name.contains("RSSMRA80A01H501U"), "{name}");
        assert!(!name.contains("mario.rossi"), "{name}");
        assert!(name.ends_with(".pdf"), "{name}");
    }

    #[test]
    fn ordinary_text_passes_unchanged() {
        for text in [
            "practice 3c3339b1-b627-522e-9812-d1008c7164e9 does not exist",
            "unknown field `priorita`, expected one of `schema_version`, `idempotency_key`",
            "the submission is 70000 bytes, above the limit of 65536",
            "database: error returned from database: division by zero",
            "connection refused",
        ] {
            assert_eq!(scrub(text), text);
        }
    }
}
