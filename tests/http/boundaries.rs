//! The service's limits, each attacked as a client would: a live stream outliving its token,
//! one caller opening stream after stream, a flood of submissions, an anonymous probe asking
//! `/ready` what is behind the service.

use crate::support::{TestApi, eventually, read_to_end, sample};
use sportello_e2e::TestEnv;
use std::time::Duration;
use uuid::Uuid;

/// A practice of `sample`'s citizen, taken in by intake: its id and the citizen's tax code.
async fn a_practice(env: &TestEnv, api: &TestApi, file: &str) -> (Uuid, String) {
    let submission = sample(file);
    let cf = submission["applicant"]["tax_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = api
        .post_json("/submissions", Some(&api.citizen(&cf)), &submission)
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let id: Uuid = reply.json()["practice_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    eventually("intake takes the practice in", || async {
        env.practice(id).await
    })
    .await;
    (id, cf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_stream_ends_when_its_token_expires() {
    let env = TestEnv::new().await;
    let intake = env.start_fleet(&["intake"]);
    // No leeway, so that the stream's end is the token's own `exp`.
    let api = TestApi::start_with(&env, |http| http.clock_leeway_secs = 0).await;
    let (id, cf) = a_practice(&env, &api, "cultura.uso_sale-01.json").await;

    let token = api.citizen_for(&cf, Duration::from_secs(3));
    let exp = api.keys.check(&token).unwrap().accepted_until;
    let stream = api
        .http
        .get(api.url(&format!("/practices/{id}/events?access_token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    // Well before the client's own timeout, and long after the token's expiry.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let events = read_to_end(stream, deadline).await;
    let ended = chrono::Utc::now().timestamp() as u64;
    assert!(
        ended > exp,
        "ended at {ended}, while the token (exp {exp}) was still accepted"
    );
    assert_eq!(events.first().map(|e| e.event.as_str()), Some("transition"));
    assert_eq!(
        events.last().map(|e| e.event.as_str()),
        Some("expired"),
        "{events:?}"
    );
    // The same token cannot open it again.
    let again = api
        .get(&format!("/practices/{id}/events"), Some(&token))
        .await;
    assert_eq!(again.expect_error(401), "unauthorized");

    api.stop().await;
    intake.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_caller_gets_no_more_live_streams_than_its_share() {
    let env = TestEnv::new().await;
    let intake = env.start_fleet(&["intake"]);
    let api = TestApi::start_with(&env, |http| http.max_streams_per_caller = 2).await;
    let (id, cf) = a_practice(&env, &api, "cultura.uso_sale-01.json").await;
    let token = api.citizen(&cf);
    let path = format!("/practices/{id}/events");
    let open = || async {
        api.http
            .get(api.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
    };
    // Held open (their bodies unread) while the third asks.
    let first = open().await;
    let second = open().await;
    assert_eq!(first.status().as_u16(), 200);
    assert_eq!(second.status().as_u16(), 200);
    let third = api.get(&path, Some(&token)).await;
    assert_eq!(third.expect_error(429), "too_many_streams");
    // A fresh token of the same citizen is the same caller.
    let fresh = api.citizen(&cf);
    assert_eq!(
        api.get(&path, Some(&fresh)).await.expect_error(429),
        "too_many_streams"
    );
    // Another caller has a share of its own.
    let counter = api.operator("OP-BG-014");
    let theirs = api
        .http
        .get(api.url(&path))
        .bearer_auth(&counter)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status().as_u16(), 200);
    drop((first, second, theirs));

    api.stop().await;
    intake.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_submissions_gets_429_with_retry_after() {
    let env = TestEnv::new().await;
    let api = TestApi::start_with(&env, |http| {
        http.submissions_burst = 2;
        http.submissions_per_minute = 1;
    })
    .await;
    let submission = sample("cultura.uso_sale-01.json");
    let cf = submission["applicant"]["tax_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = api.citizen(&cf);
    let numbered = |n: usize| {
        let mut s = submission.clone();
        s["idempotency_key"] = serde_json::json!(format!("portal-flood-{n}"));
        s
    };
    for n in 0..2 {
        let reply = api
            .post_json("/submissions", Some(&token), &numbered(n))
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text());
    }
    let refused = api
        .post_json("/submissions", Some(&token), &numbered(2))
        .await;
    assert_eq!(refused.expect_error(429), "rate_limited");
    let retry_after: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // …and stays refused while the bucket is empty.
    let again = api
        .post_json("/submissions", Some(&token), &numbered(3))
        .await;
    assert_eq!(again.expect_error(429), "rate_limited");
    // Another citizen is not held back by this one.
    let other = sample("anagrafe.certificato_anagrafico-01.json");
    let other_cf = other["applicant"]["tax_code"].as_str().unwrap();
    let reply = api
        .post_json("/submissions", Some(&api.citizen(other_cf)), &other)
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());

    api.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_tells_anonymous_callers_nothing_but_ready_or_not() {
    let env = TestEnv::new().await;
    // A relay nobody answers on, so that /ready has an error to tell (or not).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let api = TestApi::start_with_settings(&env, |settings| settings.smtp.port = port).await;

    let anonymous = api.get("/ready", None).await;
    assert_eq!(anonymous.status, 503);
    assert_eq!(
        anonymous.json(),
        serde_json::json!({"status": "not_ready"}),
        "no checks, no error text"
    );
    assert!(!anonymous.text().contains(&port.to_string()));
    // Neither a citizen nor a counter operator learns more.
    for token in [
        api.citizen("BNFGLI87C54A794U"),
        api.operator_as("OP-1", &[sportello_api::auth::OperatorRole::Counter]),
    ] {
        let reply = api.get("/ready", Some(&token)).await;
        assert_eq!(reply.status, 503);
        assert!(reply.json().get("checks").is_none(), "{}", reply.text());
    }
    // Operations does.
    let operations = api.operator_as("OPS-1", &[sportello_api::auth::OperatorRole::Operations]);
    let detailed = api.get("/ready", Some(&operations)).await;
    assert_eq!(detailed.status, 503);
    let checks = &detailed.json()["checks"];
    assert_eq!(checks["smtp"]["ok"], false);
    assert!(
        checks["smtp"]["error"]
            .as_str()
            .unwrap()
            .contains(&port.to_string()),
        "{checks}"
    );
    assert_eq!(checks["database"]["ok"], true);

    api.stop().await;
    env.teardown().await;
}
