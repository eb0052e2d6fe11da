//! The OpenAPI document stays true: it lists exactly the router's endpoints, every schema
//! keyword it uses is one the checker understands, and real answers — successes and errors —
//! of every documented endpoint match its schemas.

use crate::schema::Spec;
use crate::support::{TestApi, eventually, read_events, sample};
use sportello_api::auth::OperatorRole;
use sportello_api::routes;
use sportello_e2e::TestEnv;
use sportello_shared::broker::{self, Outgoing, Publisher};
use sportello_shared::domain::state::PracticeState;
use std::collections::BTreeSet;
use uuid::Uuid;

#[test]
fn the_spec_and_the_router_list_the_same_endpoints() {
    let spec = Spec::load();
    let documented: BTreeSet<(String, String)> = spec.operations().into_iter().collect();
    let served: BTreeSet<(String, String)> = routes()
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, served, "openapi.json and the router disagree");
    assert_eq!(spec.doc["openapi"], "3.1.0");
    // Every protected endpoint documents 401; every open one declares no security.
    for (method, path) in &documented {
        let operation = spec.operation(method, path);
        let open = operation["security"]
            .as_array()
            .is_some_and(|s| s.is_empty());
        assert_eq!(
            operation["responses"].get("401").is_some(),
            !open,
            "{method} {path}: 401 documented iff a token is needed"
        );
    }
}

#[test]
fn the_checker_understands_every_keyword_the_spec_uses() {
    let known: BTreeSet<&str> = [
        "$ref",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "anyOf",
        "oneOf",
        "allOf",
        "format",
        "description",
        "contentMediaType",
        "contentSchema",
    ]
    .into();
    let used = Spec::load().keywords();
    let unknown: Vec<&String> = used
        .iter()
        .filter(|k| !known.contains(k.as_str()) && !k.starts_with("x-"))
        .collect();
    assert!(
        unknown.is_empty(),
        "the spec uses keywords the checker ignores: {unknown:?}"
    );
}

#[test]
fn the_spec_lists_the_practice_types_of_the_catalog() {
    let spec = Spec::load();
    let listed: BTreeSet<&str> = spec.schema("Submission")["properties"]["practice_type"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let catalog = sportello_shared::catalog::Catalog::embedded().unwrap();
    let known: BTreeSet<&str> = catalog.types().map(|t| t.code.as_str()).collect();
    assert_eq!(
        listed, known,
        "openapi.json's practice types and shared/catalog.toml disagree"
    );
}

/// Sends a request and checks the answer against the spec's `method template` operation.
async fn conform(
    api: &TestApi,
    spec: &Spec,
    method: &str,
    template: &str,
    request: reqwest::RequestBuilder,
) -> (u16, Option<serde_json::Value>) {
    let reply = api.send(request).await;
    let value = spec.check_response(
        method,
        template,
        reply.status,
        reply.content_type(),
        &reply.body,
    );
    (reply.status, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_endpoint_answers_as_the_spec_says() {
    let env = TestEnv::new().await;
    // As far as the archive and the citizen's receipt, so that every part of the timeline
    // view has something in it.
    let fleet = env.start_fleet(&[
        "intake",
        "validation",
        "protocol",
        "storage",
        "notification",
    ]);
    let api = TestApi::start(&env).await;
    let spec = Spec::load();
    let mut covered: BTreeSet<(String, String)> = BTreeSet::new();
    let operator = api.operator("OP-BG-014");
    let submission = sample("anagrafe.cambio_residenza-01.json");
    let cf = submission["applicant"]["tax_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let citizen = api.citizen(&cf);
    let stranger = api.citizen("ZNCRRT96L44H501T");
    let http = &api.http;
    macro_rules! check {
        ($method:literal, $template:literal, $request:expr) => {{
            covered.insert(($method.to_owned(), $template.to_owned()));
            conform(&api, &spec, $method, $template, $request).await
        }};
    }

    // Intake over HTTP, then a practice that gets as far as the register.
    let (status, accepted) = check!(
        "post",
        "/submissions",
        http.post(api.url("/submissions"))
            .bearer_auth(&citizen)
            .json(&submission)
    );
    assert_eq!(status, 202);
    let id: Uuid = accepted.unwrap()["practice_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    env.wait_until_all_in(&[id], &[PracticeState::Stored]).await;
    eventually("the receipt is sent", || async {
        let reply = api.get(&format!("/practices/{id}"), Some(&citizen)).await;
        let sent = reply.json()["notifications"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n["status"] == "sent"));
        sent.then_some(())
    })
    .await;
    let mut bad = submission.clone();
    bad["surprise"] = serde_json::json!(true);
    for request in [
        http.post(api.url("/submissions"))
            .bearer_auth(&citizen)
            .json(&bad),
        http.post(api.url("/submissions"))
            .bearer_auth(&citizen)
            .body("{"),
        http.post(api.url("/submissions"))
            .bearer_auth(&citizen)
            .header("content-type", "application/json")
            .body("{"),
        http.post(api.url("/submissions")).json(&submission),
        http.post(api.url("/submissions"))
            .bearer_auth(&stranger)
            .json(&submission),
    ] {
        let (status, _) = check!("post", "/submissions", request);
        assert!((400..500).contains(&status));
    }

    // The folder, in every shape.
    let (_, folder) = check!(
        "get",
        "/citizens/{cf}/practices",
        http.get(api.url(&format!("/citizens/{cf}/practices")))
            .bearer_auth(&citizen)
    );
    assert_eq!(
        folder.unwrap()["practices"][0]["protocol"]["number"]
            .as_str()
            .unwrap()
            .len(),
        7
    );
    check!(
        "get",
        "/citizens/{cf}/practices",
        http.get(api.url(&format!("/citizens/{cf}/practices")))
            .bearer_auth(&stranger)
    );
    check!(
        "get",
        "/citizens/{cf}/practices",
        http.get(api.url("/citizens/x-y/practices"))
            .bearer_auth(&operator)
    );
    check!(
        "get",
        "/citizens/{cf}/practices",
        http.get(api.url(&format!("/citizens/{cf}/practices")))
    );
    let (_, practice) = check!(
        "get",
        "/practices/{id}",
        http.get(api.url(&format!("/practices/{id}")))
            .bearer_auth(&citizen)
    );
    let practice = practice.unwrap();
    assert_eq!(practice["registrations"][0]["direction"], "incoming");
    let annulment = format!(
        "/registrations/{}/{}/annulment",
        practice["registrations"][0]["year"],
        practice["registrations"][0]["number"].as_str().unwrap()
    );
    assert_eq!(practice["documents"].as_array().unwrap().len(), 3);
    assert!(
        practice["documents"][0]["impronta"]
            .as_str()
            .unwrap()
            .ends_with('=')
    );
    let timeline: Vec<&str> = practice["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to"].as_str().unwrap())
        .collect();
    assert_eq!(timeline, ["received", "validated", "registered", "stored"]);
    // Every document has its archive key; the archive holds the istanza and the segnatura too.
    for document in practice["documents"].as_array().unwrap() {
        let key = document["archive_key"].as_str().expect("archived");
        let archived = practice["archive"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .expect("the key is in the archive list");
        assert_eq!(archived["sha256"], document["sha256"]);
        assert_eq!(archived["impronta"], document["impronta"]);
    }
    let kinds: BTreeSet<&str> = practice["archive"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["document", "primary", "receipt", "segnatura"])
    );
    assert!(
        practice["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["status"] == "sent" && n["attempts"].as_i64() >= Some(1))
    );
    check!(
        "get",
        "/practices/{id}",
        http.get(api.url(&format!("/practices/{id}")))
            .bearer_auth(&stranger)
    );
    check!(
        "get",
        "/practices/{id}",
        http.get(api.url("/practices/nope")).bearer_auth(&operator)
    );
    // Its receipt, the archived PDF; someone else's practice has none to show.
    let (status, _) = check!(
        "get",
        "/practices/{id}/receipt",
        http.get(api.url(&format!("/practices/{id}/receipt")))
            .bearer_auth(&citizen)
    );
    assert_eq!(status, 200);
    let (status, _) = check!(
        "get",
        "/practices/{id}/receipt",
        http.get(api.url(&format!("/practices/{id}/receipt")))
            .bearer_auth(&stranger)
    );
    assert_eq!(status, 404);
    let (status, times) = check!(
        "get",
        "/stats/procedure-times",
        http.get(api.url("/stats/procedure-times"))
    );
    assert_eq!(status, 200);
    assert_eq!(
        times.unwrap()["types"],
        serde_json::json!([]),
        "nothing concluded yet"
    );

    // The live stream: its events' data are Transitions.
    covered.insert(("get".into(), "/practices/{id}/events".into()));
    let stream = http
        .get(api.url(&format!("/practices/{id}/events")))
        .bearer_auth(&citizen)
        .send()
        .await
        .unwrap();
    let content_type = stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let events = read_events(stream, |events| events.len() >= 4).await;
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    // The media type's schema describes one event; its `data` carries a Transition as JSON.
    let event_schema = &spec.operation("get", "/practices/{id}/events")["responses"]["200"]["content"]
        ["text/event-stream"]["schema"];
    assert_eq!(
        spec.schema("TransitionEvent")["properties"]["data"]["contentSchema"]["$ref"],
        "#/components/schemas/Transition"
    );
    for event in &events {
        let as_object =
            serde_json::json!({ "event": event.event, "id": event.id, "data": event.data });
        let errors = spec.validate(event_schema, &as_object);
        assert!(errors.is_empty(), "{errors:?}");
        let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        let errors = spec.validate(spec.schema("Transition"), &data);
        assert!(errors.is_empty(), "{errors:?}");
    }
    check!(
        "get",
        "/practices/{id}/events",
        http.get(api.url(&format!("/practices/{id}/events")))
            .bearer_auth(&stranger)
    );
    check!(
        "get",
        "/practices/{id}/events",
        http.get(api.url(&format!("/practices/{id}/events")))
    );

    // The error queues, with one failed message in them.
    let connection = broker::connect(&env.settings.broker, "test").await.unwrap();
    let publisher = Publisher::open(&connection).await.unwrap();
    let mut garbage = Outgoing::json(&env.exchange("intake"), "submission", &(), None);
    garbage.body = b"{\"not\": \"a submission\"}".to_vec();
    publisher.publish(&garbage).await.unwrap();
    publisher.publish(&garbage).await.unwrap();
    let _ = connection.close(200, "done".into()).await;
    let listing = eventually("two messages in the error queue", || async {
        let reply = api.get("/dlq", Some(&operator)).await;
        let listing = spec
            .check_response(
                "get",
                "/dlq",
                reply.status,
                reply.content_type(),
                &reply.body,
            )
            .unwrap();
        (listing["messages"].as_array().unwrap().len() == 2).then_some(listing)
    })
    .await;
    covered.insert(("get".into(), "/dlq".into()));
    let first = listing["messages"][0]["id"].as_i64().unwrap();
    let second = listing["messages"][1]["id"].as_i64().unwrap();
    check!(
        "get",
        "/dlq",
        http.get(api.url("/dlq?all=true&stage=intake"))
            .bearer_auth(&operator)
    );
    check!(
        "get",
        "/dlq",
        http.get(api.url("/dlq")).bearer_auth(&citizen)
    );
    let (_, detail) = check!(
        "get",
        "/dlq/{id}",
        http.get(api.url(&format!("/dlq/{first}")))
            .bearer_auth(&operator)
    );
    assert_eq!(detail.unwrap()["body"]["json"]["not"], "a submission");
    check!(
        "get",
        "/dlq/{id}",
        http.get(api.url("/dlq/999999")).bearer_auth(&operator)
    );
    let (status, _) = check!(
        "post",
        "/dlq/{id}/discard",
        http.post(api.url(&format!("/dlq/{first}/discard")))
            .bearer_auth(&operator)
            .json(&serde_json::json!({"reason": "prova"}))
    );
    assert_eq!(status, 200);
    check!(
        "post",
        "/dlq/{id}/discard",
        http.post(api.url(&format!("/dlq/{first}/discard")))
            .bearer_auth(&operator)
            .json(&serde_json::json!({"reason": "ancora"}))
    );
    check!(
        "post",
        "/dlq/{id}/discard",
        http.post(api.url(&format!("/dlq/{first}/discard")))
            .bearer_auth(&operator)
            .json(&serde_json::json!({}))
    );
    let (status, _) = check!(
        "post",
        "/dlq/{id}/replay",
        http.post(api.url(&format!("/dlq/{second}/replay")))
            .bearer_auth(&operator)
    );
    assert_eq!(status, 200);
    check!(
        "post",
        "/dlq/{id}/replay",
        http.post(api.url(&format!("/dlq/{second}/replay")))
            .bearer_auth(&operator)
    );
    check!(
        "post",
        "/dlq/{id}/replay",
        http.post(api.url("/dlq/424242/replay"))
            .bearer_auth(&operator)
    );
    // The replayed garbage fails again and comes back as a new parked message.
    let (_, replayed) = check!(
        "post",
        "/dlq/replay",
        http.post(api.url("/dlq/replay")).bearer_auth(&operator)
    );
    let _ = replayed;
    check!(
        "post",
        "/dlq/replay",
        http.post(api.url("/dlq/replay"))
            .bearer_auth(&operator)
            .json(&serde_json::json!({"stage": "validation"}))
    );
    check!(
        "post",
        "/dlq/replay",
        http.post(api.url("/dlq/replay")).bearer_auth(&citizen)
    );

    // The protocol officer annuls the registration; a counter operator may not.
    let measure = serde_json::json!({
        "reason": "Registrazione duplicata per errore materiale",
        "measure": "Provvedimento n. 12/2026"
    });
    let counter_only = api.operator_as("OP-BG-014", &[OperatorRole::Counter]);
    let (status, _) = check!(
        "post",
        "/registrations/{year}/{number}/annulment",
        http.post(api.url(&annulment))
            .bearer_auth(&counter_only)
            .json(&measure)
    );
    assert_eq!(status, 403);
    let (status, annulled) = check!(
        "post",
        "/registrations/{year}/{number}/annulment",
        http.post(api.url(&annulment))
            .bearer_auth(&operator)
            .json(&measure)
    );
    assert_eq!(status, 200);
    assert_eq!(
        annulled.unwrap()["annulment"]["operator"],
        "operator:OP-BG-014"
    );
    for (path, body) in [
        (annulment.as_str(), measure.clone()),
        ("/registrations/1999/1/annulment", measure.clone()),
        (annulment.as_str(), serde_json::json!({"reason": "x"})),
    ] {
        let (status, _) = check!(
            "post",
            "/registrations/{year}/{number}/annulment",
            http.post(api.url(path)).bearer_auth(&operator).json(&body)
        );
        assert!([404, 409, 422].contains(&status), "{path}: {status}");
    }

    // The counter's late list: what the term has passed or is close to, and a wrong filter.
    for due in ["overdue", "soon"] {
        let (status, listed) = check!(
            "get",
            "/practices",
            http.get(api.url(&format!("/practices?due={due}")))
                .bearer_auth(&counter_only)
        );
        assert_eq!(status, 200);
        assert_eq!(listed.unwrap()["due"], due);
    }
    let (status, _) = check!(
        "get",
        "/practices",
        http.get(api.url("/practices?due=tomorrow"))
            .bearer_auth(&counter_only)
    );
    assert_eq!(status, 400);

    // Operations.
    check!("get", "/health", http.get(api.url("/health")));
    let (status, anonymous) = check!("get", "/ready", http.get(api.url("/ready")));
    assert_eq!(status, 200, "the local stack is up");
    assert!(anonymous.unwrap().get("checks").is_none());
    let (_, detailed) = check!(
        "get",
        "/ready",
        http.get(api.url("/ready")).bearer_auth(&operator)
    );
    assert_eq!(detailed.unwrap()["checks"]["database"]["ok"], true);
    check!("get", "/metrics", http.get(api.url("/metrics")));
    // The published catalog: a body with its ETag, then 304 for a client that holds it.
    let reply = api.get("/catalog", None).await;
    let etag = reply.headers["etag"].to_str().unwrap().to_owned();
    check!("get", "/catalog", http.get(api.url("/catalog")));
    let (status, _) = check!(
        "get",
        "/catalog",
        http.get(api.url("/catalog")).header("if-none-match", &etag)
    );
    assert_eq!(status, 304);
    let (status, one) = check!(
        "get",
        "/catalog/{type}",
        http.get(api.url("/catalog/anagrafe.cambio_residenza"))
    );
    assert_eq!(status, 200);
    assert_eq!(one.unwrap()["code"], "anagrafe.cambio_residenza");
    let (status, _) = check!(
        "get",
        "/catalog/{type}",
        http.get(api.url("/catalog/anagrafe.nessuno"))
    );
    assert_eq!(status, 404);
    let (_, served) = check!("get", "/openapi.json", http.get(api.url("/openapi.json")));
    assert_eq!(served.unwrap(), spec.doc);

    let every: BTreeSet<(String, String)> = spec.operations().into_iter().collect();
    assert_eq!(covered, every, "every documented endpoint was called");

    api.stop().await;
    fleet.stop().await;
    env.teardown().await;
}
