//! The number a registration takes in the protocol register (DPR 445/2000, art. 57): progressive
//! within a register and a year, from 1, written with at least seven digits.
//!
//! One type for it, so that a number is never printed unpadded in one place and padded in
//! another, never mistaken for a registration's row id (both are integers in the database), and
//! never zero.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The fewest digits a protocol number is written with (AgID, segnatura di protocollo).
pub const MIN_DIGITS: usize = 7;

/// A protocol number: 1 or more. Printed zero-padded to [`MIN_DIGITS`] (`0000042`); serialised
/// as a plain number, as the database and the JSON interfaces hold it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, sqlx::Type,
)]
#[serde(try_from = "i64", into = "i64")]
#[sqlx(transparent)]
pub struct ProtocolNumber(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a protocol number is a whole number from 1")]
pub struct NotAProtocolNumber;

impl ProtocolNumber {
    pub fn new(number: i64) -> Result<ProtocolNumber, NotAProtocolNumber> {
        if number >= 1 {
            Ok(ProtocolNumber(number))
        } else {
            Err(NotAProtocolNumber)
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// The number `offset` places after this one: the rest of a block the register reserved.
    pub fn after(self, offset: usize) -> ProtocolNumber {
        ProtocolNumber(self.0 + offset as i64)
    }
}

impl fmt::Display for ProtocolNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:0width$}", self.0, width = MIN_DIGITS)
    }
}

/// Digits as a person or a segnatura writes them (`42`, `0000042`).
impl FromStr for ProtocolNumber {
    type Err = NotAProtocolNumber;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NotAProtocolNumber);
        }
        ProtocolNumber::new(text.parse().map_err(|_| NotAProtocolNumber)?)
    }
}

impl TryFrom<i64> for ProtocolNumber {
    type Error = NotAProtocolNumber;
    fn try_from(number: i64) -> Result<Self, Self::Error> {
        ProtocolNumber::new(number)
    }
}

impl From<ProtocolNumber> for i64 {
    fn from(number: ProtocolNumber) -> i64 {
        number.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_has_seven_digits_at_least_and_grows_beyond() {
        let written = |n| ProtocolNumber::new(n).unwrap().to_string();
        assert_eq!(written(1), "0000001");
        assert_eq!(written(1_234_567), "1234567");
        assert_eq!(written(12_345_678), "12345678");
    }

    #[test]
    fn the_register_counts_from_one() {
        assert_eq!(ProtocolNumber::new(0), Err(NotAProtocolNumber));
        assert_eq!(ProtocolNumber::new(-7), Err(NotAProtocolNumber));
        assert!(serde_json::from_value::<ProtocolNumber>(serde_json::json!(0)).is_err());
        assert_eq!(
            serde_json::to_value(ProtocolNumber::new(42).unwrap()).unwrap(),
            serde_json::json!(42)
        );
    }

    #[test]
    fn written_numbers_are_read_back() {
        assert_eq!("0000042".parse(), ProtocolNumber::new(42));
        assert_eq!(" 42 ".parse(), ProtocolNumber::new(42));
        for not_one in [
            "",
            "0000000",
            "-1",
            "4 2",
            "+42",
            "42a",
            "99999999999999999999",
        ] {
            assert_eq!(
                not_one.parse::<ProtocolNumber>(),
                Err(NotAProtocolNumber),
                "{not_one}"
            );
        }
        assert_eq!(
            ProtocolNumber::new(40).unwrap().after(2),
            ProtocolNumber::new(42).unwrap()
        );
    }
}
