//! The broker restarts under a running fleet: the workers rebuild their channels and consumers
//! by themselves and the practices submitted before and after all complete.
//!
//! Its own test binary, because restarting RabbitMQ would disturb tests running beside it
//! (cargo runs test binaries one after another).

use sportello_e2e::{TestEnv, json_files, samples_dir};
use sportello_shared::domain::state::PracticeState;
use std::process::Command;

fn rabbitmqctl(args: &[&str]) {
    let status = Command::new("rabbitmqctl")
        .args(args)
        .status()
        .expect("rabbitmqctl runs");
    assert!(status.success(), "rabbitmqctl {args:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_reconnect_after_a_broker_restart() {
    let env = TestEnv::new().await;
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

    fleet.stop().await;
    env.teardown().await;
}
