//! `GET /health` (the process answers), `GET /ready` (every service it needs answers) and
//! `GET /metrics` (Prometheus text format).
//!
//! None of them needs a token: probes and scrapers run inside the municipality's network and
//! see only counts, never a citizen's data. `/ready` tells anyone only ready or not (200 or
//! 503): which service failed, and its error text (host names, ports, driver messages), is
//! for operators with the operations role. Readiness checks run concurrently, each bounded,
//! so that one hung service makes the probe fail instead of hang.

use crate::ApiState;
use crate::auth::{MaybeSession, OperatorRole};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use serde::Serialize;
use sportello_shared::metrics::{self, escape_label};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
}

pub async fn health() -> Json<Health> {
    Json(Health {
        status: "alive",
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// Each service's check: for the operations role only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<BTreeMap<&'static str, Check>>,
}

async fn bounded<F>(check: F) -> Check
where
    F: Future<Output = Result<(), String>>,
{
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(())) => Check {
            ok: true,
            error: None,
        },
        Ok(Err(error)) => Check {
            ok: false,
            error: Some(error),
        },
        Err(_) => Check {
            ok: false,
            error: Some(format!("no answer within {CHECK_TIMEOUT:?}")),
        },
    }
}

pub async fn ready(State(state): State<ApiState>, MaybeSession(session): MaybeSession) -> Response {
    let details = session.is_some_and(|s| s.caller.has(OperatorRole::Operations));
    let services = state.services();
    let smtp = format!(
        "{}:{}",
        services.settings.smtp.host, services.settings.smtp.port
    );
    let (broker, database, object_store, smtp) = tokio::join!(
        bounded(async {
            let channel = state.link().channel().await.map_err(|e| e.to_string())?;
            let _ = channel.close(200, "ready check".into()).await;
            Ok(())
        }),
        bounded(async {
            sqlx::query("SELECT 1")
                .execute(services.store.pool())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
        bounded(async { services.objects.ping().await.map_err(|e| e.to_string()) }),
        bounded(async {
            tokio::net::TcpStream::connect(&smtp)
                .await
                .map(|_| ())
                .map_err(|e| format!("{smtp}: {e}"))
        }),
    );
    let checks = BTreeMap::from([
        ("broker", broker),
        ("database", database),
        ("object_store", object_store),
        ("smtp", smtp),
    ]);
    let ready = checks.values().all(|c| c.ok);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: if ready { "ready" } else { "not_ready" },
            checks: details.then_some(checks),
        }),
    )
        .into_response()
}

/// Worker counters and latencies of this process, the depth of every queue of the topology,
/// and the parked messages waiting for an operator.
pub async fn metrics(State(state): State<ApiState>) -> Response {
    let mut out = String::new();
    metrics::render(&mut out);
    queue_depths(&state, &mut out).await;
    parked(&state, &mut out).await;
    late(&state, &mut out).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// Every queue with its kind: work, retry, errors, back_office.
fn queues(state: &ApiState) -> Vec<(String, &'static str)> {
    let topology = &state.services().topology;
    let mut queues = Vec::new();
    for worker in topology.workers() {
        queues.push((worker.queue.clone(), "work"));
        queues.extend(
            worker
                .retry_tiers
                .iter()
                .map(|t| (t.queue.clone(), "retry")),
        );
        queues.push((worker.error_queue.clone(), "errors"));
    }
    queues.extend(
        topology
            .back_offices()
            .map(|(_, queue)| (queue.to_owned(), "back_office")),
    );
    queues
}

async fn queue_depths(state: &ApiState, out: &mut String) {
    let mut depths = Vec::new();
    let up = match tokio::time::timeout(CHECK_TIMEOUT, state.link().channel()).await {
        Ok(Ok(mut channel)) => {
            for (queue, kind) in queues(state) {
                let passive = QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                };
                match channel
                    .queue_declare(queue.as_str().into(), passive, FieldTable::default())
                    .await
                {
                    Ok(found) => {
                        depths.push((queue, kind, found.message_count(), found.consumer_count()))
                    }
                    // A missing queue closes the channel: take a new one for the rest.
                    Err(_) => match state.link().channel().await {
                        Ok(fresh) => channel = fresh,
                        Err(_) => break,
                    },
                }
            }
            let _ = channel.close(200, "metrics".into()).await;
            true
        }
        _ => false,
    };
    let _ = writeln!(
        out,
        "# HELP sportello_broker_up Whether the broker answered this scrape."
    );
    let _ = writeln!(out, "# TYPE sportello_broker_up gauge");
    let _ = writeln!(out, "sportello_broker_up {}", u8::from(up));
    let _ = writeln!(
        out,
        "# HELP sportello_queue_messages Messages ready in each queue."
    );
    let _ = writeln!(out, "# TYPE sportello_queue_messages gauge");
    for (queue, kind, messages, _) in &depths {
        let _ = writeln!(
            out,
            "sportello_queue_messages{{queue=\"{}\",kind=\"{kind}\"}} {messages}",
            escape_label(queue)
        );
    }
    let _ = writeln!(
        out,
        "# HELP sportello_queue_consumers Consumers of each queue."
    );
    let _ = writeln!(out, "# TYPE sportello_queue_consumers gauge");
    for (queue, kind, _, consumers) in &depths {
        let _ = writeln!(
            out,
            "sportello_queue_consumers{{queue=\"{}\",kind=\"{kind}\"}} {consumers}",
            escape_label(queue)
        );
    }
}

async fn parked(state: &ApiState, out: &mut String) {
    let rows = sportello_shared::parked::waiting_by_stage(state.services().store.pool()).await;
    let _ = writeln!(
        out,
        "# HELP sportello_parked_messages Failed messages taken out of the error queues and waiting for an operator."
    );
    let _ = writeln!(out, "# TYPE sportello_parked_messages gauge");
    if let Ok(rows) = rows {
        for (stage, count) in rows {
            let _ = writeln!(
                out,
                "sportello_parked_messages{{stage=\"{}\"}} {count}",
                escape_label(&stage)
            );
        }
    }
}

/// The practices whose term is close or past, by type (L. 241/1990), at this moment.
async fn late(state: &ApiState, out: &mut String) {
    use sportello_shared::procedure::{self, Status};
    let services = state.services();
    let settings = &services.settings.procedure;
    let now = chrono::Utc::now();
    let mut counts = std::collections::BTreeMap::<(String, &'static str), u64>::new();
    for status in [Status::DueSoon, Status::Overdue] {
        let Ok(list) = procedure::due_list(
            services.store.pool(),
            status,
            now,
            settings.day_secs,
            settings.due_soon_days,
        )
        .await
        else {
            return;
        };
        for entry in list {
            *counts
                .entry((entry.clock.practice_type, status.as_str()))
                .or_default() += 1;
        }
    }
    render_late(out, &counts);
}

fn render_late(out: &mut String, counts: &std::collections::BTreeMap<(String, &'static str), u64>) {
    let _ = writeln!(
        out,
        "# HELP sportello_practices_due Open practices whose term is close (due_soon) or past (overdue), by type."
    );
    let _ = writeln!(out, "# TYPE sportello_practices_due gauge");
    for ((practice_type, status), n) in counts {
        let _ = writeln!(
            out,
            "sportello_practices_due{{practice_type=\"{}\",status=\"{status}\"}} {n}",
            escape_label(practice_type)
        );
    }
}

#[cfg(test)]
mod late_tests {
    #[test]
    fn late_practices_are_counted_by_type_and_status() {
        let mut counts = std::collections::BTreeMap::new();
        counts.insert(("edilizia.cila".to_owned(), "overdue"), 2);
        counts.insert(("tributi.rimborso_imu".to_owned(), "due_soon"), 1);
        let mut out = String::new();
        super::render_late(&mut out, &counts);
        assert!(out.contains("# TYPE sportello_practices_due gauge"));
        assert!(out.contains(
            "sportello_practices_due{practice_type=\"edilizia.cila\",status=\"overdue\"} 2"
        ));
        assert!(out.contains(
            "sportello_practices_due{practice_type=\"tributi.rimborso_imu\",status=\"due_soon\"} 1"
        ));
    }
}
