//! Streamed copies into the store: a multipart upload fed piece by piece, hashing what it sends
//! so that a certified object is never completed with bytes other than the ones declared.

use super::{ObjectError, ObjectStore, classify, requests};
use sha2::{Digest, Sha256};

/// The part size of streamed copies: rust-s3's own chunk size (S3 wants at least 5 MiB).
pub const PART_SIZE: usize = s3::bucket::CHUNK_SIZE;

/// A multipart upload fed piece by piece; small objects end as one plain PUT.
pub(super) struct PartUpload<'a> {
    store: &'a ObjectStore,
    key: &'a str,
    content_type: &'a str,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<s3::serde_types::Part>,
    size: u64,
    /// The SHA-256 the whole object must have, and the hash of what was sent so far.
    expected: Option<&'a str>,
    hasher: Sha256,
}

impl<'a> PartUpload<'a> {
    pub(super) fn new(
        store: &'a ObjectStore,
        key: &'a str,
        content_type: &'a str,
        expected: Option<&'a str>,
    ) -> PartUpload<'a> {
        PartUpload {
            store,
            key,
            content_type,
            buffer: Vec::new(),
            upload_id: None,
            parts: Vec::new(),
            size: 0,
            expected,
            hasher: Sha256::new(),
        }
    }

    pub(super) async fn write(&mut self, mut bytes: &[u8]) -> Result<(), ObjectError> {
        self.size += bytes.len() as u64;
        if self.expected.is_some() {
            self.hasher.update(bytes);
        }
        while !bytes.is_empty() {
            let take = (PART_SIZE - self.buffer.len()).min(bytes.len());
            self.buffer.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buffer.len() == PART_SIZE {
                self.send_part().await?;
            }
        }
        Ok(())
    }

    async fn send_part(&mut self) -> Result<(), ObjectError> {
        let bucket = self.store.bucket_for(self.key);
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let started = bucket
                    .initiate_multipart_upload(self.key, self.content_type)
                    .await
                    .map_err(|e| classify(self.key, e))?;
                self.upload_id = Some(started.upload_id.clone());
                started.upload_id
            }
        };
        let part = std::mem::take(&mut self.buffer);
        requests::count(&requests::PUT);
        let number = self.parts.len() as u32 + 1;
        let sent = bucket
            .put_multipart_chunk(part, self.key, number, &upload_id, self.content_type)
            .await
            .map_err(|e| classify(self.key, e))?;
        self.parts.push(sent);
        Ok(())
    }

    pub(super) async fn finish(&mut self) -> Result<u64, ObjectError> {
        let Some(upload_id) = self.upload_id.clone() else {
            match self.expected {
                Some(sha256) => {
                    self.store
                        .put_checked(self.key, &self.buffer, self.content_type, sha256)
                        .await?
                }
                None => {
                    self.store
                        .put(self.key, &self.buffer, self.content_type)
                        .await?
                }
            }
            return Ok(self.size);
        };
        if !self.buffer.is_empty() {
            self.send_part().await?;
        }
        if let Some(sha256) = self.expected {
            let found = hex::encode(std::mem::take(&mut self.hasher).finalize());
            if found != sha256 {
                // Not completed: the caller aborts the upload, nothing appears at the key.
                return Err(ObjectError::BadDigest(self.key.to_owned()));
            }
        }
        self.store
            .bucket_for(self.key)
            .complete_multipart_upload(self.key, &upload_id, std::mem::take(&mut self.parts))
            .await
            .map_err(|e| classify(self.key, e))?;
        self.upload_id = None;
        Ok(self.size)
    }

    /// Best effort: an upload left open only costs space until the store's cleanup.
    pub(super) async fn abort(&mut self) {
        if let Some(upload_id) = self.upload_id.take() {
            let _ = self
                .store
                .bucket_for(self.key)
                .abort_upload(self.key, &upload_id)
                .await;
        }
    }
}
