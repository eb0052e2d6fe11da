//! What every end-to-end test needs: its own fleet on the real services, isolated from others.
//!
//! Each [`TestEnv`] gets a freshly created PostgreSQL database (migrated on connect), its own
//! namespace on the broker (every exchange and queue name prefixed) and its own staging prefix
//! in the bucket, so tests run in parallel against one local stack without seeing each other.
//! The stack comes from `deploy/local/stack-up.sh`, which writes `sportello.toml`.

use anyhow::Context;
use lapin::options::{BasicAckOptions, BasicGetOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use secrecy::SecretString;
use sportello_fleet::app::App;
use sportello_register::facts::impronta_hex;
use sportello_shared::broker::{self, header_text};
use sportello_shared::config::Settings;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::store::{PracticeRecord, Store};
use sportello_shared::topology::WORKERS;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long a test waits for the fleet before it declares the fleet stuck. A safety net against
/// hangs, not a measure of speed.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// The workers a practice meets from submission to the back office's answer (notification
/// aside).
pub const ROUND_TRIP: &[&str] = WORKERS.split_last().expect("workers").1;

pub fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where deploy/local/stack-up.sh keeps the local stack's state (pids, credentials, logs).
pub fn local_stack_state() -> PathBuf {
    std::env::var_os("SPORTELLO_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/sportello/local-stack"))
}

pub fn samples_dir() -> PathBuf {
    repository_root().join("samples")
}

pub struct TestEnv {
    pub settings: Settings,
    pub app: Arc<App>,
    pub namespace: String,
    database: String,
    admin_url: String,
    /// The namespace's own broker users, one per party, deleted at teardown.
    broker_users: Vec<String>,
    /// Held for the environment's life: shared by every test, exclusive for one that stops a
    /// shared service ([`TestEnv::stopping_shared_services`]). Dropped last, after the cleanup.
    _services: std::fs::File,
}

/// The lock on the shared services (the machine's Garage, RabbitMQ): a test that stops one holds
/// it exclusively and waits for every other test environment to end; the others hold it shared.
/// An operating-system lock, so that whatever runs the tests — `cargo test`'s binaries one after
/// another, nextest's processes side by side, two runs at once — honours it.
async fn lock_services(exclusive: bool) -> std::fs::File {
    tokio::task::spawn_blocking(move || {
        let path = std::env::temp_dir().join("sportello-test-services.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        }
        .unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
        file
    })
    .await
    .expect("the lock's thread")
}

/// Gives the test's namespace its own broker users, one per party, with fresh passwords and
/// the permissions of `parties` scoped to the namespace's names, and its queues' policies,
/// through the same code as `sportello broker users`; the test's own connections speak as its `operations` party.
async fn namespace_broker_users(settings: &mut Settings) -> Vec<String> {
    let topology = sportello_fleet::app::load_topology(settings).expect("queues.toml loads");
    for party in sportello_shared::parties::all(&topology) {
        settings.broker.logins.insert(
            party,
            sportello_shared::config::BrokerLogin {
                password: SecretString::from(Uuid::new_v4().simple().to_string()),
            },
        );
    }
    settings.broker.party = Some(sportello_shared::parties::OPERATIONS.to_owned());
    sportello_shared::broker_users::apply(&settings.broker, &topology)
        .await
        .expect("the test's broker users are created ([broker.admin] in sportello.toml)")
}

impl TestEnv {
    pub async fn new() -> TestEnv {
        Self::with_settings(|_| {}).await
    }

    /// Like [`TestEnv::new`], with `adjust` applied to the settings before anything connects
    /// (a shorter retry ladder, a service pointed at a closed port, …); the test's database,
    /// namespace and staging prefix are set afterwards and win.
    pub async fn with_settings(adjust: impl FnOnce(&mut Settings)) -> TestEnv {
        Self::build(adjust, lock_services(false).await).await
    }

    /// An environment on `topology` whose object store is away (a closed port) and whose intake
    /// stages every document, so that a submission fails for want of the store.
    pub async fn with_object_store_away(topology: &Path) -> TestEnv {
        let topology_file = topology.display().to_string();
        let dead_store = format!("http://127.0.0.1:{}", closed_port());
        Self::with_settings(|settings| {
            settings.broker.topology_file = topology_file;
            settings.object_store.endpoint = dead_store;
            // Every inline document goes to the staging area, so intake needs the store.
            settings.object_store.inline_limit_bytes = 0;
            settings.object_store.request_timeout_secs = 2;
        })
        .await
    }

    /// This environment's settings with the machine's object store back (after
    /// [`TestEnv::with_object_store_away`]).
    pub fn settings_with_object_store_back(&self) -> Settings {
        let mut fixed = self.settings.clone();
        let local = Settings::load(Some(&repository_root().join("sportello.toml"))).unwrap();
        fixed.object_store.endpoint = local.object_store.endpoint;
        fixed.object_store.inline_limit_bytes = local.object_store.inline_limit_bytes;
        fixed
    }

    /// For a test that stops a shared service (Garage, RabbitMQ): it starts once every other
    /// test environment has ended, and none starts until it has. It must be the test's only
    /// environment.
    pub async fn stopping_shared_services() -> TestEnv {
        Self::build(|_| {}, lock_services(true).await).await
    }

    async fn build(adjust: impl FnOnce(&mut Settings), services: std::fs::File) -> TestEnv {
        let config = repository_root().join("sportello.toml");
        assert!(
            config.is_file(),
            "{} is missing: run deploy/local/stack-up.sh first",
            config.display()
        );
        let mut settings = Settings::load(Some(&config)).expect("sportello.toml loads");
        adjust(&mut settings);
        sweep_stale(&settings).await;
        // The creation time is in the name, so that a later run can tell abandoned leftovers
        // (a killed test run) from the live namespaces of a run beside it.
        let namespace = format!(
            "t{}x{}",
            unix_now(),
            &Uuid::new_v4().simple().to_string()[..6]
        );
        // The owner role creates, migrates and drops the test's database; the fleet connects
        // as the runtime role, as it does in production.
        let admin_url = settings.database.owner_url().to_owned();
        let database = format!("sportello_{namespace}");
        let admin = sqlx::PgPool::connect(&admin_url)
            .await
            .expect("PostgreSQL reachable");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE \"{database}\""
        )))
        .execute(&admin)
        .await
        .expect("the sportello role may create databases");
        admin.close().await;
        let in_test_database = |url: &str| {
            let (base, _) = url.rsplit_once('/').expect("database url has a path");
            SecretString::from(format!("{base}/{database}"))
        };
        settings.database.url = in_test_database(settings.database.url());
        settings.database.owner_url = in_test_database(&admin_url);
        Store::migrate(&settings.database)
            .await
            .expect("the owner migrates the test database");
        settings.database.max_connections = 8;
        settings.broker.namespace = namespace.clone();
        let broker_users = namespace_broker_users(&mut settings).await;
        settings.object_store.staging_prefix = format!("{namespace}/staging");
        // Its own AOO, so that objects keyed by AOO (daily registers) never meet another test's.
        settings.protocol.aoo_code = format!("aoo_{namespace}");
        let app = Arc::new(
            App::build(settings.clone())
                .await
                .expect("the fleet's parts connect"),
        );
        sportello_fleet::fleet::apply_topology(&app)
            .await
            .expect("topology applies");
        TestEnv {
            settings,
            app,
            namespace,
            database,
            admin_url,
            broker_users,
            _services: services,
        }
    }

    /// A connection to the test's database as the schema owner, for what the runtime role may
    /// not do (and for checking that even the owner meets the append-only triggers).
    pub async fn owner_pool(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(self.settings.database.owner_url())
            .await
            .expect("the owner connects to the test database")
    }

    /// Starts `workers` in this process, as `sportello run` would.
    pub fn start_fleet(&self, workers: &[&'static str]) -> RunningFleet {
        let shutdown = CancellationToken::new();
        let (app, workers, token) = (self.app.clone(), workers.to_vec(), shutdown.clone());
        let task =
            tokio::spawn(async move { sportello_fleet::fleet::run(app, &workers, token).await });
        RunningFleet { shutdown, task }
    }

    /// Starts workers with the protocol worker on `clock` instead of the system's.
    pub fn start_fleet_with_clock(
        &self,
        workers: &[&'static str],
        clock: Arc<dyn sportello_register::register::Clock>,
    ) -> Vec<RunningFleet> {
        let others: Vec<&'static str> = workers
            .iter()
            .copied()
            .filter(|w| *w != "protocol")
            .collect();
        let mut fleets = vec![self.start_fleet(&others)];
        if workers.contains(&"protocol") {
            let mut protocol =
                sportello_fleet::fleet::protocol(&self.app).expect("protocol worker");
            protocol.clock = clock;
            let shutdown = CancellationToken::new();
            let task = tokio::spawn(sportello_shared::worker::run_batched(
                self.settings.broker.clone(),
                self.app.topology.clone(),
                Arc::new(protocol),
                shutdown.clone(),
            ));
            fleets.push(RunningFleet { shutdown, task });
        }
        fleets
    }

    /// Environment for a `sportello` child process that must join this test's fleet.
    pub fn child_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "SPORTELLO_CONFIG".into(),
                repository_root()
                    .join("sportello.toml")
                    .display()
                    .to_string(),
            ),
            (
                "SPORTELLO__DATABASE__URL".into(),
                self.settings.database.url().to_owned(),
            ),
            (
                "SPORTELLO__BROKER__NAMESPACE".into(),
                self.namespace.clone(),
            ),
            (
                "SPORTELLO__OBJECT_STORE__STAGING_PREFIX".into(),
                self.settings.object_store.staging_prefix.clone(),
            ),
            (
                "SPORTELLO__PROTOCOL__AOO_CODE".into(),
                self.settings.protocol.aoo_code.clone(),
            ),
            ("SPORTELLO__LOG__FORMAT".into(), "json".into()),
        ]
        .into_iter()
        .chain(self.settings.broker.logins.iter().map(|(party, login)| {
            (
                format!("SPORTELLO__BROKER__LOGINS__{party}__PASSWORD"),
                secrecy::ExposeSecret::expose_secret(&login.password).to_owned(),
            )
        }))
        .collect()
    }

    pub fn exchange(&self, logical: &str) -> String {
        self.app.exchange(logical).expect("exchange in queues.toml")
    }

    pub fn queue_of(&self, worker: &str) -> String {
        self.app
            .topology
            .worker(worker)
            .expect("worker in queues.toml")
            .queue
            .clone()
    }

    pub fn error_queue_of(&self, worker: &str) -> String {
        self.app
            .topology
            .worker(worker)
            .expect("worker in queues.toml")
            .error_queue
            .clone()
    }

    pub async fn practice(&self, id: Uuid) -> Option<PracticeRecord> {
        self.app.store.practice(id).await.expect("store readable")
    }

    /// Waits until every practice in `ids` is in one of `states`; panics with the laggards.
    pub async fn wait_until_all_in(&self, ids: &[Uuid], states: &[PracticeState]) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let mut waiting = Vec::new();
            for id in ids {
                let state = self.practice(*id).await.map(|p| p.state);
                if !state.is_some_and(|s| states.contains(&s)) {
                    waiting.push((*id, state));
                }
            }
            if waiting.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} practices never reached {states:?}: {:?}",
                waiting.len(),
                &waiting[..waiting.len().min(5)]
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Takes every message waiting in `queue`: (body, reason header, stage header).
    pub async fn drain(&self, queue: &str) -> Vec<DrainedMessage> {
        let connection = broker::connect(&self.settings.broker, "test-drain")
            .await
            .expect("broker");
        let channel = connection.create_channel().await.expect("channel");
        let mut drained = Vec::new();
        while let Some(message) = channel
            .basic_get(queue.into(), BasicGetOptions::default())
            .await
            .expect("basic.get")
        {
            let headers = message
                .delivery
                .properties
                .headers()
                .clone()
                .unwrap_or_default();
            drained.push(DrainedMessage {
                body: message.delivery.data.clone(),
                reason: header_text(&headers, sportello_shared::worker::ERROR_REASON_HEADER),
                stage: header_text(&headers, sportello_shared::worker::ERROR_STAGE_HEADER),
                attempt: broker::header_u64(&headers, sportello_shared::worker::ATTEMPT_HEADER),
            });
            message
                .delivery
                .ack(BasicAckOptions::default())
                .await
                .expect("ack");
        }
        let _ = connection.close(200, "done".into()).await;
        drained
    }

    /// Waits until `queue` holds at least `count` messages, then takes them all.
    pub async fn wait_for_messages(&self, queue: &str, count: usize) -> Vec<DrainedMessage> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        while seen.len() < count {
            seen.extend(self.drain(queue).await);
            assert!(
                tokio::time::Instant::now() < deadline,
                "{queue} received {} of {count} messages",
                seen.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        seen
    }

    /// The virtual host's queues as the broker's management API lists them to the administrator,
    /// with `columns` (`name,type,members`, …).
    pub async fn broker_queues(&self, columns: &str) -> Vec<serde_json::Value> {
        let admin = self.settings.broker.admin.as_ref().expect("[broker.admin]");
        reqwest::Client::new()
            .get(format!(
                "{}/api/queues/%2F?columns={columns}",
                admin.management_url.trim_end_matches('/')
            ))
            .basic_auth(
                &admin.user,
                Some(secrecy::ExposeSecret::expose_secret(&admin.password)),
            )
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("the management API answers")
            .json()
            .await
            .expect("a list of queues")
    }

    /// The id of a practice's incoming registration.
    pub async fn incoming_registration(&self, practice: Uuid) -> i64 {
        sqlx::query_scalar(
            "SELECT id FROM registrations WHERE practice_id = $1 AND direction = 'incoming'",
        )
        .bind(practice)
        .fetch_one(self.app.store.pool())
        .await
        .expect("the practice is registered")
    }

    /// Checks that a registration's documents and segnatura are in the archive, each read back
    /// with the SHA-256 its impronta says, and nothing else indexed for it; returns how many.
    pub async fn assert_archived(&self, registration_id: i64) -> usize {
        let pool = self.app.store.pool();
        let (practice_id, direction, segnatura, documents): (
            Uuid,
            String,
            String,
            serde_json::Value,
        ) = sqlx::query_as(
            "SELECT practice_id, direction, segnatura, documents FROM registrations WHERE id = $1",
        )
        .bind(registration_id)
        .fetch_one(pool)
        .await
        .expect("registration");
        let objects: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT object_key, kind, sha256 FROM practice_archive_objects \
             WHERE registration_id = $1 ORDER BY object_key",
        )
        .bind(registration_id)
        .fetch_all(pool)
        .await
        .expect("archive index");
        let listed = documents.as_array().expect("documents listed");
        // A first submission's incoming registration has its receipt archived beside the
        // segnatura: the PDF the register's facts give, byte for byte.
        let (practice_type, integrates): (String, Option<Uuid>) =
            sqlx::query_as("SELECT practice_type, integrates FROM practices WHERE id = $1")
                .bind(practice_id)
                .fetch_one(pool)
                .await
                .expect("practice");
        let receipt = if direction == "incoming" && integrates.is_none() {
            let registration = sportello_register::register::of_practice(pool, practice_id)
                .await
                .unwrap()
                .into_iter()
                .find(|r| r.id == registration_id)
                .expect("the registration");
            let kind = self.app.catalog.get(&practice_type).expect("catalog type");
            Some(
                sportello_register::receipt::ReceiptFacts::of(
                    &registration,
                    kind,
                    &self.settings.procedure,
                    &self.settings.municipality,
                )
                .pdf(),
            )
        } else {
            None
        };
        assert_eq!(
            objects.len(),
            listed.len() + 1 + usize::from(receipt.is_some()),
            "{practice_id} {direction}"
        );
        let mut impronte: Vec<String> = listed
            .iter()
            .map(|d| impronta_hex(d["impronta"].as_str().unwrap()).unwrap())
            .collect();
        impronte.push(sportello_shared::objects::sha256_hex(segnatura.as_bytes()));
        if let Some(pdf) = &receipt {
            impronte.push(sportello_shared::objects::sha256_hex(pdf));
        }
        impronte.sort();
        let mut stored = Vec::new();
        for (key, kind, sha256) in &objects {
            assert!(key.starts_with("archivio/"), "{key}");
            let (measured, _) = self.app.objects.digest(key).await.unwrap();
            assert_eq!(&measured, sha256, "{key}");
            if kind == "segnatura" {
                assert!(key.ends_with("/segnatura.xml"));
                let bytes = self.app.objects.get(key).await.unwrap();
                assert_eq!(bytes, segnatura.as_bytes());
            }
            if kind == "receipt" {
                assert!(key.ends_with("/ricevuta.pdf"), "{key}");
                let bytes = self.app.objects.get(key).await.unwrap();
                assert_eq!(Some(&bytes), receipt.as_ref(), "{key}");
            }
            stored.push(measured);
        }
        stored.sort();
        assert_eq!(stored, impronte, "{practice_id} {direction}");
        objects.len()
    }

    /// The back-office simulator on this test's namespace, behaving as
    /// `samples/backoffice-sim.toml` says.
    pub fn start_simulator(&self) -> RunningFleet {
        let shutdown = CancellationToken::new();
        let behaviour = sportello_backoffice_sim::Behaviour::load(
            &repository_root().join("samples/backoffice-sim.toml"),
        )
        .expect("samples/backoffice-sim.toml");
        let (broker, topology, stop) = (
            self.settings.broker.clone(),
            self.app.topology.clone(),
            shutdown.clone(),
        );
        let task = tokio::spawn(async move {
            sportello_backoffice_sim::run(&broker, &topology, behaviour, stop).await
        });
        RunningFleet { shutdown, task }
    }

    /// Where a practice of `practice_type` ends with the simulated offices of
    /// `samples/backoffice-sim.toml` and real days: its outcome, the integration or the
    /// observations it waits for, or `in_progress` for an office that stays silent.
    pub fn office_outcome(&self, practice_type: &str) -> PracticeState {
        use sportello_backoffice_sim::{Action, Behaviour};
        let behaviour = Behaviour::load(&repository_root().join("samples/backoffice-sim.toml"))
            .expect("samples/backoffice-sim.toml");
        let kind = self.app.catalog.get(practice_type).expect("a catalog type");
        let realtime = kind.handling == sportello_shared::catalog::Handling::Realtime;
        match behaviour
            .decide(&kind.back_office, &kind.code, realtime)
            .action
        {
            Action::Complete => PracticeState::Completed,
            Action::Deny => PracticeState::Denied,
            Action::Integrate => PracticeState::IntegrationRequested,
            Action::Preavviso => PracticeState::ObservationsRequested,
            // Taken in hand and never decided: with real days, the term is far away.
            Action::Silence => PracticeState::InProgress,
        }
    }

    /// Publishes `message` logged in as back office `office` (its `login` in queues.toml), with
    /// that login as the message's validated `user_id`, as a real back office does.
    pub async fn publish_as_office(
        &self,
        office: &str,
        message: &sportello_shared::broker::Outgoing,
    ) -> Result<(), sportello_shared::broker::BrokerError> {
        let login = self
            .app
            .topology
            .back_office_login(office)
            .expect("back office in queues.toml");
        let settings = self.settings.broker.as_party(login);
        let connection = broker::connect(&settings, "test-back-office").await?;
        let user = broker::login_user(&settings)?;
        let publisher = broker::Publisher::open_signed(&connection, &user).await?;
        let published = publisher.publish(message).await;
        let _ = connection.close(200, "done".into()).await;
        published
    }

    /// Publishes submission files to intake, as the portal would; their practice ids, in order.
    pub async fn submit_files(&self, files: &[PathBuf]) -> Vec<Uuid> {
        sportello_fleet::submit::submit(
            &self.settings.broker.as_party("portal"),
            &self.exchange("intake"),
            self.settings.object_store.staging_root(),
            files,
            false,
            |_| {},
        )
        .await
        .expect("submissions publish")
        .into_iter()
        .map(|submitted| submitted.practice_id.expect("a submission"))
        .collect()
    }

    /// The sample application of `practice_type` (its JSON, and the practice), submitted; returns
    /// once the practice is in one of `states`.
    pub async fn submit_sample(
        &self,
        practice_type: &str,
        states: &[PracticeState],
    ) -> (serde_json::Value, Uuid) {
        let file = sample_of_type(practice_type);
        let application: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let id = self.submit_files(&[file]).await[0];
        self.wait_until_all_in(&[id], states).await;
        (application, id)
    }

    /// Publishes submission bodies to intake as they are, as the portal would (whatever they
    /// hold: the attacks too); the practice id each one's idempotency key names, if it has one.
    pub async fn publish_submissions(&self, bodies: &[serde_json::Value]) -> Vec<Option<Uuid>> {
        let connection = broker::connect(&self.settings.broker.as_party("portal"), "test-portal")
            .await
            .expect("the portal's login connects");
        let publisher = broker::Publisher::open(&connection).await.unwrap();
        let mut ids = Vec::with_capacity(bodies.len());
        for body in bodies {
            let id = body["idempotency_key"]
                .as_str()
                .map(sportello_shared::domain::submission::practice_id_for);
            let mut message = sportello_shared::broker::Outgoing::json(
                &self.exchange("intake"),
                sportello_shared::messages::route::SUBMISSION,
                &(),
                id,
            );
            message.body = serde_json::to_vec(body).unwrap();
            publisher.publish(&message).await.expect("intake takes it");
            ids.push(id);
        }
        let _ = connection.close(200, "done".into()).await;
        ids
    }

    /// Puts `n` practices in the folder in `validated`, as validation would leave them (made
    /// from the first valid sample, without documents): a register-only workload.
    pub async fn seed_validated(&self, n: i64) -> Vec<Uuid> {
        let sample: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&valid_samples()[0]).unwrap()).unwrap();
        let mut submission = sample.clone();
        submission["documents"] = serde_json::json!([]);
        let pool = self.app.store.pool();
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "INSERT INTO practices (id, idempotency_key, submission_digest, submission, practice_type, channel, \
             tax_code, subject, state) \
             SELECT gen_random_uuid(), k, md5(k), jsonb_set($1::jsonb, '{idempotency_key}', to_jsonb(k)), \
             $2, 'portal', $3, $4 || ' #' || i, 'validated' \
             FROM generate_series(1, $5) AS i, LATERAL (SELECT $6 || '-' || i AS k) key \
             RETURNING id",
        )
        .bind(&submission)
        .bind(sample["practice_type"].as_str().unwrap())
        .bind(sample["applicant"]["tax_code"].as_str().unwrap())
        .bind(sample["subject"].as_str().unwrap())
        .bind(n)
        .bind(format!("seed-{}", Uuid::new_v4()))
        .fetch_all(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO practice_history (practice_id, from_state, to_state, actor, event_key) \
             SELECT id, NULL, 'received', 'citizen', 'intake' FROM unnest($1::uuid[]) AS id \
             UNION ALL SELECT id, 'received', 'validated', 'worker:validation', 'validation' FROM unnest($1::uuid[]) AS id",
        )
        .bind(&ids)
        .execute(pool)
        .await
        .unwrap();
        ids
    }

    /// Deletes this test's queues, exchanges and database (dropping the `TestEnv` does the
    /// same, so a failing test cleans up too).
    pub async fn teardown(self) {
        drop(self);
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let leftovers = Leftovers {
            broker: self.settings.broker.clone(),
            queues: self.app.topology.queue_names(),
            exchanges: self.app.topology.exchange_names(),
            admin_url: self.admin_url.clone(),
            databases: vec![self.database.clone()],
            policies: (self.app.topology.policies().into_iter())
                .map(|policy| policy.name)
                .collect(),
            users: self.broker_users.clone(),
        };
        // Drop cannot await, and may run inside a runtime: clean up on a thread of its own.
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(leftovers.remove());
            }
        })
        .join();
    }
}

/// What a test leaves on the shared services.
struct Leftovers {
    broker: sportello_shared::config::BrokerSettings,
    queues: Vec<String>,
    exchanges: Vec<String>,
    admin_url: String,
    databases: Vec<String>,
    policies: Vec<String>,
    /// Broker users, removed last: the connection above logs in as one of them.
    users: Vec<String>,
}

impl Leftovers {
    async fn remove(self) {
        if let Ok(connection) = broker::connect(&self.broker, "test-teardown").await {
            if let Ok(channel) = connection.create_channel().await {
                for queue in &self.queues {
                    let _ = channel
                        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                        .await;
                }
                for exchange in &self.exchanges {
                    let _ = channel
                        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                        .await;
                }
            }
            let _ = connection.close(200, "done".into()).await;
        }
        if let Ok(admin) = sqlx::PgPool::connect(&self.admin_url).await {
            for database in &self.databases {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
                )))
                .execute(&admin)
                .await;
            }
            admin.close().await;
        }
        let _ = sportello_shared::broker_users::remove_policies(&self.broker, &self.policies).await;
        let _ = sportello_shared::broker_users::remove(&self.broker, &self.users).await;
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Namespaces older than this are leftovers of a run that was killed: no test lasts this long.
const STALE_AFTER_SECS: u64 = 3 * 3600;

/// The creation time of a test namespace (`t<unix seconds>x<hex>`), if `name` starts with one.
fn namespace_age(name: &str) -> Option<(String, u64)> {
    let rest = name.strip_prefix('t')?;
    let (seconds, tail) = rest.split_once('x')?;
    let created: u64 = seconds.parse().ok()?;
    let hex = tail.get(..6)?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit())
        || !matches!(tail.as_bytes().get(6), None | Some(b'.'))
    {
        return None;
    }
    Some((
        format!("t{seconds}x{hex}"),
        unix_now().saturating_sub(created),
    ))
}

/// Once per test binary: removes what killed runs left behind — hundreds of abandoned quorum
/// queues make every broker restart slow, and databases fill the disk.
async fn sweep_stale(settings: &Settings) {
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SWEPT
        .get_or_init(|| async {
            let list = |what: &str| -> Vec<String> {
                std::process::Command::new("rabbitmqctl")
                    .args([what, "-q", "--no-table-headers", "name"])
                    .output()
                    .map(|o| {
                        String::from_utf8_lossy(&o.stdout)
                            .lines()
                            .map(|l| l.trim().to_owned())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let stale =
                |name: &String| namespace_age(name).is_some_and(|(_, age)| age > STALE_AFTER_SECS);
            let admin_url = settings.database.owner_url().to_owned();
            let mut databases = Vec::new();
            if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'sportello\\_t%'",
                )
                .fetch_all(&admin)
                .await
                .unwrap_or_default();
                databases = names
                    .into_iter()
                    .filter(|db| {
                        db.strip_prefix("sportello_")
                            .is_some_and(|ns| stale(&ns.to_owned()))
                    })
                    .collect();
                admin.close().await;
            }
            let policies = sportello_shared::broker_users::list_policies(&settings.broker, "t")
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(stale)
                .collect();
            let users = sportello_shared::broker_users::list(&settings.broker, "t")
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(stale)
                .collect();
            Leftovers {
                // Stale queues and exchanges are removed as the administrator: their own
                // namespace's users may be gone already.
                broker: admin_broker(&settings.broker),
                queues: list("list_queues").into_iter().filter(stale).collect(),
                exchanges: list("list_exchanges").into_iter().filter(stale).collect(),
                admin_url,
                databases,
                policies,
                users,
            }
            .remove()
            .await;
        })
        .await;
}

/// The broker settings logging in as the `[broker.admin]` user over AMQP (it has the
/// administrator tag and full permissions on the virtual host in the local stack).
fn admin_broker(
    broker: &sportello_shared::config::BrokerSettings,
) -> sportello_shared::config::BrokerSettings {
    let mut admin = broker.clone();
    admin.party = None;
    if let (Some(login), Ok(mut uri)) = (&broker.admin, broker.url().parse::<lapin::uri::AMQPUri>())
    {
        uri.authority.userinfo.username = login.user.clone();
        uri.authority.userinfo.password =
            secrecy::ExposeSecret::expose_secret(&login.password).to_owned();
        admin.url = SecretString::from(uri.to_string());
    }
    admin
}

#[derive(Debug)]
pub struct DrainedMessage {
    pub body: Vec<u8>,
    pub reason: Option<String>,
    pub stage: Option<String>,
    /// Retry tiers it went through before it failed for good.
    pub attempt: Option<u64>,
}

/// A fleet, or the back-office simulator, running inside the test.
pub struct RunningFleet {
    pub shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningFleet {
    /// Stops as SIGTERM would and checks that the fleet ended cleanly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("fleet task")
            .expect("fleet ended cleanly");
    }
}

/// A clock the test sets by hand.
#[derive(Debug)]
pub struct TestClock(std::sync::Mutex<chrono::DateTime<chrono::Utc>>);

impl TestClock {
    pub fn at(instant: chrono::DateTime<chrono::Utc>) -> Arc<TestClock> {
        Arc::new(TestClock(std::sync::Mutex::new(instant)))
    }

    pub fn set(&self, instant: chrono::DateTime<chrono::Utc>) {
        *self.0.lock().unwrap() = instant;
    }
}

impl sportello_register::register::Clock for TestClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock().unwrap()
    }
}

/// The samples `samples/expected.json` marks valid, sorted.
pub fn valid_samples() -> Vec<PathBuf> {
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(samples_dir().join("expected.json")).unwrap())
            .unwrap();
    json_files(&samples_dir().join("submissions"))
        .into_iter()
        .filter(|f| expected[f.file_name().unwrap().to_str().unwrap()]["valid"] == true)
        .collect()
}

/// The valid samples the simulated back offices decide on: all but those whose office stays
/// silent until the term runs out (`silent_consent` in the demo, `in_progress` for ever with
/// real days).
pub fn answered_samples() -> Vec<PathBuf> {
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(samples_dir().join("expected.json")).unwrap())
            .unwrap();
    valid_samples()
        .into_iter()
        .filter(|f| {
            expected[f.file_name().unwrap().to_str().unwrap()]["demo"]["state"] != "silent_consent"
        })
        .collect()
}

/// Where deploy/cluster keeps the clusters' state.
pub fn cluster_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("SPORTELLO_CLUSTER_DIR")
            .unwrap_or_else(|_| "/var/lib/sportello/cluster".to_owned()),
    )
}

/// `settings` pointed at the clusters of deploy/cluster instead of the local stack: RabbitMQ
/// ×3 (5681, failing over to 5682 and 5683; its own administrator), Garage ×3 (S3 on node 1,
/// failing over to nodes 2 and 3; the cluster's one key for every party) and the PostgreSQL pair (5452, failing over to its
/// standby on 5462; the local stack's roles). Reads the clusters' secrets from their state.
pub fn on_the_clusters(settings: &mut Settings) {
    let read = |path: PathBuf| {
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (start deploy/cluster first)", path.display()))
    };
    let admin_password = read(cluster_dir().join("rabbitmq/admin.password"));
    let key = read(cluster_dir().join("garage/key.txt"));
    let field = |name: &str| {
        key.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim_start_matches(':').trim().to_owned())
            .unwrap_or_else(|| panic!("{name} in garage/key.txt"))
    };
    settings.broker.url = SecretString::from("amqp://127.0.0.1:5681/%2f".to_owned());
    settings.broker.failover_hosts = vec!["127.0.0.1:5682".into(), "127.0.0.1:5683".into()];
    let admin = settings
        .broker
        .admin
        .as_mut()
        .expect("[broker.admin] in sportello.toml");
    admin.management_url = "http://127.0.0.1:15681".into();
    admin.user = "sportello-admin".into();
    admin.password = SecretString::from(admin_password.trim().to_owned());
    settings.object_store.endpoint = "http://127.0.0.1:3910".into();
    settings.object_store.failover_endpoints = vec![
        "http://127.0.0.1:3920".into(),
        "http://127.0.0.1:3930".into(),
    ];
    settings.object_store.access_key = field("Key ID");
    settings.object_store.secret_key = SecretString::from(field("Secret key"));
    settings.object_store.keys.clear();
    let at = |url: &str, port: u16| {
        let (user, rest) = url.rsplit_once('@').expect("a database URL with a user");
        let path = rest.split_once('/').map_or("", |(_, p)| p);
        SecretString::from(format!("{user}@127.0.0.1:{port}/{path}"))
    };
    settings.database.url = at(settings.database.url(), 5452);
    settings.database.owner_url = at(settings.database.owner_url(), 5452);
    settings.database.failover_hosts = vec!["127.0.0.1:5462".into()];
    settings.database.failover_check_secs = 1;
}

/// A file in the temporary directory, removed when dropped.
pub struct TempFile(PathBuf);

impl TempFile {
    pub fn write(name: &str, text: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!("{}-{name}", Uuid::new_v4()));
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// queues.toml with two one-second retry tiers instead of the default ladder, so that a worker
/// gives a failing message up at once.
pub fn short_retry_topology() -> TempFile {
    let text = std::fs::read_to_string(repository_root().join("queues.toml")).unwrap();
    let short = text.replace(
        r#"retry_delays = ["5s", "30s", "2m", "10m"]"#,
        r#"retry_delays = ["1s", "1s"]"#,
    );
    assert_ne!(
        short, text,
        "queues.toml has the default retry ladder this test shortens"
    );
    TempFile::write("queues-short-retries.toml", &short)
}

/// The text `pdftotext` reads from `pdf`, every run of blanks and line breaks made one space.
pub fn pdf_text(pdf: &[u8]) -> String {
    let file = std::env::temp_dir().join(format!("sportello-test-{}.pdf", Uuid::new_v4()));
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext runs (poppler-utils: deploy/local/test.sh installs it)");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    one_line(&String::from_utf8(out.stdout).unwrap())
}

/// `text` with every run of blanks and line breaks made one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A loopback port nothing listens on (a service made unreachable).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The first valid sample of practice type `code` (`edilizia.cila`).
pub fn sample_of_type(code: &str) -> PathBuf {
    valid_samples()
        .into_iter()
        .find(|f| {
            f.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{code}-")))
        })
        .unwrap_or_else(|| panic!("no valid sample of {code}"))
}

/// An inline PDF document of the contract: a one-page PDF saying `line`.
pub fn inline_pdf(role: &str, file_name: &str, line: &str) -> serde_json::Value {
    use base64::Engine;
    let bytes = sportello_backoffice_sim::pdf_with_line(line);
    serde_json::json!({
        "role": role,
        "file_name": file_name,
        "media_type": "application/pdf",
        "sha256": sportello_shared::objects::sha256_hex(&bytes),
        "content_base64": base64::engine::general_purpose::STANDARD.encode(&bytes),
    })
}

/// Every `*.json` file directly inside `dir`, sorted.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))
        .expect("samples directory")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// The path of the `sportello` binary built by `cargo build` / `cargo test --workspace`.
pub fn sportello_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository_root().join("target"));
    let binary = target.join("debug").join("sportello");
    assert!(
        binary.is_file(),
        "{} is missing: build it with `cargo build --workspace` first",
        binary.display()
    );
    binary
}

/// Checks a signed segnatura with xmlsec1 against the AOO's certificate from `sportello.toml`:
/// the enveloped document and the XAdES signed properties must both verify.
pub fn assert_signature_verifies(segnatura: &str) {
    let settings =
        Settings::load(Some(&repository_root().join("sportello.toml"))).expect("settings");
    let file = std::env::temp_dir().join(format!("segnatura-{}.xml", Uuid::new_v4()));
    std::fs::write(&file, segnatura).unwrap();
    let output = std::process::Command::new("xmlsec1")
        .args([
            "--verify",
            "--pubkey-cert-pem",
            &settings.protocol.signing_certificate,
        ])
        .args(XMLSEC_ID_ATTRIBUTES)
        .arg(&file)
        .output()
        .expect("xmlsec1 runs (deploy/local/stack-up.sh installs it)");
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "xmlsec1 refuses the segnatura: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// xmlsec1 resolves `#id` references only through attributes it is told are ids.
pub const XMLSEC_ID_ATTRIBUTES: &[&str] = &[
    "--id-attr:Id",
    "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_carry_their_age() {
        let now = unix_now();
        let (namespace, age) =
            namespace_age(&format!("t{}xab12cd.sportello.intake", now - 100)).unwrap();
        assert_eq!(namespace, format!("t{}xab12cd", now - 100));
        assert!((100..110).contains(&age));
        assert!(namespace_age("sportello.intake").is_none());
        assert!(namespace_age("t1234xzz12cd.q").is_none(), "not hex");
        assert!(
            namespace_age("te1270c431472.sportello.intake").is_none(),
            "old style names are not ours to judge"
        );
    }
}
