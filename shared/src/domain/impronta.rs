//! The impronta: a document's SHA-256 digest, as the segnatura, the receipt and the folder show
//! it (base64, AgID's spelling), and as the store and the object store keep it (lowercase hex).
//!
//! One type for the 32 bytes, so that hex and base64 are two writings of one value, converted
//! in one place, and a digest is checked for its length once, where it comes in.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Impronta([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("impronta {0:?} is not a SHA-256 digest")]
pub struct NotAnImpronta(pub String);

impl Impronta {
    pub fn of(bytes: &[u8]) -> Impronta {
        Impronta(Sha256::digest(bytes).into())
    }

    pub fn from_digest(digest: [u8; 32]) -> Impronta {
        Impronta(digest)
    }

    /// The base64 writing, as a segnatura carries it.
    pub fn from_base64(encoded: &str) -> Result<Impronta, NotAnImpronta> {
        let invalid = || NotAnImpronta(encoded.chars().take(100).collect());
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| invalid())?;
        bytes.try_into().map(Impronta).map_err(|_| invalid())
    }

    /// The hexadecimal writing, as senders declare digests and the store keeps them.
    pub fn from_hex(encoded: &str) -> Result<Impronta, NotAnImpronta> {
        let invalid = || NotAnImpronta(encoded.chars().take(100).collect());
        let mut digest = [0u8; 32];
        hex::decode_to_slice(encoded.trim(), &mut digest).map_err(|_| invalid())?;
        Ok(Impronta(digest))
    }

    pub fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// The base64 writing: what a person reads next to a document.
impl fmt::Display for Impronta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for Impronta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Impronta({})", self.to_base64())
    }
}

impl Serialize for Impronta {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for Impronta {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Impronta::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-256 of the empty input, in both writings (FIPS 180-4 test vector).
    const EMPTY_HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const EMPTY_BASE64: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    #[test]
    fn hex_and_base64_are_two_writings_of_one_digest() {
        let empty = Impronta::of(b"");
        assert_eq!(empty.to_hex(), EMPTY_HEX);
        assert_eq!(empty.to_base64(), EMPTY_BASE64);
        assert_eq!(Impronta::from_hex(EMPTY_HEX), Ok(empty));
        assert_eq!(Impronta::from_hex(&EMPTY_HEX.to_uppercase()), Ok(empty));
        assert_eq!(Impronta::from_base64(EMPTY_BASE64), Ok(empty));
        assert_eq!(empty.to_string(), EMPTY_BASE64);
    }

    #[test]
    fn only_thirty_two_bytes_are_an_impronta() {
        for not_one in [
            "",
            "e3b0",
            &EMPTY_HEX[..62],
            &format!("{EMPTY_HEX}00"),
            "zz",
        ] {
            assert!(Impronta::from_hex(not_one).is_err(), "{not_one}");
        }
        assert!(Impronta::from_base64("AAAA").is_err());
        assert!(Impronta::from_base64("not base64!").is_err());
    }

    #[test]
    fn json_carries_the_base64_writing() {
        let empty = Impronta::of(b"");
        assert_eq!(
            serde_json::to_value(empty).unwrap(),
            serde_json::json!(EMPTY_BASE64)
        );
        let back: Impronta = serde_json::from_value(serde_json::json!(EMPTY_BASE64)).unwrap();
        assert_eq!(back, empty);
        assert!(serde_json::from_value::<Impronta>(serde_json::json!("AAAA")).is_err());
    }
}
