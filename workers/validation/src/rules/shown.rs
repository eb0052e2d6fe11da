//! File names as a message may show them: control characters blanked, every tax code and
//! email address a citizen put in the name masked, the length bounded.

use super::is_blank;
use sportello_shared::domain::email::mask_email;
use sportello_shared::domain::tax_code::{TaxCode, mask_tax_code};

/// File names are echoed in messages; a pathological one must not swamp them.
pub(super) const MAX_SHOWN_FILE_NAME_CHARS: usize = 80;

/// The file name as it may appear in a message: no control characters, no tax code or email
/// address a citizen put in the name, bounded length.
pub(super) fn shown_file_name(raw: &str) -> String {
    let cleaned: String = raw
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let masked = mask_tax_codes_in(&mask_emails_in(&cleaned));
    let mut shown: String = masked.chars().take(MAX_SHOWN_FILE_NAME_CHARS).collect();
    if masked.chars().count() > MAX_SHOWN_FILE_NAME_CHARS {
        shown.push('…');
    }
    if is_blank(&shown) {
        "senza nome".to_owned()
    } else {
        shown
    }
}

/// Masks every address-like stretch around an `@`, however it is glued to the rest of the name.
fn mask_emails_in(text: &str) -> String {
    const LOCAL_SYMBOLS: &str = ".!#$%&'*+/=?^_`{|}~-";
    let is_local = |c: char| c.is_ascii_alphanumeric() || LOCAL_SYMBOLS.contains(c);
    let is_domain = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut emitted = 0;
    let mut index = 0;
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
        out.extend(&chars[emitted..left]);
        out.push_str(&mask_email(&chars[left..right].iter().collect::<String>()));
        emitted = right;
        index = right;
    }
    out.extend(&chars[emitted..]);
    out
}

/// Masks every run of letters and digits that is a valid tax code ("RSSMRA80A01H501U_ci.pdf").
fn mask_tax_codes_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if TaxCode::parse(run).is_ok() {
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
