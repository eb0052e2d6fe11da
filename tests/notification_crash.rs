//! The notification worker SIGKILLed again and again while receipts go out: every email still
//! goes out, and its record tells the truth — `attempts` is never less than the copies the mail
//! server got under its Message-ID, so a second copy only ever belongs to a record that shows
//! a second attempt.
//!
//! Random kills alone would hit the inside of an SMTP transaction only by luck, so the worker
//! talks to maildev through a relay of this test that, now and then, passes a message to
//! maildev and keeps maildev's `250` from the worker: the test kills the worker right then,
//! when the mail server has the message and the worker cannot know it. That is the one window
//! SMTP leaves open; the record must count the attempt that fell into it.

#[path = "mail/mod.rs"]
mod mail;

use mail::Inbox;
use sportello_e2e::{PATIENCE, TestEnv, sportello_binary, valid_samples};
use sportello_shared::domain::state::PracticeState;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

const PRACTICES: usize = 30;
/// Kills inside the window: maildev has the message, the worker has not heard the `250`.
const HELD_KILLS: usize = 4;
/// One message in this many has its `250` withheld (while held kills remain).
const HOLD_EVERY: usize = 5;
/// Kills at random moments besides.
const RANDOM_KILLS: usize = 10;

/// An SMTP relay between the worker and maildev that can withhold maildev's reply to a message.
struct HoldingRelay {
    target: String,
    messages: AtomicUsize,
    holds_left: AtomicUsize,
    held: mpsc::UnboundedSender<()>,
}

impl HoldingRelay {
    async fn start(target: String) -> (u16, mpsc::UnboundedReceiver<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (held, holds) = mpsc::unbounded_channel();
        let relay = Arc::new(HoldingRelay {
            target,
            messages: AtomicUsize::new(0),
            holds_left: AtomicUsize::new(HELD_KILLS),
            held,
        });
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay.clone().carry(client));
            }
        });
        (port, holds)
    }

    /// Whether the reply to the message that just ended is to be withheld.
    fn hold_this_one(&self) -> bool {
        let n = self.messages.fetch_add(1, Ordering::SeqCst);
        n % HOLD_EVERY == 1
            && self
                .holds_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                })
                .is_ok()
    }

    async fn carry(self: Arc<Self>, client: TcpStream) {
        let Ok(server) = TcpStream::connect(&self.target).await else {
            return;
        };
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        // Set once the worker has sent a message's final `.`: the next reply is its 250.
        let message_ended = Arc::new(AtomicBool::new(false));
        let client_gone = Arc::new(Notify::new());
        let (ended, gone) = (message_ended.clone(), client_gone.clone());
        tokio::spawn(async move {
            let mut tail: Vec<u8> = Vec::new();
            let mut buffer = vec![0u8; 16 * 1024];
            while let Ok(n) = client_read.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buffer[..n]);
                if tail.windows(5).any(|w| w == b"\r\n.\r\n") {
                    ended.store(true, Ordering::SeqCst);
                }
                tail.drain(..tail.len().saturating_sub(4));
                if server_write.write_all(&buffer[..n]).await.is_err() {
                    break;
                }
            }
            gone.notify_one();
        });
        let mut buffer = vec![0u8; 16 * 1024];
        while let Ok(n) = server_read.read(&mut buffer).await {
            if n == 0 {
                return;
            }
            if message_ended.swap(false, Ordering::SeqCst) && self.hold_this_one() {
                // maildev has the message; the worker never hears so. Keep its connection
                // open (a closed one would tell it something) until it is killed.
                let _ = self.held.send(());
                client_gone.notified().await;
                return;
            }
            if client_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    }
}

/// `queues.toml` with a delivery limit no number of kills here reaches: the limit is there to
/// park a message that keeps killing its consumer, and every kill of this test redelivers all
/// that the worker had in hand — without it, the test would measure the limit, not the record.
fn patient_topology(dir: &Path) -> PathBuf {
    let original = std::fs::read_to_string(sportello_e2e::repository_root().join("queues.toml"))
        .expect("queues.toml");
    assert_eq!(original.matches("delivery_limit = 5\n").count(), 1);
    let file = dir.join("queues.toml");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        &file,
        original.replace("delivery_limit = 5\n", "delivery_limit = 1000\n"),
    )
    .unwrap();
    file
}

fn start_notification(env: &TestEnv, smtp_port: u16, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(sportello_binary())
        .args(["run", "notification"])
        .envs(env.child_env())
        .env(
            "SPORTELLO__BROKER__TOPOLOGY_FILE",
            &env.settings.broker.topology_file,
        )
        .env("SPORTELLO__SMTP__HOST", "127.0.0.1")
        .env("SPORTELLO__SMTP__PORT", smtp_port.to_string())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("sportello starts")
}

async fn sigkill(child: &mut Child) {
    child.start_kill().expect("SIGKILL");
    child.wait().await.unwrap();
}

async fn settled(env: &TestEnv, ids: &[uuid::Uuid]) -> bool {
    let records = mail::notifications(env.app.store.pool(), ids).await;
    records.len() == ids.len() && records.iter().all(|r| r.status == "sent")
}

/// A small xorshift: the kill times vary from run to run without another dependency.
struct Dice(u64);

impl Dice {
    fn between(&mut self, low: u64, high: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(low + self.0 % (high - low))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkills_inside_smtp_transactions_leave_attempts_true_and_every_email_sent() {
    let dir = std::env::temp_dir().join(format!(
        "sportello-notification-crash-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let topology = patient_topology(&dir);
    let env =
        TestEnv::with_settings(|s| s.broker.topology_file = topology.display().to_string()).await;
    let log = dir.join("notification.log");
    let inbox = Inbox::new(&env.settings.smtp.web_api);
    assert!(inbox.is_up().await, "maildev answers");
    let target = format!("{}:{}", env.settings.smtp.host, env.settings.smtp.port);
    let (smtp_port, mut holds) = HoldingRelay::start(target).await;

    // PRACTICES receipts, each to an address of this test's own.
    let samples = mail::rewrite_samples(&valid_samples(), &env.namespace, &dir.join("samples"));
    let mut files: Vec<PathBuf> = Vec::with_capacity(PRACTICES);
    for i in 0..PRACTICES {
        let sample = &samples[i % samples.len()];
        let mut submission: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&sample.file).unwrap()).unwrap();
        submission["idempotency_key"] = format!("{}-receipt-{i:03}", env.namespace).into();
        // No PEC relay here: every receipt goes to the ordinary address.
        let file = dir.join(format!("{i:03}.json"));
        std::fs::write(&file, serde_json::to_vec(&submission).unwrap()).unwrap();
        files.push(file);
    }
    let fleet = env.start_fleet(&["intake", "validation", "protocol"]);
    let mut notification = start_notification(&env, smtp_port, &log);
    let ids = env.submit_files(&files).await;

    let mut dice = Dice(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1,
    );
    let (mut held_kills, mut random_kills) = (0, 0);
    let deadline = Instant::now() + PATIENCE * 2;
    loop {
        let pause = dice.between(300, 1500);
        tokio::select! {
            Some(()) = holds.recv() => {
                sigkill(&mut notification).await;
                held_kills += 1;
                notification = start_notification(&env, smtp_port, &log);
            }
            _ = tokio::time::sleep(pause), if random_kills < RANDOM_KILLS => {
                sigkill(&mut notification).await;
                random_kills += 1;
                notification = start_notification(&env, smtp_port, &log);
            }
            _ = tokio::time::sleep(Duration::from_millis(250)), if random_kills >= RANDOM_KILLS => {}
        }
        if held_kills == HELD_KILLS && random_kills == RANDOM_KILLS && settled(&env, &ids).await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not done in time: {held_kills} held kills, {random_kills} random kills, records {:?}; worker log {}",
            mail::notifications(env.app.store.pool(), &ids)
                .await
                .iter()
                .map(|r| (r.status.clone(), r.attempts))
                .collect::<Vec<_>>(),
            log.display()
        );
    }
    env.wait_until_all_in(&ids, &[PracticeState::Registered])
        .await;

    let records = mail::notifications(env.app.store.pool(), &ids).await;
    let addresses: Vec<String> = samples.iter().map(|s| s.email.clone()).collect();
    let mut copies: BTreeMap<String, i32> = BTreeMap::new();
    for email in inbox.to_any(&addresses).await {
        *copies.entry(email.message_id().to_owned()).or_default() += 1;
    }
    assert_eq!(records.len(), PRACTICES, "one receipt per practice");
    let mut duplicates = 0;
    for record in &records {
        let received = copies.get(&record.message_id).copied().unwrap_or(0);
        assert_eq!(record.status, "sent", "{record:?}");
        assert!(received >= 1, "{}: never arrived", record.message_id);
        assert!(
            record.attempts >= received,
            "{} arrived {received} times but the record counts {} attempts",
            record.message_id,
            record.attempts
        );
        if received > 1 {
            assert!(record.attempts > 1, "{record:?}");
            duplicates += received - 1;
        }
    }
    // Every held kill left maildev a copy the worker never heard of: the test did hit the
    // window, and each time the resend was counted.
    assert!(
        duplicates >= HELD_KILLS as i32,
        "{duplicates} duplicates for {HELD_KILLS} kills inside a transaction"
    );
    sigkill(&mut notification).await;
    fleet.stop().await;
    env.teardown().await;
}
