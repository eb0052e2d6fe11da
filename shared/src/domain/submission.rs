//! The intake contract: what the portal, the counter and the HTTP endpoint publish.
//!
//! The contract is versioned (`schema_version`), so that a sender built against a newer or
//! older contract gets a clear refusal instead of a half-understood practice. Everything here is
//! the sender's *claim*; validation decides whether the claim holds.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The only contract version this build understands.
pub const SUBMISSION_SCHEMA_VERSION: u32 = 1;

/// Practice ids derive from the idempotency key, so that a sender knows the id as soon as it
/// publishes, and a second submission with the same key names the same practice.
const PRACTICE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5c1e_0a7e_2026_4b1d_9c0e_5b0e_7a11_0001);

/// The id of the practice a submission with this idempotency key creates (UUID v5).
pub fn practice_id_for(idempotency_key: &str) -> Uuid {
    Uuid::new_v5(&PRACTICE_ID_NAMESPACE, idempotency_key.as_bytes())
}

/// A practice as submitted, before anything has been checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub schema_version: u32,
    /// Chosen by the sender; the same key always means the same practice.
    pub idempotency_key: String,
    pub channel: Channel,
    /// A code of the practice-type catalog, e.g. `anagrafe.cambio_residenza`.
    pub practice_type: String,
    pub applicant: Applicant,
    /// The "oggetto": what the citizen asks for, in their own words.
    pub subject: String,
    /// Type-specific fields, checked against the catalog's required fields.
    #[serde(default)]
    pub data: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub documents: Vec<SubmittedDocument>,
    /// Set when this submission is the citizen's answer to an integration request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrates: Option<Uuid>,
}

/// Where the practice came from: the portal, or the counter with the operator who helped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Channel {
    Portal,
    Counter { operator_id: String },
}

impl Channel {
    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::Portal => "portal",
            Channel::Counter { .. } => "counter",
        }
    }
}

/// The person (and, when one files, the company) the practice belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applicant {
    /// Raw as typed; parsed into a `TaxCode` by validation.
    pub tax_code: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    /// A certified-mail address, when the citizen has one and prefers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<Company>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Company {
    pub name: String,
    pub vat_number: String,
}

/// One document of the submission, with the fingerprint the sender declares for it.
///
/// Exactly one of `content_base64` (small documents, inline) and `staged_key` (an object the
/// sender already uploaded to the staging area) must be present; see [`SubmittedDocument::source`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmittedDocument {
    /// The catalog's name for what this document is (`domanda`, `documento_identita`, …).
    pub role: String,
    pub file_name: String,
    /// Declared by the sender; validation trusts only what the content says.
    pub media_type: String,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged_key: Option<String>,
}

/// Where a submitted document's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentSource<'a> {
    Inline(&'a str),
    Staged(&'a str),
}

impl SubmittedDocument {
    /// The one place the bytes are, or `None` when the sender gave both or neither.
    pub fn source(&self) -> Option<DocumentSource<'_>> {
        match (&self.content_base64, &self.staged_key) {
            (Some(inline), None) => Some(DocumentSource::Inline(inline)),
            (None, Some(key)) => Some(DocumentSource::Staged(key)),
            _ => None,
        }
    }
}
