//! Inputs an attacker or a careless sender would try, played against the real fleet: each is
//! refused for its own reason, and nothing outside the sender's own uploads is read, moved or
//! deleted. The first is the breach that mattered most: a `staged_key` climbing out of the
//! staging area let one citizen file — and storage then delete — another citizen's archived
//! original.

#[allow(dead_code)]
#[path = "http/support.rs"]
mod support;

use sportello_e2e::{TestEnv, samples_dir};
use sportello_shared::domain::staged_key::new_upload_key;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::domain::submission::practice_id_for;
use sportello_shared::objects::sha256_hex;
use uuid::Uuid;

fn sample(name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(samples_dir().join("submissions").join(name)).unwrap())
        .unwrap()
}

/// A valid general request by another citizen, whose only document is the staged object `key`.
fn attacker_submission(key: &str, staged_key: &str, sha256: &str) -> serde_json::Value {
    let mut submission = sample("protocollo.istanza_generica-01.json");
    submission["idempotency_key"] = key.into();
    submission["applicant"]["tax_code"] = "TSTACC80A01A794E".into();
    submission["documents"] = serde_json::json!([{
        "role": "istanza",
        "file_name": "istanza.pdf",
        "media_type": "application/pdf",
        "sha256": sha256,
        "staged_key": staged_key,
    }]);
    submission
}

/// Publishes bodies to intake as they are (a hostile sender does not use our client).
async fn archived_objects(env: &TestEnv, id: Uuid) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT object_key, sha256 FROM practice_archive_objects WHERE practice_id = $1 ORDER BY object_key",
    )
    .bind(id)
    .fetch_all(env.app.store.pool())
    .await
    .unwrap()
}

async fn practice_count(env: &TestEnv) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM practices")
        .fetch_one(env.app.store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_key_aimed_at_another_citizens_archive_reads_and_deletes_nothing() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&["intake", "validation", "protocol", "storage"]);
    let victim = env
        .submit_files(&[samples_dir().join("submissions/protocollo.istanza_generica-01.json")])
        .await[0];
    env.wait_until_all_in(&[victim], &[PracticeState::Stored])
        .await;
    let archived = archived_objects(&env, victim).await;
    assert!(archived.len() >= 3, "{archived:?}");

    let root = env.settings.object_store.staging_root().to_owned();
    let mut attacks = Vec::new();
    for (n, (object_key, sha256)) in archived.iter().enumerate() {
        for staged in [
            format!("{root}/../{object_key}"),
            format!("{root}/uploads/../../{object_key}"),
            format!("{root}/uploads/%2e%2e/%2e%2e/{object_key}"),
            format!("{root}//{object_key}"),
            object_key.clone(),
        ] {
            attacks.push(attacker_submission(
                &format!("attack-{n}-{}", attacks.len()),
                &staged,
                sha256,
            ));
        }
    }
    // Intake's own staging copy of the victim's document, and an upload nobody made.
    attacks.push(attacker_submission(
        "attack-intake-copy",
        &format!("{root}/{victim}/0"),
        &"0".repeat(64),
    ));
    attacks.push(attacker_submission(
        "attack-nothing-there",
        &new_upload_key(&root),
        &"0".repeat(64),
    ));
    env.publish_submissions(&attacks).await;

    let refused = env
        .wait_for_messages(&env.error_queue_of("intake"), attacks.len())
        .await;
    assert_eq!(refused.len(), attacks.len());
    for message in &refused {
        let reason = message.reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains("staged_key") && message.attempt == Some(0),
            "{reason}"
        );
    }
    assert!(
        refused.iter().any(|m| m
            .reason
            .as_deref()
            .unwrap()
            .contains("nothing was uploaded")),
        "the upload nobody made is told apart"
    );
    assert_eq!(practice_count(&env).await, 1, "no attack became a practice");
    // The victim's archive is whole: every object there, with the bytes its impronta names.
    assert_eq!(archived_objects(&env, victim).await, archived);
    for (object_key, sha256) in &archived {
        let (found, _) = env.app.objects.digest(object_key).await.unwrap();
        assert_eq!(&found, sha256, "{object_key}");
    }
    assert_eq!(
        env.practice(victim).await.unwrap().state,
        PracticeState::Stored
    );

    fleet.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_a_document_of_one_practice_only() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&["intake", "validation"]);
    let pdf = std::fs::read(samples_dir().join("documents/istanza-esposito.pdf")).unwrap();
    let upload = new_upload_key(env.settings.object_store.staging_root());
    env.app
        .objects
        .put(&upload, &pdf, "application/pdf")
        .await
        .unwrap();
    let sha256 = sha256_hex(&pdf);
    let mut owner = attacker_submission("upload-owner", &upload, &sha256);
    owner["applicant"] = sample("protocollo.istanza_generica-01.json")["applicant"].clone();
    env.publish_submissions(&[owner]).await;
    let owner_id = practice_id_for("upload-owner");
    env.wait_until_all_in(
        &[owner_id],
        &[PracticeState::Validated, PracticeState::Rejected],
    )
    .await;

    env.publish_submissions(&[attacker_submission("upload-thief", &upload, &sha256)])
        .await;
    let refused = env
        .wait_for_messages(&env.error_queue_of("intake"), 1)
        .await;
    let reason = refused[0].reason.as_deref().unwrap();
    assert!(reason.contains("another practice"), "{reason}");
    assert!(
        env.practice(practice_id_for("upload-thief"))
            .await
            .is_none()
    );

    fleet.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tax_code_typed_with_spaces_is_filed_under_the_real_code() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&["intake", "validation"]);
    let mut submission = sample("protocollo.istanza_generica-01.json");
    let real = submission["applicant"]["tax_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let spaced = format!(" {} {} {} ", &real[..6], &real[6..11], &real[11..]);
    submission["applicant"]["tax_code"] = spaced.clone().into();
    submission["idempotency_key"] = "spaced-tax-code".into();
    // The same citizen, spaced the same way, with a mistake of theirs: the rejection must reach
    // the folder they can see (the case), not one under the code as typed.
    let mut mistaken = submission.clone();
    mistaken["idempotency_key"] = "spaced-tax-code-rejected".into();
    mistaken["subject"] = "   ".into();
    env.publish_submissions(&[submission, mistaken]).await;
    let id = practice_id_for("spaced-tax-code");
    let rejected = practice_id_for("spaced-tax-code-rejected");
    env.wait_until_all_in(
        &[id, rejected],
        &[PracticeState::Validated, PracticeState::Rejected],
    )
    .await;
    let practice = env.practice(id).await.unwrap();
    assert_eq!(
        practice.state,
        PracticeState::Validated,
        "{:?}",
        practice.rejection_reasons
    );
    let refused = env.practice(rejected).await.unwrap();
    assert_eq!(refused.state, PracticeState::Rejected);
    assert_eq!(refused.tax_code.as_str(), real, "filed under the real code");
    let folder = env.app.store.folder(&refused.tax_code).await.unwrap();
    for wanted in [id, rejected] {
        assert!(
            folder.iter().any(|entry| entry.practice.id == wanted),
            "{wanted} is in the folder of the real code"
        );
    }

    // The citizen's own area over HTTP shows both, the rejection with its Italian reason.
    let api = support::TestApi::start(&env).await;
    let listed = api
        .get(
            &format!("/citizens/{real}/practices"),
            Some(&api.citizen(&real)),
        )
        .await
        .json();
    let ids: Vec<&str> = listed["practices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    for wanted in [id, rejected] {
        assert!(
            ids.contains(&wanted.to_string().as_str()),
            "{wanted} in {listed}"
        );
    }
    let detail = api
        .get(&format!("/practices/{rejected}"), Some(&api.citizen(&real)))
        .await
        .json();
    assert_eq!(detail["state"], "rejected", "{detail}");
    assert!(
        detail.to_string().contains("Manca l'oggetto"),
        "the Italian reason: {detail}"
    );
    api.stop().await;

    fleet.stop().await;
    env.teardown().await;
}
