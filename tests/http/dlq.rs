//! The error queues for operators: a practice whose intake failed while the object store was
//! down completes once the store is back and an operator replays it; a discarded message stays
//! on record with its reason; nothing is deleted.

use crate::support::{TestApi, eventually, sample};
use base64::Engine;
use sportello_e2e::{TestEnv, short_retry_topology, sportello_binary};
use sportello_fleet::app::App;
use sportello_shared::broker::{self, Outgoing, Publisher};
use sportello_shared::domain::state::PracticeState;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The repository's queues.toml with a retry ladder of two one-second tiers, so that intake
/// gives up within seconds instead of a quarter of an hour.
/// Runs `sportello` with this test's database and namespace, as an operator would.
fn sportello(env: &TestEnv, topology: &str, args: &[&str]) -> String {
    let output = std::process::Command::new(sportello_binary())
        .args(args)
        .envs(env.child_env())
        .env("SPORTELLO__BROKER__TOPOLOGY_FILE", topology)
        .env("SPORTELLO_OPERATOR", "ops:test")
        .env("SPORTELLO_OPERATOR_ROLES", "operations")
        .output()
        .expect("sportello runs");
    assert!(
        output.status.success(),
        "sportello {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_practice_that_failed_while_the_object_store_was_down_completes_after_a_replay() {
    let topology = short_retry_topology();
    let topology_file = topology.path().display().to_string();
    let env = TestEnv::with_object_store_away(topology.path()).await;
    let fleet = env.start_fleet(&["intake"]);
    let api = TestApi::start(&env).await;
    let operator = api.operator("OP-BG-014");
    let submission = sample("anagrafe.cambio_residenza-01.json");
    let citizen = api.citizen(submission["applicant"]["tax_code"].as_str().unwrap());
    let accepted = api
        .post_json("/submissions", Some(&citizen), &submission)
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let id: Uuid = accepted.json()["practice_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // Intake retries twice, gives up, and the message waits in its error queue: listing it
    // parks it under an id.
    let parked = eventually("the submission reaches the error queue", || async {
        let listing = api.get("/dlq", Some(&operator)).await.json();
        listing["messages"].as_array().unwrap().first().cloned()
    })
    .await;
    assert_eq!(parked["stage"], "intake");
    assert_eq!(parked["status"], "parked");
    assert_eq!(parked["practice_id"], id.to_string());
    assert_eq!(parked["attempts"], 2);
    assert_eq!(parked["work_queue"], env.queue_of("intake"));
    let reason = parked["reason"].as_str().unwrap();
    assert!(reason.contains("gave up after 2 retries"), "{reason}");
    assert!(reason.contains("object store"), "{reason}");
    assert!(env.practice(id).await.is_none(), "nothing was taken in");

    // The id is stable: the message now lives in the parking table, not in the queue.
    let again = api.get("/dlq", Some(&operator)).await.json();
    assert_eq!(again["swept"]["parked"], 0);
    assert_eq!(again["messages"].as_array().unwrap().len(), 1);
    assert_eq!(again["messages"][0]["id"], parked["id"]);
    let metrics = api.get("/metrics", None).await.text();
    let errors_line = format!(
        "sportello_queue_messages{{queue=\"{}\",kind=\"errors\"}} 0",
        env.error_queue_of("intake")
    );
    assert!(metrics.contains(&errors_line), "{metrics}");
    assert!(
        metrics.contains("sportello_parked_messages{stage=\"intake\"} 1"),
        "{metrics}"
    );
    fleet.stop().await;

    // The store is back: the fleet runs with the right settings, and operations replay.
    let app = Arc::new(
        App::build(env.settings_with_object_store_back())
            .await
            .unwrap(),
    );
    let stop = CancellationToken::new();
    let running = tokio::spawn(sportello_fleet::fleet::run(
        app,
        &["intake", "validation"],
        stop.clone(),
    ));
    // Without declaring the operations role, the command refuses and replays nothing.
    let refused = std::process::Command::new(sportello_binary())
        .args(["dlq", "replay", "--all"])
        .envs(env.child_env())
        .env("SPORTELLO__BROKER__TOPOLOGY_FILE", &topology_file)
        .env("SPORTELLO_OPERATOR_ROLES", "counter")
        .output()
        .expect("sportello runs");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("operations"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let out = sportello(&env, &topology_file, &["dlq", "replay", "--all"]);
    assert!(
        out.contains(&format!(
            "{}\treplayed to {}",
            parked["id"],
            env.queue_of("intake")
        )),
        "{out}"
    );
    env.wait_until_all_in(&[id], &[PracticeState::Validated, PracticeState::Rejected])
        .await;
    assert_eq!(
        env.practice(id).await.unwrap().state,
        PracticeState::Validated
    );

    // The replay is on record, and a second one is refused.
    let listing = api.get("/dlq?all=true", Some(&operator)).await.json();
    let record = &listing["messages"][0];
    assert_eq!(record["status"], "replayed");
    assert_eq!(record["settlement"]["operator"], "ops:test");
    let path = format!("/dlq/{}/replay", parked["id"]);
    api.post_json(&path, Some(&operator), &serde_json::json!({}))
        .await
        .expect_error(409);
    assert!(
        api.get("/dlq", Some(&operator)).await.json()["messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    stop.cancel();
    running.await.unwrap().unwrap();
    api.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discarded_message_stays_on_record_with_its_reason() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&["intake"]);
    let api = TestApi::start(&env).await;
    let operator = api.operator("OP-1");
    let connection = broker::connect(&env.settings.broker, "test").await.unwrap();
    let publisher = Publisher::open(&connection).await.unwrap();
    let garbage = b"questa non e' una pratica".to_vec();
    let mut message = Outgoing::json(&env.exchange("intake"), "submission", &(), None);
    message.body = garbage.clone();
    publisher.publish(&message).await.unwrap();
    let _ = connection.close(200, "done".into()).await;

    let parked = eventually("the garbage reaches the error queue", || async {
        let listing = api.get("/dlq", Some(&operator)).await.json();
        listing["messages"].as_array().unwrap().first().cloned()
    })
    .await;
    let id = parked["id"].as_i64().unwrap();
    assert!(
        parked["reason"].as_str().unwrap().contains("not JSON"),
        "{parked}"
    );
    let detail = api.get(&format!("/dlq/{id}"), Some(&operator)).await.json();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(detail["body"]["base64"].as_str().unwrap())
            .unwrap(),
        garbage
    );
    assert!(detail["body"]["json"].is_null());
    assert_eq!(detail["headers"]["x-sportello-error-stage"], "intake");

    // A discard needs a reason.
    let discard = format!("/dlq/{id}/discard");
    api.post_json(&discard, Some(&operator), &serde_json::json!({}))
        .await
        .expect_error(422);
    api.post_json(
        &discard,
        Some(&operator),
        &serde_json::json!({"reason": "  "}),
    )
    .await
    .expect_error(422);
    let reason = "prova dell'operatore: non è una pratica";
    let done = api
        .post_json(
            &discard,
            Some(&operator),
            &serde_json::json!({ "reason": reason }),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
    let done = done.json();
    assert_eq!(done["status"], "discarded");
    assert_eq!(done["settlement"]["operator"], "operator:OP-1");
    assert_eq!(done["settlement"]["reason"], reason);
    // Settled once: neither a replay nor a second discard.
    api.post_json(
        &format!("/dlq/{id}/replay"),
        Some(&operator),
        &serde_json::json!({}),
    )
    .await
    .expect_error(409);
    api.post_json(
        &discard,
        Some(&operator),
        &serde_json::json!({ "reason": "again" }),
    )
    .await
    .expect_error(409);

    // Not waiting any more, but kept: body, headers, reason, operator, time.
    assert!(
        api.get("/dlq", Some(&operator)).await.json()["messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let pool = env.app.store.pool();
    let (body, recorded, by): (Vec<u8>, String, String) =
        sqlx::query_as("SELECT body, reason, operator FROM discarded_messages WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(
        (body, recorded.as_str(), by.as_str()),
        (garbage, reason, "operator:OP-1")
    );
    for sql in [
        "DELETE FROM parked_messages",
        "UPDATE parked_messages SET reason = 'nothing happened'",
        "DELETE FROM parked_message_settlements",
        "TRUNCATE parked_messages CASCADE",
    ] {
        assert!(
            sqlx::query(sql).execute(pool).await.is_err(),
            "{sql} must be refused"
        );
    }
    // The command sees the same record.
    let listed = sportello(&env, "", &["dlq", "list", "--all", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["messages"][0]["id"], id);
    assert_eq!(listed["messages"][0]["status"], "discarded");
    let shown = sportello(&env, "", &["dlq", "show", &id.to_string()]);
    assert!(shown.contains("x-sportello-error-reason"), "{shown}");

    api.stop().await;
    fleet.stop().await;
    env.teardown().await;
}
