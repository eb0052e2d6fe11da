//! `sportello run all` killed with SIGKILL in the middle of a batch and started again loses no
//! practice and writes no duplicate history; SIGTERM then stops it cleanly. No back office
//! answers here, so every valid practice ends `dispatched`, waiting in its back office's queue.

use sportello_e2e::{TestEnv, json_files, samples_dir, sportello_binary};
use sportello_shared::domain::state::PracticeState;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PRACTICES: usize = 600;

fn start_fleet(env: &TestEnv) -> Child {
    Command::new(sportello_binary())
        .args(["run", "all"])
        .envs(env.child_env())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sportello starts")
}

async fn settled(env: &TestEnv) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM practices WHERE state IN ('dispatched', 'rejected')")
        .fetch_one(env.app.store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_batch_loses_nothing_and_duplicates_nothing() {
    let env = TestEnv::new().await;
    // PRACTICES distinct submissions made from the samples, each with its own key.
    let dir = std::env::temp_dir().join(format!("sportello-{}", env.namespace));
    std::fs::create_dir_all(&dir).unwrap();
    let samples = json_files(&samples_dir().join("submissions"));
    let mut files = Vec::with_capacity(PRACTICES);
    for i in 0..PRACTICES {
        let mut submission: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&samples[i % samples.len()]).unwrap()).unwrap();
        submission["idempotency_key"] = serde_json::json!(format!("crash-test-{i:05}"));
        let file = dir.join(format!("{i:05}.json"));
        std::fs::write(&file, serde_json::to_vec(&submission).unwrap()).unwrap();
        files.push(file);
    }
    let ids = env.submit_files(&files).await;

    let mut fleet = start_fleet(&env);
    let deadline = tokio::time::Instant::now() + sportello_e2e::PATIENCE;
    while settled(&env).await < 20 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the fleet never started working"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    fleet.kill().expect("SIGKILL");
    fleet.wait().unwrap();
    let at_kill = settled(&env).await;
    assert!(
        at_kill < PRACTICES as i64,
        "killed in the middle of the batch ({at_kill} done)"
    );

    let mut fleet = start_fleet(&env);
    env.wait_until_all_in(&ids, &[PracticeState::Dispatched, PracticeState::Rejected])
        .await;

    let practices: i64 = sqlx::query_scalar("SELECT count(*) FROM practices")
        .fetch_one(env.app.store.pool())
        .await
        .unwrap();
    assert_eq!(
        practices, PRACTICES as i64,
        "every submission is a practice, once"
    );
    let bad_histories: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT practice_id FROM practice_history GROUP BY practice_id \
         HAVING count(*) <> count(DISTINCT to_state) OR count(*) FILTER (WHERE to_state = 'received') <> 1) odd",
    )
    .fetch_one(env.app.store.pool())
    .await
    .unwrap();
    assert_eq!(bad_histories, 0, "each practice: every state once");
    let (registered, registrations, first, last): (i64, i64, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM practices WHERE state = 'dispatched'), count(*), min(number), max(number) \
         FROM registrations",
    )
    .fetch_one(env.app.store.pool())
    .await
    .unwrap();
    assert!(registered > 0);
    assert_eq!(
        registrations, registered,
        "one number per registered practice"
    );
    assert_eq!(
        (first, last),
        (Some(1), Some(registered)),
        "numbers 1..N without a gap"
    );
    for worker in env.app.topology.workers() {
        let failed = env.drain(&worker.error_queue).await;
        assert!(
            failed.is_empty(),
            "{}: {:?}",
            worker.worker,
            failed.first().and_then(|m| m.reason.clone())
        );
    }

    // SIGTERM: stop taking messages, finish those in hand, exit 0.
    let pid = fleet.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || fleet.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status}");

    env.teardown().await;
    let _ = std::fs::remove_dir_all(dir);
}
