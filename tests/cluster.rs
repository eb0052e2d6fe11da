//! The fleet on real clusters while nodes go away (deploy/cluster/fault-test.sh runs it; not in
//! `.ci/run`, which has no clusters): RabbitMQ ×3 (5681–5683), Garage ×3 with replication
//! factor 3 (3910), and a PostgreSQL primary with its streaming standby (5452, 5462).
//! `SPORTELLO_CLUSTER_PRACTICES` practices (default 2,000) are submitted; as they settle, one
//! RabbitMQ node is SIGKILLed and started again, then another; one Garage node is stopped (and
//! started again later); the PostgreSQL primary is stopped and its standby promoted. At the
//! end: every practice in the state its office's behaviour gives it, the register gapless with
//! one number per registration, every archived object's SHA-256 equal to its impronta, every
//! email in the SMTP sink with its one Message-ID and never more copies than attempts (the
//! duplicates, from attempts cut off by a fault, counted and printed), every error queue empty.

use sportello_e2e::{TestEnv, answered_samples, cluster_dir, on_the_clusters, repository_root};
use sportello_shared::domain::state::PracticeState;
use sportello_shared::domain::submission::practice_id_for;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Runs a deploy/cluster script (or a shell line) and says how long it took.
async fn fault(what: &str, line: &str) -> Duration {
    let started = Instant::now();
    let status = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(line)
        .current_dir(repository_root())
        .status()
        .await
        .expect("bash runs");
    assert!(status.success(), "{what}: `{line}` failed");
    let took = started.elapsed();
    println!("cluster fault: {what} ({:.1} s)", took.as_secs_f64());
    took
}

fn kill_rabbit(n: u8) -> String {
    format!(
        "kill -9 \"$(cat {}/rabbitmq/c{n}/rabbit.pid)\"",
        cluster_dir().display()
    )
}

/// Every queue of the topology is a quorum queue with a member on each of the three nodes (as
/// the management API of node 1 lists them), so that any node can go.
async fn assert_every_quorum_queue_on_every_node(env: &TestEnv) {
    let queues = env.broker_queues("name,type,members").await;
    let nodes: Vec<String> = (1..=3)
        .map(|n| format!("sportello-c{n}@localhost"))
        .collect();
    for name in env.app.topology.queue_names() {
        let queue = queues
            .iter()
            .find(|q| q["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} is declared"));
        assert_eq!(queue["type"], "quorum", "{name}");
        let mut members: Vec<String> = queue["members"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} lists its members"))
            .iter()
            .filter_map(|m| m.as_str().map(str::to_owned))
            .collect();
        members.sort();
        assert_eq!(members, nodes, "{name}: a member on every node");
    }
    println!(
        "cluster: {} quorum queues, each with a member on all three nodes",
        env.app.topology.queue_names().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the clusters of deploy/cluster: run deploy/cluster/fault-test.sh"]
async fn every_promise_holds_while_a_node_of_each_cluster_goes_away() {
    let n: usize = std::env::var("SPORTELLO_CLUSTER_PRACTICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let env = TestEnv::with_settings(on_the_clusters).await;
    // The fleet's warnings (reconnections, retries, cut-off attempts) on stderr, for the record.
    let mut log = env.settings.log.clone();
    log.level = std::env::var("SPORTELLO_CLUSTER_LOG").unwrap_or_else(|_| "warn".into());
    sportello_shared::telemetry::init(&log);

    // The practices, from the samples the offices answer, each with a key of its own.
    let samples: Vec<serde_json::Value> = answered_samples()
        .iter()
        .map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap())
        .collect();
    let mut bodies = Vec::with_capacity(n);
    let mut expected: HashMap<Uuid, PracticeState> = HashMap::new();
    for i in 0..n {
        let mut body = samples[i % samples.len()].clone();
        let key = format!("cluster-{}-{i}", env.namespace);
        body["idempotency_key"] = key.clone().into();
        let state = env.office_outcome(body["practice_type"].as_str().unwrap());
        assert_ne!(state, PracticeState::InProgress, "answered samples only");
        expected.insert(practice_id_for(&key), state);
        bodies.push(body);
    }
    let ids: Vec<Uuid> = expected.keys().copied().collect();
    assert_every_quorum_queue_on_every_node(&env).await;

    let fleet = env.start_fleet(sportello_fleet::fleet::WORKERS);
    let sim = env.start_simulator();
    let started = Instant::now();
    env.publish_submissions(&bodies).await;
    println!(
        "cluster: {n} practices published in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Faults, as the practices settle.
    let settled = || async {
        let rows: Vec<(Uuid, String)> =
            match sqlx::query_as("SELECT id, state FROM practices WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(env.app.store.pool())
                .await
            {
                Ok(rows) => rows,
                Err(_) => return None,
            };
        Some(
            rows.iter()
                .filter(|(id, state)| expected[id].as_str() == state)
                .count(),
        )
    };
    let cluster = cluster_dir().display().to_string();
    let plan: Vec<(f64, &str, String)> = vec![
        (
            0.10,
            "RabbitMQ node 1 SIGKILLed, then started again",
            format!(
                "{} && bash deploy/cluster/rabbitmq-up.sh >/dev/null",
                kill_rabbit(1)
            ),
        ),
        (
            0.30,
            "RabbitMQ node 2 SIGKILLed, then started again",
            format!(
                "{} && bash deploy/cluster/rabbitmq-up.sh >/dev/null",
                kill_rabbit(2)
            ),
        ),
        (
            0.45,
            "Garage node 1 (the fleet's first S3 endpoint) stopped",
            format!("kill \"$(cat {cluster}/garage/n1/pid)\""),
        ),
        (
            0.60,
            "PostgreSQL primary stopped, standby promoted",
            "bash deploy/cluster/postgres-pair-failover.sh >/dev/null".to_owned(),
        ),
        (
            0.80,
            "Garage node 1 started again",
            "bash deploy/cluster/garage-up.sh >/dev/null".to_owned(),
        ),
    ];
    let mut faults = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(45 * 60);
    let mut next = 0;
    loop {
        let done = settled().await.unwrap_or(0);
        if next < plan.len() && done as f64 >= plan[next].0 * n as f64 {
            let (share, what, line) = &plan[next];
            let at = started.elapsed();
            let took = fault(what, line).await;
            faults.push((*share, *what, at, took));
            next += 1;
            continue;
        }
        if done == n && next == plan.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{done}/{n} practices settled, {next} faults done"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let pool = env.app.store.pool().clone();
    // Every email out (or given up for good) before counting.
    loop {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM notifications WHERE practice_id = ANY($1) \
             AND status NOT IN ('sent', 'failed_permanent')",
        )
        .bind(&ids)
        .fetch_one(&pool)
        .await
        .unwrap();
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{pending} emails still pending");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let elapsed = started.elapsed();
    println!(
        "cluster: {n} practices settled in {:.1} s ({:.1} practices/s)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    for (share, what, at, took) in &faults {
        println!(
            "cluster:   at {:>4.0} % settled, t = {:>5.1} s: {what} ({:.1} s)",
            share * 100.0,
            at.as_secs_f64(),
            took.as_secs_f64()
        );
    }
    sim.stop().await;
    fleet.stop().await;

    // Every practice in the state its office's behaviour gives it.
    let states: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, state FROM practices WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(states.len(), n);
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    for (id, state) in &states {
        assert_eq!(expected[id].as_str(), state, "{id}");
        *by_state.entry(state.clone()).or_default() += 1;
    }
    println!("cluster: final states {by_state:?}");

    // The register: one number per registration, 1..N, no gap, no repeat.
    let numbers: Vec<i64> =
        sqlx::query_scalar("SELECT number FROM registrations WHERE aoo = $1 ORDER BY number")
            .bind(&env.settings.protocol.aoo_code)
            .fetch_all(&pool)
            .await
            .unwrap();
    let completed = by_state.get("completed").copied().unwrap_or(0);
    assert_eq!(
        numbers.len(),
        n + completed,
        "one incoming each, one outgoing per completion"
    );
    assert!(
        numbers
            .iter()
            .enumerate()
            .all(|(i, number)| *number == i as i64 + 1),
        "the register is gapless"
    );

    // Every archived object equal to its impronta (read back from the cluster).
    let registrations: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM registrations WHERE aoo = $1 ORDER BY id")
            .bind(&env.settings.protocol.aoo_code)
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut objects = 0;
    for registration in &registrations {
        objects += env.assert_archived(*registration).await;
    }
    println!(
        "cluster: {} registrations, {objects} archived objects checked against their impronta",
        registrations.len()
    );

    // Every email in the sink, with one Message-ID, and never more copies than attempts: the
    // promise the notification worker makes (SMTP has no transaction to join, so an attempt cut
    // off after the relay took the message is sent again, with the same Message-ID).
    let sent: Vec<(Uuid, String, i32)> = sqlx::query_as(
        "SELECT practice_id, event, attempts FROM notifications \
         WHERE practice_id = ANY($1) AND status = 'sent'",
    )
    .bind(&ids)
    .fetch_all(&pool)
    .await
    .unwrap();
    let sink: Vec<serde_json::Value> = reqwest::get("http://127.0.0.1:1080/api/email")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut copies: HashMap<String, usize> = HashMap::new();
    for message in &sink {
        if let Some(id) = message["headers"]["message-id"].as_str() {
            let key = id.split('@').next().unwrap_or(id).trim_start_matches('<');
            *copies.entry(key.to_owned()).or_default() += 1;
        }
    }
    let mut duplicated = Vec::new();
    for (practice, event, attempts) in &sent {
        let found = copies
            .get(&format!("{practice}.{event}"))
            .copied()
            .unwrap_or(0);
        assert!(found >= 1, "{practice} {event}: not in the sink");
        assert!(
            found <= *attempts as usize,
            "{practice} {event}: {found} copies for {attempts} attempts"
        );
        if found > 1 {
            duplicated.push(format!(
                "{practice} {event} ({found} copies, {attempts} attempts)"
            ));
        }
    }
    println!(
        "cluster: {} emails in the sink; {} sent more than once, each with its one Message-ID: {duplicated:?}",
        sent.len(),
        duplicated.len()
    );

    // The queues kept a member on every node through the kills.
    assert_every_quorum_queue_on_every_node(&env).await;

    // Nothing waits in an error queue.
    for worker in sportello_fleet::fleet::WORKERS {
        let failed = env.drain(&env.error_queue_of(worker)).await;
        assert!(failed.is_empty(), "{worker}: {:?}", failed[0].reason);
    }
    env.teardown().await;
}
