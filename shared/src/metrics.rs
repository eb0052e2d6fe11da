//! What the workers of this process have done, for `/metrics` (Prometheus text format).
//!
//! One process-wide registry, fed by the plumbing in [`crate::worker`] when it settles a
//! message: a counter per worker and outcome, and a latency histogram per worker (stage).
//! Hand-written rather than a metrics crate: two metric families do not justify a dependency,
//! and the text format is small and stable. The registry is a std mutex because nothing is
//! awaited while it is held, and one lock per settled message is far below the cost of the
//! publish confirm that comes with it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// How a message left a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The work was done and its outputs published.
    Done,
    /// Sent to a retry tier.
    Retried,
    /// Sent to the error queue (rejected, or out of retries).
    Failed,
    /// The outcome could not be published; the message went back to its queue.
    Requeued,
}

impl Settled {
    const ALL: [Settled; 4] = [
        Settled::Done,
        Settled::Retried,
        Settled::Failed,
        Settled::Requeued,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Settled::Done => "done",
            Settled::Retried => "retried",
            Settled::Failed => "failed",
            Settled::Requeued => "requeued",
        }
    }
}

/// Upper bounds of the latency buckets, in seconds: from a cached lookup to a slow S3 upload.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default, Clone)]
struct WorkerStats {
    settled: [u64; Settled::ALL.len()],
    /// Cumulative counts are computed at render time; these are per bucket.
    buckets: [u64; BUCKETS.len()],
    sum_seconds: f64,
    count: u64,
}

static REGISTRY: LazyLock<Mutex<BTreeMap<String, WorkerStats>>> =
    LazyLock::new(|| Mutex::new(BTreeMap::new()));

/// Counts one settled message of `worker` that took `elapsed` from delivery to settlement.
pub fn record(worker: &str, settled: Settled, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64();
    let mut registry = REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let stats = registry.entry(worker.to_owned()).or_default();
    stats.settled[Settled::ALL
        .iter()
        .position(|s| *s == settled)
        .expect("every outcome is listed")] += 1;
    if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
        stats.buckets[bucket] += 1;
    }
    stats.sum_seconds += seconds;
    stats.count += 1;
}

/// How many messages `worker` settled with `settled` in this process.
pub fn settled_count(worker: &str, settled: Settled) -> u64 {
    let registry = REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    registry.get(worker).map_or(0, |stats| {
        stats.settled[Settled::ALL
            .iter()
            .position(|s| *s == settled)
            .expect("every outcome is listed")]
    })
}

/// Appends the worker metrics to `out` in the Prometheus text exposition format (0.0.4).
pub fn render(out: &mut String) {
    let registry = REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let _ = writeln!(
        out,
        "# HELP sportello_messages_total Messages settled by each worker of this process, by outcome."
    );
    let _ = writeln!(out, "# TYPE sportello_messages_total counter");
    for (worker, stats) in &registry {
        for (settled, count) in Settled::ALL.iter().zip(stats.settled) {
            let _ = writeln!(
                out,
                "sportello_messages_total{{worker=\"{}\",outcome=\"{}\"}} {count}",
                escape_label(worker),
                settled.as_str()
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP sportello_stage_duration_seconds Time from delivery to settlement of a message, per worker (stage)."
    );
    let _ = writeln!(out, "# TYPE sportello_stage_duration_seconds histogram");
    for (worker, stats) in &registry {
        let worker = escape_label(worker);
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(stats.buckets) {
            cumulative += count;
            let _ = writeln!(
                out,
                "sportello_stage_duration_seconds_bucket{{worker=\"{worker}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "sportello_stage_duration_seconds_bucket{{worker=\"{worker}\",le=\"+Inf\"}} {}",
            stats.count
        );
        let _ = writeln!(
            out,
            "sportello_stage_duration_seconds_sum{{worker=\"{worker}\"}} {}",
            stats.sum_seconds
        );
        let _ = writeln!(
            out,
            "sportello_stage_duration_seconds_count{{worker=\"{worker}\"}} {}",
            stats.count
        );
    }
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
pub fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_and_latencies_fall_into_cumulative_buckets() {
        // A worker name no other test uses: the registry is process-wide.
        let worker = "metrics-unit-test";
        record(worker, Settled::Done, Duration::from_millis(3));
        record(worker, Settled::Done, Duration::from_millis(40));
        record(worker, Settled::Failed, Duration::from_secs(60));
        assert_eq!(settled_count(worker, Settled::Done), 2);
        assert_eq!(settled_count(worker, Settled::Retried), 0);
        let mut text = String::new();
        render(&mut text);
        let line = |needle: &str| {
            text.lines()
                .find(|l| l.starts_with(needle))
                .unwrap_or_else(|| panic!("no `{needle}` in\n{text}"))
                .to_owned()
        };
        assert!(
            line("sportello_messages_total{worker=\"metrics-unit-test\",outcome=\"failed\"}")
                .ends_with(" 1")
        );
        assert!(
            line(
                "sportello_stage_duration_seconds_bucket{worker=\"metrics-unit-test\",le=\"0.005\"}"
            )
            .ends_with(" 1")
        );
        assert!(
            line(
                "sportello_stage_duration_seconds_bucket{worker=\"metrics-unit-test\",le=\"0.05\"}"
            )
            .ends_with(" 2")
        );
        // 60 s is above every bound: only +Inf counts it.
        assert!(
            line("sportello_stage_duration_seconds_bucket{worker=\"metrics-unit-test\",le=\"30\"}")
                .ends_with(" 2")
        );
        assert!(
            line(
                "sportello_stage_duration_seconds_bucket{worker=\"metrics-unit-test\",le=\"+Inf\"}"
            )
            .ends_with(" 3")
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
