//! Four protocol workers, as four processes, share one register: 20,000 practices registered
//! at once, one worker killed with SIGKILL midway and restarted, leave the numbers exactly
//! 1..N for the year, with no duplicate and exactly one number per practice.
//!
//! The practices are put in the folder already validated, so that the test measures the
//! register and not intake. `SPORTELLO_STRESS_PRACTICES` changes N for a quicker local run.

#[path = "quiet/mod.rs"]
mod quiet;

use futures::future::try_join_all;
use sportello_e2e::{PATIENCE, TestEnv, sportello_binary};
use sportello_shared::broker::{self, Outgoing, Publisher};
use sportello_shared::messages::{StageMessage, route};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const WORKERS: usize = 4;

fn practices() -> i64 {
    std::env::var("SPORTELLO_STRESS_PRACTICES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
}

fn protocol_worker(env: &TestEnv) -> Child {
    Command::new(sportello_binary())
        .args(["run", "protocol"])
        .envs(env.child_env())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sportello starts")
}

/// Stops the workers as an orchestrator would — SIGTERM: each finishes the batch in hand — and
/// returns once they have exited, so that none publishes or acks any more.
async fn stop_workers(mut workers: Vec<Child>) {
    for worker in &workers {
        let _ = Command::new("kill")
            .args(["-TERM", &worker.id().to_string()])
            .status();
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    for worker in &mut workers {
        while worker.try_wait().expect("wait for the worker").is_none() {
            if tokio::time::Instant::now() > deadline {
                let _ = worker.kill();
                let _ = worker.wait();
                panic!("a protocol worker did not stop on SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn registered(env: &TestEnv) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM registrations")
        .fetch_one(env.app.store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_and_a_sigkill_leave_a_gapless_register() {
    let env = TestEnv::new().await;
    let n = practices();
    let ids = env.seed_validated(n).await;

    let connection = broker::connect(&env.settings.broker, "stress")
        .await
        .unwrap();
    let publisher = Publisher::open(&connection).await.unwrap();
    let exchange = env.exchange("practice");
    for chunk in ids.chunks(500) {
        try_join_all(chunk.iter().map(|id| {
            let message = Outgoing::json(
                &exchange,
                route::REGISTER,
                &StageMessage::new(*id),
                Some(*id),
            );
            let publisher = publisher.clone();
            async move { publisher.publish(&message).await }
        }))
        .await
        .unwrap();
    }

    let mut workers: Vec<Child> = (0..WORKERS).map(|_| protocol_worker(&env)).collect();
    let patience = tokio::time::Instant::now() + Duration::from_secs(1200);
    while registered(&env).await < n / 4 {
        assert!(
            tokio::time::Instant::now() < patience,
            "the workers never got going"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    workers[0].kill().expect("SIGKILL");
    workers[0].wait().unwrap();
    let at_kill = registered(&env).await;
    assert!(at_kill < n, "killed midway ({at_kill} of {n} registered)");
    workers[0] = protocol_worker(&env);

    while registered(&env).await < n {
        assert!(
            tokio::time::Instant::now() < patience,
            "registrations stalled at {}",
            registered(&env).await
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Reaching N is not the end: the killed worker's unacked deliveries came back to the
    // others, and a late duplicate number would come from one of those. Count only once every
    // delivery of the register's queues has been handled and acked.
    quiet::until_quiet(
        &env,
        &quiet::queues_of(&env, &["protocol"]),
        workers,
        stop_workers,
        || (0..WORKERS).map(|_| protocol_worker(&env)).collect(),
    )
    .await;

    let pool = env.app.store.pool();
    let (count, distinct, first, last, practices_with_one): (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT number), min(number), max(number), \
         (SELECT count(*) FROM (SELECT practice_id FROM registrations GROUP BY practice_id HAVING count(*) = 1) once) \
         FROM registrations",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((count, distinct), (n, n), "no duplicate number");
    assert_eq!((first, last), (1, n), "numbers exactly 1..N");
    assert_eq!(practices_with_one, n, "exactly one number per practice");
    let years: Vec<i32> = sqlx::query_scalar("SELECT DISTINCT year FROM registrations")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(years.len(), 1);
    let not_registered: i64 =
        sqlx::query_scalar("SELECT count(*) FROM practices WHERE state <> 'registered'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(not_registered, 0);
    assert!(env.drain(&env.error_queue_of("protocol")).await.is_empty());

    let _ = connection.close(200, "done".into()).await;
    env.teardown().await;
}
