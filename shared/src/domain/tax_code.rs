//! The Italian tax code (codice fiscale) of a natural person, parsed once at the edge.
//!
//! A [`TaxCode`] can only be built through [`TaxCode::parse`], so holding one means the code has
//! the right shape, a plausible birth month and day, and a matching check character. Omocodic
//! codes (the Revenue Agency replaces digits with letters to tell apart people who would
//! otherwise share a code) are accepted.
//!
//! Tax codes are personal data: `Display` and `Debug` print a masked form so that a code can
//! never end up in a log line by accident. Only [`TaxCode::as_str`] and serialization (needed to
//! hand the code to the register and the back offices) give the full value.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Length of every personal tax code.
pub const TAX_CODE_LEN: usize = 16;

/// The positions (0-based) that hold digits in the base code; omocodia may turn them into letters.
const NUMERIC_POSITIONS: [usize; 7] = [6, 7, 9, 10, 12, 13, 14];

/// Letters standing for 0..9 in omocodic codes, in order.
const OMOCODIA_LETTERS: &[u8; 10] = b"LMNPQRSTUV";

/// Birth-month letters, January to December.
const MONTH_LETTERS: &[u8; 12] = b"ABCDEHLMPRST";

/// Values of a character in an odd (1-based) position, digits then letters, from the official
/// definition (DM 12/03/1974). Digits weigh like the letter in the same place of the alphabet.
const ODD_VALUES: [u8; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxCodeError {
    #[error("a tax code has 16 characters, found {found}")]
    WrongLength { found: usize },
    /// The character itself is left out on purpose: errors end up in logs.
    #[error("tax code character at position {position} must be {expected}")]
    BadCharacter {
        /// 1-based, as a citizen counts.
        position: usize,
        expected: &'static str,
    },
    #[error("tax code birth month letter is not a month")]
    BadMonth,
    #[error("tax code birth day must be 1-31 (men) or 41-71 (women)")]
    BadDay,
    #[error("tax code check character is {found}, the code requires {expected}")]
    BadCheckCharacter { expected: char, found: char },
}

/// The tax code as the folder files it: without blanks anywhere (a code copied from a card
/// printed in groups, `RSSMRA 80A01 H501U`, is the same code) and in capitals. Valid or not,
/// a practice is filed under this form, so that the citizen finds it — its rejection too —
/// under the code they really have.
pub fn normalise(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The longest raw tax code the folder takes at all: a real one has 16 characters, and
/// validation explains to the citizen what is wrong with anything up to this length; beyond
/// it the text is not an attempt at a tax code and cannot be an index key.
pub const MAX_RAW_TAX_CODE_CHARS: usize = 64;

/// A syntactically valid personal codice fiscale, uppercase, without surrounding blanks.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaxCode(String);

impl TaxCode {
    pub fn parse(raw: &str) -> Result<TaxCode, TaxCodeError> {
        let code = normalise(raw);
        let found = code.chars().count();
        if found != TAX_CODE_LEN {
            return Err(TaxCodeError::WrongLength { found });
        }
        // Same count of chars and bytes means every char is ASCII, so byte indexing is safe below.
        if code.len() != TAX_CODE_LEN {
            let position = code.chars().position(|c| !c.is_ascii()).unwrap_or(0) + 1;
            return Err(TaxCodeError::BadCharacter {
                position,
                expected: expected_at(position - 1),
            });
        }
        let bytes = code.as_bytes();
        for (index, &byte) in bytes.iter().enumerate() {
            let fits = if NUMERIC_POSITIONS.contains(&index) {
                byte.is_ascii_digit() || OMOCODIA_LETTERS.contains(&byte)
            } else {
                byte.is_ascii_uppercase()
            };
            if !fits {
                return Err(TaxCodeError::BadCharacter {
                    position: index + 1,
                    expected: expected_at(index),
                });
            }
        }
        if !MONTH_LETTERS.contains(&bytes[8]) {
            return Err(TaxCodeError::BadMonth);
        }
        let day = numeric_value(bytes[9]) * 10 + numeric_value(bytes[10]);
        if !(1..=31).contains(&day) && !(41..=71).contains(&day) {
            return Err(TaxCodeError::BadDay);
        }
        let expected = check_character(&bytes[..15]);
        if bytes[15] != expected {
            return Err(TaxCodeError::BadCheckCharacter {
                expected: char::from(expected),
                found: char::from(bytes[15]),
            });
        }
        Ok(TaxCode(code))
    }

    /// The full code: for the register, the back offices and the citizen's own folder only.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the Revenue Agency replaced at least one digit with a letter.
    pub fn is_omocodic(&self) -> bool {
        let bytes = self.0.as_bytes();
        NUMERIC_POSITIONS
            .iter()
            .any(|&index| !bytes[index].is_ascii_digit())
    }
}

/// The tax code a practice is filed under: [`normalise`]d, at most [`MAX_RAW_TAX_CODE_CHARS`]
/// characters, valid or not (a practice refused for its tax code is still the citizen's, under
/// the code they typed). The folder, the store, the tokens and the back offices carry this type,
/// so that every door compares the same form; like [`TaxCode`] it prints masked.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
#[serde(try_from = "String", into = "String")]
#[sqlx(transparent)]
pub struct FiledTaxCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{found} characters: a tax code has 16 (at most {MAX_RAW_TAX_CODE_CHARS} are taken, for validation to explain)"
)]
pub struct TooLongToFile {
    pub found: usize,
}

impl FiledTaxCode {
    /// The filed form of what a citizen or an operator typed.
    pub fn file(raw: &str) -> Result<FiledTaxCode, TooLongToFile> {
        let code = normalise(raw);
        let found = code.chars().count();
        if found > MAX_RAW_TAX_CODE_CHARS {
            return Err(TooLongToFile { found });
        }
        Ok(FiledTaxCode(code))
    }

    /// The folder named by an address or typed in a search box: letters and digits once the
    /// blanks are gone, or nothing a practice could be filed under.
    pub fn named(text: &str) -> Option<FiledTaxCode> {
        FiledTaxCode::file(text)
            .ok()
            .filter(|code| !code.0.is_empty() && code.0.chars().all(|c| c.is_ascii_alphanumeric()))
    }

    /// The full code: for the register, the back offices and the citizen's own folder only.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The valid tax code this is, if it is one.
    pub fn valid(&self) -> Result<TaxCode, TaxCodeError> {
        TaxCode::parse(&self.0)
    }
}

impl From<TaxCode> for FiledTaxCode {
    fn from(code: TaxCode) -> FiledTaxCode {
        FiledTaxCode(code.0)
    }
}

impl TryFrom<String> for FiledTaxCode {
    type Error = TooLongToFile;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        FiledTaxCode::file(&value)
    }
}

impl From<FiledTaxCode> for String {
    fn from(code: FiledTaxCode) -> String {
        code.0
    }
}

impl fmt::Display for FiledTaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_tax_code(&self.0))
    }
}

impl fmt::Debug for FiledTaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FiledTaxCode({})", mask_tax_code(&self.0))
    }
}

fn expected_at(index: usize) -> &'static str {
    if NUMERIC_POSITIONS.contains(&index) {
        "a digit (or its omocodia letter)"
    } else {
        "a letter"
    }
}

/// The digit a numeric position stands for, whether written as a digit or an omocodia letter.
fn numeric_value(byte: u8) -> u8 {
    if byte.is_ascii_digit() {
        byte - b'0'
    } else {
        OMOCODIA_LETTERS
            .iter()
            .position(|&letter| letter == byte)
            .map_or(0, |value| value as u8)
    }
}

/// The check character of the first 15 characters (uppercase ASCII letters and digits).
fn check_character(first_fifteen: &[u8]) -> u8 {
    let sum: u32 = first_fifteen
        .iter()
        .enumerate()
        .map(|(index, &byte)| {
            let ordinal = if byte.is_ascii_digit() {
                byte - b'0'
            } else {
                byte - b'A'
            };
            // Index 0 is position 1, which the algorithm calls odd.
            let value = if index % 2 == 0 {
                ODD_VALUES[usize::from(ordinal)]
            } else {
                ordinal
            };
            u32::from(value)
        })
        .sum();
    b'A' + (sum % 26) as u8
}

/// Masks a raw string that is (or might be) a tax code, for logs and messages.
///
/// Only the first three characters (from the surname, rarely identifying on their own) and the
/// last one are kept; short or odd strings are masked entirely since nothing about them is known.
pub fn mask_tax_code(raw: &str) -> String {
    let chars: Vec<char> = raw.trim().chars().collect();
    let shows_ends = chars.len() >= 8 && chars.iter().all(|c| c.is_ascii_alphanumeric());
    chars
        .iter()
        .enumerate()
        .map(|(index, &c)| {
            if shows_ends && (index < 3 || index + 1 == chars.len()) {
                c.to_ascii_uppercase()
            } else {
                '*'
            }
        })
        .collect()
}

impl fmt::Display for TaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_tax_code(&self.0))
    }
}

impl fmt::Debug for TaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaxCode({})", mask_tax_code(&self.0))
    }
}

impl FromStr for TaxCode {
    type Err = TaxCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaxCode::parse(s)
    }
}

impl TryFrom<String> for TaxCode {
    type Error = TaxCodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        TaxCode::parse(&value)
    }
}

impl From<TaxCode> for String {
    fn from(code: TaxCode) -> String {
        code.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An independent, table-free rendering of the check algorithm, so that the production
    /// tables are checked against something other than themselves.
    fn check_char_by_rule(first_fifteen: &str) -> char {
        // The odd-position weights as published, for '0'..'9' and 'A'..'Z' alike.
        let odd_weight = |ordinal: u32| -> u32 {
            match ordinal {
                0 => 1,
                1 => 0,
                2 => 5,
                3 => 7,
                4 => 9,
                5 => 13,
                6 => 15,
                7 => 17,
                8 => 19,
                9 => 21,
                10 => 2,
                11 => 4,
                12 => 18,
                13 => 20,
                14 => 11,
                15 => 3,
                16 => 6,
                17 => 8,
                18 => 12,
                19 => 14,
                20 => 16,
                21 => 10,
                22 => 22,
                23 => 25,
                24 => 24,
                _ => 23,
            }
        };
        let sum: u32 = first_fifteen
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let ordinal = c.to_digit(10).unwrap_or_else(|| c as u32 - 'A' as u32);
                if (i + 1) % 2 == 1 {
                    odd_weight(ordinal)
                } else {
                    ordinal
                }
            })
            .sum();
        char::from_u32('A' as u32 + sum % 26).unwrap()
    }

    fn with_check(first_fifteen: &str) -> String {
        format!("{first_fifteen}{}", check_char_by_rule(first_fifteen))
    }

    #[test]
    fn published_examples_are_valid() {
        // Widely published specimen codes, checked by hand against the official tables.
        for code in ["RSSMRA80A01H501U", "RSSMRA85T10A562S", "MRTMTT25D09F205Z"] {
            let parsed = TaxCode::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(parsed.as_str(), code);
            assert!(!parsed.is_omocodic());
        }
    }

    #[test]
    fn computed_codes_are_valid() {
        // Women (day + 40), a foreign-born person (Z cadastral code), every month letter.
        for body in [
            "BNCLRA92E45F205",
            "VRDGPP13A10B157",
            "GLLNNA01R56L219",
            "SPSCRL75C13Z404",
            "FRRLCU99B28D969",
            "CLMNDR00S71G273",
        ] {
            let code = with_check(body);
            assert!(TaxCode::parse(&code).is_ok(), "{code}");
        }
        for month in MONTH_LETTERS.iter().map(|&b| char::from(b)) {
            let code = with_check(&format!("RSSMRA80{month}01H501"));
            assert!(TaxCode::parse(&code).is_ok(), "{code}");
        }
    }

    #[test]
    fn omocodic_variants_are_accepted() {
        let one_step = with_check("RSSMRA80A01H50M");
        assert_eq!(one_step, "RSSMRA80A01H50MM");
        let all_steps = with_check("RSSMRAULALMHRLM");
        for code in [one_step, all_steps] {
            let parsed = TaxCode::parse(&code).unwrap();
            assert!(parsed.is_omocodic());
        }
        // The day is read through the omocodia letters: "LM" is day 01.
        assert_eq!(
            TaxCode::parse(&with_check("RSSMRA80ALMH501")).map(|c| c.is_omocodic()),
            Ok(true)
        );
    }

    #[test]
    fn blanks_inside_are_not_part_of_the_code() {
        let parsed = TaxCode::parse("rssmra 80a01\th501u").unwrap();
        assert_eq!(parsed.as_str(), "RSSMRA80A01H501U");
        assert_eq!(normalise(" TSTACC 80A01 A794E "), "TSTACC80A01A794E");
        assert_eq!(normalise("RSSMRA\u{a0}80A01H501U"), "RSSMRA80A01H501U");
    }

    #[test]
    fn input_is_trimmed_and_uppercased() {
        let parsed = TaxCode::parse("  rssmra80a01h501u\n").unwrap();
        assert_eq!(parsed.as_str(), "RSSMRA80A01H501U");
        assert_eq!("rssMra80A01h501U".parse::<TaxCode>().unwrap(), parsed);
    }

    #[test]
    fn wrong_check_character_is_refused() {
        assert_eq!(
            TaxCode::parse("RSSMRA80A01H501A"),
            Err(TaxCodeError::BadCheckCharacter {
                expected: 'U',
                found: 'A'
            })
        );
    }

    #[test]
    fn wrong_length_is_refused() {
        assert_eq!(
            TaxCode::parse("RSSMRA80A01H501"),
            Err(TaxCodeError::WrongLength { found: 15 })
        );
        assert_eq!(
            TaxCode::parse(""),
            Err(TaxCodeError::WrongLength { found: 0 })
        );
        assert_eq!(
            TaxCode::parse("RSSMRA80A01H501UU"),
            Err(TaxCodeError::WrongLength { found: 17 })
        );
    }

    #[test]
    fn characters_out_of_place_are_refused() {
        assert_eq!(
            TaxCode::parse("R5SMRA80A01H501U"),
            Err(TaxCodeError::BadCharacter {
                position: 2,
                expected: "a letter"
            })
        );
        // 'A' is not an omocodia letter.
        assert!(matches!(
            TaxCode::parse("RSSMRA8AA01H501U"),
            Err(TaxCodeError::BadCharacter { position: 8, .. })
        ));
        assert!(matches!(
            TaxCode::parse("RSSMRA80A01H5-1U"),
            Err(TaxCodeError::BadCharacter { position: 14, .. })
        ));
        assert!(matches!(
            TaxCode::parse("RSSMRÀ80A01H501U"),
            Err(TaxCodeError::BadCharacter { position: 6, .. })
        ));
    }

    #[test]
    fn month_and_day_are_checked() {
        assert_eq!(
            TaxCode::parse(&with_check("RSSMRA80F01H501")),
            Err(TaxCodeError::BadMonth)
        );
        for day in ["00", "32", "40", "72", "99"] {
            let code = with_check(&format!("RSSMRA80A{day}H501"));
            assert_eq!(TaxCode::parse(&code), Err(TaxCodeError::BadDay), "{day}");
        }
    }

    #[test]
    fn display_and_debug_never_show_the_middle() {
        let code = TaxCode::parse("RSSMRA80A01H501U").unwrap();
        assert_eq!(code.to_string(), "RSS************U");
        let debug = format!("{code:?} {:?}", Some(&code));
        assert!(!debug.contains("MRA80A01H501"), "{debug}");
        assert!(debug.contains("RSS************U"));
    }

    #[test]
    fn raw_masking_never_leaks() {
        assert_eq!(mask_tax_code(" rssmra80a01h501u "), "RSS************U");
        assert_eq!(mask_tax_code("ABC"), "***");
        assert_eq!(mask_tax_code(""), "");
        // Anything that is not plainly alphanumeric is masked whole.
        assert_eq!(mask_tax_code("RSSMRA80\nA01H501U"), "*".repeat(17));
        let masked = mask_tax_code("RSSMRA80A01H501U");
        for window in "RSSMRA80A01H501U".as_bytes().windows(2).skip(3).take(11) {
            let pair = std::str::from_utf8(window).unwrap();
            assert!(!masked.contains(pair), "{pair} leaked in {masked}");
        }
    }

    #[test]
    fn serde_is_the_full_code_and_goes_through_parse() {
        let code = TaxCode::parse("RSSMRA80A01H501U").unwrap();
        assert_eq!(
            serde_json::to_string(&code).unwrap(),
            "\"RSSMRA80A01H501U\""
        );
        let back: TaxCode = serde_json::from_str("\"rssmra80a01h501u\"").unwrap();
        assert_eq!(back, code);
        let err = serde_json::from_str::<TaxCode>("\"RSSMRA80A01H501A\"").unwrap_err();
        assert!(err.to_string().contains("check character"), "{err}");
    }

    #[test]
    fn errors_do_not_echo_the_code() {
        let err = TaxCode::parse("RSSMRA80A01X501U").unwrap_err().to_string();
        assert!(!err.contains("RSSMRA"), "{err}");
    }

    #[test]
    fn a_filed_code_is_the_typed_one_without_blanks_valid_or_not() {
        let filed = FiledTaxCode::file(" rssmra 80a01 h501u ").unwrap();
        assert_eq!(filed.as_str(), "RSSMRA80A01H501U");
        assert_eq!(filed.valid().unwrap().as_str(), "RSSMRA80A01H501U");
        let typo = FiledTaxCode::file("RSSMRA80A01H501X").unwrap();
        assert_eq!(typo.as_str(), "RSSMRA80A01H501X");
        assert!(typo.valid().is_err());
        let valid = TaxCode::parse("RSSMRA80A01H501U").unwrap();
        assert_eq!(FiledTaxCode::from(valid), filed);
    }

    #[test]
    fn a_code_too_long_to_be_one_is_not_filed() {
        let longest = "X".repeat(MAX_RAW_TAX_CODE_CHARS);
        assert!(FiledTaxCode::file(&longest).is_ok());
        let err = FiledTaxCode::file(&format!("{longest}X")).unwrap_err();
        assert_eq!(err.found, MAX_RAW_TAX_CODE_CHARS + 1);
        let json = serde_json::json!("X".repeat(MAX_RAW_TAX_CODE_CHARS + 1));
        assert!(serde_json::from_value::<FiledTaxCode>(json).is_err());
    }

    #[test]
    fn a_folder_is_named_by_letters_and_digits_only() {
        assert_eq!(
            FiledTaxCode::named("RSSMRA 80A01 H501U").unwrap().as_str(),
            "RSSMRA80A01H501U"
        );
        for not_a_folder in [
            "",
            "   ",
            "RSSMRA80A01H501U/../x",
            "RSS%20MRA",
            "RSSMRÀ80A01H501U",
        ] {
            assert_eq!(FiledTaxCode::named(not_a_folder), None, "{not_a_folder}");
        }
    }

    #[test]
    fn a_filed_code_prints_masked_and_serialises_whole() {
        let filed = FiledTaxCode::file("RSSMRA80A01H501U").unwrap();
        assert!(!format!("{filed}").contains("80A01H501"));
        assert!(!format!("{filed:?}").contains("80A01H501"));
        assert_eq!(
            serde_json::to_value(&filed).unwrap(),
            serde_json::json!("RSSMRA80A01H501U")
        );
    }
}
