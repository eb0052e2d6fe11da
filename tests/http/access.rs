//! Who may read and do what: a citizen only their own folder (another's answers 404), an
//! operator any folder and the operator-only calls; no token or a bad one, 401.

use crate::support::{TestApi, eventually, sample};
use sportello_api::auth::{Claims, Keys, Role};
use sportello_e2e::TestEnv;
use sportello_shared::domain::state::PracticeState;
use uuid::Uuid;

const ALICE: &str = "BNFGLI87C54A794U";
const BOB: &str = "ZNCRRT96L44H501T";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_reads_only_their_own_folder_and_an_operator_reads_any() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&["intake", "validation"]);
    let api = TestApi::start(&env).await;
    let (alice, bob) = (api.citizen(ALICE), api.citizen(BOB));

    let mut ids = Vec::new();
    for (file, token) in [
        ("anagrafe.certificato_anagrafico-01.json", &alice),
        ("cultura.uso_sale-01.json", &bob),
    ] {
        let reply = api
            .post_json("/submissions", Some(token), &sample(file))
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        ids.push(
            reply.json()["practice_id"]
                .as_str()
                .unwrap()
                .parse::<Uuid>()
                .unwrap(),
        );
    }
    env.wait_until_all_in(&ids, &[PracticeState::Validated, PracticeState::Rejected])
        .await;
    let (alices, bobs) = (ids[0], ids[1]);

    // Alice sees her own practice, in her folder and on its own.
    let folder = api
        .get(&format!("/citizens/{ALICE}/practices"), Some(&alice))
        .await;
    assert_eq!(folder.status, 200, "{}", folder.text());
    let listed: Vec<String> = folder.json()["practices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, [alices.to_string()]);
    assert_eq!(
        api.get(&format!("/practices/{alices}"), Some(&alice))
            .await
            .status,
        200
    );
    // Lower case is the same tax code.
    let lower = format!("/citizens/{}/practices", ALICE.to_lowercase());
    assert_eq!(api.get(&lower, Some(&alice)).await.status, 200);

    // Bob's practice and folder do not exist as far as Alice can tell: 404, never 403, and
    // the same answer as for an id nobody has.
    let stolen = api.get(&format!("/practices/{bobs}"), Some(&alice)).await;
    let nobody = api
        .get(&format!("/practices/{}", Uuid::new_v4()), Some(&alice))
        .await;
    assert_eq!(stolen.expect_error(404), "not_found");
    assert_eq!(
        stolen.json(),
        nobody.json(),
        "indistinguishable from a missing practice"
    );
    api.get(&format!("/citizens/{BOB}/practices"), Some(&alice))
        .await
        .expect_error(404);
    let stream = api
        .http
        .get(api.url(&format!("/practices/{bobs}/events?access_token={alice}")))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 404);

    // An operator reads both.
    let operator = api.operator("OP-BG-014");
    for id in [alices, bobs] {
        assert_eq!(
            api.get(&format!("/practices/{id}"), Some(&operator))
                .await
                .status,
            200
        );
    }
    for cf in [ALICE, BOB] {
        let reply = api
            .get(&format!("/citizens/{cf}/practices"), Some(&operator))
            .await;
        assert_eq!(reply.json()["practices"].as_array().unwrap().len(), 1);
    }

    api.stop().await;
    fleet.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_only_calls_refuse_citizen_tokens() {
    let env = TestEnv::new().await;
    let api = TestApi::start(&env).await;
    let citizen = api.citizen(ALICE);
    for path in ["/dlq", "/dlq/1"] {
        assert_eq!(
            api.get(path, Some(&citizen)).await.expect_error(403),
            "forbidden",
            "{path}"
        );
    }
    for (path, body) in [
        ("/dlq/replay", serde_json::json!({})),
        ("/dlq/1/replay", serde_json::json!({})),
        ("/dlq/1/discard", serde_json::json!({"reason": "no"})),
    ] {
        assert_eq!(
            api.post_json(path, Some(&citizen), &body)
                .await
                .expect_error(403),
            "forbidden",
            "{path}"
        );
    }
    // A citizen cannot submit through the counter, nor for someone else.
    let counter = sample("anagrafe.cambio_residenza-02.json");
    let cf = counter["applicant"]["tax_code"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post_json("/submissions", Some(&api.citizen(&cf)), &counter)
        .await
        .expect_error(403);
    api.post_json(
        "/submissions",
        Some(&citizen),
        &sample("cultura.uso_sale-01.json"),
    )
    .await
    .expect_error(403);
    // An operator submits only under their own id.
    api.post_json(
        "/submissions",
        Some(&api.operator("OP-SOMEONE-ELSE")),
        &counter,
    )
    .await
    .expect_error(403);
    // …and the operator calls work for an operator.
    let operator = api.operator("OP-BG-014");
    assert_eq!(api.get("/dlq", Some(&operator)).await.status, 200);
    api.get("/dlq/1", Some(&operator)).await.expect_error(404);

    api.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_a_bad_one_is_401() {
    let env = TestEnv::new().await;
    let api = TestApi::start(&env).await;
    let id = Uuid::new_v4();
    let now = chrono::Utc::now().timestamp() as u64;
    let expired = api
        .keys
        .sign(&Claims {
            sub: "OP-1".into(),
            role: Role::Operator,
            cf: None,
            exp: now - 3600,
            iat: None,
        })
        .unwrap();
    let foreign = Keys::new("a different key, of more than thirty-two bytes")
        .unwrap()
        .mint(
            Role::Operator,
            None,
            Some("OP-1"),
            std::time::Duration::from_secs(600),
        )
        .unwrap();
    let citizen_without_cf = api
        .keys
        .sign(&Claims {
            sub: "someone".into(),
            role: Role::Citizen,
            cf: None,
            exp: now + 3600,
            iat: None,
        })
        .unwrap();
    let forged = {
        // A valid token with its payload swapped: the signature no longer matches.
        let valid = api.citizen(ALICE);
        let other = api.operator("OP-1");
        let parts: Vec<&str> = valid.split('.').collect();
        let payload = other.split('.').nth(1).unwrap();
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let gets = [
        format!("/citizens/{ALICE}/practices"),
        format!("/practices/{id}"),
        format!("/practices/{id}/events"),
        "/dlq".to_owned(),
        "/dlq/1".to_owned(),
    ];
    let posts = [
        "/submissions",
        "/dlq/replay",
        "/dlq/1/replay",
        "/dlq/1/discard",
    ];
    let bad_tokens = [
        None,
        Some("garbage"),
        Some(expired.as_str()),
        Some(foreign.as_str()),
        Some(citizen_without_cf.as_str()),
        Some(forged.as_str()),
    ];
    for token in bad_tokens {
        for path in &gets {
            let reply = api.get(path, token).await;
            assert_eq!(
                reply.expect_error(401),
                "unauthorized",
                "GET {path} with {token:?}"
            );
            assert_eq!(reply.headers["www-authenticate"], "Bearer");
        }
        for path in posts {
            let reply = api
                .post_json(path, token, &sample("cultura.uso_sale-01.json"))
                .await;
            assert_eq!(
                reply.expect_error(401),
                "unauthorized",
                "POST {path} with {token:?}"
            );
        }
    }
    // A header that is not a bearer token is refused as such.
    let basic = api
        .send(
            api.http
                .get(api.url("/dlq"))
                .header("Authorization", "Basic b3A6b3A="),
        )
        .await;
    basic.expect_error(401);
    // The open endpoints stay open.
    for path in ["/health", "/ready", "/metrics", "/openapi.json"] {
        let reply = eventually(path, || async {
            let reply = api.get(path, None).await;
            (reply.status == 200).then_some(reply)
        })
        .await;
        assert_eq!(reply.status, 200, "{path}");
    }

    api.stop().await;
    env.teardown().await;
}
