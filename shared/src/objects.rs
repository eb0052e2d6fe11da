//! Object storage (Garage, S3 API): the staging area for large documents, later the archive.
//!
//! Garage wants path-style requests, region `garage` and an endpoint without a trailing slash.
//! Errors keep the HTTP status, so that callers can tell "not there" (a permanent problem with
//! the message) from "store down" (wait and retry). With `failover_endpoints` (the other nodes
//! of a Garage cluster), a request the store did not answer is sent to the next endpoint, and
//! the process keeps to the one that answered.

use crate::config::ObjectStoreSettings;
use futures::future::BoxFuture;
use s3::{Bucket, Region, creds::Credentials, error::S3Error};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

mod multipart;

pub use multipart::PART_SIZE;
use multipart::PartUpload;

/// S3 requests this process has sent, by kind: what the fleet benchmark counts per practice.
/// Relaxed counters, one add per request; nothing reads them on a hot path.
pub mod requests {
    use super::*;

    pub(super) static PUT: AtomicU64 = AtomicU64::new(0);
    pub(super) static GET: AtomicU64 = AtomicU64::new(0);
    pub(super) static HEAD: AtomicU64 = AtomicU64::new(0);
    pub(super) static OTHER: AtomicU64 = AtomicU64::new(0);

    /// Requests sent so far: (PUT incl. multipart parts, GET incl. ranges, HEAD, other).
    pub fn counts() -> (u64, u64, u64, u64) {
        (
            PUT.load(Ordering::Relaxed),
            GET.load(Ordering::Relaxed),
            HEAD.load(Ordering::Relaxed),
            OTHER.load(Ordering::Relaxed),
        )
    }

    pub(super) fn count(kind: &AtomicU64) {
        kind.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("object store configuration: {0}")]
    Config(String),
    #[error("object `{0}` does not exist")]
    NotFound(String),
    /// The key this process holds may not do that: a configuration error, never retried.
    #[error("object store refused access to `{0}` with this party's key")]
    Forbidden(String),
    #[error("object store: {0}")]
    Unavailable(String),
    /// The store refused the bytes it received because their SHA-256 is not the one sent with
    /// them (`x-amz-checksum-sha256`): nothing was stored under the key.
    #[error(
        "object store refused `{0}`: the bytes it received do not have the SHA-256 sent with them"
    )]
    BadDigest(String),
}

impl ObjectError {
    pub fn is_transient(&self) -> bool {
        // A refused digest from bytes that matched before they were sent: damaged on the way,
        // and sending them again can succeed.
        matches!(
            self,
            ObjectError::Unavailable(_) | ObjectError::BadDigest(_)
        )
    }
}

fn classify(key: &str, err: S3Error) -> ObjectError {
    match err {
        S3Error::HttpFailWithBody(404, _) => ObjectError::NotFound(key.to_owned()),
        S3Error::HttpFailWithBody(403, _) => ObjectError::Forbidden(key.to_owned()),
        S3Error::HttpFailWithBody(400, body)
            if body.contains("InvalidDigest") || body.contains("BadDigest") =>
        {
            ObjectError::BadDigest(key.to_owned())
        }
        other => ObjectError::Unavailable(other.to_string()),
    }
}

/// The two buckets, each with the key this process was given for it. Keys under the staging
/// prefix live in the staging bucket, everything else (the archive, the daily registers) in
/// the archive bucket: the portal's key, which may write the staging bucket only, cannot touch
/// the archive whatever key name it sends, and a `..` in a staging key resolves inside staging.
#[derive(Clone)]
pub struct ObjectStore {
    /// The same two buckets at each endpoint: the configured one first, then the failovers.
    endpoints: Arc<[Buckets]>,
    /// The endpoint that answered last, shared by every clone.
    current: Arc<AtomicUsize>,
    staging_prefix: String,
}

struct Buckets {
    staging: Box<Bucket>,
    archive: Box<Bucket>,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first = &self.endpoints[0];
        f.debug_struct("ObjectStore")
            .field("staging", &first.staging.name())
            .field("archive", &first.archive.name())
            .field("endpoints", &self.endpoints.len())
            .finish()
    }
}

impl ObjectStore {
    /// The store as `party` sees it: with that party's own key when `[object_store.keys]`
    /// names one, else with the process's `access_key`.
    pub fn for_party(
        settings: &ObjectStoreSettings,
        party: &str,
    ) -> Result<ObjectStore, ObjectError> {
        match settings.keys.get(party) {
            Some(key) => Self::with_key(settings, &key.access_key, key.secret_key.expose_secret()),
            None => Self::new(settings),
        }
    }

    pub fn new(settings: &ObjectStoreSettings) -> Result<ObjectStore, ObjectError> {
        Self::with_key(
            settings,
            &settings.access_key,
            settings.secret_key.expose_secret(),
        )
    }

    fn with_key(
        settings: &ObjectStoreSettings,
        access_key: &str,
        secret_key: &str,
    ) -> Result<ObjectStore, ObjectError> {
        if access_key.is_empty() {
            return Err(ObjectError::Config(
                "object_store.access_key is empty (run deploy/local/stack-up.sh or set SPORTELLO__OBJECT_STORE__ACCESS_KEY)".into(),
            ));
        }
        let credentials = Credentials::new(Some(access_key), Some(secret_key), None, None, None)
            .map_err(|e| ObjectError::Config(e.to_string()))?;
        let bucket = |endpoint: &str, name: &str| {
            let region = Region::Custom {
                region: settings.region.clone(),
                endpoint: endpoint.trim_end_matches('/').to_owned(),
            };
            Bucket::new(name, region, credentials.clone())
                .map_err(|e| ObjectError::Config(e.to_string()))?
                .with_path_style()
                .with_request_timeout(Duration::from_secs(settings.request_timeout_secs))
                .map_err(|e| ObjectError::Config(e.to_string()))
        };
        let endpoints = std::iter::once(&settings.endpoint)
            .chain(&settings.failover_endpoints)
            .map(|endpoint| {
                Ok(Buckets {
                    staging: bucket(endpoint, &settings.staging_bucket)?,
                    archive: bucket(endpoint, &settings.archive_bucket)?,
                })
            })
            .collect::<Result<Vec<_>, ObjectError>>()?;
        Ok(ObjectStore {
            endpoints: endpoints.into(),
            current: Arc::new(AtomicUsize::new(0)),
            staging_prefix: settings.staging_root().to_owned(),
        })
    }

    /// The bucket `key` lives in, at the endpoint that answered last.
    fn bucket_for(&self, key: &str) -> &Bucket {
        self.bucket_at(self.current.load(Ordering::Relaxed), key)
    }

    fn bucket_at<'a>(&'a self, endpoint: usize, key: &str) -> &'a Bucket {
        let buckets = &self.endpoints[endpoint % self.endpoints.len()];
        match key.strip_prefix(self.staging_prefix.as_str()) {
            Some(rest) if rest.starts_with('/') => &buckets.staging,
            _ => &buckets.archive,
        }
    }

    /// `request` on the bucket of `key` at the endpoint that answered last, then, while the
    /// store does not answer ([`ObjectError::Unavailable`]), at each other endpoint in turn;
    /// the first that answers becomes the one to use. Every request here may be sent again
    /// (a PUT of the same bytes, a read): one the store took before the connection failed
    /// changes nothing when it is repeated.
    async fn at_any_endpoint<'a, T>(
        &'a self,
        key: &str,
        request: impl Fn(&'a Bucket) -> BoxFuture<'a, Result<T, ObjectError>>,
    ) -> Result<T, ObjectError> {
        let first = self.current.load(Ordering::Relaxed);
        let mut step = 0;
        loop {
            let endpoint = (first + step) % self.endpoints.len();
            match request(self.bucket_at(endpoint, key)).await {
                Err(ObjectError::Unavailable(reason)) if step + 1 < self.endpoints.len() => {
                    tracing::warn!(
                        endpoint = %self.bucket_at(endpoint, key).url(),
                        reason = %reason,
                        "object store endpoint did not answer; trying the next"
                    );
                    step += 1;
                }
                answered => {
                    if step > 0 && !matches!(answered, Err(ObjectError::Unavailable(_))) {
                        self.current.store(endpoint, Ordering::Relaxed);
                    }
                    return answered;
                }
            }
        }
    }

    /// Where intake parks a large inline document until storage archives it.
    pub fn staging_key(&self, practice_id: uuid::Uuid, position: usize) -> String {
        crate::domain::staged_key::intake_key(&self.staging_prefix, practice_id, position)
    }

    /// The configured staging prefix, without surrounding slashes: what staged keys are
    /// checked against (see [`crate::domain::staged_key`]).
    pub fn staging_prefix(&self) -> &str {
        &self.staging_prefix
    }

    pub async fn put(
        &self,
        key: &str,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<(), ObjectError> {
        self.at_any_endpoint(key, |bucket| {
            Box::pin(async move {
                requests::count(&requests::PUT);
                bucket
                    .put_object_with_content_type(key, bytes, content_type)
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(key, e))
            })
        })
        .await
    }

    /// Like [`ObjectStore::put`], sending `sha256` (lowercase hex) as `x-amz-checksum-sha256`:
    /// the store computes the digest of what it received and refuses the object
    /// ([`ObjectError::BadDigest`]) unless it is that one. Garage 2.5 does (checked by
    /// shared/archive/tests/object_checksums.rs); the object is then stored with its checksum.
    pub async fn put_checked(
        &self,
        key: &str,
        bytes: &[u8],
        content_type: &str,
        sha256: &str,
    ) -> Result<(), ObjectError> {
        use base64::Engine;
        let digest = hex::decode(sha256)
            .map_err(|_| ObjectError::Config(format!("`{sha256}` is not a hex SHA-256")))?;
        let checksum = base64::engine::general_purpose::STANDARD.encode(digest);
        let checksum = checksum.as_str();
        self.at_any_endpoint(key, |bucket| {
            Box::pin(async move {
                requests::count(&requests::PUT);
                bucket
                    .put_object_builder(key, bytes)
                    .with_content_type(content_type)
                    .with_header("x-amz-checksum-sha256", checksum)
                    .map_err(|e| ObjectError::Config(e.to_string()))?
                    .execute()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(key, e))
            })
        })
        .await
    }

    pub async fn get(&self, key: &str) -> Result<Vec<u8>, ObjectError> {
        self.at_any_endpoint(key, |bucket| {
            Box::pin(async move {
                requests::count(&requests::GET);
                bucket
                    .get_object(key)
                    .await
                    .map(|response| response.to_vec())
                    .map_err(|e| classify(key, e))
            })
        })
        .await
    }

    /// The first `len` bytes (fewer if the object is shorter): enough to sniff the media type.
    pub async fn head_bytes(&self, key: &str, len: usize) -> Result<Vec<u8>, ObjectError> {
        let end = len.saturating_sub(1) as u64;
        self.at_any_endpoint(key, |bucket| {
            Box::pin(async move {
                requests::count(&requests::GET);
                match bucket.get_object_range(key, 0, Some(end)).await {
                    Ok(response) => Ok(response.to_vec()),
                    // An empty object has no byte 0: 416 means "exists, nothing to read".
                    Err(S3Error::HttpFailWithBody(416, _)) => Ok(Vec::new()),
                    Err(e) => Err(classify(key, e)),
                }
            })
        })
        .await
    }

    /// Up to `len` bytes from `offset` (fewer at the end of the object): what the content check
    /// reads of a large staged document — its head, its tail, a window — instead of all of it.
    pub async fn range_bytes(
        &self,
        key: &str,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, ObjectError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let end = offset.saturating_add(len as u64 - 1);
        self.at_any_endpoint(key, |bucket| {
            Box::pin(async move {
                requests::count(&requests::GET);
                match bucket.get_object_range(key, offset, Some(end)).await {
                    Ok(response) => Ok(response.to_vec()),
                    // Past the end: nothing to read there.
                    Err(S3Error::HttpFailWithBody(416, _)) => Ok(Vec::new()),
                    Err(e) => Err(classify(key, e)),
                }
            })
        })
        .await
    }

    /// SHA-256 (lowercase hex) and size of an object, read as a stream so memory stays flat.
    pub async fn digest(&self, key: &str) -> Result<(String, u64), ObjectError> {
        use futures::StreamExt;
        let mut response = self.open_stream(key).await?;
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
        self.at_any_endpoint(key, |bucket| {
            Box::pin(async move {
                requests::count(&requests::OTHER);
                bucket
                    .delete_object(key)
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(key, e))
            })
        })
        .await
    }

    /// Whether `key` exists. A 404 is an answer (`false`), anything else but success is not.
    pub async fn exists(&self, key: &str) -> Result<bool, ObjectError> {
        self.at_any_endpoint(key, |bucket| {
            Box::pin(async move {
                requests::count(&requests::HEAD);
                match bucket.head_object(key).await {
                    Ok((_, 404)) => Ok(false),
                    Ok(_) => Ok(true),
                    Err(S3Error::HttpFailWithBody(404, _)) => Ok(false),
                    Err(e) => Err(ObjectError::Unavailable(e.to_string())),
                }
            })
        })
        .await
    }

    /// Copies `from` to `to` through this process with at most one part in memory: the source
    /// is read as a stream and written as a multipart upload of [`PART_SIZE`] parts, one at a
    /// time. rust-s3's own `put_object_stream` uploads up to ten parts at once, which would
    /// let a single large document cost more memory than the worker is allowed.
    pub async fn copy_streaming(
        &self,
        from: &str,
        to: &str,
        content_type: &str,
    ) -> Result<u64, ObjectError> {
        self.copy_through(from, to, content_type, None).await
    }

    /// The copy itself: `from` streamed into a [`PartUpload`] to `to`, aborted on any error.
    async fn copy_through(
        &self,
        from: &str,
        to: &str,
        content_type: &str,
        sha256: Option<&str>,
    ) -> Result<u64, ObjectError> {
        use futures::StreamExt;
        let mut source = self.open_stream(from).await?;
        let mut upload = PartUpload::new(self, to, content_type, sha256);
        let copied = async {
            while let Some(chunk) = source.bytes().next().await {
                upload.write(&chunk.map_err(|e| classify(from, e))?).await?;
            }
            upload.finish().await
        }
        .await;
        if copied.is_err() {
            upload.abort().await;
        }
        copied
    }

    /// Like [`ObjectStore::copy_streaming`], never leaving at `to` an object whose SHA-256 is
    /// not `sha256` (lowercase hex): a small object goes as one [`ObjectStore::put_checked`],
    /// which the store verifies; a multipart one is hashed as its parts go (each part's own
    /// SHA-256 is signed with it and verified by the store) and completed only if the whole
    /// matches, else aborted ([`ObjectError::BadDigest`]).
    pub async fn copy_streaming_checked(
        &self,
        from: &str,
        to: &str,
        content_type: &str,
        sha256: &str,
    ) -> Result<u64, ObjectError> {
        self.copy_through(from, to, content_type, Some(sha256))
            .await
    }

    /// Every key under `prefix` (for checks and operations, not for hot paths).
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, ObjectError> {
        let pages = self
            .at_any_endpoint(prefix, |bucket| {
                Box::pin(async move {
                    requests::count(&requests::OTHER);
                    bucket
                        .list(prefix.to_owned(), None)
                        .await
                        .map_err(|e| classify(prefix, e))
                })
            })
            .await?;
        Ok(pages
            .into_iter()
            .flat_map(|page| page.contents.into_iter().map(|object| object.key))
            .collect())
    }

    /// A GET URL anyone holding it may use until it expires: how back offices fetch documents
    /// without sharing the store's credentials.
    pub async fn presign_get(&self, key: &str, valid_secs: u32) -> Result<String, ObjectError> {
        self.bucket_for(key)
            .presign_get(key, valid_secs, None)
            .await
            .map_err(|e| ObjectError::Config(e.to_string()))
    }

    /// Whether the store answers at all (for start-up checks and readiness).
    /// A 403 is an answer too: a party's key may not read a bucket it never needs.
    pub async fn ping(&self) -> Result<(), ObjectError> {
        let probe = "sportello-readiness-probe";
        for key in [format!("{}/{probe}", self.staging_prefix), probe.to_owned()] {
            self.at_any_endpoint(&key, |bucket| {
                Box::pin(async move {
                    match bucket.head_object(probe).await {
                        Ok(_)
                        | Err(S3Error::HttpFailWithBody(404, _))
                        | Err(S3Error::HttpFailWithBody(403, _)) => Ok(()),
                        Err(e) => Err(ObjectError::Unavailable(e.to_string())),
                    }
                })
            })
            .await?;
        }
        Ok(())
    }

    /// An object's bytes as a stream (memory stays flat however large it is).
    async fn open_stream(&self, key: &str) -> Result<s3::request::ResponseDataStream, ObjectError> {
        self.at_any_endpoint(key, |bucket| {
            Box::pin(async move {
                requests::count(&requests::GET);
                bucket
                    .get_object_stream(key)
                    .await
                    .map_err(|e| classify(key, e))
            })
        })
        .await
    }
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
