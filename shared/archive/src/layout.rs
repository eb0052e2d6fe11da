//! The archive: where registered documents live for good, and how they get there.
//!
//! A key names the registration and the document (`archivio/<aoo>/<register>/<year>/
//! <number, 7 digits>/<nn>-<file name>`), so an archivist can find a document from the
//! register alone. Nothing is ever overwritten: an object already at the key with the same
//! SHA-256 is the same document (a redelivery), a different one is an alarm for a human.
//! Every write sends the impronta with the bytes and the store refuses other bytes, so what
//! the archive holds is what the segnatura certifies; [`verify_archived`] reads an object back
//! for an independent check, off the hot path.

use sportello_shared::domain::protocol_number::ProtocolNumber;
use sportello_shared::objects::{ObjectError, ObjectStore, sha256_hex};
use sportello_shared::worker::Failure;

/// Where a document comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    Bytes(&'a [u8]),
    /// A staged object, copied with bounded memory.
    Staged(&'a str),
}

/// What one archive write must produce.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub key: String,
    pub source: Source<'a>,
    pub media_type: &'a str,
    /// SHA-256, lowercase hex: the impronta of the segnatura.
    pub sha256: String,
    /// Whether the registration fixed `sha256` before anything was written (an impronta of the
    /// signed segnatura, or the segnatura itself): then every write to the key, a redelivery's
    /// included, carries these bytes and no other (the store refuses others), and the key is
    /// not asked first. An object whose bytes are made again at each attempt (the receipt,
    /// from the database's facts) is `false`: asked first, never overwritten.
    pub certified: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Someone put other bytes under an archive key: never resolved by retrying.
    #[error(
        "ALARM: archive key {key} already holds a different object (sha256 {found}, expected {expected}); refusing to overwrite it"
    )]
    Conflict {
        key: String,
        expected: String,
        found: String,
    },
    #[error("archive key {key}: read back sha256 {found}, expected the impronta {expected}")]
    Corrupted {
        key: String,
        expected: String,
        found: String,
    },
    #[error(transparent)]
    Store(#[from] ObjectError),
}

impl ArchiveError {
    pub fn is_transient(&self) -> bool {
        matches!(self, ArchiveError::Store(e) if e.is_transient())
    }
}

impl From<ArchiveError> for Failure {
    fn from(err: ArchiveError) -> Failure {
        Failure::sorted(err.is_transient(), err)
    }
}

/// The folder of one registration.
pub fn registration_prefix(aoo: &str, register: &str, year: i32, number: ProtocolNumber) -> String {
    format!(
        "archivio/{}/{}/{year}/{number}",
        sanitise(aoo),
        sanitise(register)
    )
}

/// The key of the `position`-th document of a registration (the primary document is 0).
pub fn document_key(prefix: &str, position: usize, file_name: &str) -> String {
    format!("{prefix}/{position:02}-{}", sanitise(file_name))
}

pub fn segnatura_key(prefix: &str) -> String {
    format!("{prefix}/segnatura.xml")
}

/// The receipt of the registration (art. 18-bis L. 241/1990), beside its segnatura.
pub fn receipt_key(prefix: &str) -> String {
    format!("{prefix}/ricevuta.pdf")
}

/// A file name citizens typed, made safe for a key and for every S3 client: letters, digits,
/// `.`, `-`, `_`; the rest becomes `_`; no leading dot; at most 120 characters.
pub fn sanitise(name: &str) -> String {
    let mut safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while safe.starts_with('.') {
        safe.replace_range(..1, "_");
    }
    if safe.len() > 120 {
        // Keep the extension, which tells a reader what the file is.
        let extension = safe
            .rfind('.')
            .filter(|&dot| safe.len() - dot <= 10)
            .map(|dot| safe[dot..].to_owned())
            .unwrap_or_default();
        safe.truncate(120 - extension.len());
        safe.push_str(&extension);
    }
    if safe.is_empty() {
        safe.push_str("documento");
    }
    safe
}

/// Puts `entry` in the archive unless it is there already, the store proving the bytes it
/// keeps: they go with their impronta as `x-amz-checksum-sha256`, and the store refuses an
/// object whose SHA-256 is not that one (a staged copy larger than a part is hashed as it is
/// copied and never completed unless it matches). Nothing is read back on this path.
///
/// An uncertified entry's key is checked first (one HEAD): Garage 2.5 answers 200 to
/// `If-None-Match: *` on an existing key (measured), so only asking keeps an archived object
/// from being overwritten; an object found there is streamed and compared (a redelivery, or an
/// alarm). A certified entry is not asked: its key belongs to one registration (the number is
/// never reused) and may only ever receive its certified bytes, so a write over an earlier
/// attempt's object puts the same bytes again — one request where asking would be two.
/// Returns the size of the stored object.
pub async fn put_verified(objects: &ObjectStore, entry: &Entry<'_>) -> Result<u64, ArchiveError> {
    if !entry.certified && objects.exists(&entry.key).await? {
        let (found, size) = objects.digest(&entry.key).await?;
        if found != entry.sha256 {
            return Err(ArchiveError::Conflict {
                key: entry.key.clone(),
                expected: entry.sha256.clone(),
                found,
            });
        }
        return Ok(size);
    }
    match entry.source {
        Source::Bytes(bytes) => {
            // Checked before writing: bytes that do not match their impronta never reach the
            // archive, where they could not be replaced. The store then checks what arrived.
            let found = sha256_hex(bytes);
            if found != entry.sha256 {
                return Err(ArchiveError::Corrupted {
                    key: entry.key.clone(),
                    expected: entry.sha256.clone(),
                    found,
                });
            }
            objects
                .put_checked(&entry.key, bytes, entry.media_type, &entry.sha256)
                .await?;
            Ok(bytes.len() as u64)
        }
        Source::Staged(staged) => {
            match objects
                .copy_streaming_checked(staged, &entry.key, entry.media_type, &entry.sha256)
                .await
            {
                Ok(size) => Ok(size),
                // The staged bytes are not the registered ones: retrying cannot help.
                Err(ObjectError::BadDigest(_)) => Err(ArchiveError::Corrupted {
                    key: entry.key.clone(),
                    expected: entry.sha256.clone(),
                    found: format!("another digest (the staged copy {staged})"),
                }),
                Err(err) => Err(err.into()),
            }
        }
    }
}

/// The independent check, off the hot path: streams the archived object back and compares its
/// SHA-256 with the impronta (for audits and the tests, never on a practice's way).
pub async fn verify_archived(
    objects: &ObjectStore,
    key: &str,
    sha256: &str,
) -> Result<u64, ArchiveError> {
    let (found, size) = objects.digest(key).await?;
    if found != sha256 {
        return Err(ArchiveError::Corrupted {
            key: key.to_owned(),
            expected: sha256.to_owned(),
            found,
        });
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_readable_and_safe() {
        let prefix = registration_prefix("c_a794", "PG", 2026, ProtocolNumber::new(42).unwrap());
        assert_eq!(prefix, "archivio/c_a794/PG/2026/0000042");
        assert_eq!(
            document_key(&prefix, 3, "Planimetria piano terra (v2).pdf"),
            "archivio/c_a794/PG/2026/0000042/03-Planimetria_piano_terra__v2_.pdf"
        );
        assert_eq!(segnatura_key(&prefix), format!("{prefix}/segnatura.xml"));
    }

    #[test]
    fn sanitised_names_cannot_climb_or_hide() {
        assert_eq!(sanitise("../../etc/passwd"), "_._.._etc_passwd");
        assert_eq!(sanitise(".htaccess"), "_htaccess");
        assert_eq!(sanitise("perché è così.pdf"), "perch____cos_.pdf");
        assert_eq!(sanitise(""), "documento");
        let long = format!("{}.pdf", "a".repeat(300));
        let safe = sanitise(&long);
        assert_eq!(safe.len(), 120);
        assert!(safe.ends_with(".pdf"));
    }
}
