//! The pages in a real browser: Debian's headless Chromium, driven by playwright-core from the
//! scripts of `tests/browser/`, against the real fleet, the back-office simulator and the HTTP
//! service on a loopback port (each on this test's own database, broker namespace and staging
//! prefix).
//!
//! - `operator.mjs`: an operator signs in, files a practice at the counter with a document,
//!   watches it reach `dispatched` without reloading, the simulator completes it, the operator
//!   finds it ready for pickup and in the citizen's folder, opens the archived document and
//!   hands the product over;
//! - `citizen.mjs`: a citizen comes in through the portal's hand-over link, sees their own
//!   practices only (another's answers 404), follows one live until the office asks for an
//!   integration;
//! - `withdrawal.mjs`: a citizen withdraws a practice that has no outcome yet (a form without
//!   its CSRF token is refused first);
//! - `protocol.mjs`: a protocol officer opens a registration, downloads its segnatura, is
//!   refused an annulment without its measure, then annuls it;
//! - `refusals.mjs`: a wrong password, a form without its CSRF token and an expired session
//!   each get their refusal;
//! - `errors.mjs`: a practice whose intake failed while the object store was down is replayed
//!   from the error queues' page and reaches its outcome.
//!
//! Every page the scripts meet is photographed (into `target/browser-screenshots/`) and checked
//! with axe-core: a serious or critical violation fails the test. Needs `/usr/bin/chromium`
//! (deploy/local/test.sh installs it) and `web/node_modules` (`npm ci` in web/).

#[allow(dead_code)]
#[path = "http/support.rs"]
mod support;

use sportello_api::auth::OperatorRole;
use sportello_api::web::accounts;
use sportello_e2e::{PATIENCE, ROUND_TRIP, TestEnv, repository_root};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use support::TestApi;

const PASSWORD: &str = "una password da sportello";
const OPERATOR: &str = "OP-BG-031";
const OFFICER: &str = "OP-BG-040";

fn screenshots() -> PathBuf {
    repository_root().join("target/browser-screenshots")
}

/// Runs `node tests/browser/<scenario>.mjs <base> <screenshots> <args…>`, within the
/// patience; its JSON report, which must say `ok`. A line `{"waiting": what}` from the script
/// is answered (a line on its stdin) once `until(what)` has returned.
async fn scenario<F, Fut>(name: &str, base: &str, args: &[&str], until: F) -> serde_json::Value
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = ()>,
{
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: deploy/local/test.sh installs it (apt-get install chromium chromium-driver)"
    );
    let root = repository_root();
    assert!(
        root.join("web/node_modules/playwright-core").is_dir(),
        "web/node_modules is missing: (cd web && npm ci)"
    );
    let script = root.join(format!("tests/browser/{name}.mjs"));
    let mut child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(base)
        .arg(screenshots())
        .args(args)
        .current_dir(&root)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    // The scenario's own waits are bounded by the same patience; this is the net beneath them.
    let deadline = tokio::time::Instant::now() + PATIENCE * 3;
    let mut last = String::new();
    loop {
        let line = tokio::time::timeout_at(deadline, stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("{name}.mjs did not finish"))
            .expect("node's stdout");
        let Some(line) = line else { break };
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(asked) if asked["waiting"].is_string() => {
                until(asked["waiting"].as_str().unwrap().to_owned()).await;
                stdin.write_all(b"\n").await.expect("node's stdin");
            }
            _ => last = line,
        }
    }
    let status = tokio::time::timeout_at(deadline, child.wait())
        .await
        .unwrap_or_else(|_| panic!("{name}.mjs did not exit"))
        .expect("node exits");
    let mut errors = String::new();
    let _ = stderr.read_to_string(&mut errors).await;
    let report: serde_json::Value = serde_json::from_str(&last)
        .unwrap_or_else(|e| panic!("{name}.mjs printed no JSON ({e}):\n{last}\n{errors}"));
    assert!(
        status.success() && report["ok"] == true,
        "{name}.mjs failed ({status}):\nfailures: {:#}\naxe (serious, critical): {:#}\n{errors}",
        report["failures"],
        report["violations"]
    );
    assert!(
        report["pages"].as_array().is_some_and(|p| !p.is_empty()),
        "{report}"
    );
    report
}

/// For scenarios that never wait.
async fn nothing(what: String) {
    panic!("nothing to wait for, asked for {what}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_and_citizen_in_a_browser() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(ROUND_TRIP);
    let simulator = env.start_simulator();
    let api = TestApi::start(&env).await;
    // A second service on the same fleet whose sessions expire after three seconds idle, for
    // the expired session.
    let brief = TestApi::start_with(&env, |http| http.web.idle_secs = 3).await;
    let pool = env.app.store.pool();
    let roles: BTreeSet<OperatorRole> = [OperatorRole::Counter].into();
    accounts::add(pool, OPERATOR, "Giulia Bianchi", &roles, PASSWORD)
        .await
        .unwrap();

    // The operator files a practice for Elena Carminati, with her identity card.
    let card = repository_root().join("samples/documents/carta-identita-carminati.jpg");
    let counter_cf = "CRMLNE58T43A794A";
    let desk = scenario(
        "operator",
        &api.base,
        &[OPERATOR, PASSWORD, card.to_str().unwrap(), counter_cf],
        nothing,
    )
    .await;
    let filed: uuid::Uuid = desk["facts"]["practice_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{desk}"));
    assert_eq!(desk["facts"]["dispatched_live"], true, "{desk}");
    let record = env
        .practice(filed)
        .await
        .expect("the filed practice exists");
    assert_eq!(record.tax_code.as_str(), counter_cf);
    let seen: Vec<String> = serde_json::from_value(desk["facts"]["states_seen"].clone()).unwrap();
    assert!(
        seen.iter().any(|s| s == "dispatched")
            && seen.last().map(String::as_str) == Some("completed"),
        "{seen:?}"
    );
    assert_eq!(desk["facts"]["local_times"], true, "{desk}");
    assert_eq!(desk["facts"]["document_matches"], true, "{desk}");
    assert_eq!(desk["facts"]["delivered"], true, "{desk}");
    let handed_over: (String, String) = sqlx::query_as(
        "SELECT p.state, h.actor FROM practices p JOIN practice_history h ON h.practice_id = p.id \
         WHERE p.id = $1 AND h.to_state = 'delivered'",
    )
    .bind(filed)
    .fetch_one(pool)
    .await
    .expect("the hand-over is in the history");
    assert_eq!(
        handed_over,
        ("delivered".to_owned(), format!("operator:{OPERATOR}"))
    );

    // A citizen with a CILA the office will want completed; the hand-over link the portal
    // would give them.
    let cila = support::sample("edilizia.cila-01.json");
    let citizen_cf = cila["applicant"]["tax_code"].as_str().unwrap().to_owned();
    let accepted = api
        .post_json("/submissions", Some(&api.citizen(&citizen_cf)), &cila)
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let own = accepted.json()["practice_id"].as_str().unwrap().to_owned();
    let handover = format!("/accesso/cittadino?token={}", api.citizen(&citizen_cf));
    // Larger than object_store.inline_limit_bytes: the page stages it, the submission names it.
    let receipt = repository_root().join("samples/documents/elaborati-grafici-ferrari.pdf");
    let area = scenario(
        "citizen",
        &api.base,
        &[
            &handover,
            &own,
            &filed.to_string(),
            receipt.to_str().unwrap(),
        ],
        nothing,
    )
    .await;
    assert_eq!(area["facts"]["listed"], serde_json::json!([own]), "{area}");
    assert_eq!(area["facts"]["integration_live"], true, "{area}");
    assert_eq!(area["facts"]["integrated"], true, "{area}");
    assert_eq!(area["facts"]["receipt_pdf"], true, "{area}");
    let integration: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM practices WHERE integrates = $1 AND channel = 'portal'")
            .bind(own.parse::<uuid::Uuid>().unwrap())
            .fetch_optional(pool)
            .await
            .unwrap();
    assert!(integration.is_some(), "no integration was filed for {own}");
    let documents: serde_json::Value =
        sqlx::query_scalar("SELECT submission->'documents' FROM practices WHERE id = $1")
            .bind(integration.unwrap())
            .fetch_one(pool)
            .await
            .unwrap();
    let staged = documents[0]["staged_key"]
        .as_str()
        .unwrap_or_else(|| panic!("{documents}"));
    assert!(
        staged.starts_with(&format!(
            "{}/uploads/",
            env.settings.object_store.staging_prefix
        )),
        "{documents}"
    );
    assert!(documents[0].get("content_base64").is_none(), "{documents}");

    // A second CILA of the same citizen, withdrawn by them while the office waits for them.
    let mut second = cila.clone();
    second["idempotency_key"] =
        serde_json::json!(format!("browser-ritiro-{}", uuid::Uuid::new_v4()));
    let accepted = api
        .post_json("/submissions", Some(&api.citizen(&citizen_cf)), &second)
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let to_withdraw: uuid::Uuid = accepted.json()["practice_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Another link: the first one has been used (a token differs by its expiry).
    let handover = format!(
        "/accesso/cittadino?token={}",
        api.citizen_for(&citizen_cf, std::time::Duration::from_secs(3599))
    );
    let withdrawal = scenario(
        "withdrawal",
        &api.base,
        &[&handover, &to_withdraw.to_string()],
        nothing,
    )
    .await;
    assert_eq!(withdrawal["facts"]["forged_status"], 403, "{withdrawal}");
    assert_eq!(withdrawal["facts"]["withdrawn"], true, "{withdrawal}");
    let withdrawn: (String, String) = sqlx::query_as(
        "SELECT p.state, h.actor FROM practices p JOIN practice_history h ON h.practice_id = p.id \
         WHERE p.id = $1 AND h.to_state = 'withdrawn'",
    )
    .bind(to_withdraw)
    .fetch_one(pool)
    .await
    .expect("the withdrawal is in the history");
    assert_eq!(withdrawn, ("withdrawn".to_owned(), "citizen".to_owned()));

    // The protocol officer annuls the counter practice's registration.
    let officer: BTreeSet<OperatorRole> =
        [OperatorRole::Counter, OperatorRole::ProtocolOfficer].into();
    accounts::add(pool, OFFICER, "Marco Locatelli", &officer, PASSWORD)
        .await
        .unwrap();
    let protocol = scenario(
        "protocol",
        &api.base,
        &[OFFICER, PASSWORD, &filed.to_string()],
        nothing,
    )
    .await;
    assert_eq!(protocol["facts"]["annulled"], true, "{protocol}");
    let (year, number, segnatura): (i32, i64, String) = sqlx::query_as(
        "SELECT year, number, segnatura FROM registrations WHERE practice_id = $1 \
         AND direction = 'incoming'",
    )
    .bind(filed)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        protocol["facts"]["registration_path"],
        format!("/cruscotto/protocollo/{year}/{number}"),
        "{protocol}"
    );
    assert_eq!(protocol["facts"]["segnatura"], segnatura.as_str());
    let annulment: (String, String) = sqlx::query_as(
        "SELECT operator, measure FROM registration_annulments a JOIN registrations r \
         ON r.id = a.registration_id WHERE r.year = $1 AND r.number = $2 AND r.practice_id = $3",
    )
    .bind(year)
    .bind(number)
    .bind(filed)
    .fetch_one(pool)
    .await
    .expect("the annulment is recorded");
    assert_eq!(
        annulment,
        (
            format!("operator:{OFFICER}"),
            "Decreto del responsabile n. 12/2026".to_owned()
        )
    );

    // The refusals. The session left idle is watched in the database: any request would
    // restart its idle clock.
    let idle = |_: String| async {
        support::eventually("the operator's session is idle long enough", || async {
            let idle: Option<bool> = sqlx::query_scalar(
                "SELECT bool_and(last_seen_at < now() - interval '4 seconds') FROM web_sessions \
                 WHERE operator_id = $1 AND ended_at IS NULL",
            )
            .bind(OPERATOR)
            .fetch_one(pool)
            .await
            .unwrap();
            idle.unwrap_or(false).then_some(())
        })
        .await
    };
    let refused = scenario("refusals", &brief.base, &[OPERATOR, PASSWORD], idle).await;
    assert_eq!(refused["pages"].as_array().unwrap().len(), 3, "{refused}");

    brief.stop().await;
    api.stop().await;
    simulator.stop().await;
    fleet.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_failed_while_the_store_was_down_is_replayed_from_its_page() {
    // Two one-second retry tiers, so that intake gives up at once.
    let topology = sportello_e2e::short_retry_topology();
    let env = TestEnv::with_object_store_away(topology.path()).await;
    let failing = env.start_fleet(&["intake"]);
    let api = TestApi::start(&env).await;
    let submission = support::sample("anagrafe.cambio_residenza-01.json");
    let citizen = api.citizen(submission["applicant"]["tax_code"].as_str().unwrap());
    let accepted = api
        .post_json("/submissions", Some(&citizen), &submission)
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let id: uuid::Uuid = accepted.json()["practice_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let operator = api.operator("OP-BG-014");
    support::eventually("the submission reaches the error queue", || async {
        let listing = api.get("/dlq", Some(&operator)).await.json();
        listing["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["practice_id"] == id.to_string())
            .then_some(())
    })
    .await;
    failing.stop().await;

    // The store is back: the fleet runs with the right settings; operations replay by hand.
    let app = std::sync::Arc::new(
        sportello_fleet::app::App::build(env.settings_with_object_store_back())
            .await
            .unwrap(),
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(sportello_fleet::fleet::run(app, ROUND_TRIP, stop.clone()));
    let simulator = env.start_simulator();
    let roles: BTreeSet<OperatorRole> = [OperatorRole::Counter, OperatorRole::Operations].into();
    accounts::add(
        env.app.store.pool(),
        "OP-BG-077",
        "Sara Cortinovis",
        &roles,
        PASSWORD,
    )
    .await
    .unwrap();
    let replayed = scenario(
        "errors",
        &api.base,
        &["OP-BG-077", PASSWORD, &id.to_string()],
        nothing,
    )
    .await;
    assert!(
        replayed["facts"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("object store")),
        "{replayed}"
    );
    assert_eq!(replayed["facts"]["replayed"], true, "{replayed}");
    assert_eq!(replayed["facts"]["completed"], true, "{replayed}");
    let replays: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM parked_message_settlements s JOIN parked_messages m ON m.id = s.parked_id \
         WHERE m.practice_id = $1 AND s.action = 'replayed' AND s.operator = 'operator:OP-BG-077'",
    )
    .bind(id)
    .fetch_one(env.app.store.pool())
    .await
    .unwrap();
    assert_eq!(
        replays, 1,
        "the replay is recorded under the operator's name"
    );

    simulator.stop().await;
    stop.cancel();
    let _ = running.await;
    api.stop().await;
    drop(topology);
    env.teardown().await;
}
