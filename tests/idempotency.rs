//! The same submission twice is one practice; the same key with other content is a conflict.

#[path = "quiet/mod.rs"]
mod quiet;

use sportello_e2e::{RunningFleet, TestEnv, json_files, samples_dir};
use sportello_shared::domain::state::PracticeState;
use std::path::PathBuf;

fn first_valid_sample() -> PathBuf {
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(samples_dir().join("expected.json")).unwrap())
            .unwrap();
    json_files(&samples_dir().join("submissions"))
        .into_iter()
        .find(|f| expected[f.file_name().unwrap().to_str().unwrap()]["valid"] == true)
        .expect("a valid sample")
}

/// The stages a duplicate can reach: intake passes a copy on while the practice still waits for
/// validation, and validation passes on again a practice it already validated.
const THROUGH_THE_REGISTER: [&str; 3] = ["intake", "validation", "protocol"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_published_three_times_is_one_practice_with_one_history() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&THROUGH_THE_REGISTER);
    let sample = first_valid_sample();
    let files = vec![sample.clone(), sample.clone(), sample];
    let ids = env.submit_files(&files).await;
    let id = ids[0];
    assert!(ids.iter().all(|other| *other == id), "same key, same id");
    // Counting means something only once all three copies, and whatever they were passed on
    // as, have been handled by every stage they reached.
    quiet::until_quiet(
        &env,
        &quiet::queues_of(&env, &THROUGH_THE_REGISTER),
        fleet,
        RunningFleet::stop,
        || env.start_fleet(&THROUGH_THE_REGISTER),
    )
    .await;

    let pool = env.app.store.pool();
    let practices: i64 = sqlx::query_scalar("SELECT count(*) FROM practices")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(practices, 1);
    let history = env.app.store.history(id).await.unwrap();
    let states: Vec<&str> = history.iter().map(|h| h.to.as_str()).collect();
    assert_eq!(states, ["received", "validated", "registered"]);
    let numbers: i64 = sqlx::query_scalar("SELECT count(*) FROM registrations")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(numbers, 1, "registered once, not three times");
    for worker in THROUGH_THE_REGISTER {
        let failed = env.drain(&env.error_queue_of(worker)).await;
        assert!(failed.is_empty(), "{worker}: {:?}", failed[0].reason);
    }

    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_with_different_content_is_recorded_as_a_conflict_and_changes_nothing() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&["intake", "validation"]);
    let sample = first_valid_sample();
    let mut altered: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sample).unwrap()).unwrap();
    let original_subject = altered["subject"].as_str().unwrap().to_owned();
    altered["subject"] = serde_json::json!("Oggetto cambiato dopo l'invio");
    let dir = std::env::temp_dir().join(format!("sportello-{}", env.namespace));
    std::fs::create_dir_all(&dir).unwrap();
    let altered_file = dir.join("altered.json");
    std::fs::write(&altered_file, serde_json::to_vec(&altered).unwrap()).unwrap();

    let id = env.submit_files(&[sample]).await[0];
    env.wait_until_all_in(&[id], &[PracticeState::Validated])
        .await;
    env.submit_files(&[altered_file]).await;
    // "Changes nothing" holds only once the altered copy, and anything it was passed on as,
    // has been handled.
    quiet::until_quiet(
        &env,
        &quiet::queues_of(&env, &["intake", "validation"]),
        fleet,
        RunningFleet::stop,
        || env.start_fleet(&["intake", "validation"]),
    )
    .await;

    let conflicts: Vec<(uuid::Uuid, serde_json::Value)> =
        sqlx::query_as("SELECT practice_id, submission FROM submission_conflicts")
            .fetch_all(env.app.store.pool())
            .await
            .unwrap();
    assert_eq!(conflicts.len(), 1, "the conflict is recorded");
    assert_eq!(conflicts[0].0, id);
    assert_eq!(conflicts[0].1["subject"], "Oggetto cambiato dopo l'invio");
    let practice = env.practice(id).await.unwrap();
    assert_eq!(
        practice.subject, original_subject,
        "the practice is not overwritten"
    );
    assert_eq!(env.app.store.history(id).await.unwrap().len(), 2);

    env.teardown().await;
    let _ = std::fs::remove_dir_all(dir);
}
