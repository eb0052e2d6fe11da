//! The object store goes away for 60 s in the middle of a run (Garage stopped by its pid, then
//! restarted with deploy/local/stack-up.sh): practices wait in the retry tiers, then complete by
//! themselves — none lost, none stored twice, nothing in an error queue.
//!
//! Why it cannot disturb tests running at the same time: stopping Garage would break every
//! test using the object store at that moment. Its environment
//! ([`TestEnv::stopping_shared_services`]) holds the services' lock exclusively: it starts once
//! every other test environment — in this process or any other, whatever the runner — has
//! ended, and none starts until it has. This file holds this one test, which also makes this
//! process's worker metrics this test's own, as the wait below relies on.

use sportello_e2e::{PATIENCE, TestEnv, answered_samples, repository_root};
use sportello_shared::domain::state::PracticeState;
use sportello_shared::metrics::{self, Settled};
use std::time::Duration;

/// How long the object store stays away: longer than the first two retry tiers (5 s, 30 s)
/// together, so that practices reach the third.
const OUTAGE: Duration = Duration::from_secs(60);

fn stop_garage() {
    let pid_file = sportello_e2e::local_stack_state().join("garage.pid");
    let pid = std::fs::read_to_string(&pid_file).expect("garage.pid (stack-up.sh writes it)");
    let status = std::process::Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .unwrap();
    assert!(status.success(), "Garage {} stopped", pid.trim());
}

fn start_garage() {
    let status = std::process::Command::new("bash")
        .arg(repository_root().join("deploy/local/stack-up.sh"))
        .current_dir(repository_root())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "stack-up.sh restarts Garage");
}

/// Brings Garage back if the test fails during the outage, so that a failed assertion does not
/// leave the machine's stack without its object store for whatever runs next.
struct Outage;

impl Drop for Outage {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = std::process::Command::new("bash")
                .arg(repository_root().join("deploy/local/stack-up.sh"))
                .current_dir(repository_root())
                .stdout(std::process::Stdio::null())
                .status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn practices_wait_for_the_object_store_then_complete() {
    let env = TestEnv::stopping_shared_services().await;
    let sim = env.start_simulator();
    // Intake, validation and the register first, so that storage meets the outage.
    let upstream = env.start_fleet(&["intake", "validation", "protocol"]);
    let ids = env.submit_files(&answered_samples()).await;
    env.wait_until_all_in(&ids, &[PracticeState::Registered])
        .await;

    stop_garage();
    let outage = Outage;
    let outage_began = tokio::time::Instant::now();
    let downstream = env.start_fleet(&["storage", "dispatch", "returns"]);
    // Storage met the outage with every practice (each went to a retry tier at least once),
    // so "nothing stored meanwhile" below is about practices that were tried.
    let deadline = outage_began + PATIENCE;
    while metrics::settled_count("storage", Settled::Retried) < ids.len() as u64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "storage retried {} of {} practices",
            metrics::settled_count("storage", Settled::Retried),
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The rest of the outage is the scenario itself, not a wait for something to happen.
    tokio::time::sleep_until(outage_began + OUTAGE).await;
    let stored_meanwhile: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM practices WHERE state <> 'registered' AND id = ANY($1)",
    )
    .bind(&ids)
    .fetch_one(env.app.store.pool())
    .await
    .unwrap();
    assert_eq!(
        stored_meanwhile, 0,
        "nothing is stored while the store is down"
    );
    start_garage();
    drop(outage);

    // The retry tiers are 5 s, 30 s, 2 min, 10 min: allow for the longest wait after the outage.
    let finals = [
        PracticeState::Completed,
        PracticeState::Denied,
        PracticeState::IntegrationRequested,
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(900);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM practices WHERE id = ANY($1) AND NOT state = ANY($2)",
        )
        .bind(&ids)
        .bind(
            finals
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect::<Vec<_>>(),
        )
        .fetch_one(env.app.store.pool())
        .await
        .unwrap();
        if waiting == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{waiting} practices never finished"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    let pool = env.app.store.pool();
    let stored_twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT practice_id FROM practice_history WHERE to_state = 'stored' \
         GROUP BY practice_id HAVING count(*) <> 1) t",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(stored_twice, 0, "every practice stored exactly once");
    // Each registration's documents and segnatura, and a first submission's receipt.
    let registrations: Vec<(i64, serde_json::Value, i64, bool)> = sqlx::query_as(
        "SELECT r.id, r.documents, (SELECT count(*) FROM practice_archive_objects a WHERE a.registration_id = r.id), \
         r.direction = 'incoming' AND p.integrates IS NULL \
         FROM registrations r JOIN practices p ON p.id = r.practice_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (id, documents, archived, with_receipt) in registrations {
        assert_eq!(
            archived as usize,
            documents.as_array().unwrap().len() + 1 + usize::from(with_receipt),
            "registration {id}"
        );
    }
    let keys: Vec<(String, String)> =
        sqlx::query_as("SELECT object_key, sha256 FROM practice_archive_objects")
            .fetch_all(pool)
            .await
            .unwrap();
    for (key, sha256) in keys {
        assert_eq!(
            env.app.objects.digest(&key).await.unwrap().0,
            sha256,
            "{key}"
        );
    }
    for worker in ["storage", "dispatch", "returns"] {
        let failed = env.drain(&env.error_queue_of(worker)).await;
        assert!(failed.is_empty(), "{worker}: {:?}", failed[0].reason);
    }

    sim.stop().await;
    downstream.stop().await;
    upstream.stop().await;
    env.teardown().await;
}
