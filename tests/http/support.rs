//! A running HTTP service for one test, its tokens, and small HTTP helpers.
//!
//! The service trusts three issuers the test plays, each with a key pair of its own made for
//! the test: sportello (EdDSA, operators), the portal (EdDSA, citizens) and the counter
//! application (ES256, operators), so that both algorithms are checked on every run.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use sportello_api::auth::{Algorithm, Grants, Keys, OperatorRole, Signer, Subject};
use sportello_api::{ApiState, Services};
use sportello_e2e::{PATIENCE, TestEnv, samples_dir};
use sportello_shared::config::{HttpSettings, Settings};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct TestApi {
    pub base: String,
    pub http: reqwest::Client,
    pub keys: Keys,
    /// Sportello's own issuer: operators, any role.
    pub sportello: Signer,
    /// The citizens' portal: citizens only.
    pub portal: Signer,
    /// The counter application: operators, any role.
    pub counter: Signer,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the status and that the body is the API's JSON error shape; returns its code.
    pub fn expect_error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{}", self.text());
        assert!(
            self.content_type().starts_with("application/json"),
            "{}",
            self.content_type()
        );
        let body = self.json();
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        body["error"].as_str().expect("an error code").to_owned()
    }
}

impl TestApi {
    pub async fn start(env: &TestEnv) -> TestApi {
        Self::start_with(env, |_| {}).await
    }

    pub async fn start_with(env: &TestEnv, adjust: impl FnOnce(&mut HttpSettings)) -> TestApi {
        Self::start_with_settings(env, |settings| adjust(&mut settings.http)).await
    }

    /// The service over settings the test changes (a dead SMTP relay, say), the test's own
    /// issuers trusted.
    pub async fn start_with_settings(env: &TestEnv, adjust: impl FnOnce(&mut Settings)) -> TestApi {
        let mut settings = env.app.settings.clone();
        adjust(&mut settings);
        let http = &settings.http;
        let audience = http.audience.clone();
        let generate = |iss: &str, algorithm| Signer::generate(iss, &audience, algorithm).unwrap();
        let sportello = generate(&http.issuer, Algorithm::EdDSA);
        let portal = generate("portal", Algorithm::EdDSA);
        let counter = generate("counter", Algorithm::ES256);
        let keys = Keys::new(&audience, Duration::from_secs(http.clock_leeway_secs))
            .sign_as(sportello.clone())
            .unwrap()
            .trust(
                "portal",
                Algorithm::EdDSA,
                &portal.public_key_pem(),
                Grants::citizens(),
                "portal",
            )
            .unwrap()
            .trust(
                "counter",
                Algorithm::ES256,
                &counter.public_key_pem(),
                Grants::operators(),
                "counter",
            )
            .unwrap();
        let shutdown = CancellationToken::new();
        let state = ApiState::with_keys(
            Services {
                settings,
                store: env.app.store.clone(),
                objects: env.app.objects.clone(),
                catalog: env.app.catalog.clone(),
                topology: env.app.topology.clone(),
            },
            keys.clone(),
            shutdown.clone(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(sportello_api::serve(state, listener));
        TestApi {
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            keys,
            sportello,
            portal,
            counter,
            shutdown,
            task,
        }
    }

    /// A citizen's token from the portal, valid for an hour.
    pub fn citizen(&self, tax_code: &str) -> String {
        self.citizen_for(tax_code, Duration::from_secs(3600))
    }

    pub fn citizen_for(&self, tax_code: &str, ttl: Duration) -> String {
        self.portal
            .mint(&Subject::Citizen { tax_code }, ttl)
            .unwrap()
    }

    /// An operator with every role (counter, protocol officer, operations), from the counter
    /// application: for the tests about what an operator can do, not about which one.
    pub fn operator(&self, id: &str) -> String {
        self.operator_as(id, &OperatorRole::ALL)
    }

    /// An operator with just `roles`, from the counter application.
    pub fn operator_as(&self, id: &str, roles: &[OperatorRole]) -> String {
        let roles: BTreeSet<OperatorRole> = roles.iter().copied().collect();
        self.counter
            .mint(
                &Subject::Operator { id, roles: &roles },
                Duration::from_secs(3600),
            )
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the API answers");
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.expect("a body").to_vec(),
        }
    }

    fn authorised(
        &self,
        request: reqwest::RequestBuilder,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        match token {
            Some(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
            None => request,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(self.authorised(self.http.get(self.url(path)), token))
            .await
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> Reply {
        self.post_raw(
            path,
            token,
            "application/json",
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let request = self
            .http
            .post(self.url(path))
            .header(CONTENT_TYPE, content_type)
            .body(body);
        self.send(self.authorised(request, token)).await
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("server task")
            .expect("the server stopped cleanly");
    }
}

/// A sample submission from `samples/submissions`.
pub fn sample(name: &str) -> serde_json::Value {
    let path = samples_dir().join("submissions").join(name);
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// Polls `probe` until it gives a value, or panics after the test's patience.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

/// Reads events from an SSE response until `enough` says so (or the patience runs out).
pub async fn read_events(
    response: reqwest::Response,
    enough: impl Fn(&[SseEvent]) -> bool,
) -> Vec<SseEvent> {
    use futures::StreamExt;
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !enough(&events) {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("the stream stalled after {events:?}"))
            .expect("the stream stays open")
            .expect("a chunk");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            // Comment-only blocks are keep-alives.
            events.extend(parse_event(&block));
        }
    }
    events
}

/// Reads a stream to its end, which must come before `deadline`; the events it sent.
pub async fn read_to_end(
    response: reqwest::Response,
    deadline: tokio::time::Instant,
) -> Vec<SseEvent> {
    use futures::StreamExt;
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => panic!("the stream was still open at the deadline: {text}"),
            Ok(None) => break,
            Ok(Some(chunk)) => text.push_str(&String::from_utf8_lossy(&chunk.expect("a chunk"))),
        }
    }
    parse_events(&text)
}

fn parse_events(text: &str) -> Vec<SseEvent> {
    text.split("\n\n").filter_map(parse_event).collect()
}

/// One block of a stream as an event; `None` for a block without data (a keep-alive).
fn parse_event(block: &str) -> Option<SseEvent> {
    let mut event = SseEvent {
        event: "message".to_owned(),
        id: None,
        data: String::new(),
    };
    let mut has_data = false;
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            event.event = value.trim().to_owned();
        } else if let Some(value) = line.strip_prefix("id:") {
            event.id = Some(value.trim().to_owned());
        } else if let Some(value) = line.strip_prefix("data:") {
            if has_data {
                event.data.push('\n');
            }
            event
                .data
                .push_str(value.strip_prefix(' ').unwrap_or(value));
            has_data = true;
        }
    }
    has_data.then_some(event)
}
