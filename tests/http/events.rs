//! `GET /practices/{id}/events`: a page follows a practice live, and resumes where it left.

use crate::support::{TestApi, eventually, read_events, sample};
use sportello_e2e::TestEnv;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_follows_a_practice_live_and_resumes_after_the_last_event() {
    let env = TestEnv::new().await;
    let api = TestApi::start(&env).await;
    let submission = sample("cultura.uso_sale-01.json");
    let cf = submission["applicant"]["tax_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = api.citizen(&cf);
    // Intake alone first, so that the stream opens on a practice still waiting for validation.
    let intake = env.start_fleet(&["intake"]);
    let accepted = api
        .post_json("/submissions", Some(&token), &submission)
        .await;
    let id: Uuid = accepted.json()["practice_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    eventually("intake takes the practice in", || async {
        env.practice(id).await
    })
    .await;

    // A browser's EventSource sends the token in the query string.
    let stream = api
        .http
        .get(api.url(&format!("/practices/{id}/events?access_token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let validation = env.start_fleet(&["validation"]);
    let events = read_events(stream, |events| {
        events.iter().any(|e| {
            e.data.contains("\"to\":\"validated\"") || e.data.contains("\"to\":\"rejected\"")
        })
    })
    .await;
    let states: Vec<String> = events
        .iter()
        .map(|e| {
            assert_eq!(e.event, "transition");
            let data: serde_json::Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(e.id.as_deref(), Some(data["seq"].to_string().as_str()));
            data["to"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(states, ["received", "validated"]);

    // Reconnecting with the last id seen sends only what came after it.
    let first = events[0].id.clone().unwrap();
    let resumed = api
        .http
        .get(api.url(&format!("/practices/{id}/events")))
        .bearer_auth(&token)
        .header("Last-Event-ID", first)
        .send()
        .await
        .unwrap();
    let rest = read_events(resumed, |events| !events.is_empty()).await;
    assert_eq!(rest[0].id, events[1].id);

    api.stop().await;
    validation.stop().await;
    intake.stop().await;
    env.teardown().await;
}
