//! `POST /submissions`: intake over HTTP, with the broker's confirm before the answer; the same
//! idempotency key answers the same practice id, before and after intake has taken it in.

use crate::support::{TestApi, sample};
use sportello_e2e::TestEnv;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::domain::submission::practice_id_for;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_submission_twice_answers_the_same_practice_id() {
    let env = TestEnv::new().await;
    let api = TestApi::start(&env).await;
    let submission = sample("cimiteri.concessione_loculo-01.json");
    let operator = api.operator(submission["channel"]["operator_id"].as_str().unwrap());
    let key = submission["idempotency_key"].as_str().unwrap().to_owned();

    // Twice before intake runs: both published, both the same id.
    let first = api
        .post_json("/submissions", Some(&operator), &submission)
        .await;
    let second = api
        .post_json("/submissions", Some(&operator), &submission)
        .await;
    for reply in [&first, &second] {
        assert_eq!(reply.status, 202, "{}", reply.text());
        assert_eq!(reply.json()["status"], "accepted");
    }
    let id: Uuid = first.json()["practice_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(id, practice_id_for(&key), "the id derives from the key");
    assert_eq!(second.json()["practice_id"], first.json()["practice_id"]);
    assert_eq!(first.headers["location"], format!("/practices/{id}"));

    // Intake takes both deliveries in as one practice.
    let fleet = env.start_fleet(&["intake", "validation"]);
    env.wait_until_all_in(&[id], &[PracticeState::Validated, PracticeState::Rejected])
        .await;
    // Once known, the same submission is not published again, and still answers the same id.
    let third = api
        .post_json("/submissions", Some(&operator), &submission)
        .await;
    assert_eq!(third.status, 202);
    assert_eq!(third.json()["status"], "known");
    assert_eq!(third.json()["practice_id"], first.json()["practice_id"]);
    let practices: i64 = sqlx::query_scalar("SELECT count(*) FROM practices")
        .fetch_one(env.app.store.pool())
        .await
        .unwrap();
    assert_eq!(practices, 1);
    let received: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM practice_history WHERE practice_id = $1 AND to_state = 'received'",
    )
    .bind(id)
    .fetch_one(env.app.store.pool())
    .await
    .unwrap();
    assert_eq!(received, 1, "one practice, one history");

    // The same key with different content is a conflict, not a second practice.
    let mut changed = submission.clone();
    changed["subject"] = serde_json::json!("Un'altra richiesta con la stessa chiave");
    let conflict = api
        .post_json("/submissions", Some(&operator), &changed)
        .await;
    assert_eq!(conflict.expect_error(409), "conflict");

    // What the API accepts is what the portal and the counter publish: the citizen's own
    // folder shows the practice.
    let cf = submission["applicant"]["tax_code"].as_str().unwrap();
    let folder = api
        .get(&format!("/citizens/{cf}/practices"), Some(&api.citizen(cf)))
        .await;
    assert_eq!(folder.json()["practices"][0]["id"], id.to_string());

    api.stop().await;
    fleet.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_intake_would_refuse_is_refused_at_once_with_its_reason() {
    let env = TestEnv::new().await;
    let api = TestApi::start(&env).await;
    let mut submission = sample("cultura.uso_sale-01.json");
    let token = api.citizen(submission["applicant"]["tax_code"].as_str().unwrap());
    submission["practice_type"] = serde_json::json!("cultura.sala_da_ballo_inesistente");
    let reply = api
        .post_json("/submissions", Some(&token), &submission)
        .await;
    assert_eq!(reply.expect_error(422), "invalid");
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("unknown practice type")
    );
    let mut future = sample("cultura.uso_sale-01.json");
    future["schema_version"] = serde_json::json!(99);
    let reply = api.post_json("/submissions", Some(&token), &future).await;
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("schema_version 99")
    );
    reply.expect_error(422);
    // A staged key climbing out of the staging area into another citizen's archive: refused
    // before anything is published or read, so the folder never shows that object's size or
    // fingerprint.
    let mut traversal = sample("cultura.uso_sale-01.json");
    traversal["idempotency_key"] = serde_json::json!("portal-traversal-1");
    traversal["documents"] = serde_json::json!([{
        "role": "domanda",
        "file_name": "domanda.pdf",
        "media_type": "application/pdf",
        "sha256": "0".repeat(64),
        "staged_key": format!(
            "{}/../archivio/AOO_BG/PG/2026/0000001/00-istanza.json",
            env.settings.object_store.staging_root()
        ),
    }]);
    let reply = api
        .post_json("/submissions", Some(&token), &traversal)
        .await;
    assert_eq!(reply.expect_error(422), "invalid");
    let message = reply.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("staged_key must start with"), "{message}");
    assert!(
        env.drain(&env.queue_of("intake")).await.is_empty(),
        "nothing was published to intake"
    );
    api.stop().await;
    env.teardown().await;
}
