//! Who may read and do what: a citizen only their own folder (another's answers 404), a
//! counter operator any folder, each operator role its own calls (403 otherwise); no token or
//! a bad one — expired, for another audience, from an unknown issuer, signed with another key
//! than its issuer's, granting what its issuer may not — 401.

use crate::support::{TestApi, eventually, sample};
use sportello_api::auth::{Algorithm, Audience, OperatorRole, Signer, Subject};
use sportello_e2e::TestEnv;
use sportello_shared::domain::state::PracticeState;
use std::collections::BTreeSet;
use std::time::Duration;
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
    let hour = Duration::from_secs(3600);
    let roles: BTreeSet<OperatorRole> = OperatorRole::ALL.into_iter().collect();
    let operator = Subject::Operator {
        id: "OP-1",
        roles: &roles,
    };
    let alice = Subject::Citizen { tax_code: ALICE };
    let mut expired = api.counter.claims(&operator, hour).unwrap();
    expired.exp = chrono::Utc::now().timestamp() as u64 - 3600;
    let expired = api.counter.sign(&expired).unwrap();
    // Minted by the portal for another service of the municipality.
    let mut elsewhere = api.portal.claims(&alice, hour).unwrap();
    elsewhere.aud = Audience::One("tributi-api".to_owned());
    let elsewhere = api.portal.sign(&elsewhere).unwrap();
    // An issuer nobody configured, with a key of its own.
    let stranger = Signer::generate(
        "https://idp.example.org",
        api.keys.audience(),
        Algorithm::EdDSA,
    )
    .unwrap()
    .mint(&operator, hour)
    .unwrap();
    // The right `iss` (and so the right key id), the wrong key: the counter application's name
    // with a key that is not the one we trust for it.
    let impostor = Signer::generate("counter", api.keys.audience(), Algorithm::ES256)
        .unwrap()
        .mint(&operator, hour)
        .unwrap();
    // The portal vouching for an operator: it may mint citizens only.
    let portal_operator = api.portal.mint(&operator, hour).unwrap();
    // Sportello vouching for a citizen: only the portal does.
    let sportello_citizen = api.sportello.mint(&alice, hour).unwrap();
    let mut without_cf = api.portal.claims(&alice, hour).unwrap();
    without_cf.cf = None;
    let citizen_without_cf = api.portal.sign(&without_cf).unwrap();
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
        "/registrations/2026/1/annulment",
    ];
    let bad_tokens = [
        None,
        Some("garbage"),
        Some(expired.as_str()),
        Some(elsewhere.as_str()),
        Some(stranger.as_str()),
        Some(impostor.as_str()),
        Some(portal_operator.as_str()),
        Some(sportello_citizen.as_str()),
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
    // The open endpoints stay open; a bad token on /ready is refused, not ignored.
    assert_eq!(
        api.get("/ready", Some(&impostor)).await.expect_error(401),
        "unauthorized"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_operator_role_reaches_only_its_own_calls() {
    let env = TestEnv::new().await;
    let api = TestApi::start(&env).await;
    let counter = api.operator_as("OP-BG-014", &[OperatorRole::Counter]);
    let officer = api.operator_as("OP-PROT-1", &[OperatorRole::ProtocolOfficer]);
    let operations = api.operator_as("OPS-1", &[OperatorRole::Operations]);
    let measure = serde_json::json!({"reason": "errore materiale", "measure": "provv. 1/2026"});
    let nobody = Uuid::new_v4();

    // The counter: not the error queues, not the register.
    for path in ["/dlq", "/dlq/1"] {
        api.get(path, Some(&counter)).await.expect_error(403);
    }
    for (path, body) in [
        ("/dlq/replay", serde_json::json!({})),
        ("/dlq/1/replay", serde_json::json!({})),
        ("/dlq/1/discard", serde_json::json!({"reason": "no"})),
        ("/registrations/2026/1/annulment", measure.clone()),
    ] {
        let reply = api.post_json(path, Some(&counter), &body).await;
        assert_eq!(reply.expect_error(403), "forbidden", "{path}");
    }
    // The protocol officer and operations: no folders, no live streams, no submissions.
    let mut at_counter = sample("anagrafe.cambio_residenza-02.json");
    for (token, id) in [(&officer, "OP-PROT-1"), (&operations, "OPS-1")] {
        for path in [
            format!("/citizens/{ALICE}/practices"),
            format!("/practices/{nobody}"),
            format!("/practices/{nobody}/events"),
        ] {
            api.get(&path, Some(token)).await.expect_error(403);
        }
        at_counter["channel"]["operator_id"] = serde_json::json!(id);
        api.post_json("/submissions", Some(token), &at_counter)
            .await
            .expect_error(403);
    }
    api.post_json(
        "/registrations/2026/1/annulment",
        Some(&operations),
        &measure,
    )
    .await
    .expect_error(403);

    // Each gets past the check to its own calls.
    let folder = api
        .get(&format!("/citizens/{ALICE}/practices"), Some(&counter))
        .await;
    assert_eq!(folder.status, 200, "{}", folder.text());
    let listing = api.get("/dlq", Some(&operations)).await;
    assert_eq!(listing.status, 200, "{}", listing.text());
    // No such registration: the officer got past the role check to the register.
    assert_eq!(
        api.post_json("/registrations/1999/1/annulment", Some(&officer), &measure)
            .await
            .expect_error(404),
        "not_found"
    );
    // Sportello's own tokens (`sportello token`) are operators' too.
    let roles: BTreeSet<OperatorRole> = [OperatorRole::Operations].into();
    let own = api
        .sportello
        .mint(
            &Subject::Operator {
                id: "OPS-2",
                roles: &roles,
            },
            Duration::from_secs(600),
        )
        .unwrap();
    assert_eq!(api.get("/dlq", Some(&own)).await.status, 200);

    api.stop().await;
    env.teardown().await;
}
