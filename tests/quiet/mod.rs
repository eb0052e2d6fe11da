//! Waiting until workers have nothing left to handle, for the tests whose claim is that
//! something does *not* happen (no second practice, no second email, no second number). Such a
//! claim means something only once every copy that could cause it has been handled, and
//! "handled" has to be observed, not assumed after a pause.
//!
//! What is observed: a passive `queue.declare` on a quorum queue answers with its ready messages
//! and its consumers, read from one snapshot of the queue's state. RabbitMQ keeps a cancelled
//! consumer in that state until every delivery it holds is settled, and removes a dead one in
//! the same step that returns its deliveries to the queue (`rabbit_fifo`, 3.10). So, once the
//! workers are stopped, "no consumer and nothing ready" means every delivery was acked — and a
//! worker acks only after its outputs were confirmed by the broker. Stopping lets the
//! deliveries in hand finish and returns the prefetched ones; when some came back, the workers
//! are started again and the wait repeats.

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use sportello_e2e::{PATIENCE, TestEnv};
use sportello_shared::broker;
use std::future::Future;
use std::time::Duration;

/// Where a message of `workers` can wait to be handled: each one's retry tiers, then its work
/// queue (a message leaving a tier enters the work queue, so that one is read after).
pub fn queues_of(env: &TestEnv, workers: &[&str]) -> Vec<String> {
    workers
        .iter()
        .flat_map(|worker| {
            let queues = env
                .app
                .topology
                .worker(worker)
                .expect("worker in queues.toml");
            queues
                .retry_tiers
                .iter()
                .map(|tier| tier.queue.clone())
                .chain([queues.queue.clone()])
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Ready messages and consumers of a queue, from one snapshot of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStat {
    pub ready: u32,
    pub consumers: u32,
}

pub async fn stats(env: &TestEnv, queues: &[String]) -> Vec<QueueStat> {
    let connection = broker::connect(&env.settings.broker, "test-quiet")
        .await
        .expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    let mut stats = Vec::with_capacity(queues.len());
    for queue in queues {
        let declared = channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("the queue exists");
        stats.push(QueueStat {
            ready: declared.message_count(),
            consumers: declared.consumer_count(),
        });
    }
    let _ = connection.close(200, "done".into()).await;
    stats
}

/// Runs `workers` until every message of `queues` — what the test published and whatever the
/// workers passed on to each other among them — has been handled and acked; returns with the
/// workers stopped. `stop` must return only once the workers publish nothing more (a stopped
/// fleet, an exited process); `start` starts them again when stopping handed messages back.
pub async fn until_quiet<W, Stop, Stopped>(
    env: &TestEnv,
    queues: &[String],
    mut workers: W,
    mut stop: Stop,
    mut start: impl FnMut() -> W,
) where
    Stop: FnMut(W) -> Stopped,
    Stopped: Future<Output = ()>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let describe = |stats: &[QueueStat]| -> Vec<(&String, QueueStat)> {
        queues
            .iter()
            .zip(stats.iter().copied())
            .filter(|(_, s)| s.ready > 0 || s.consumers > 0)
            .collect()
    };
    loop {
        // The workers have taken everything; stopping before that would only hand it back.
        loop {
            let now = stats(env, queues).await;
            if now.iter().all(|s| s.ready == 0) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the workers never took everything: {:?}",
                describe(&now)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        stop(workers).await;
        let settled = loop {
            let now = stats(env, queues).await;
            if now.iter().all(|s| s.consumers == 0) {
                break now;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "deliveries still held after the workers stopped: {:?}",
                describe(&now)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        if settled.iter().all(|s| s.ready == 0) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "messages keep coming back: {:?}",
            describe(&settled)
        );
        workers = start();
    }
}
