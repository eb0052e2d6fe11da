//! The whole loop on the real stack: intake → validation → register → storage → dispatch →
//! back office (the simulator in samples/) → returns. Every valid sample ends in the state the
//! simulator's behaviour implies; the bucket holds every document, istanza, result document and
//! segnatura, each object's SHA-256 equal to its impronta; no staged copy is left behind;
//! result documents are registered as outgoing, referring to the incoming registration; bad
//! returns end in the error queue with their reason.

use base64::Engine;
use sportello_backoffice::{BackOfficeReturn, ResultDocument, ReturnOutcome};
use sportello_e2e::{ROUND_TRIP, TestEnv, valid_samples};
use sportello_fleet::submit;
use sportello_shared::broker::Outgoing;
use sportello_shared::domain::state::PracticeState;
use std::collections::BTreeMap;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_valid_sample_completes_the_back_office_round_trip() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(ROUND_TRIP);
    let sim = env.start_simulator();

    let files = valid_samples();
    let submitted = submit::submit(
        &env.settings.broker.as_party("portal"),
        &env.exchange("intake"),
        env.settings.object_store.staging_root(),
        &files,
        false,
        |_| {},
    )
    .await
    .expect("samples publish");
    let mut expected: BTreeMap<Uuid, PracticeState> = BTreeMap::new();
    for done in &submitted {
        let sample: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&done.file).unwrap()).unwrap();
        let state = env.office_outcome(sample["practice_type"].as_str().unwrap());
        expected.insert(done.practice_id.unwrap(), state);
    }
    let finals: std::collections::HashSet<PracticeState> = expected.values().copied().collect();
    assert!(
        finals.len() == 4,
        "the behaviour covers every outcome and a silence"
    );
    let ids: Vec<Uuid> = expected.keys().copied().collect();
    // The silent ones last: a deferred practice passes through `in_progress` on its way.
    let (silent, decided): (Vec<Uuid>, Vec<Uuid>) = ids
        .iter()
        .partition(|id| expected[id] == PracticeState::InProgress);
    let outcomes: Vec<PracticeState> = finals
        .iter()
        .copied()
        .filter(|s| *s != PracticeState::InProgress)
        .collect();
    env.wait_until_all_in(&decided, &outcomes).await;
    env.wait_until_all_in(&silent, &[PracticeState::InProgress])
        .await;

    let pool = env.app.store.pool();
    for (id, want) in &expected {
        let practice = env.practice(*id).await.unwrap();
        assert_eq!(practice.state, *want, "{id} ({})", practice.practice_type);
        let history = env.app.store.history(*id).await.unwrap();
        let states: Vec<&str> = history.iter().map(|h| h.to.as_str()).collect();
        assert_eq!(
            &states[..5],
            [
                "received",
                "validated",
                "registered",
                "stored",
                "dispatched"
            ],
            "{id}"
        );
        let last = history.last().unwrap();
        let kind = env.app.catalog.get(&practice.practice_type).unwrap();
        assert_eq!(last.actor, format!("backoffice:{}", kind.back_office));
        match want {
            PracticeState::Completed => {
                assert_eq!(last.details["pickup"], kind.physical_pickup, "{id}");
                let documents = last.details["documents"].as_array().unwrap();
                assert_eq!(documents.len(), 1, "{id}: one certificate");
                let key = documents[0]["object_key"].as_str().unwrap();
                assert!(env.app.objects.exists(key).await.unwrap());
                assert!(!last.details["outcome"].as_str().unwrap().is_empty());
            }
            PracticeState::Denied => {
                assert!(!last.details["reasons"].as_array().unwrap().is_empty())
            }
            PracticeState::IntegrationRequested => {
                assert!(!last.details["missing"].as_array().unwrap().is_empty());
                assert!(last.details["deadline"].as_str().unwrap().len() == 10);
            }
            PracticeState::InProgress => assert_eq!(last.details, serde_json::json!({}), "{id}"),
            _ => unreachable!(),
        }
    }

    // Every registration's documents and segnatura are in the archive, read back equal to the
    // impronta; and nothing else is indexed.
    let registrations: Vec<(i64, Uuid, String, String)> = sqlx::query_as(
        "SELECT id, practice_id, direction, segnatura FROM registrations ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let outgoing = registrations.iter().filter(|r| r.2 == "outgoing").count();
    let completed = expected
        .values()
        .filter(|s| **s == PracticeState::Completed)
        .count();
    assert_eq!(
        outgoing, completed,
        "one outgoing registration per completion"
    );
    assert_eq!(registrations.len(), ids.len() + completed);
    let mut archived_total = 0;
    for (registration_id, practice_id, direction, segnatura) in &registrations {
        archived_total += env.assert_archived(*registration_id).await;
        if direction == "outgoing" {
            assert!(segnatura.contains("PrimaRegistrazione"), "{practice_id}");
            sportello_e2e::assert_signature_verifies(segnatura);
        }
    }
    let indexed: i64 = sqlx::query_scalar("SELECT count(*) FROM practice_archive_objects")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(indexed as usize, archived_total);

    // The staged copies did their job and are gone.
    let staging = env
        .app
        .objects
        .list_keys(&format!("{}/", env.settings.object_store.staging_prefix))
        .await
        .unwrap();
    assert!(staging.is_empty(), "staging leftovers: {staging:?}");
    let large: i64 =
        sqlx::query_scalar("SELECT count(*) FROM practice_documents WHERE staged_key IS NOT NULL")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(large > 0, "a sample went through the staging area");

    // A re-sent return changes nothing; bad returns go to the error queue with the reason.
    let completed_id = *expected
        .iter()
        .find(|(_, s)| **s == PracticeState::Completed)
        .unwrap()
        .0;
    let practice = env.practice(completed_id).await.unwrap();
    let office = env
        .app
        .catalog
        .get(&practice.practice_type)
        .unwrap()
        .back_office
        .clone();
    let history_before = env.app.store.history(completed_id).await.unwrap().len();
    let returns = env.exchange("returns");
    let send =
        |body: &BackOfficeReturn| Outgoing::json(&returns, "outcome", body, Some(body.practice_id));
    let dispatch_id = format!("{completed_id}:1");
    let again = BackOfficeReturn {
        schema_version: 1,
        return_id: format!("{dispatch_id}:outcome"),
        practice_id: completed_id,
        back_office: office.clone(),
        outcome: ReturnOutcome::Denied {
            reasons: vec!["ignored: this return id was applied".into()],
        },
    };
    let bytes = b"not the declared bytes".to_vec();
    let tampered = BackOfficeReturn {
        return_id: "tampered".into(),
        practice_id: ids[0],
        back_office: env
            .app
            .catalog
            .get(&env.practice(ids[0]).await.unwrap().practice_type)
            .unwrap()
            .back_office
            .clone(),
        outcome: ReturnOutcome::Completed {
            outcome: "x".into(),
            documents: vec![ResultDocument {
                file_name: "x.pdf".into(),
                media_type: "application/pdf".into(),
                content_base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
                sha256: "00".repeat(32),
            }],
        },
        ..again.clone()
    };
    let unknown = BackOfficeReturn {
        return_id: "unknown".into(),
        practice_id: Uuid::new_v4(),
        ..again.clone()
    };
    let late = BackOfficeReturn {
        return_id: "late".into(),
        ..again.clone()
    };
    // Each from its office's own login, as the returns worker takes the office from it.
    for body in [&again, &tampered, &unknown, &late] {
        env.publish_as_office(&body.back_office, &send(body))
            .await
            .unwrap();
    }
    let mut version2 = serde_json::to_value(&late).unwrap();
    version2["schema_version"] = 2.into();
    version2["return_id"] = "v2".into();
    env.publish_as_office(
        &late.back_office,
        &Outgoing::json(&returns, "outcome", &version2, None),
    )
    .await
    .unwrap();
    let failed = env
        .wait_for_messages(&env.error_queue_of("returns"), 4)
        .await;
    let reasons: Vec<String> = failed.iter().map(|m| m.reason.clone().unwrap()).collect();
    assert_eq!(failed.len(), 4, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("sha256")), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("unknown practice")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("`completed`: a `denied` return is not allowed")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("schema_version 2")),
        "{reasons:?}"
    );
    assert_eq!(
        env.app.store.history(completed_id).await.unwrap().len(),
        history_before,
        "the re-sent return added nothing"
    );

    // At the counter: a physical product is handed over; a practice without one, or with an
    // outcome, cannot be delivered or withdrawn; a practice waiting for an integration can be
    // withdrawn, and withdrawing twice is one withdrawal.
    use sportello_fleet::practice::{self, Done, WithdrawnBy};
    let mut pickup = None;
    let mut no_pickup = None;
    for (id, state) in &expected {
        if *state != PracticeState::Completed {
            continue;
        }
        let kind = env.practice(*id).await.unwrap().practice_type;
        if env.app.catalog.get(&kind).unwrap().physical_pickup {
            pickup = Some(*id);
        } else {
            no_pickup = Some(*id);
        }
    }
    let (pickup, no_pickup) = (pickup.expect("a pickup sample"), no_pickup.unwrap());
    assert_eq!(
        practice::deliver(&env.app, pickup, "OP-BG-014")
            .await
            .unwrap(),
        Done::Moved(PracticeState::Delivered)
    );
    assert_eq!(
        practice::deliver(&env.app, pickup, "OP-BG-014")
            .await
            .unwrap(),
        Done::AlreadyDone(PracticeState::Delivered)
    );
    let last = env.app.store.history(pickup).await.unwrap().pop().unwrap();
    assert_eq!(last.actor, "operator:OP-BG-014");
    assert!(
        practice::deliver(&env.app, no_pickup, "OP-BG-014")
            .await
            .is_err()
    );
    assert!(
        practice::withdraw(&env.app, no_pickup, &WithdrawnBy::Citizen)
            .await
            .is_err()
    );
    let waiting = *expected
        .iter()
        .find(|(_, s)| **s == PracticeState::IntegrationRequested)
        .unwrap()
        .0;
    for _ in 0..2 {
        practice::withdraw(&env.app, waiting, &WithdrawnBy::Citizen)
            .await
            .unwrap();
    }
    assert_eq!(
        env.practice(waiting).await.unwrap().state,
        PracticeState::Withdrawn
    );
    let withdrawals = env
        .app
        .store
        .history(waiting)
        .await
        .unwrap()
        .iter()
        .filter(|h| h.to == "withdrawn")
        .count();
    assert_eq!(withdrawals, 1);

    sim.stop().await;
    fleet.stop().await;
    env.teardown().await;
}
