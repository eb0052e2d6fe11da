//! The type's data fields, each by its kind in the catalog: text, date, integer, decimal,
//! yes/no, email, tax code, IBAN. Fields the catalog does not name are left alone.

use super::applicant::tax_code_problem;
use super::{
    CAMPO_MANCANTE, CAMPO_NON_VALIDO, MAX_TEXT_FIELD_CHARS, Reasons, has_forbidden_chars, is_blank,
};
use serde_json::{Map, Value};
use sportello_shared::catalog::{FieldKind, FieldSpec, PracticeType};
use sportello_shared::domain::email::EmailAddress;
use sportello_shared::domain::tax_code::TaxCode;

pub(super) fn check_data(
    data: &Map<String, Value>,
    practice_type: &PracticeType,
    reasons: &mut Reasons,
) {
    // Keys the catalog does not know are left alone: they harm nobody and the back office
    // may still find them useful.
    for field in &practice_type.fields {
        let value = data.get(&field.name).filter(|value| match value {
            Value::Null => false,
            Value::String(text) => !is_blank(text),
            _ => true,
        });
        match value {
            None if field.required => reasons.add(
                CAMPO_MANCANTE,
                &field.name,
                format!("Manca il dato obbligatorio «{}».", field.label),
            ),
            None => {}
            Some(value) => {
                if let Err(problem) = check_value(field, value) {
                    reasons.add(
                        CAMPO_NON_VALIDO,
                        &field.name,
                        format!("Il dato «{}» non è valido: {problem}.", field.label),
                    );
                }
            }
        }
    }
}

/// The problem with a present value, as the end of an Italian sentence.
fn check_value(field: &FieldSpec, value: &Value) -> Result<(), String> {
    let text = value.as_str().map(str::trim);
    match field.kind {
        FieldKind::Text => match value.as_str() {
            Some(text) if has_forbidden_chars(text, true) => {
                Err("contiene caratteri non ammessi".to_owned())
            }
            Some(text) if text.trim().chars().count() > MAX_TEXT_FIELD_CHARS => Err(format!(
                "può contenere al massimo {MAX_TEXT_FIELD_CHARS} caratteri"
            )),
            Some(_) => Ok(()),
            None => Err("deve essere un testo".to_owned()),
        },
        FieldKind::Date => text.filter(|t| is_iso_date(t)).map(|_| ()).ok_or_else(|| {
            "va indicata una data esistente nel formato AAAA-MM-GG (per esempio 2025-03-31)"
                .to_owned()
        }),
        FieldKind::Integer => {
            let ok = match value {
                Value::Number(number) => number.is_i64() || number.is_u64(),
                Value::String(_) => text.is_some_and(is_integer_text),
                _ => false,
            };
            ok.then_some(())
                .ok_or_else(|| "deve essere un numero intero (per esempio 3)".to_owned())
        }
        FieldKind::Decimal => {
            let ok = match value {
                Value::Number(_) => true,
                Value::String(_) => text.is_some_and(is_decimal_text),
                _ => false,
            };
            ok.then_some(())
                .ok_or_else(|| "deve essere un numero (per esempio 12,50)".to_owned())
        }
        FieldKind::Boolean => value
            .is_boolean()
            .then_some(())
            .ok_or_else(|| "va indicato sì oppure no".to_owned()),
        FieldKind::Email => text
            .filter(|t| EmailAddress::parse(t).is_ok())
            .map(|_| ())
            .ok_or_else(|| "l'indirizzo email non è scritto correttamente".to_owned()),
        FieldKind::TaxCode => match text.map(TaxCode::parse) {
            Some(Ok(_)) => Ok(()),
            Some(Err(error)) => Err(tax_code_problem(&error)),
            None => Err("deve essere un codice fiscale di 16 caratteri".to_owned()),
        },
        FieldKind::Iban => text
            .filter(|t| iban_is_valid(t))
            .map(|_| ())
            .ok_or_else(|| {
                "controlli di averlo trascritto per intero e senza errori (per un conto italiano \
                 sono 27 caratteri, a partire da IT)"
                    .to_owned()
            }),
    }
}

fn is_integer_text(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `12`, `12.5`, `12,50`, `-3`: Italians write a decimal comma, forms often a point.
fn is_decimal_text(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once([',', '.']) {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && whole.len() <= 15 && fraction.is_none_or(digits)
}

/// `YYYY-MM-DD` naming a day that exists (leap years included).
pub(super) fn is_iso_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape_ok {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> u32 { text[range].parse().unwrap_or(0) };
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1 && (1..=days_in_month).contains(&day)
}

/// ISO 13616: country, two check digits, account; mod 97 of the rearranged number is 1.
fn iban_is_valid(raw: &str) -> bool {
    let iban: String = raw
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let bytes = iban.as_bytes();
    if !(15..=34).contains(&bytes.len())
        || !bytes[..2].iter().all(u8::is_ascii_uppercase)
        || !bytes[2..4].iter().all(u8::is_ascii_digit)
        || !bytes.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    // Italian (and San Marino) IBANs have a fixed length; others are left to their banks.
    if matches!(&iban[..2], "IT" | "SM") && bytes.len() != 27 {
        return false;
    }
    let remainder = bytes[4..].iter().chain(&bytes[..4]).fold(0u32, |acc, &b| {
        if b.is_ascii_digit() {
            (acc * 10 + u32::from(b - b'0')) % 97
        } else {
            (acc * 100 + u32::from(b - b'A' + 10)) % 97
        }
    });
    remainder == 1
}
