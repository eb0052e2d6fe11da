//! What the archive relies on the object store for, checked against the real Garage: a PUT sent
//! with `x-amz-checksum-sha256` is refused, and nothing is stored, unless the bytes have that
//! SHA-256; a multipart copy whose whole digest is not the expected one is never completed; an
//! archive key holding other bytes is never overwritten (Garage 2.5 ignores `If-None-Match: *`
//! on PUT, so `put_verified` asks first).

//!
//! Needs only the object store of the local stack (`sportello.toml` at the repository root, from
//! deploy/local/stack-up.sh); every key is this run's own.

use sportello_archive::layout::{self, ArchiveError, Entry, Source};
use sportello_shared::config::Settings;
use sportello_shared::objects::{ObjectError, ObjectStore, PART_SIZE, sha256_hex};
use std::path::Path;

struct Env {
    settings: Settings,
    run: String,
}

impl Env {
    fn new() -> Env {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sportello.toml");
        assert!(
            config.is_file(),
            "{} is missing: run deploy/local/stack-up.sh first",
            config.display()
        );
        Env {
            settings: Settings::load(Some(&config)).expect("sportello.toml loads"),
            run: uuid::Uuid::new_v4().simple().to_string(),
        }
    }
}

fn storage_party(env: &Env) -> ObjectStore {
    ObjectStore::for_party(&env.settings.object_store, "storage").expect("storage's key")
}

fn archive_key(env: &Env, name: &str) -> String {
    format!("archivio/checks-{}/{name}", env.run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_refuses_bytes_that_are_not_their_checksum() {
    let env = Env::new();
    let objects = storage_party(&env);
    let body = b"istanza di cambio di residenza".to_vec();

    let good = archive_key(&env, "good");
    objects
        .put_checked(&good, &body, "application/json", &sha256_hex(&body))
        .await
        .expect("the right checksum is accepted");
    assert_eq!(objects.digest(&good).await.unwrap().0, sha256_hex(&body));

    let bad = archive_key(&env, "bad");
    let refused = objects
        .put_checked(&bad, &body, "application/json", &sha256_hex(b"other bytes"))
        .await;
    assert!(
        matches!(refused, Err(ObjectError::BadDigest(_))),
        "{refused:?}"
    );
    assert!(!objects.exists(&bad).await.unwrap(), "nothing stored");

    // put_verified: the same bytes again are a redelivery; other bytes are an alarm, and the
    // archived object stays as it was.
    let entry = |bytes: &'static [u8]| Entry {
        key: good.clone(),
        source: Source::Bytes(bytes),
        media_type: "application/json",
        sha256: sha256_hex(bytes),
        certified: false,
    };
    let same: &'static [u8] = b"istanza di cambio di residenza";
    assert_eq!(
        layout::put_verified(&objects, &entry(same)).await.unwrap(),
        body.len() as u64
    );
    let other = layout::put_verified(&objects, &entry(b"altre parole")).await;
    assert!(
        matches!(other, Err(ArchiveError::Conflict { .. })),
        "{other:?}"
    );
    assert_eq!(objects.digest(&good).await.unwrap().0, sha256_hex(&body));
    // A certified entry is not asked first: over an earlier attempt's object it puts the same
    // bytes again, and bytes other than its certified SHA-256 are never sent.
    let certified = Entry {
        certified: true,
        ..entry(same)
    };
    assert_eq!(
        layout::put_verified(&objects, &certified).await.unwrap(),
        body.len() as u64
    );
    let forged = Entry {
        source: Source::Bytes(b"altre parole"),
        ..certified.clone()
    };
    let refused = layout::put_verified(&objects, &forged).await;
    assert!(
        matches!(refused, Err(ArchiveError::Corrupted { .. })),
        "{refused:?}"
    );
    assert_eq!(objects.digest(&good).await.unwrap().0, sha256_hex(&body));
    let _ = objects.delete(&good).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_copy_completes_only_with_the_expected_digest() {
    let env = Env::new();
    let objects = storage_party(&env);
    let staged = format!(
        "{}/checks-{}/large",
        env.settings.object_store.staging_prefix, env.run
    );
    let large: Vec<u8> = (0..PART_SIZE + PART_SIZE / 2)
        .map(|i| (i % 251) as u8)
        .collect();
    objects
        .put(&staged, &large, "application/pdf")
        .await
        .unwrap();

    let refused_key = archive_key(&env, "large-refused");
    let refused = objects
        .copy_streaming_checked(&staged, &refused_key, "application/pdf", &sha256_hex(b"x"))
        .await;
    assert!(
        matches!(refused, Err(ObjectError::BadDigest(_))),
        "{refused:?}"
    );
    assert!(
        !objects.exists(&refused_key).await.unwrap(),
        "never completed"
    );

    let key = archive_key(&env, "large");
    let size = objects
        .copy_streaming_checked(&staged, &key, "application/pdf", &sha256_hex(&large))
        .await
        .unwrap();
    assert_eq!(size, large.len() as u64);
    assert_eq!(
        layout::verify_archived(&objects, &key, &sha256_hex(&large))
            .await
            .unwrap(),
        large.len() as u64
    );
    let _ = objects.delete(&key).await;
    let _ = objects.delete(&staged).await;
}
