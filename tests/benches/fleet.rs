//! Benchmark: the whole fleet (`run all` in this process, with the back-office simulator) on
//! N sample practices, against the raw limits of its components measured in the same run.
//!
//! `cargo bench -p sportello-e2e --bench fleet` (the local stack must be up; with
//! `SPORTELLO_BENCH_ON=cluster`, on the clusters of deploy/cluster instead: CPU per component is
//! then every node of it together, the cost of replication). In order:
//!
//! 1. raw limits: publishes with confirm per second into a quorum queue at a practice message's
//!    size, PostgreSQL one-row-insert commits per second, S3 PUTs per second at a document's
//!    size, SMTP sends per second to the sink (pooled connections);
//! 2. throughput: N practices (`SPORTELLO_BENCH_PRACTICES`, default 2,000), the samples with
//!    fresh idempotency keys, published as fast as the broker confirms; timed from the first
//!    publish until every practice is in a final state and every email settled. Measured on the
//!    way: commits (pg_stat_database xact_commit delta, our own polling subtracted), broker
//!    messages (the namespace's queues' publish counters), S3 requests (the client's
//!    counters), emails, CPU per process (/proc: this process, PostgreSQL, RabbitMQ, Garage,
//!    the SMTP sink) and the whole box (/proc/stat), the stage rates from the history;
//! 3. latency at half load: `SPORTELLO_BENCH_HALF` practices (default 300) published at half
//!    the measured rate; submit → registered, → receipt sent to the sink, → completed
//!    (real-time types), percentiles;
//! 4. peak RSS of this process (the whole fleet, the simulator and the bench).
//!
//! With `SPORTELLO_BENCH_PROCESSES=separate`, each worker runs as its own `sportello run
//! <worker>` process instead (the release binary, target/release/sportello: `cargo build
//! --release --bin sportello` first), the simulator staying here; `SPORTELLO_BENCH_EXTRA`
//! names workers given a second process (`storage,notification`), for what scale-out buys.
//! Each process's peak RSS is printed, and their CPU counts as sportello's.
//!
//! The services are shared with whatever else runs on the machine: CPU per process counts
//! everything those processes did meanwhile, so read the ratios, and run it on a quiet box.

use lapin::options::QueuePurgeOptions;
use lettre::AsyncTransport;
use secrecy::ExposeSecret;
use sportello_e2e::{TestEnv, answered_samples};
use sportello_shared::broker::{self, Outgoing, Publisher};
use sportello_shared::catalog::Handling;
use sportello_shared::domain::submission::practice_id_for;
use sportello_shared::messages::route;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

const FINAL: &[&str] = &["completed", "denied", "integration_requested", "rejected"];

// ---------------------------------------------------------------------------------------------
// CPU from /proc

/// Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux everywhere).
const TICKS: f64 = 100.0;

/// CPU ticks used so far by each group of processes we account for.
fn process_ticks() -> BTreeMap<&'static str, u64> {
    let own = std::process::id();
    let mut groups = BTreeMap::new();
    for name in ["sportello", "PostgreSQL", "RabbitMQ", "Garage", "SMTP sink"] {
        groups.insert(name, 0u64);
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return groups;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks = fields
            .get(11)
            .and_then(|u| u.parse::<u64>().ok())
            .unwrap_or(0)
            + fields
                .get(12)
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
        let group = if pid == own || comm == "sportello" {
            "sportello"
        } else if comm == "postgres" {
            "PostgreSQL"
        } else if comm.starts_with("beam") {
            "RabbitMQ"
        } else if comm == "garage" {
            "Garage"
        } else if comm == "node" || comm.starts_with("maildev") {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains("maildev") {
                "SMTP sink"
            } else {
                continue;
            }
        } else {
            continue;
        };
        *groups.get_mut(group).unwrap() += ticks;
    }
    groups
}

/// (busy, total) jiffies of the whole box.
fn box_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

fn peak_rss_mib() -> f64 {
    peak_rss_of("self")
}

/// VmHWM of `/proc/<pid>`: the most memory the process ever had resident.
fn peak_rss_of(pid: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------------------
// Counters of the services

/// Commits and rollbacks of the test's database so far, once the statistics have caught up
/// (PostgreSQL flushes a backend's counters at most once a second).
async fn commits(pool: &sqlx::PgPool, polls: &mut u64) -> (i64, i64) {
    let read = |polls: &mut u64| {
        // pg_stat_clear_snapshot and the read: two transactions of our own.
        *polls += 2;
        async move {
            sqlx::query("SELECT pg_stat_clear_snapshot()")
                .execute(pool)
                .await
                .unwrap();
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT xact_commit, xact_rollback FROM pg_stat_database \
                 WHERE datname = current_database()",
            )
            .fetch_one(pool)
            .await
            .unwrap()
        }
    };
    let mut last = read(polls).await;
    loop {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let now = read(polls).await;
        // Only our own reads moved the counters since the last look: they have caught up.
        if now.1 == last.1 && now.0 - last.0 <= 4 {
            return now;
        }
        last = now;
    }
}

struct Management {
    client: reqwest::Client,
    base: String,
    user: String,
    password: String,
    vhost: String,
}

impl Management {
    fn new(env: &TestEnv) -> Management {
        let admin = env
            .settings
            .broker
            .admin
            .as_ref()
            .expect("[broker.admin] in sportello.toml");
        let uri: lapin::uri::AMQPUri = env.settings.broker.url().parse().unwrap();
        Management {
            client: reqwest::Client::new(),
            base: admin.management_url.trim_end_matches('/').to_owned(),
            user: admin.user.clone(),
            password: admin.password.expose_secret().to_owned(),
            vhost: uri.vhost,
        }
    }

    /// Messages published into the namespace's queues so far.
    async fn published(&self, queues: &[String]) -> u64 {
        let vhost = self.vhost.replace('/', "%2F");
        let list: serde_json::Value = self
            .client
            .get(format!(
                "{}/api/queues/{vhost}?columns=name,message_stats.publish",
                self.base
            ))
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .filter(|q| queues.iter().any(|n| q["name"] == n.as_str()))
            .map(|q| q["message_stats"]["publish"].as_u64().unwrap_or(0))
            .sum()
    }

    /// Like [`Management::published`], once the broker's statistics stopped moving (they are
    /// sampled every few seconds).
    async fn settled(&self, queues: &[String]) -> u64 {
        let mut last = self.published(queues).await;
        loop {
            tokio::time::sleep(Duration::from_secs(6)).await;
            let now = self.published(queues).await;
            if now == last {
                return now;
            }
            last = now;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The practices

struct Practices {
    bodies: Vec<(Uuid, Vec<u8>, String)>,
}

/// `n` submissions made from the valid samples in turn, each with an idempotency key of its
/// own: (practice id, body, practice type).
fn practices(env: &TestEnv, tag: &str, n: usize) -> Practices {
    let samples: Vec<serde_json::Value> = answered_samples()
        .iter()
        .map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap())
        .collect();
    let bodies = (0..n)
        .map(|i| {
            let mut sample = samples[i % samples.len()].clone();
            let key = format!("bench-{}-{tag}-{i}", env.namespace);
            sample["idempotency_key"] = serde_json::Value::String(key.clone());
            let kind = sample["practice_type"].as_str().unwrap().to_owned();
            (
                practice_id_for(&key),
                serde_json::to_vec(&sample).unwrap(),
                kind,
            )
        })
        .collect();
    Practices { bodies }
}

fn submission(exchange: &str, id: Uuid, body: &[u8]) -> Outgoing {
    let mut message = Outgoing::json(exchange, route::SUBMISSION, &(), Some(id));
    message.body = body.to_vec();
    message
}

async fn portal(env: &TestEnv) -> (lapin::Connection, Publisher) {
    let connection = broker::connect(&env.settings.broker.as_party("portal"), "bench-portal")
        .await
        .unwrap();
    let publisher = Publisher::open(&connection).await.unwrap();
    (connection, publisher)
}

/// Waits until every one of `ids` is in a final state and no email is left to send; the
/// polling queries are counted in `polls` (they are commits too).
async fn wait_done(pool: &sqlx::PgPool, ids: &[Uuid], polls: &mut u64) {
    let deadline = Instant::now() + Duration::from_secs(1800);
    let (mut last, mut since) = (-1i64, Instant::now());
    loop {
        *polls += 1;
        let (done, pending, settled): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM practices WHERE id = ANY($1) AND state = ANY($2)), \
             (SELECT count(*) FROM notifications WHERE practice_id = ANY($1) \
                AND status IN ('queued', 'failed_temporary')), \
             (SELECT count(*) FROM notifications WHERE practice_id = ANY($1) \
                AND status IN ('sent', 'failed_permanent'))",
        )
        .bind(ids)
        .bind(FINAL.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .fetch_one(pool)
        .await
        .unwrap();
        // Every practice final, no email in flight, and none appeared for a while (a final
        // state's email is queued just after the state is reached).
        if settled != last {
            (last, since) = (settled, Instant::now());
        }
        if done as usize == ids.len() && pending == 0 && since.elapsed() > Duration::from_secs(3) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stuck: {done}/{} final, {pending} emails pending, {settled} settled",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// ---------------------------------------------------------------------------------------------
// Raw limits

async fn raw_publish(env: &TestEnv, size: usize, n: usize) -> f64 {
    // An error queue of the topology: a quorum queue no worker consumes, purged afterwards.
    let queue = env.error_queue_of("intake");
    let connection = broker::connect(&env.settings.broker, "bench-raw")
        .await
        .unwrap();
    let publisher = Publisher::open(&connection).await.unwrap();
    let message = Outgoing {
        exchange: String::new(),
        routing_key: queue.clone(),
        body: vec![b'x'; size],
        headers: Default::default(),
        message_id: None,
        mandatory: true,
    };
    let started = Instant::now();
    let window = 64;
    for chunk in (0..n).collect::<Vec<_>>().chunks(window) {
        let sends = chunk.iter().map(|_| publisher.publish(&message));
        for sent in futures::future::join_all(sends).await {
            sent.unwrap();
        }
    }
    let result = rate(n, started.elapsed());
    publisher
        .channel()
        .queue_purge(queue.as_str().into(), QueuePurgeOptions::default())
        .await
        .unwrap();
    let _ = connection.close(200, "done".into()).await;
    result
}

async fn raw_commits(pool: &sqlx::PgPool, n: usize) -> f64 {
    sqlx::query("CREATE TABLE bench_commit (n integer)")
        .execute(pool)
        .await
        .unwrap();
    let lanes = pool.options().get_max_connections() as usize;
    let started = Instant::now();
    let work = (0..lanes).map(|lane| async move {
        for n in (lane..n).step_by(lanes) {
            sqlx::query("INSERT INTO bench_commit VALUES ($1)")
                .bind(n as i32)
                .execute(pool)
                .await
                .unwrap();
        }
    });
    futures::future::join_all(work).await;
    rate(n, started.elapsed())
}

async fn raw_puts(env: &TestEnv, size: usize, n: usize) -> f64 {
    let objects = &env.app.objects;
    let body = vec![7u8; size];
    let prefix = format!("{}/bench-raw", env.settings.object_store.staging_prefix);
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let puts = chunk.iter().map(|i| {
            let key = format!("{prefix}/{i}");
            let body = &body;
            async move {
                objects
                    .put(&key, body, "application/octet-stream")
                    .await
                    .unwrap()
            }
        });
        futures::future::join_all(puts).await;
    }
    let result = rate(n, started.elapsed());
    for i in 0..n {
        let _ = objects.delete(&format!("{prefix}/{i}")).await;
    }
    result
}

async fn raw_smtp(env: &TestEnv, connections: u32, n: usize) -> f64 {
    use lettre::transport::smtp::PoolConfig;
    let smtp = &env.settings.smtp;
    let transport =
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .pool_config(PoolConfig::new().max_size(connections))
            .build();
    let to = format!("bench-{}@example.it", env.namespace);
    let message = || {
        lettre::Message::builder()
            .from("Comune <protocollo@comune.example.it>".parse().unwrap())
            .to(to.parse().unwrap())
            .subject("Ricevuta di protocollo")
            .body("x".repeat(2000))
            .unwrap()
    };
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(connections as usize) {
        let sends = chunk.iter().map(|_| transport.send(message()));
        for sent in futures::future::join_all(sends).await {
            sent.unwrap();
        }
    }
    rate(n, started.elapsed())
}

// ---------------------------------------------------------------------------------------------

/// The fleet: in this process (`run all`), or one process per worker (and more where asked).
enum Fleet {
    InProcess(sportello_e2e::RunningFleet),
    Processes(Vec<(String, tokio::process::Child)>),
}

impl Fleet {
    fn start(env: &TestEnv) -> Fleet {
        if std::env::var("SPORTELLO_BENCH_PROCESSES").as_deref() != Ok("separate") {
            return Fleet::InProcess(env.start_fleet(sportello_fleet::fleet::WORKERS));
        }
        let binary = sportello_e2e::repository_root().join("target/release/sportello");
        assert!(
            binary.is_file(),
            "{} is missing: cargo build --release --bin sportello",
            binary.display()
        );
        let extra = std::env::var("SPORTELLO_BENCH_EXTRA").unwrap_or_default();
        let mut names: Vec<String> = (sportello_fleet::fleet::WORKERS.iter())
            .map(|w| w.to_string())
            .collect();
        names.extend(
            extra
                .split(',')
                .filter(|w| !w.is_empty())
                .map(str::to_owned),
        );
        let children = names
            .into_iter()
            .map(|worker| {
                let child = tokio::process::Command::new(&binary)
                    .args(["run", &worker])
                    .envs(env.child_env())
                    .env("SPORTELLO__HTTP__ENABLED", "false")
                    .env("SPORTELLO__LOG__LEVEL", "warn")
                    .stdout(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
                    .expect("sportello starts");
                (worker, child)
            })
            .collect();
        Fleet::Processes(children)
    }

    /// Each worker process's peak RSS so far (none in process).
    fn peak_rss(&self) -> Vec<(String, f64)> {
        match self {
            Fleet::InProcess(_) => Vec::new(),
            Fleet::Processes(children) => children
                .iter()
                .filter_map(|(worker, child)| {
                    Some((worker.clone(), peak_rss_of(&child.id()?.to_string())))
                })
                .collect(),
        }
    }

    async fn stop(self) {
        match self {
            Fleet::InProcess(fleet) => fleet.stop().await,
            Fleet::Processes(children) => {
                for (_, mut child) in children {
                    if let Some(pid) = child.id() {
                        let _ = std::process::Command::new("kill")
                            .args(["-TERM", &pid.to_string()])
                            .status();
                    }
                    let _ = child.wait().await;
                }
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = size("SPORTELLO_BENCH_PRACTICES", 2000);
    let half_n = size("SPORTELLO_BENCH_HALF", 300);
    let raw_n = size("SPORTELLO_BENCH_RAW", 2000);
    // On the clusters of deploy/cluster when asked (`SPORTELLO_BENCH_ON=cluster`), for the
    // cost of replication beside the single-node figures.
    let on_clusters = std::env::var("SPORTELLO_BENCH_ON").as_deref() == Ok("cluster");
    let env = if on_clusters {
        TestEnv::with_settings(sportello_e2e::on_the_clusters).await
    } else {
        TestEnv::new().await
    };
    let pool = env.app.store.pool().clone();
    let exchange = env.exchange("intake");
    let batch = practices(&env, "t", n);
    let message_size =
        batch.bodies.iter().map(|(_, b, _)| b.len()).sum::<usize>() / batch.bodies.len().max(1);

    // 1. Raw limits.
    let raw_publish = raw_publish(&env, message_size, raw_n).await;
    // The runtime role may not create tables: the raw commits run as the schema's owner, with
    // as many connections as the fleet's pool.
    let owner = sqlx::postgres::PgPoolOptions::new()
        .max_connections(pool.options().get_max_connections())
        .connect(env.settings.database.owner_url())
        .await
        .unwrap();
    let raw_commit = raw_commits(&owner, raw_n).await;
    owner.close().await;
    let raw_put = raw_puts(&env, 16 * 1024, raw_n / 4).await;
    let smtp_pool = env.settings.smtp.pool_size.max(1);
    let raw_smtp_pool = raw_smtp(&env, smtp_pool, raw_n / 5).await;
    let raw_smtp_16 = raw_smtp(&env, 16, raw_n / 5).await;

    // 2. Throughput.
    let management = Management::new(&env);
    let queues = env.app.topology.queue_names();
    let fleet = Fleet::start(&env);
    let sim = env.start_simulator();
    let mut polls = 0u64;
    let broker_before = management.settled(&queues).await;
    let (commits_before, rollbacks_before) = commits(&pool, &mut polls).await;
    let polls_before = polls;
    let s3_before = sportello_shared::objects::requests::counts();
    let cpu_before = process_ticks();
    let box_before = box_ticks();

    let (connection, publisher) = portal(&env).await;
    let started_at = chrono::Utc::now();
    let started = Instant::now();
    for chunk in batch.bodies.chunks(64) {
        let sends: Vec<Outgoing> = chunk
            .iter()
            .map(|(id, body, _)| submission(&exchange, *id, body))
            .collect();
        for sent in futures::future::join_all(sends.iter().map(|m| publisher.publish(m))).await {
            sent.unwrap();
        }
    }
    let submitted_in = started.elapsed();
    let ids: Vec<Uuid> = batch.bodies.iter().map(|(id, _, _)| *id).collect();
    wait_done(&pool, &ids, &mut polls).await;
    // The fleet's time: from the first publish to the last transition or email, as the
    // database recorded them (not when the polling noticed).
    polls += 1;
    let finished: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT greatest((SELECT max(at) FROM practice_history WHERE practice_id = ANY($1)), \
                         (SELECT max(updated_at) FROM notifications WHERE practice_id = ANY($1)))",
    )
    .bind(&ids)
    .fetch_one(&pool)
    .await
    .unwrap();
    let elapsed = (finished - started_at).to_std().unwrap();
    let cpu_after = process_ticks();
    let box_after = box_ticks();
    let s3_after = sportello_shared::objects::requests::counts();
    let polls_during = polls - polls_before;
    let (commits_after, rollbacks_after) = commits(&pool, &mut polls).await;
    let broker_after = management.settled(&queues).await;
    let fleet_rate = rate(n, elapsed);

    let per = |x: f64| x / n as f64;
    let commits_pp = per((commits_after - commits_before) as f64 - polls_during as f64 - 2.0);
    let rollbacks_pp = per((rollbacks_after - rollbacks_before) as f64);
    let messages_pp = per((broker_after - broker_before) as f64);
    let s3_pp = (
        per((s3_after.0 - s3_before.0) as f64),
        per((s3_after.1 - s3_before.1) as f64),
        per((s3_after.2 - s3_before.2) as f64),
        per((s3_after.3 - s3_before.3) as f64),
    );
    let emails: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM notifications WHERE practice_id = ANY($1) AND status = 'sent'",
    )
    .bind(&ids)
    .fetch_one(&pool)
    .await
    .unwrap();
    let cpu_ms: Vec<(&str, f64)> = cpu_after
        .iter()
        .map(|(name, after)| {
            let used = after.saturating_sub(cpu_before[name]) as f64 / TICKS * 1000.0;
            (*name, used / n as f64)
        })
        .collect();
    let (busy, total) = (box_after.0 - box_before.0, box_after.1 - box_before.1);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
    let box_ms_pp = busy as f64 / TICKS * 1000.0 / n as f64;
    let box_busy = busy as f64 / total.max(1) as f64 * cores * 100.0;

    let stages: Vec<(String, i64, f64)> = sqlx::query_as(
        "SELECT to_state, count(*), extract(epoch FROM max(at) - min(at))::float8 \
         FROM practice_history WHERE practice_id = ANY($1) GROUP BY to_state ORDER BY min(at)",
    )
    .bind(&ids)
    .fetch_all(&pool)
    .await
    .unwrap();

    // 3. Latency at half load.
    let half = practices(&env, "h", half_n);
    let interval = Duration::from_secs_f64(2.0 / fleet_rate);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut submitted_at = BTreeMap::new();
    for (id, body, _) in &half.bodies {
        ticker.tick().await;
        submitted_at.insert(*id, chrono::Utc::now());
        publisher
            .publish(&submission(&exchange, *id, body))
            .await
            .unwrap();
    }
    let half_ids: Vec<Uuid> = half.bodies.iter().map(|(id, _, _)| *id).collect();
    wait_done(&pool, &half_ids, &mut polls).await;
    let realtime: Vec<Uuid> = half
        .bodies
        .iter()
        .filter(|(_, _, kind)| {
            env.app
                .catalog
                .get(kind)
                .is_some_and(|k| k.handling == Handling::Realtime)
        })
        .map(|(id, _, _)| *id)
        .collect();
    let latencies = |rows: Vec<(Uuid, chrono::DateTime<chrono::Utc>)>| {
        let mut ms: Vec<f64> = rows
            .iter()
            .map(|(id, at)| (*at - submitted_at[id]).num_microseconds().unwrap() as f64 / 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        ms
    };
    let registered = latencies(
        sqlx::query_as(
            "SELECT practice_id, at FROM practice_history \
             WHERE practice_id = ANY($1) AND to_state = 'registered'",
        )
        .bind(&half_ids)
        .fetch_all(&pool)
        .await
        .unwrap(),
    );
    let receipt = latencies(
        sqlx::query_as(
            "SELECT practice_id, sent_at FROM notifications \
             WHERE practice_id = ANY($1) AND event = 'registered' AND sent_at IS NOT NULL",
        )
        .bind(&half_ids)
        .fetch_all(&pool)
        .await
        .unwrap(),
    );
    let completed = latencies(
        sqlx::query_as(
            "SELECT practice_id, at FROM practice_history \
             WHERE practice_id = ANY($1) AND to_state = 'completed'",
        )
        .bind(&realtime)
        .fetch_all(&pool)
        .await
        .unwrap(),
    );
    let _ = connection.close(200, "done".into()).await;
    let worker_rss = fleet.peak_rss();
    sim.stop().await;
    fleet.stop().await;

    // 4. The table.
    println!(
        "fleet benchmark — {n} practices (`run all` in-process + simulator), {} on {} cores, started {}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "this machine".into()),
        cores,
        started_at.format("%Y-%m-%d %H:%M UTC")
    );
    println!("raw limits (same run)");
    println!("  publish+confirm, quorum queue, {message_size} B {raw_publish:>9.0} msg/s");
    println!(
        "  PostgreSQL commit (one-row insert, {} lanes) {raw_commit:>7.0} /s",
        pool.options().get_max_connections()
    );
    println!("  S3 PUT 16 KiB (8 in flight)               {raw_put:>9.0} /s");
    println!("  SMTP send, {smtp_pool} pooled connections           {raw_smtp_pool:>9.0} /s");
    println!("  SMTP send, 16 pooled connections          {raw_smtp_16:>9.0} /s");
    println!("throughput");
    println!(
        "  fleet                                     {fleet_rate:>9.1} practices/s  ({:.1} s; submitted in {:.1} s)",
        elapsed.as_secs_f64(),
        submitted_in.as_secs_f64()
    );
    println!(
        "  box busy                                  {box_busy:>9.0} % of {:.0} %",
        cores * 100.0
    );
    println!("per practice");
    println!("  box CPU                                   {box_ms_pp:>9.1} ms");
    for (name, ms) in &cpu_ms {
        println!("    {name:<39} {ms:>9.1} ms");
    }
    println!(
        "  commits                                   {commits_pp:>9.1}  (+ {rollbacks_pp:.2} rollbacks)"
    );
    println!("  broker messages (into queues)             {messages_pp:>9.1}");
    if !worker_rss.is_empty() {
        // The request counters are each process's own: here only the simulator's and ours.
        println!("  S3 requests: counted in process only (the workers ran apart)");
    }
    println!(
        "  S3 requests                               {:>9.1}  (PUT {:.1}, GET {:.1}, HEAD {:.1}, other {:.1})",
        s3_pp.0 + s3_pp.1 + s3_pp.2 + s3_pp.3,
        s3_pp.0,
        s3_pp.1,
        s3_pp.2,
        s3_pp.3
    );
    println!(
        "  emails                                    {:>9.2}",
        per(emails as f64)
    );
    println!("ratios to the raw limits (fleet's use / raw rate)");
    let used = |x: f64| x * fleet_rate;
    println!(
        "  commits/s        {:>8.0} = {:>5.1} % of raw",
        used(commits_pp),
        used(commits_pp) / raw_commit * 100.0
    );
    println!(
        "  messages/s       {:>8.0} = {:>5.1} % of raw",
        used(messages_pp),
        used(messages_pp) / raw_publish * 100.0
    );
    println!(
        "  PUTs/s           {:>8.0} = {:>5.1} % of raw",
        used(s3_pp.0),
        used(s3_pp.0) / raw_put * 100.0
    );
    println!(
        "  emails/s         {:>8.0} = {:>5.1} % of raw with {smtp_pool} connections, {:.1} % with 16",
        used(per(emails as f64)),
        used(per(emails as f64)) / raw_smtp_pool * 100.0,
        used(per(emails as f64)) / raw_smtp_16 * 100.0
    );
    println!("stage rates (history: entries / span from first to last)");
    for (state, count, span) in &stages {
        println!(
            "  {state:<24} {count:>6}  {:>9.1} /s",
            *count as f64 / span.max(1e-3)
        );
    }
    println!(
        "latency at half load ({half_n} practices at {:.1}/s): p50 / p95 / p99 ms",
        fleet_rate / 2.0
    );
    for (what, ms) in [
        ("submit → registered", &registered),
        ("submit → receipt sent", &receipt),
        ("submit → completed (real-time)", &completed),
    ] {
        println!(
            "  {what:<32} {:>7.0} {:>7.0} {:>7.0}   (n={})",
            percentile(ms, 50.0),
            percentile(ms, 95.0),
            percentile(ms, 99.0),
            ms.len()
        );
    }
    println!(
        "peak RSS (this process: fleet + simulator + bench) {:>7.1} MiB",
        peak_rss_mib()
    );
    for (worker, mib) in &worker_rss {
        println!("peak RSS of the {worker:<12} process {mib:>7.1} MiB");
    }
    env.teardown().await;
}
