//! `/metrics` after a run: the depth of every queue of the topology, and the workers' counters
//! and latency histograms, in Prometheus text format.

use crate::support::TestApi;
use sportello_e2e::{TestEnv, json_files, samples_dir};
use sportello_shared::domain::state::PracticeState;

/// The value of the first sample line that starts with `prefix`.
fn value(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` in\n{metrics}"))
        .rsplit_once(' ')
        .unwrap()
        .1
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_after_a_run_show_queue_depths_and_stage_latencies() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&["intake", "validation"]);
    let api = TestApi::start(&env).await;
    let files: Vec<_> = json_files(&samples_dir().join("submissions"))
        .into_iter()
        .take(6)
        .collect();
    let ids = env.submit_files(&files).await;
    env.wait_until_all_in(&ids, &[PracticeState::Validated, PracticeState::Rejected])
        .await;

    let reply = api.get("/metrics", None).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .content_type()
            .starts_with("text/plain; version=0.0.4"),
        "{}",
        reply.content_type()
    );
    let metrics = reply.text();

    // Every queue of this test's topology has its depth; the protocol worker is not running,
    // so the validated practices wait in its queue.
    assert_eq!(value(&metrics, "sportello_broker_up"), 1.0);
    // The late practices by type (none here: nothing has a term yet).
    assert!(
        metrics.contains("# TYPE sportello_practices_due gauge"),
        "{metrics}"
    );
    assert!(!metrics.contains("sportello_practices_due{"), "{metrics}");
    for queue in env.app.topology.queue_names() {
        assert!(
            metrics.contains(&format!("sportello_queue_messages{{queue=\"{queue}\"")),
            "no depth for {queue}"
        );
    }
    let protocol = format!(
        "sportello_queue_messages{{queue=\"{}\",kind=\"work\"}}",
        env.queue_of("protocol")
    );
    let validated = {
        let mut n = 0;
        for id in &ids {
            if env.practice(*id).await.unwrap().state == PracticeState::Validated {
                n += 1;
            }
        }
        n
    };
    assert_eq!(value(&metrics, &protocol), f64::from(validated));
    assert_eq!(
        value(
            &metrics,
            &format!(
                "sportello_queue_consumers{{queue=\"{}\",kind=\"work\"}}",
                env.queue_of("intake")
            )
        ),
        1.0
    );

    // Counters and latency histograms of the stages that ran (the registry is the process's:
    // other tests in this binary add to it, hence "at least").
    for worker in ["intake", "validation"] {
        let done = value(
            &metrics,
            &format!("sportello_messages_total{{worker=\"{worker}\",outcome=\"done\"}}"),
        );
        assert!(done >= ids.len() as f64, "{worker}: {done}");
        let count = value(
            &metrics,
            &format!("sportello_stage_duration_seconds_count{{worker=\"{worker}\"}}"),
        );
        let inf = value(
            &metrics,
            &format!("sportello_stage_duration_seconds_bucket{{worker=\"{worker}\",le=\"+Inf\"}}"),
        );
        assert!(count >= ids.len() as f64);
        assert_eq!(count, inf, "{worker}: +Inf counts everything");
        assert!(
            value(
                &metrics,
                &format!("sportello_stage_duration_seconds_sum{{worker=\"{worker}\"}}")
            ) > 0.0
        );
    }
    // Every sample line is `name{labels} number`, as Prometheus parses it.
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let (_, number) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(number.parse::<f64>().is_ok(), "{line}");
    }

    api.stop().await;
    fleet.stop().await;
    env.teardown().await;
}
