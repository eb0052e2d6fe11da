//! The broker restarts under a running fleet: the workers rebuild their channels and consumers
//! by themselves, and every sample submitted before and after ends as `samples/expected.json`
//! says — validated, or rejected with exactly its reasons — with one history entry per step
//! (a delivery the restart interrupted, handled again, adds none).
//!
//! Why it cannot disturb tests running at the same time: RabbitMQ is one node for the whole
//! stack. Its environment ([`TestEnv::stopping_shared_services`]) holds the services' lock
//! exclusively: it starts once every other test environment — in this process or any other,
//! whatever the runner — has ended, and none starts until it has.

use sportello_e2e::{TestEnv, json_files, samples_dir};
use sportello_shared::domain::state::PracticeState;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use uuid::Uuid;

fn rabbitmqctl(args: &[&str]) {
    let status = Command::new("rabbitmqctl")
        .args(args)
        .status()
        .expect("rabbitmqctl runs");
    assert!(status.success(), "rabbitmqctl {args:?}");
}

/// Each file's practice in the state and with the reasons `samples/expected.json` gives it.
async fn assert_expected_outcomes(env: &TestEnv, files: &[PathBuf], ids: &[Uuid]) {
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(samples_dir().join("expected.json")).unwrap())
            .unwrap();
    for (file, id) in files.iter().zip(ids) {
        let name = file.file_name().unwrap().to_str().unwrap();
        let want = &expected[name];
        assert!(want.is_object(), "{name} is missing from expected.json");
        let practice = env.practice(*id).await.expect("the practice exists");
        let history = env.app.store.history(*id).await.unwrap();
        let states: Vec<&str> = history.iter().map(|h| h.to.as_str()).collect();
        if want["valid"].as_bool().unwrap() {
            assert_eq!(
                practice.state,
                PracticeState::Validated,
                "{name}: {:?}",
                practice.rejection_reasons
            );
            assert_eq!(states, ["received", "validated"], "{name}");
        } else {
            assert_eq!(practice.state, PracticeState::Rejected, "{name}");
            assert_eq!(states, ["received", "rejected"], "{name}");
            let codes: BTreeSet<&str> = practice
                .rejection_reasons
                .as_ref()
                .and_then(|r| r.as_array())
                .expect("a rejection has its reasons")
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
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_reconnect_after_a_broker_restart() {
    let env = TestEnv::stopping_shared_services().await;
    let fleet = env.start_fleet(&["intake", "validation"]);
    let files = json_files(&samples_dir().join("submissions"));
    let (before, after) = files.split_at(files.len() / 2);
    let first = env.submit_files(before).await;
    let settled = [PracticeState::Validated, PracticeState::Rejected];
    env.wait_until_all_in(&first, &settled).await;

    rabbitmqctl(&["stop_app"]);
    rabbitmqctl(&["start_app"]);
    rabbitmqctl(&["await_startup"]);

    let second = env.submit_files(after).await;
    env.wait_until_all_in(&second, &settled).await;
    assert_expected_outcomes(&env, before, &first).await;
    assert_expected_outcomes(&env, after, &second).await;
    assert!(
        env.drain(&env.error_queue_of("intake")).await.is_empty()
            && env
                .drain(&env.error_queue_of("validation"))
                .await
                .is_empty(),
        "nothing failed over the restart"
    );

    fleet.stop().await;
    env.teardown().await;
}
