//! Object storage (Garage, S3 API): the staging area for large documents, later the archive.
//!
//! Garage wants path-style requests, region `garage` and an endpoint without a trailing slash.
//! Errors keep the HTTP status, so that callers can tell "not there" (a permanent problem with
//! the message) from "store down" (wait and retry).

use crate::config::ObjectStoreSettings;
use s3::{Bucket, Region, creds::Credentials, error::S3Error};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("object store configuration: {0}")]
    Config(String),
    #[error("object `{0}` does not exist")]
    NotFound(String),
    #[error("object store: {0}")]
    Unavailable(String),
}

impl ObjectError {
    pub fn is_transient(&self) -> bool {
        matches!(self, ObjectError::Unavailable(_))
    }
}

fn classify(key: &str, err: S3Error) -> ObjectError {
    match err {
        S3Error::HttpFailWithBody(404, _) => ObjectError::NotFound(key.to_owned()),
        other => ObjectError::Unavailable(other.to_string()),
    }
}

#[derive(Clone)]
pub struct ObjectStore {
    bucket: Box<Bucket>,
    staging_prefix: String,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("bucket", &self.bucket.name())
            .finish()
    }
}

impl ObjectStore {
    pub fn new(settings: &ObjectStoreSettings) -> Result<ObjectStore, ObjectError> {
        if settings.access_key.is_empty() {
            return Err(ObjectError::Config(
                "object_store.access_key is empty (run deploy/local/stack-up.sh or set SPORTELLO__OBJECT_STORE__ACCESS_KEY)".into(),
            ));
        }
        let credentials = Credentials::new(
            Some(&settings.access_key),
            Some(settings.secret_key.expose_secret()),
            None,
            None,
            None,
        )
        .map_err(|e| ObjectError::Config(e.to_string()))?;
        let region = Region::Custom {
            region: settings.region.clone(),
            endpoint: settings.endpoint.trim_end_matches('/').to_owned(),
        };
        let bucket = Bucket::new(&settings.bucket, region, credentials)
            .map_err(|e| ObjectError::Config(e.to_string()))?
            .with_path_style()
            .with_request_timeout(Duration::from_secs(settings.request_timeout_secs))
            .map_err(|e| ObjectError::Config(e.to_string()))?;
        Ok(ObjectStore {
            bucket,
            staging_prefix: settings.staging_prefix.trim_matches('/').to_owned(),
        })
    }

    /// Where intake parks a large inline document until storage archives it.
    pub fn staging_key(&self, practice_id: uuid::Uuid, position: usize) -> String {
        format!("{}/{practice_id}/{position}", self.staging_prefix)
    }

    pub fn is_staging_key(&self, key: &str) -> bool {
        key.starts_with(&format!("{}/", self.staging_prefix))
    }

    pub async fn put(
        &self,
        key: &str,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<(), ObjectError> {
        self.bucket
            .put_object_with_content_type(key, bytes, content_type)
            .await
            .map(|_| ())
            .map_err(|e| classify(key, e))
    }

    pub async fn get(&self, key: &str) -> Result<Vec<u8>, ObjectError> {
        self.bucket
            .get_object(key)
            .await
            .map(|response| response.to_vec())
            .map_err(|e| classify(key, e))
    }

    /// The first `len` bytes (fewer if the object is shorter): enough to sniff the media type.
    pub async fn head_bytes(&self, key: &str, len: usize) -> Result<Vec<u8>, ObjectError> {
        let end = len.saturating_sub(1) as u64;
        match self.bucket.get_object_range(key, 0, Some(end)).await {
            Ok(response) => Ok(response.to_vec()),
            // An empty object has no byte 0: 416 means "exists, nothing to read".
            Err(S3Error::HttpFailWithBody(416, _)) => Ok(Vec::new()),
            Err(e) => Err(classify(key, e)),
        }
    }

    /// SHA-256 (lowercase hex) and size of an object, read as a stream so memory stays flat.
    pub async fn digest(&self, key: &str) -> Result<(String, u64), ObjectError> {
        use futures::StreamExt;
        let mut response = self
            .bucket
            .get_object_stream(key)
            .await
            .map_err(|e| classify(key, e))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = response.bytes().next().await {
            let chunk = chunk.map_err(|e| classify(key, e))?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok((hex::encode(hasher.finalize()), size))
    }

    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        self.bucket
            .delete_object(key)
            .await
            .map(|_| ())
            .map_err(|e| classify(key, e))
    }

    /// Whether the store answers at all (for start-up checks and readiness).
    pub async fn ping(&self) -> Result<(), ObjectError> {
        match self.bucket.head_object("sportello-readiness-probe").await {
            Ok(_) | Err(S3Error::HttpFailWithBody(404, _)) => Ok(()),
            Err(e) => Err(ObjectError::Unavailable(e.to_string())),
        }
    }
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
