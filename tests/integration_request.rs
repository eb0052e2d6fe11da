//! The back office asks for more, and the citizen answers — or withdraws. On the real stack with
//! the simulator in samples/: a CILA is asked for an integration; the citizen's integration is
//! validated against the practice it names, registered with its own number referring to the
//! first registration, archived, and dispatched; the practice goes back to the office and is
//! completed. Integrations that name someone else's practice, an unknown one, or one not
//! waiting, are rejected; one whose practice is withdrawn between validation and dispatch stays
//! registered and archived and is reported in dispatch's error queue. Separately, a withdrawal
//! reaches the back office's own queue.

use sportello_backoffice::ToBackOffice;
use sportello_e2e::{ROUND_TRIP, TestEnv, inline_pdf, repository_root, sample_of_type};
use sportello_fleet::practice::{self, WithdrawnBy};
use sportello_register::register;
use sportello_shared::domain::state::PracticeState;
use uuid::Uuid;

/// The citizen's answer to the integration request on `practice`, from `application`.
fn integration(application: &serde_json::Value, key: &str, practice: Uuid) -> serde_json::Value {
    serde_json::json!({
        "schema_version": application["schema_version"],
        "idempotency_key": key,
        "channel": { "kind": "portal" },
        "practice_type": application["practice_type"],
        "applicant": application["applicant"],
        "subject": "Integrazione alla CILA: relazione asseverata e ricevuta dei diritti",
        "documents": [
            inline_pdf("relazione_tecnica", "relazione-asseverata.pdf", "Relazione tecnica asseverata"),
            inline_pdf("integrazione", "ricevuta-diritti.pdf", "Ricevuta diritti di segreteria"),
        ],
        "integrates": practice,
    })
}

fn reason_codes(practice: &sportello_shared::store::PracticeRecord) -> Vec<String> {
    practice
        .rejection_reasons
        .as_ref()
        .and_then(|r| r.as_array())
        .map(|reasons| {
            reasons
                .iter()
                .map(|r| r["code"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizens_integration_is_registered_on_its_own_and_sends_the_practice_back() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(ROUND_TRIP);
    let sim = env.start_simulator();

    let (application, practice) = env
        .submit_sample("edilizia.cila", &[PracticeState::IntegrationRequested])
        .await;

    // A stranger naming the practice, and the citizen's own answer.
    let mut stranger = integration(&application, "portal-int-stranger", practice);
    stranger["applicant"] = serde_json::json!({
        "tax_code": "RSSMRA80A01H501U",
        "given_name": "Mario",
        "family_name": "Rossi",
        "email": "mario.rossi@example.it",
    });
    // A mistyped practice id: a verdict for the citizen, not a database error.
    let nowhere = integration(&application, "portal-int-nowhere", Uuid::new_v4());
    // The sample answer (samples/integrations/) names the practice by the id its key gives.
    let answer: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            repository_root().join("samples/integrations/edilizia.cila-01-integrazione.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(answer["integrates"], practice.to_string());
    let ids: Vec<Uuid> = env
        .publish_submissions(&[stranger.clone(), nowhere.clone(), answer.clone()])
        .await
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let (stranger_id, nowhere_id, answer_id) = (ids[0], ids[1], ids[2]);
    env.wait_until_all_in(&[stranger_id, nowhere_id], &[PracticeState::Rejected])
        .await;
    for refused in [stranger_id, nowhere_id] {
        assert_eq!(
            reason_codes(&env.practice(refused).await.unwrap()),
            ["pratica_da_integrare_sconosciuta"]
        );
    }
    env.wait_until_all_in(&[practice], &[PracticeState::Completed])
        .await;
    env.wait_until_all_in(&[answer_id], &[PracticeState::Dispatched])
        .await;

    // The integration's own path, and the practice back at the office because of it.
    let states = |history: &[sportello_shared::store::HistoryEntry]| {
        history.iter().map(|h| h.to.clone()).collect::<Vec<_>>()
    };
    let answer_history = env.app.store.history(answer_id).await.unwrap();
    assert_eq!(
        states(&answer_history),
        [
            "received",
            "validated",
            "registered",
            "stored",
            "dispatched"
        ]
    );
    assert_eq!(
        answer_history[4].details["integrates"],
        practice.to_string()
    );
    let history = env.app.store.history(practice).await.unwrap();
    assert_eq!(
        states(&history),
        [
            "received",
            "validated",
            "registered",
            "stored",
            "dispatched",
            "in_progress",
            "integration_requested",
            "dispatched",
            "in_progress",
            "completed"
        ]
    );
    assert_eq!(history[7].details["integration"], answer_id.to_string());
    assert_eq!(history[7].actor, "worker:dispatch");
    assert!(history[9].actor.starts_with("backoffice:"));

    // Its own number, referring to the first registration, in the record and in the segnatura.
    let pool = env.app.store.pool();
    let first = register::of_practice(pool, practice).await.unwrap();
    let own = register::of_practice(pool, answer_id).await.unwrap();
    let first = first.iter().find(|r| r.direction == "incoming").unwrap();
    assert_eq!(own.len(), 1, "the integration is registered once");
    let own = &own[0];
    assert_eq!(own.direction, "incoming");
    assert_ne!(own.number, first.number);
    assert_eq!(own.refers_to, Some((first.year, first.number)));
    let prima = own
        .segnatura
        .split("PrimaRegistrazione")
        .nth(1)
        .expect("PrimaRegistrazione in the segnatura");
    assert!(
        prima.contains(&format!("NumeroRegistrazione>{:07}<", first.number.get())),
        "{prima}"
    );
    sportello_e2e::assert_signature_verifies(&own.segnatura);
    // istanza, the two documents and the segnatura, each as its impronta says.
    assert_eq!(env.assert_archived(own.id).await, 4);

    // The practice has its outcome: another answer is not awaited any more.
    let late = integration(&application, "portal-int-2", practice);
    let late_id = env.publish_submissions(std::slice::from_ref(&late)).await[0].unwrap();
    env.wait_until_all_in(&[late_id], &[PracticeState::Rejected])
        .await;
    assert_eq!(
        reason_codes(&env.practice(late_id).await.unwrap()),
        ["integrazione_non_attesa"]
    );
    assert!(
        register::of_practice(pool, late_id)
            .await
            .unwrap()
            .is_empty(),
        "a rejected integration takes no number"
    );

    sim.stop().await;
    fleet.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_back_office_hears_of_a_withdrawal() {
    let env = TestEnv::new().await;
    // No simulator: the test reads the back office's queue itself.
    let fleet = env.start_fleet(&["intake", "validation", "protocol", "storage", "dispatch"]);
    let file = sample_of_type("edilizia.cila");
    let id = env.submit_files(&[file]).await[0];
    env.wait_until_all_in(&[id], &[PracticeState::Dispatched])
        .await;
    let kind = env
        .app
        .catalog
        .get(&env.practice(id).await.unwrap().practice_type)
        .unwrap()
        .back_office
        .clone();
    let queue = env
        .app
        .topology
        .back_office_queue(&kind)
        .expect("the office has a queue")
        .to_owned();
    let dispatched = env.wait_for_messages(&queue, 1).await;
    assert!(matches!(
        ToBackOffice::parse(&dispatched[0].body),
        Ok(ToBackOffice::Practice(request)) if request.practice.id == id
    ));

    practice::withdraw(&env.app, id, &WithdrawnBy::Citizen)
        .await
        .unwrap();
    let told = env.wait_for_messages(&queue, 1).await;
    assert_eq!(told.len(), 1);
    match ToBackOffice::parse(&told[0].body) {
        Ok(ToBackOffice::Withdrawal(withdrawal)) => {
            assert_eq!(withdrawal.practice_id, id);
            assert_eq!(withdrawal.by, "citizen");
            assert_eq!(withdrawal.back_office, kind);
        }
        other => panic!("expected a withdrawal, got {other:?}"),
    }
    assert_eq!(
        env.practice(id).await.unwrap().state,
        PracticeState::Withdrawn
    );

    fleet.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integration_for_a_practice_withdrawn_meanwhile_is_kept_and_reported() {
    let env = TestEnv::new().await;
    let sim = env.start_simulator();
    let fleet = env.start_fleet(ROUND_TRIP);
    let (application, practice) = env
        .submit_sample("edilizia.cila", &[PracticeState::IntegrationRequested])
        .await;
    fleet.stop().await;

    // The integration is validated, registered and stored; before dispatch takes it, the
    // citizen withdraws the practice.
    let upstream = env.start_fleet(&["intake", "validation", "protocol", "storage"]);
    let answer = integration(&application, "portal-int-late", practice);
    let answer_id = env.publish_submissions(std::slice::from_ref(&answer)).await[0].unwrap();
    env.wait_until_all_in(&[answer_id], &[PracticeState::Stored])
        .await;
    practice::withdraw(&env.app, practice, &WithdrawnBy::Citizen)
        .await
        .unwrap();
    let dispatch = env.start_fleet(&["dispatch"]);
    let failed = env
        .wait_for_messages(&env.error_queue_of("dispatch"), 1)
        .await;
    let reason = failed[0].reason.clone().unwrap();
    assert!(
        reason.contains("no longer waits for an integration") && reason.contains("withdrawn"),
        "{reason}"
    );
    assert_eq!(failed[0].attempt, Some(0), "no retry can mend it");
    // Registered and archived stays registered and archived; nothing went to the office.
    assert_eq!(
        env.practice(answer_id).await.unwrap().state,
        PracticeState::Stored
    );
    assert_eq!(
        env.practice(practice).await.unwrap().state,
        PracticeState::Withdrawn
    );
    let pool = env.app.store.pool();
    let own = register::of_practice(pool, answer_id).await.unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(env.assert_archived(own[0].id).await, 4);

    dispatch.stop().await;
    upstream.stop().await;
    sim.stop().await;
    env.teardown().await;
}
