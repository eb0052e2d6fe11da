//! A 50 MiB document goes through storage with bounded memory: the storage worker runs as its
//! own process (`sportello run storage`) and its peak resident memory (VmHWM) stays under
//! 150 MiB while it copies the staged document to the archive and reads it back.

use sportello_e2e::{TestEnv, samples_dir, sportello_binary};
use sportello_shared::domain::staged_key::new_upload_key;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::objects::sha256_hex;
use std::process::{Command, Stdio};
use uuid::Uuid;

const SIZE: usize = 50 * 1024 * 1024;
const LIMIT_KIB: u64 = 150 * 1024;

/// A well-formed PDF as the content check reads it — header, then at the end two objects, a
/// cross-reference table with their offsets, a trailer naming the catalog, `startxref` and
/// `%%EOF` — with 50 MiB of noise in between.
fn large_pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n%".to_vec();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    // What follows the noise has a fixed length: the offsets are 10 digits, and startxref's
    // (just under 50 MiB) 8.
    let structure_len = structure(&[0, 0], 10_000_000).len();
    while bytes.len() < SIZE - structure_len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(SIZE - structure_len);
    let catalog = bytes.len() + 1;
    let pages = catalog + CATALOG.len();
    let xref = pages + PAGES.len();
    bytes.extend_from_slice(&structure(&[catalog, pages], xref));
    assert_eq!(bytes.len(), SIZE);
    bytes
}

const CATALOG: &str = "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n";
const PAGES: &str = "2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n";

fn structure(offsets: &[usize; 2], xref: usize) -> Vec<u8> {
    format!(
        "\n{CATALOG}{PAGES}xref\n0 3\n0000000000 65535 f \n{:010} 00000 n \n{:010} 00000 n \n\
         trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        offsets[0], offsets[1]
    )
    .into_bytes()
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mib_document_is_archived_with_bounded_memory() {
    // The shipped catalog stops at 20 MiB per document; this deployment allows 60 MiB.
    let catalog = std::env::temp_dir().join(format!("catalog-{}.toml", Uuid::new_v4()));
    let text =
        std::fs::read_to_string(sportello_e2e::repository_root().join("shared/catalog.toml"))
            .unwrap()
            .replace("max_bytes = 20_971_520", "max_bytes = 62_914_560");
    std::fs::write(&catalog, text).unwrap();
    let catalog_file = catalog.display().to_string();
    let env = TestEnv::with_settings(|s| s.catalog.file = catalog_file.clone()).await;

    let bytes = large_pdf();
    let sha256 = sha256_hex(&bytes);
    let staged = new_upload_key(env.settings.object_store.staging_root());
    env.app
        .objects
        .put(&staged, &bytes, "application/pdf")
        .await
        .unwrap();
    drop(bytes);
    let mut submission: serde_json::Value = serde_json::from_slice(
        &std::fs::read(samples_dir().join("submissions/protocollo.istanza_generica-01.json"))
            .unwrap(),
    )
    .unwrap();
    submission["idempotency_key"] = format!("large-{}", Uuid::new_v4()).into();
    submission["documents"] = serde_json::json!([{
        "role": "istanza",
        "file_name": "planimetrie complete.pdf",
        "media_type": "application/pdf",
        "sha256": sha256,
        "staged_key": staged,
    }]);
    let file = std::env::temp_dir().join(format!("large-{}.json", Uuid::new_v4()));
    std::fs::write(&file, serde_json::to_vec(&submission).unwrap()).unwrap();

    let mut child = Command::new(sportello_binary())
        .args(["run", "storage"])
        .envs(env.child_env())
        .env("SPORTELLO__CATALOG__FILE", &catalog)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sportello runs");
    let fleet = env.start_fleet(&["intake", "validation", "protocol"]);
    let id = env.submit_files(std::slice::from_ref(&file)).await[0];
    env.wait_until_all_in(&[id], &[PracticeState::Stored, PracticeState::Rejected])
        .await;
    let practice = env.practice(id).await.unwrap();
    assert_eq!(
        practice.state,
        PracticeState::Stored,
        "{:?}",
        practice.rejection_reasons
    );

    let peak = peak_rss_kib(child.id()).expect("the storage process is alive");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(
        peak < LIMIT_KIB,
        "the storage worker peaked at {} MiB",
        peak / 1024
    );

    let (key, stored_sha, size): (String, String, i64) = sqlx::query_as(
        "SELECT object_key, sha256, size_bytes FROM practice_archive_objects \
         WHERE practice_id = $1 AND kind = 'document'",
    )
    .bind(id)
    .fetch_one(env.app.store.pool())
    .await
    .unwrap();
    assert!(key.ends_with("/01-planimetrie_complete.pdf"), "{key}");
    assert_eq!(size as usize, SIZE);
    assert_eq!(stored_sha, sha256);
    assert_eq!(
        env.app.objects.digest(&key).await.unwrap(),
        (sha256, SIZE as u64)
    );
    assert!(
        !env.app.objects.exists(&staged).await.unwrap(),
        "the staged copy is gone"
    );
    println!("storage worker peak RSS: {} MiB", peak / 1024);

    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&catalog);
    fleet.stop().await;
    env.teardown().await;
}
