//! Bad input ends in the error queue with its reason, and the worker keeps serving; the work
//! queues are quorum queues with a delivery limit and a dead-letter target.

use sportello_e2e::{TestEnv, json_files, samples_dir};
use sportello_fleet::submit;
use sportello_shared::broker::{self, Outgoing, Publisher};
use sportello_shared::domain::state::PracticeState;
use sportello_shared::messages::{StageMessage, route};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_submissions_land_in_the_error_queue_with_a_reason_and_intake_keeps_serving() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&["intake", "validation"]);
    let malformed = {
        let mut files: Vec<_> = std::fs::read_dir(samples_dir().join("malformed"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
    };
    assert!(malformed.len() >= 4);
    submit::submit(
        &env.settings.broker,
        &env.exchange("intake"),
        env.settings.object_store.staging_root(),
        &malformed,
        true,
        |_| {},
    )
    .await
    .unwrap();

    let failed = env
        .wait_for_messages(&env.error_queue_of("intake"), malformed.len())
        .await;
    assert_eq!(failed.len(), malformed.len());
    let reasons: Vec<String> = failed
        .iter()
        .map(|m| m.reason.clone().expect("a reason header"))
        .collect();
    assert!(failed.iter().all(|m| m.stage.as_deref() == Some("intake")));
    assert!(
        reasons.iter().any(|r| r.contains("not JSON")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("schema_version 99")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("unknown practice type")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("contract v1")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("NUL character")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("idempotency_key must have")),
        "{reasons:?}"
    );
    // Each refused for its own reason, as samples/expected-malformed.json describes it.
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(samples_dir().join("expected-malformed.json")).unwrap(),
    )
    .unwrap();
    for file in &malformed {
        let name = file.file_name().unwrap().to_str().unwrap();
        let contains = expected[name]["error_contains"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} is not in expected-malformed.json"));
        let body = std::fs::read(file).unwrap();
        let reason = failed
            .iter()
            .find(|m| m.body == body)
            .and_then(|m| m.reason.as_deref())
            .unwrap_or_else(|| panic!("{name} is not in the error queue"));
        assert!(reason.contains(contains), "{name}: {reason}");
    }
    // A parser's complaint quotes what it read: never a tax code in full.
    let bare_tax_code = bodies_with_tax_codes(&malformed);
    assert!(
        reasons.iter().any(|r| r.contains("invalid type: string")),
        "{reasons:?}"
    );
    for reason in &reasons {
        for code in &bare_tax_code {
            assert!(!reason.contains(code.as_str()), "{reason}");
        }
    }
    // None of them can get better by waiting: each failed on its first delivery.
    assert!(
        failed.iter().all(|m| m.attempt == Some(0)),
        "{:?}",
        failed.iter().map(|m| m.attempt).collect::<Vec<_>>()
    );
    // The message is kept as it was sent, so an operator can read and replay it.
    let bodies: Vec<Vec<u8>> = malformed
        .iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect();
    assert!(failed.iter().all(|m| bodies.contains(&m.body)));
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM practices")
            .fetch_one(env.app.store.pool())
            .await
            .unwrap(),
        0,
        "nothing malformed became a practice"
    );

    // The same worker still takes good work.
    let good = json_files(&samples_dir().join("submissions")).remove(0);
    let id = env.submit_files(&[good]).await[0];
    env.wait_until_all_in(&[id], &[PracticeState::Validated, PracticeState::Rejected])
        .await;

    fleet.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_messages_that_cannot_succeed_go_to_the_error_queue_of_their_stage() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&["validation"]);
    let connection = broker::connect(&env.settings.broker, "test").await.unwrap();
    let publisher = Publisher::open(&connection).await.unwrap();
    let practice = env.exchange("practice");
    let unknown = uuid::Uuid::new_v4();
    let mut wrong_version = Outgoing::json(
        &practice,
        route::VALIDATE,
        &StageMessage::new(unknown),
        None,
    );
    wrong_version.body =
        format!(r#"{{"schema_version":7,"practice_id":"{unknown}"}}"#).into_bytes();
    let mut not_json = wrong_version.clone();
    not_json.body = b"\xff\xfe garbage".to_vec();
    for message in [
        Outgoing::json(
            &practice,
            route::VALIDATE,
            &StageMessage::new(unknown),
            Some(unknown),
        ),
        wrong_version,
        not_json,
    ] {
        publisher.publish(&message).await.unwrap();
    }
    let failed = env
        .wait_for_messages(&env.error_queue_of("validation"), 3)
        .await;
    let reasons: Vec<String> = failed.iter().map(|m| m.reason.clone().unwrap()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains(&format!("practice {unknown} does not exist"))),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("schema_version 7")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("not a stage message")),
        "{reasons:?}"
    );
    assert!(
        failed
            .iter()
            .all(|m| m.stage.as_deref() == Some("validation"))
    );
    let _ = connection.close(200, "done".into()).await;
    fleet.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_work_queue_is_a_quorum_queue_with_a_delivery_limit_and_a_dead_letter_target() {
    let env = TestEnv::new().await;
    let tiers: Vec<String> = (env.app.topology.workers())
        .flat_map(|w| w.retry_tiers.iter().map(|t| t.queue.clone()))
        .collect();
    let queues = queues_once(&env, |queues| {
        tiers.iter().all(|tier| {
            queues.iter().any(|q| {
                q["name"] == tier.as_str() && !pairs(&q["effective_policy_definition"]).is_empty()
            })
        })
    })
    .await;
    let find = |name: &str| {
        queues
            .iter()
            .find(|q| q["name"] == name)
            .unwrap_or_else(|| panic!("{name} is declared"))
            .clone()
    };
    for worker in env.app.topology.workers() {
        let queue = find(&worker.queue);
        assert_eq!(queue["type"], "quorum", "{}", worker.queue);
        // The limits are policies, so that they can change live: the only argument is the type.
        assert_eq!(
            pairs(&queue["arguments"]).keys().collect::<Vec<_>>(),
            ["x-queue-type"],
            "{}",
            worker.queue
        );
        let policy = pairs(&queue["effective_policy_definition"]);
        assert_eq!(
            policy["delivery-limit"],
            serde_json::json!(worker.delivery_limit),
            "{}",
            worker.queue
        );
        assert_eq!(
            policy["dead-letter-exchange"],
            env.exchange("errors"),
            "{}",
            worker.queue
        );
        assert_eq!(
            policy["dead-letter-routing-key"],
            worker.worker.as_str(),
            "{}",
            worker.queue
        );
        assert_eq!(find(&worker.error_queue)["type"], "quorum");
        for tier in &worker.retry_tiers {
            let tier_policy = pairs(&find(&tier.queue)["effective_policy_definition"]);
            assert_eq!(
                tier_policy["message-ttl"],
                serde_json::json!(tier.delay.as_millis() as u64)
            );
            assert_eq!(
                tier_policy["dead-letter-routing-key"],
                worker.queue.as_str()
            );
            assert_eq!(tier_policy["dead-letter-strategy"], "at-least-once");
        }
    }
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_limit_changes_on_the_running_queues() {
    let env = TestEnv::new().await;
    let original = std::fs::read_to_string(sportello_e2e::repository_root().join("queues.toml"))
        .expect("queues.toml");
    assert_eq!(original.matches("delivery_limit = 5\n").count(), 1);
    let edited = original.replace("delivery_limit = 5\n", "delivery_limit = 9\n");
    let topology = sportello_shared::topology::Topology::parse(&edited)
        .unwrap()
        .namespaced(&env.namespace);
    sportello_shared::broker_users::apply_policies(&env.settings.broker, &topology)
        .await
        .expect("the administrator sets the edited policies");
    // Nothing declares the queues again: they follow the policies where they run.
    let effective = |queues: &[serde_json::Value], name: &str| {
        queues
            .iter()
            .find(|q| q["name"] == name)
            .map(|q| pairs(&q["effective_policy_definition"]))
            .unwrap_or_default()
    };
    let queues = queues_once(&env, |queues| {
        topology.workers().all(|worker| {
            effective(queues, &worker.queue).get("delivery-limit") == Some(&serde_json::json!(9))
        })
    })
    .await;
    for worker in topology.workers() {
        let policy = effective(&queues, &worker.queue);
        assert_eq!(
            policy["delivery-limit"],
            serde_json::json!(9),
            "{}",
            worker.queue
        );
        assert_eq!(policy["dead-letter-routing-key"], worker.worker.as_str());
    }
    env.teardown().await;
}

/// The queues as soon as `ready` holds of them: the management API's view of a queue's policy
/// follows the broker by a statistics interval (5 s by default).
async fn queues_once(
    env: &TestEnv,
    ready: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let queues = env
            .broker_queues("name,type,arguments,effective_policy_definition")
            .await;
        if ready(&queues) || std::time::Instant::now() > deadline {
            return queues;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// A table as an object (the management API) or as [name, …, value] rows.
fn pairs(table: &serde_json::Value) -> std::collections::BTreeMap<String, serde_json::Value> {
    match table {
        serde_json::Value::Object(map) => map.clone().into_iter().collect(),
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|item| {
                let row = item.as_array()?;
                Some((row.first()?.as_str()?.to_owned(), row.last()?.clone()))
            })
            .collect(),
        _ => Default::default(),
    }
}

/// Every tax code written in the malformed samples.
fn bodies_with_tax_codes(files: &[std::path::PathBuf]) -> Vec<String> {
    let mut codes = Vec::new();
    for file in files {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&std::fs::read(file).unwrap())
        else {
            continue;
        };
        let applicant = &value["applicant"];
        for code in [applicant.as_str(), applicant["tax_code"].as_str()]
            .into_iter()
            .flatten()
        {
            codes.push(code.to_owned());
        }
    }
    assert!(!codes.is_empty());
    codes
}
