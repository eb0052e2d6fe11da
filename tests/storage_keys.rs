//! Each party's object-store key holds only the bucket rights that party needs, and Garage
//! itself enforces them: the portal's key, which uploads documents before a submission, can
//! neither write the archive nor read anything back; the workers that only read cannot write
//! or delete. Played with the keys deploy/local/stack-up.sh gives each party.

use sportello_e2e::TestEnv;
use sportello_shared::domain::staged_key::new_upload_key;
use sportello_shared::objects::{ObjectError, ObjectStore};

fn key_of(env: &TestEnv, party: &str) -> ObjectStore {
    assert!(
        env.settings.object_store.keys.contains_key(party),
        "sportello.toml has no object-store key for {party}: run deploy/local/stack-up.sh"
    );
    ObjectStore::for_party(&env.settings.object_store, party).unwrap()
}

fn refused(result: Result<impl std::fmt::Debug, ObjectError>, what: &str) {
    match result {
        Err(ObjectError::Forbidden(_)) => {}
        other => panic!("{what}: expected Garage to refuse, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portals_key_writes_uploads_only_and_never_the_archive() {
    let env = TestEnv::new().await;
    let portal = key_of(&env, "portal");
    let operations = &env.app.objects;
    let archive_key = format!(
        "archivio/{}/PG/2026/0000001/01-documento.pdf",
        env.namespace
    );

    refused(
        portal
            .put(&archive_key, b"%PDF-1.4 forged", "application/pdf")
            .await,
        "the portal writing the archive",
    );
    assert!(!operations.exists(&archive_key).await.unwrap());

    let upload = new_upload_key(env.settings.object_store.staging_root());
    portal
        .put(&upload, b"%PDF-1.4 an upload", "application/pdf")
        .await
        .expect("the portal uploads to staging");
    refused(
        portal.get(&upload).await,
        "the portal reading an upload back",
    );
    assert_eq!(
        operations.get(&upload).await.unwrap(),
        b"%PDF-1.4 an upload"
    );

    // A staging key climbing out with `..` stays in the staging bucket, whatever the store
    // makes of it: the archive bucket is another bucket, with another key.
    let climbing = format!(
        "{}/../{archive_key}",
        env.settings.object_store.staging_root()
    );
    let _ = portal
        .put(&climbing, b"%PDF-1.4 forged", "application/pdf")
        .await;
    assert!(
        !operations.exists(&archive_key).await.unwrap(),
        "nothing reached the archive"
    );
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_cannot_write_or_delete_and_only_archivists_write_the_archive() {
    let env = TestEnv::new().await;
    let upload = new_upload_key(env.settings.object_store.staging_root());
    key_of(&env, "portal")
        .put(&upload, b"%PDF-1.4 an upload", "application/pdf")
        .await
        .unwrap();
    let validation = key_of(&env, "validation");
    assert_eq!(
        validation.head_bytes(&upload, 8).await.unwrap(),
        b"%PDF-1.4"
    );
    refused(
        validation.delete(&upload).await,
        "validation deleting an upload",
    );
    refused(
        validation.put(&upload, b"other", "application/pdf").await,
        "validation overwriting an upload",
    );

    let archive_key = format!("archivio/{}/PG/2026/0000002/segnatura.xml", env.namespace);
    for reader in ["dispatch", "notification", "api", "validation", "intake"] {
        refused(
            key_of(&env, reader)
                .put(&archive_key, b"<x/>", "application/xml")
                .await,
            &format!("{reader} writing the archive"),
        );
    }
    let storage = key_of(&env, "storage");
    storage
        .put(&archive_key, b"<x/>", "application/xml")
        .await
        .expect("storage writes the archive");
    assert_eq!(
        key_of(&env, "dispatch").get(&archive_key).await.unwrap(),
        b"<x/>"
    );
    storage
        .delete(&upload)
        .await
        .expect("storage removes what it archived");
    env.teardown().await;
}
