//! What a client can get wrong gets a 4xx with a JSON error that says what, never a 500:
//! malformed JSON, a body past the limit, unknown fields, wrong types, wrong media type, bad
//! path parameters, unknown paths and methods.

use crate::support::{TestApi, sample};
use sportello_e2e::TestEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_clear_json_error_and_never_a_500() {
    let env = TestEnv::new().await;
    // Every bad submission counts against the rate limit: a burst large enough for them all.
    let api = TestApi::start_with(&env, |http| {
        http.max_body_bytes = 64 * 1024;
        http.submissions_burst = 1000;
    })
    .await;
    let good = sample("cultura.uso_sale-01.json");
    let token = api.citizen(good["applicant"]["tax_code"].as_str().unwrap());
    let operator = api.operator("OP-1");
    let post = |body: Vec<u8>| api.post_raw("/submissions", Some(&token), "application/json", body);

    let malformed = post(b"{\"schema_version\": 1,".to_vec()).await;
    assert_eq!(malformed.expect_error(400), "bad_request");
    assert!(
        malformed.json()["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    assert_eq!(post(b"".to_vec()).await.expect_error(400), "bad_request");

    let mut oversize = good.clone();
    oversize["data"]["filler"] = serde_json::json!("x".repeat(100 * 1024));
    let reply = post(serde_json::to_vec(&oversize).unwrap()).await;
    assert_eq!(reply.expect_error(413), "too_large");
    assert!(reply.json()["message"].as_str().unwrap().contains("65536"));

    let mut unknown = good.clone();
    unknown["colour"] = serde_json::json!("blu");
    let reply = post(serde_json::to_vec(&unknown).unwrap()).await;
    assert_eq!(reply.expect_error(422), "invalid");
    assert!(
        reply.json()["message"].as_str().unwrap().contains("colour"),
        "{}",
        reply.text()
    );

    let mut nested_unknown = good.clone();
    nested_unknown["applicant"]["shoe_size"] = serde_json::json!(42);
    post(serde_json::to_vec(&nested_unknown).unwrap())
        .await
        .expect_error(422);

    for (field, value) in [
        ("subject", serde_json::json!(42)),
        ("documents", serde_json::json!("none")),
        ("schema_version", serde_json::json!("1")),
        ("applicant", serde_json::json!(null)),
        ("channel", serde_json::json!({"kind": "fax"})),
    ] {
        let mut wrong = good.clone();
        wrong[field] = value;
        let reply = post(serde_json::to_vec(&wrong).unwrap()).await;
        assert_eq!(reply.expect_error(422), "invalid", "{field}");
    }
    // What PostgreSQL could not keep is refused here, not retried by intake for nothing.
    let mut nul = good.clone();
    nul["subject"] = serde_json::json!("prima\u{0}dopo");
    let reply = post(serde_json::to_vec(&nul).unwrap()).await;
    assert_eq!(reply.expect_error(422), "invalid");
    assert!(reply.json()["message"].as_str().unwrap().contains("NUL"));
    let mut long_key = good.clone();
    long_key["idempotency_key"] = serde_json::json!("k".repeat(257));
    post(serde_json::to_vec(&long_key).unwrap())
        .await
        .expect_error(422);
    api.get("/dlq?stage=intake%00", Some(&operator))
        .await
        .expect_error(400);
    api.get("/dlq?stage=nowhere", Some(&operator))
        .await
        .expect_error(400);

    let not_an_object = post(b"[1, 2, 3]".to_vec()).await;
    assert!(not_an_object.status == 422 || not_an_object.status == 400);
    not_an_object.expect_error(not_an_object.status);

    let text = api
        .post_raw(
            "/submissions",
            Some(&token),
            "text/plain",
            serde_json::to_vec(&good).unwrap(),
        )
        .await;
    assert_eq!(text.expect_error(415), "unsupported_media_type");

    // Path and query parameters.
    assert_eq!(
        api.get("/practices/not-a-uuid", Some(&token))
            .await
            .expect_error(400),
        "bad_request"
    );
    assert_eq!(
        api.get("/practices/not-a-uuid/events", Some(&token))
            .await
            .expect_error(400),
        "bad_request"
    );
    api.get("/citizens/RSS%20MRA/practices", Some(&operator))
        .await
        .expect_error(400);
    api.get("/dlq/abc", Some(&operator)).await.expect_error(400);
    api.get("/dlq?all=perhaps", Some(&operator))
        .await
        .expect_error(400);
    api.get("/dlq?colour=blue", Some(&operator))
        .await
        .expect_error(400);

    // The discard body.
    let discard = "/dlq/1/discard";
    api.post_raw(discard, Some(&operator), "application/json", b"{".to_vec())
        .await
        .expect_error(400);
    api.post_json(discard, Some(&operator), &serde_json::json!({"reason": 7}))
        .await
        .expect_error(422);
    api.post_json(
        discard,
        Some(&operator),
        &serde_json::json!({"reason": "x", "extra": 1}),
    )
    .await
    .expect_error(422);
    api.post_json(
        "/dlq/replay",
        Some(&operator),
        &serde_json::json!({"stage": ["intake"]}),
    )
    .await
    .expect_error(422);
    // serde builds a struct from an array too; the API wants objects.
    api.post_json(
        discard,
        Some(&operator),
        &serde_json::json!(["a reason in an array"]),
    )
    .await
    .expect_error(422);
    api.post_json("/dlq/replay", Some(&operator), &serde_json::json!([null]))
        .await
        .expect_error(422);

    // Unknown paths and methods.
    assert_eq!(
        api.get("/nowhere", Some(&token)).await.expect_error(404),
        "no_route"
    );
    let wrong_method = api
        .send(api.http.delete(api.url("/submissions")).bearer_auth(&token))
        .await;
    assert_eq!(wrong_method.expect_error(405), "method_not_allowed");
    let wrong_method = api.send(api.http.put(api.url("/health"))).await;
    wrong_method.expect_error(405);

    api.stop().await;
    env.teardown().await;
}
