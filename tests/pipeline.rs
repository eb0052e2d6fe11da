//! The samples, end to end through intake, validation and the register on the real stack: every
//! valid sample ends `registered` with a gapless number and a signed segnatura, and waits for
//! storage; every invalid one ends `rejected` with exactly the reasons `samples/expected.json`
//! lists.

use sportello_e2e::{TestEnv, json_files, samples_dir};
use sportello_fleet::submit;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::domain::tax_code::FiledTaxCode;
use sportello_shared::messages::StageMessage;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_is_validated_or_rejected_with_its_reasons() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&["intake", "validation", "protocol"]);
    let files = json_files(&samples_dir().join("submissions"));
    assert!(files.len() >= 25, "the samples cover every desk");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(samples_dir().join("expected.json")).unwrap())
            .unwrap();

    let submitted = submit::submit(
        &env.settings.broker,
        &env.exchange("intake"),
        env.settings.object_store.staging_root(),
        &files,
        false,
        |_| {},
    )
    .await
    .expect("samples publish");
    let ids: Vec<Uuid> = submitted.iter().map(|s| s.practice_id.unwrap()).collect();
    env.wait_until_all_in(&ids, &[PracticeState::Registered, PracticeState::Rejected])
        .await;

    let mut valid_ids = BTreeSet::new();
    let mut per_citizen: BTreeMap<FiledTaxCode, usize> = BTreeMap::new();
    for done in &submitted {
        let name = done.file.file_name().unwrap().to_str().unwrap();
        let want = &expected[name];
        assert!(want.is_object(), "{name} is missing from expected.json");
        let id = done.practice_id.unwrap();
        let practice = env.practice(id).await.unwrap();
        let history = env.app.store.history(id).await.unwrap();
        let states: Vec<&str> = history.iter().map(|h| h.to.as_str()).collect();
        *per_citizen.entry(practice.tax_code.clone()).or_default() += 1;
        if want["valid"].as_bool().unwrap() {
            assert_eq!(
                practice.state,
                PracticeState::Registered,
                "{name}: {:?}",
                practice.rejection_reasons
            );
            assert_eq!(states, ["received", "validated", "registered"], "{name}");
            valid_ids.insert(id);
        } else {
            assert_eq!(practice.state, PracticeState::Rejected, "{name}");
            assert_eq!(states, ["received", "rejected"], "{name}");
            let reasons = practice
                .rejection_reasons
                .as_ref()
                .unwrap()
                .as_array()
                .unwrap();
            let codes: BTreeSet<&str> = reasons
                .iter()
                .map(|r| r["code"].as_str().unwrap())
                .collect();
            let want_codes: BTreeSet<&str> = want["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            assert_eq!(codes, want_codes, "{name}");
            for reason in reasons {
                let message = reason["message"].as_str().unwrap();
                assert!(!message.is_empty(), "{name}: every reason explains itself");
                assert!(
                    !message.contains(practice.tax_code.as_str()),
                    "{name}: no tax code in the message"
                );
            }
        }
    }

    // The folder groups a citizen's practices.
    for (tax_code, count) in &per_citizen {
        assert_eq!(env.app.store.folder(tax_code).await.unwrap().len(), *count);
    }
    assert!(
        per_citizen.values().any(|n| *n > 1),
        "some citizen has several practices"
    );

    // Large inline documents were parked in the staging area, with their bytes intact.
    let mut staged = 0;
    for id in &ids {
        for document in env.app.store.documents(*id).await.unwrap() {
            if let Some(key) = &document.staged_key {
                staged += 1;
                assert!(key.starts_with(&env.settings.object_store.staging_prefix));
                let (sha256, size) = env.app.objects.digest(key).await.unwrap();
                assert_eq!((sha256, size), (document.sha256.clone(), document.size));
            } else {
                assert!(document.size as usize <= env.settings.object_store.inline_limit_bytes);
            }
        }
    }
    assert!(
        staged > 0,
        "a sample carries a document above the inline limit"
    );

    // Every valid practice has one registration: numbers 1..N, no gap, no duplicate, each
    // segnatura signed by the AOO and listing every document's impronta.
    let registrations: Vec<(uuid::Uuid, i64, String, serde_json::Value)> = sqlx::query_as(
        "SELECT practice_id, number, segnatura, documents FROM registrations ORDER BY number",
    )
    .fetch_all(env.app.store.pool())
    .await
    .unwrap();
    assert_eq!(registrations.len(), valid_ids.len());
    let numbers: Vec<i64> = registrations.iter().map(|r| r.1).collect();
    assert_eq!(numbers, (1..=valid_ids.len() as i64).collect::<Vec<_>>());
    assert_eq!(
        registrations.iter().map(|r| r.0).collect::<BTreeSet<_>>(),
        valid_ids
    );
    for (id, number, segnatura, documents) in &registrations {
        assert!(
            segnatura.contains(&format!("{number:07}")),
            "{id}: the number is in the segnatura"
        );
        for document in env.app.store.documents(*id).await.unwrap() {
            let impronta = sportello_register::segnatura::Impronta::from_hex(&document.sha256)
                .unwrap()
                .to_base64();
            assert!(
                segnatura.contains(&impronta),
                "{id}: the impronta of {}",
                document.file_name
            );
            assert!(
                documents
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d["impronta"] == impronta.as_str())
            );
        }
        sportello_e2e::assert_signature_verifies(segnatura);
    }

    // Exactly the valid practices wait for storage, once each.
    let waiting = env.drain(&env.queue_of("storage")).await;
    let waiting: Vec<Uuid> = waiting
        .iter()
        .map(|m| StageMessage::parse(&m.body).unwrap().practice_id)
        .collect();
    assert_eq!(
        waiting.len(),
        valid_ids.len(),
        "one registration request per valid practice"
    );
    assert_eq!(waiting.into_iter().collect::<BTreeSet<_>>(), valid_ids);

    fleet.stop().await;
    env.teardown().await;
}
