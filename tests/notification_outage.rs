//! The mail server goes away for a minute while citizens submit: every email waits in the
//! retry tiers and goes out once the server is back — none lost, none twice — and each record
//! shows the attempts it took.
//!
//! The sink is a maildev of this test's own, started the way deploy/local/stack-up.sh starts the
//! shared one (same Node.js, same script), on ports of its own: stopping it for a minute stops
//! nobody else's tests.

#[path = "mail/mod.rs"]
mod mail;

use mail::Inbox;
use sportello_e2e::{PATIENCE, TestEnv, json_files, samples_dir};
use sportello_shared::domain::state::PracticeState;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::time::Instant;

const OUTAGE: Duration = Duration::from_secs(60);

/// A maildev this test starts and stops; killed when dropped, whatever happens to the test.
struct Sink {
    command: Vec<String>,
    smtp: u16,
    web: u16,
    child: Option<Child>,
}

/// How the shared maildev was started (its command line, up to its own options), else the
/// `maildev` on PATH.
fn maildev_command() -> Vec<String> {
    let pid_file = sportello_e2e::local_stack_state().join("maildev.pid");
    let from_shared = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|pid| std::fs::read(format!("/proc/{}/cmdline", pid.trim())).ok())
        .map(|cmdline| {
            cmdline
                .split(|b| *b == 0)
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .take_while(|arg| !arg.starts_with("--"))
                .filter(|arg| !arg.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|argv| argv.iter().any(|arg| arg.contains("maildev")));
    from_shared.unwrap_or_else(|| vec!["maildev".to_owned()])
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

impl Sink {
    async fn start() -> Sink {
        let mut sink = Sink {
            command: maildev_command(),
            smtp: free_port(),
            web: free_port(),
            child: None,
        };
        sink.resume().await;
        sink
    }

    fn web_api(&self) -> String {
        format!("http://127.0.0.1:{}", self.web)
    }

    fn log(&self) -> PathBuf {
        std::env::temp_dir().join(format!("maildev-{}.log", self.smtp))
    }

    async fn resume(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .unwrap();
        let child = Command::new(&self.command[0])
            .args(&self.command[1..])
            .args([
                "--smtp",
                &self.smtp.to_string(),
                "--web",
                &self.web.to_string(),
            ])
            .args(["--ip", "127.0.0.1", "--web-ip", "127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("maildev {:?} starts: {e}", self.command));
        self.child = Some(child);
        let inbox = Inbox::new(&self.web_api());
        let deadline = Instant::now() + Duration::from_secs(60);
        while !(inbox.is_up().await && port_open(self.smtp)) {
            assert!(Instant::now() < deadline, "maildev did not come up");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn pause(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while port_open(self.smtp) {
            assert!(Instant::now() < deadline, "maildev did not stop");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_wait_out_a_mail_server_outage_and_go_out_once() {
    let mut sink = Sink::start().await;
    let (smtp_port, web_api) = (sink.smtp, sink.web_api());
    let env = TestEnv::with_settings(|settings| {
        settings.smtp.port = smtp_port;
        settings.smtp.web_api = web_api;
        settings.smtp.pec = None;
    })
    .await;
    let inbox = Inbox::new(&env.settings.smtp.web_api);
    let fleet = env.start_fleet(&["intake", "validation", "protocol", "notification"]);

    // Some valid samples and some invalid ones, all with an address to write to.
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(samples_dir().join("expected.json")).unwrap())
            .unwrap();
    let files = json_files(&samples_dir().join("submissions"));
    let is_valid = |file: &PathBuf| {
        expected[file.file_name().unwrap().to_str().unwrap()]["valid"]
            .as_bool()
            .unwrap()
    };
    let mut chosen: Vec<PathBuf> = files
        .iter()
        .filter(|f| is_valid(f))
        .take(6)
        .cloned()
        .collect();
    chosen.extend(
        ["invalid-codice-fiscale.json", "invalid-oggetto-vuoto.json"]
            .iter()
            .map(|name| samples_dir().join("submissions").join(name)),
    );
    let scratch = std::env::temp_dir().join(format!("sportello-outage-{}", env.namespace));
    let samples = mail::rewrite_samples(&chosen, &env.namespace, &scratch);

    sink.pause().await;
    let outage_began = Instant::now();
    let ids = env
        .submit_files(&samples.iter().map(|s| s.file.clone()).collect::<Vec<_>>())
        .await;
    env.wait_until_all_in(&ids, &[PracticeState::Registered, PracticeState::Rejected])
        .await;

    // While the sink is away every notification is tried, fails, and waits for a retry.
    let pool = env.app.store.pool();
    loop {
        let records = mail::notifications(pool, &ids).await;
        if records.len() == ids.len()
            && records
                .iter()
                .all(|r| r.status == "failed_temporary" && r.attempts >= 1)
        {
            break;
        }
        assert!(
            outage_began.elapsed() < OUTAGE,
            "not every notification was tried during the outage: {records:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep_until(outage_began + OUTAGE).await;
    sink.resume().await;

    // The retry tiers bring every email back once the sink is up.
    mail::wait_until_settled(pool, &ids, PATIENCE * 3).await;
    let records = mail::notifications(pool, &ids).await;
    assert_eq!(records.len(), ids.len());
    for record in &records {
        assert_eq!(record.status, "sent", "{record:?}");
        assert!(record.attempts > 1, "{record:?}");
        assert!(
            record.last_error.is_some(),
            "the failed attempts left their reason: {record:?}"
        );
    }
    let municipality_email = &env.settings.municipality.email;
    let emails = inbox.to_any(samples.iter().map(|s| &s.email)).await;
    for (sample, id) in samples.iter().zip(&ids) {
        let practice = env.practice(*id).await.unwrap();
        let wanted = mail::message_id(*id, practice.state.as_str(), municipality_email);
        let mine: Vec<_> = emails.iter().filter(|e| e.message_id() == wanted).collect();
        assert_eq!(
            mine.len(),
            1,
            "{}: exactly one email after the outage",
            sample.name
        );
        assert_eq!(mine[0].to[0].address, sample.email);
    }
    // Applicants with several practices receive one email per practice, and nothing more.
    assert_eq!(emails.len(), ids.len(), "no email twice, none extra");

    fleet.stop().await;
    sink.pause().await;
    let _ = std::fs::remove_file(sink.log());
    let _ = std::fs::remove_dir_all(&scratch);
    env.teardown().await;
}
