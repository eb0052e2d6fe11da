//! A worker started while a service it needs is down waits for it and comes up by itself.
//!
//! The shared services are never stopped (other tests use them): the `sportello run` child is
//! pointed at a port where nothing listens, instead of at PostgreSQL, the object store or
//! RabbitMQ. While it says in its log that it is waiting, and stays alive, a practice waits at
//! `received`; then the test opens that port, forwarding to the real service, and the practice
//! gets through the child's stage. SIGTERM stops a child at once even while it waits, and an
//! operator's one-shot command does not wait at all.

use sportello_e2e::{PATIENCE, TestEnv, sportello_binary, valid_samples};
use sportello_shared::domain::state::PracticeState;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// A `sportello` child process and what it wrote to stderr so far.
struct Sportello {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Sportello {
    fn start(env: &TestEnv, args: &[&str], overrides: &[(&str, String)]) -> Sportello {
        let mut child = Command::new(sportello_binary())
            .args(args)
            .envs(env.child_env())
            .envs(overrides.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("sportello starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = log.clone();
        let stderr = child.stderr.take().unwrap();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lines.lock().unwrap().push(line);
            }
        });
        Sportello { child, log }
    }

    fn lines_with(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits until `count` lines of the log contain `needle`, the process alive all along.
    async fn wait_for_log(&mut self, needle: &str, count: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.lines_with(needle) < count {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "sportello exited ({status}) instead of waiting:\n{}",
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "never logged `{needle}` {count} times:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn exit_within(&mut self, patience: Duration) -> ExitStatus {
        match tokio::time::timeout(patience, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!(
                "sportello still running after {patience:?}:\n{}",
                self.log_text()
            ),
        }
    }

    async fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        self.exit_within(Duration::from_secs(20)).await
    }
}

/// `url` with its host and port replaced by `127.0.0.1:<port>`, and the host:port it had.
fn redirected(url: &str, port: u16) -> (String, String) {
    let scheme_end = url.find("://").expect("a URL") + 3;
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let (credentials, host_port) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    assert!(
        host_port.contains(':'),
        "{host_port}: the URL names its port"
    );
    let redirected = format!(
        "{}{credentials}127.0.0.1:{port}{}",
        &url[..scheme_end],
        &rest[authority_end..]
    );
    (redirected, host_port.to_owned())
}

/// Opens `port` at last, every connection forwarded to `target`.
async fn open_forwarder(port: u16, target: String) {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the closed port is still free");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

#[derive(Clone, Copy, Debug)]
enum Service {
    Database,
    ObjectStore,
    Broker,
}

impl Service {
    /// The name the log gives it, the variable that points the child at `port`, and where
    /// the real service listens.
    fn redirect(self, env: &TestEnv, port: u16) -> (&'static str, (&'static str, String), String) {
        let settings = &env.settings;
        let (name, variable, url) = match self {
            Service::Database => (
                "PostgreSQL",
                "SPORTELLO__DATABASE__URL",
                settings.database.url(),
            ),
            Service::ObjectStore => (
                "the object store",
                "SPORTELLO__OBJECT_STORE__ENDPOINT",
                settings.object_store.endpoint.as_str(),
            ),
            Service::Broker => ("RabbitMQ", "SPORTELLO__BROKER__URL", settings.broker.url()),
        };
        let (url, target) = redirected(url, port);
        (name, (variable, url), target)
    }
}

/// The child runs validation with `service` away; intake runs in the test, on the real
/// services, so a submitted practice waits at `received` until the child comes up.
async fn started_while_away(service: Service) {
    let env = TestEnv::new().await;
    let intake = env.start_fleet(&["intake"]);
    let port = sportello_e2e::closed_port();
    let (name, redirect, target) = service.redirect(&env, port);
    let mut validation = Sportello::start(&env, &["run", "validation"], &[redirect]);

    let waiting = format!("{name} not reachable yet; waiting");
    // Two retries logged: it keeps trying, with backoff, and is alive all along.
    validation.wait_for_log(&waiting, 2).await;
    let sample = valid_samples().into_iter().next().expect("a valid sample");
    let ids = env.submit_files(&[sample]).await;
    env.wait_until_all_in(&ids, &[PracticeState::Received])
        .await;
    let practice = env.practice(ids[0]).await.expect("intake recorded it");
    assert_eq!(
        practice.state,
        PracticeState::Received,
        "nothing validates while the child waits"
    );
    assert!(validation.child.try_wait().unwrap().is_none());

    open_forwarder(port, target).await;
    env.wait_until_all_in(&ids, &[PracticeState::Validated])
        .await;
    assert_eq!(
        validation.lines_with("service reachable; starting"),
        1,
        "{}",
        validation.log_text()
    );
    let status = validation.terminate().await;
    assert!(status.success(), "{status}\n{}", validation.log_text());
    intake.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_started_while_postgresql_is_down_waits_and_comes_up() {
    started_while_away(Service::Database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_started_while_the_object_store_is_down_waits_and_comes_up() {
    started_while_away(Service::ObjectStore).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_started_while_rabbitmq_is_down_waits_and_comes_up() {
    started_while_away(Service::Broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_wait_at_once_and_one_shot_commands_do_not_wait() {
    let env = TestEnv::new().await;
    let port = sportello_e2e::closed_port();
    let (name, redirect, _) = Service::Broker.redirect(&env, port);
    let mut waiting = Sportello::start(&env, &["run", "validation"], &[redirect]);
    waiting
        .wait_for_log(&format!("{name} not reachable yet; waiting"), 1)
        .await;
    let status = waiting.terminate().await;
    assert!(status.success(), "{status}\n{}", waiting.log_text());

    let (_, redirect, _) = Service::Database.redirect(&env, port);
    let mut folder = Sportello::start(&env, &["folder", "RSSMRA80A01A794X"], &[redirect]);
    let status = folder.exit_within(Duration::from_secs(30)).await;
    assert!(!status.success(), "{}", folder.log_text());
    let log = folder.log_text();
    assert!(log.contains("PostgreSQL"), "{log}");
    assert_eq!(folder.lines_with("not reachable yet"), 0, "{log}");
    assert!(
        !log.contains("RSSMRA80A01A794X"),
        "the tax code is masked: {log}"
    );
    env.teardown().await;
}
