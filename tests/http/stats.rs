//! `GET /stats/procedure-times`: after real procedures, public figures per type — the
//! concluded ones counted, the withdrawn and the rejected not, nothing personal in the answer.

use crate::support::TestApi;
use sportello_e2e::{ROUND_TRIP, TestEnv, samples_dir};
use sportello_fleet::practice::{self, WithdrawnBy};
use sportello_shared::domain::state::PracticeState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn procedure_times_count_the_outcomes_per_type() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(ROUND_TRIP);
    let simulator = env.start_simulator();
    let api = TestApi::start(&env).await;
    let dir = samples_dir().join("submissions");
    let concluded = env
        .submit_files(&[
            dir.join("stato_civile.estratto_nascita-01.json"),
            dir.join("stato_civile.estratto_nascita-02.json"),
            dir.join("cultura.uso_sale-01.json"),
        ])
        .await;
    let others = env
        .submit_files(&[
            dir.join("edilizia.cila-01.json"),
            dir.join("invalid-codice-fiscale.json"),
        ])
        .await;
    env.wait_until_all_in(
        &concluded,
        &[PracticeState::Completed, PracticeState::Denied],
    )
    .await;
    env.wait_until_all_in(
        &others,
        &[PracticeState::IntegrationRequested, PracticeState::Rejected],
    )
    .await;
    // The CILA is withdrawn while the office waits: its clock stops, with no outcome.
    practice::withdraw(&env.app, others[0], &WithdrawnBy::Citizen)
        .await
        .unwrap();

    let reply = api.get("/stats/procedure-times", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("public, max-age=60")
    );
    let body = reply.json();
    let types: Vec<&str> = body["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["practice_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["cultura.uso_sale", "stato_civile.estratto_nascita"],
        "{body}"
    );
    let births = &body["types"][1];
    assert_eq!(births["concluded"], 2, "{body}");
    // Concluded the day they were registered, within the term.
    assert_eq!(births["mean_days"], 0.0, "{body}");
    assert_eq!(births["p90_days"], 0, "{body}");
    assert_eq!(births["within_term_share"], 1.0, "{body}");
    assert_eq!(body["types"][0]["concluded"], 1, "{body}");
    let text = reply.text();
    for id in concluded.iter().chain(&others) {
        assert!(!text.contains(&id.to_string()), "a practice id in {text}");
    }
    assert!(!text.contains("@"), "an address in {text}");

    api.stop().await;
    simulator.stop().await;
    fleet.stop().await;
    env.teardown().await;
}
