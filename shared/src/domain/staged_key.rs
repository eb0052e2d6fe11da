//! Keys of the object store's staging area, checked as path segments before anything touches
//! the store.
//!
//! A sender may name a document it uploaded beforehand (`staged_key`) instead of sending the
//! bytes. That name is hostile until proven otherwise: S3 clients resolve `..`, so a key that
//! merely *starts* with the staging prefix can point anywhere in the bucket, the archive
//! included — and storage deletes staging copies once archived. So a sender's key must have
//! exactly one shape, `<staging prefix>/uploads/<token>`, where the token is long and random
//! (at least [`MIN_TOKEN_LEN`] characters of `[A-Za-z0-9_-]`, a UUID only if version 4): a
//! name nobody else can guess, in a place only uploads live. Intake's own copies
//! (`<staging prefix>/<practice id>/<position>`) can never be named by a sender, so one
//! citizen cannot point at another citizen's large document either.

use uuid::Uuid;

/// The folder, under the staging prefix, where senders upload documents before submitting.
pub const UPLOADS: &str = "uploads";
/// The shortest upload token taken: 32 characters of a 64-symbol alphabet are 192 bits.
pub const MIN_TOKEN_LEN: usize = 32;
pub const MAX_TOKEN_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StagedKeyError {
    #[error("staged_key must start with `{prefix}/{UPLOADS}/`")]
    OutsideUploads { prefix: String },
    #[error(
        "staged_key must be `<staging>/{UPLOADS}/<token>` with one token segment, and nothing else"
    )]
    WrongShape,
    #[error(
        "the staged_key token must have {MIN_TOKEN_LEN} to {MAX_TOKEN_LEN} characters of A-Z, a-z, 0-9, `_` and `-` (it must be random: a name nobody can guess)"
    )]
    WeakToken,
    #[error("a UUID used as an upload token must be random (version 4)")]
    PredictableUuid,
}

/// A sender's staged key that passed [`parse_upload_key`]: safe to read, and to delete once
/// the practice that claimed it is archived.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadKey(String);

impl UploadKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a sender's `staged_key` against the only shape it may have under `staging_prefix`
/// (the configured prefix, trusted, without surrounding slashes).
pub fn parse_upload_key(staging_prefix: &str, raw: &str) -> Result<UploadKey, StagedKeyError> {
    let folder = format!("{staging_prefix}/{UPLOADS}/");
    let Some(token) = raw.strip_prefix(&folder) else {
        return Err(StagedKeyError::OutsideUploads {
            prefix: staging_prefix.to_owned(),
        });
    };
    if token.contains('/') {
        return Err(StagedKeyError::WrongShape);
    }
    let length_fits = (MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&token.len());
    let alphabet_fits = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !length_fits || !alphabet_fits {
        return Err(StagedKeyError::WeakToken);
    }
    if let Ok(uuid) = Uuid::try_parse(token)
        && uuid.get_version_num() != 4
    {
        return Err(StagedKeyError::PredictableUuid);
    }
    Ok(UploadKey(raw.to_owned()))
}

/// Where intake parks a large inline document of `practice_id`.
pub fn intake_key(staging_prefix: &str, practice_id: Uuid, position: usize) -> String {
    format!("{staging_prefix}/{practice_id}/{position}")
}

/// Whether `key`, recorded for document `position` of `practice_id`, is a staging object this
/// system may read and remove: intake's own copy of exactly that document, or an upload key of
/// the one shape senders may use. Anything else (a row written by an older build, or by hand)
/// is never touched.
pub fn is_removable(staging_prefix: &str, key: &str, practice_id: Uuid, position: usize) -> bool {
    key == intake_key(staging_prefix, practice_id, position)
        || parse_upload_key(staging_prefix, key).is_ok()
}

/// A fresh upload key: what a sender (or our own HTTP upload) should use.
pub fn new_upload_key(staging_prefix: &str) -> String {
    format!(
        "{staging_prefix}/{UPLOADS}/{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "staging";

    #[test]
    fn a_random_upload_key_is_taken() {
        let fresh = new_upload_key(PREFIX);
        assert_eq!(parse_upload_key(PREFIX, &fresh).unwrap().as_str(), fresh);
        let v4 = format!("staging/uploads/{}", Uuid::new_v4());
        assert!(parse_upload_key(PREFIX, &v4).is_ok());
        let nested = "tests/ns-1/staging";
        assert!(parse_upload_key(nested, &new_upload_key(nested)).is_ok());
    }

    #[test]
    fn traversal_and_escapes_are_refused() {
        let token = Uuid::new_v4().simple().to_string();
        let victim = "archivio/AOO_BG/PG/2026/0000001/01-documento.pdf";
        for raw in [
            format!("staging/../{victim}"),
            format!("staging/uploads/../../{victim}"),
            format!("staging/uploads/{token}/../../../{victim}"),
            format!("staging/uploads/%2e%2e/{token}"),
            format!("staging/uploads/{token}%2F..%2F"),
            format!("staging/uploads//{token}"),
            format!("staging/uploads/./{token}"),
            format!("staging/uploads/{token}/"),
            format!("staging/uploads/{token}\\..\\x"),
            format!("staging/uploads/{token}?x=1"),
            format!("staging/uploads/{token}\n"),
            format!("/staging/uploads/{token}"),
            format!("staging//uploads/{token}"),
            format!("stagingx/uploads/{token}"),
            format!("archivio/uploads/{token}"),
            format!("staging/uploads/{token}{}", "é"),
            victim.to_owned(),
        ] {
            assert!(parse_upload_key(PREFIX, &raw).is_err(), "{raw:?} was taken");
        }
    }

    #[test]
    fn intake_copies_and_guessable_names_are_refused() {
        let practice = Uuid::new_v5(&Uuid::NAMESPACE_OID, b"portal-2026-000101");
        assert_eq!(
            parse_upload_key(PREFIX, &intake_key(PREFIX, practice, 1)),
            Err(StagedKeyError::OutsideUploads {
                prefix: PREFIX.to_owned()
            })
        );
        assert_eq!(
            parse_upload_key(PREFIX, "staging/uploads/pianta.pdf"),
            Err(StagedKeyError::WeakToken)
        );
        assert_eq!(
            parse_upload_key(PREFIX, &format!("staging/uploads/{practice}")),
            Err(StagedKeyError::PredictableUuid)
        );
        assert_eq!(
            parse_upload_key(PREFIX, &format!("staging/uploads/{}", "a".repeat(129))),
            Err(StagedKeyError::WeakToken)
        );
    }

    #[test]
    fn only_verified_staging_objects_are_removable() {
        let practice = Uuid::new_v4();
        let other = Uuid::new_v4();
        assert!(is_removable(
            PREFIX,
            &intake_key(PREFIX, practice, 2),
            practice,
            2
        ));
        assert!(!is_removable(
            PREFIX,
            &intake_key(PREFIX, other, 2),
            practice,
            2
        ));
        assert!(!is_removable(
            PREFIX,
            &intake_key(PREFIX, practice, 1),
            practice,
            2
        ));
        assert!(is_removable(PREFIX, &new_upload_key(PREFIX), practice, 2));
        assert!(!is_removable(
            PREFIX,
            "staging/../archivio/AOO/PG/2026/0000001/segnatura.xml",
            practice,
            2
        ));
    }
}
