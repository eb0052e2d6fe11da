//! The returns worker on the real stack, the test playing the back office (issue #10 item 2,
//! #11 item 6). Every kind of return moves its practice once, however often it is delivered; a
//! completion's certificate is registered as outgoing and archived. A "certificate" that is a
//! Windows executable, a web page, or a PDF header in front of a web page — declared
//! `application/pdf`, with the right SHA-256 — is the back office's error: it waits in the
//! returns error queue with an English reason, can be replayed (and is refused again), and
//! nothing changed: no transition, no registration, no archived object.

use base64::Engine;
use sportello_backoffice::{BackOfficeReturn, ResultDocument, ReturnOutcome};
use sportello_backoffice_sim::pdf_with_line;
use sportello_e2e::{ROUND_TRIP, TestEnv, samples_dir};
use sportello_shared::broker::{self, Outgoing, Publisher};
use sportello_shared::domain::state::PracticeState;
use sportello_shared::objects::sha256_hex;
use uuid::Uuid;

const SAMPLE: &str = "submissions/anagrafe.cambio_residenza-01.json";

/// `n` copies of the sample, each its own practice.
fn submissions(n: usize) -> Vec<std::path::PathBuf> {
    let sample: serde_json::Value =
        serde_json::from_slice(&std::fs::read(samples_dir().join(SAMPLE)).unwrap()).unwrap();
    (0..n)
        .map(|i| {
            let mut submission = sample.clone();
            submission["idempotency_key"] = format!("returns-{i}-{}", Uuid::new_v4()).into();
            let file = std::env::temp_dir().join(format!("returns-{}.json", Uuid::new_v4()));
            std::fs::write(&file, serde_json::to_vec(&submission).unwrap()).unwrap();
            file
        })
        .collect()
}

fn result_document(file_name: &str, bytes: &[u8]) -> ResultDocument {
    ResultDocument {
        file_name: file_name.into(),
        media_type: "application/pdf".into(),
        content_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        sha256: sha256_hex(bytes),
    }
}

fn completion(documents: Vec<ResultDocument>) -> ReturnOutcome {
    ReturnOutcome::Completed {
        outcome: "La dichiarazione di residenza è stata registrata.".into(),
        documents,
    }
}

/// The test as the back office: its returns are published with its own login.
struct BackOffice<'e> {
    env: &'e TestEnv,
    exchange: String,
    office: String,
}

impl BackOffice<'_> {
    async fn send(&self, practice_id: Uuid, return_id: &str, outcome: ReturnOutcome) {
        let body = BackOfficeReturn {
            schema_version: 1,
            return_id: return_id.into(),
            practice_id,
            back_office: self.office.clone(),
            outcome,
        };
        let message = Outgoing::json(&self.exchange, "outcome", &body, Some(practice_id));
        self.env
            .publish_as_office(&self.office, &message)
            .await
            .unwrap();
    }
}

/// What a return may change: the history, the registrations, the archive index.
async fn footprint(env: &TestEnv, id: Uuid) -> (Vec<String>, i64, i64) {
    let states = env
        .app
        .store
        .history(id)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.to)
        .collect();
    let pool = env.app.store.pool();
    let registrations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM registrations WHERE practice_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
    let archived: i64 =
        sqlx::query_scalar("SELECT count(*) FROM practice_archive_objects WHERE practice_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
    (states, registrations, archived)
}

/// Waits until the practice's history has `len` entries (a return applied), or panics.
async fn wait_for_history(env: &TestEnv, id: Uuid, len: usize) {
    let deadline = tokio::time::Instant::now() + sportello_e2e::PATIENCE;
    while env.app.store.history(id).await.unwrap().len() < len {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} never reached {len} transitions"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_apply_once_and_a_bad_certificate_changes_nothing() {
    let env = TestEnv::new().await;
    // No simulator: this test is the back office.
    let fleet = env.start_fleet(ROUND_TRIP);
    let files = submissions(3);
    let ids = env.submit_files(&files).await;
    env.wait_until_all_in(&ids, &[PracticeState::Dispatched])
        .await;
    let (completed, asked, denied) = (ids[0], ids[1], ids[2]);
    let practice_type = env.practice(completed).await.unwrap().practice_type;
    let office = BackOffice {
        env: &env,
        exchange: env.exchange("returns"),
        office: env
            .app
            .catalog
            .get(&practice_type)
            .unwrap()
            .back_office
            .clone(),
    };

    // The attacks: each declared application/pdf with its true SHA-256.
    let before = footprint(&env, completed).await;
    let mut executable = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
    executable.extend_from_slice(&[0u8; 44]);
    executable.extend_from_slice(b"This program cannot be run in DOS mode.\r\r\n$\0\0\0PE\0\0");
    let web_page = b"<!DOCTYPE html><html><body><script>location='https://evil.example/'</script>";
    let mut disguised = b"%PDF-1.4\n".to_vec();
    disguised.extend_from_slice(web_page);
    for (return_id, bytes) in [
        ("exe", executable.as_slice()),
        ("html", web_page.as_slice()),
        ("disguised", disguised.as_slice()),
    ] {
        let certificate = result_document("certificato.pdf", bytes);
        office
            .send(completed, return_id, completion(vec![certificate]))
            .await;
    }
    let failed = env
        .wait_for_messages(&env.error_queue_of("returns"), 3)
        .await;
    let mut reasons: Vec<String> = failed.iter().map(|m| m.reason.clone().unwrap()).collect();
    reasons.sort();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    let none_of = "result document 1 (\"certificato.pdf\"): declared application/pdf, but the \
                   content is none of the formats results may have";
    assert_eq!(
        reasons.iter().filter(|r| r.contains(none_of)).count(),
        2,
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("not a well-formed PDF")),
        "{reasons:?}"
    );
    assert_eq!(footprint(&env, completed).await, before, "nothing changed");
    assert_eq!(
        env.practice(completed).await.unwrap().state,
        PracticeState::Dispatched
    );

    // Replayable: sent again, parked by an operator's listing, replayed, refused again for the
    // same reason, and
    // still nothing changed.
    office
        .send(
            completed,
            "exe",
            completion(vec![result_document("certificato.pdf", &executable)]),
        )
        .await;
    let operator = broker::connect(&env.settings.broker, "test-operator")
        .await
        .unwrap();
    let channel = operator.create_channel().await.unwrap();
    // An operator replays as sportello's own operations login, signed: the replay carries the
    // office the broker vouched for, so the return is judged on its content again.
    let publisher = Publisher::open_signed(
        &operator,
        &broker::login_user(&env.settings.broker).unwrap(),
    )
    .await
    .unwrap();
    let pool = env.app.store.pool();
    let deadline = tokio::time::Instant::now() + sportello_e2e::PATIENCE;
    let parked = loop {
        sportello_api::dlq::sweep(pool, &env.app.topology, &channel)
            .await
            .unwrap();
        let parked = sportello_api::dlq::list(pool, false, Some("returns"))
            .await
            .unwrap();
        if !parked.is_empty() {
            break parked;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bad return was never parked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(parked[0].reason.contains(none_of), "{}", parked[0].reason);
    let replayed = sportello_api::dlq::replay(pool, &publisher, parked[0].id, "OP-TEST")
        .await
        .unwrap();
    assert_eq!(replayed.status, "replayed");
    let again = env
        .wait_for_messages(&env.error_queue_of("returns"), 1)
        .await;
    let reason = again[0].reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains(none_of),
        "refused again for what it is, not for who replayed it: {reason}"
    );
    assert_eq!(
        footprint(&env, completed).await,
        before,
        "the replay changed nothing"
    );

    // Every kind of return, each delivered twice: applied once.
    let certificate = pdf_with_line("Certificato di residenza");
    let deadline = chrono::NaiveDate::from_ymd_opt(2030, 1, 31).unwrap();
    for _ in 0..2 {
        office
            .send(completed, "started", ReturnOutcome::InProgress)
            .await;
    }
    wait_for_history(&env, completed, before.0.len() + 1).await;
    for _ in 0..2 {
        office
            .send(
                completed,
                "done",
                completion(vec![result_document("esito.pdf", &certificate)]),
            )
            .await;
        office
            .send(
                asked,
                "asked",
                ReturnOutcome::IntegrationRequested {
                    missing: vec!["Contratto di locazione firmato".into()],
                    deadline,
                    message: "Manca la firma sul contratto.".into(),
                },
            )
            .await;
        office
            .send(
                denied,
                "denied",
                ReturnOutcome::Denied {
                    reasons: vec!["L'immobile non risulta abitabile.".into()],
                },
            )
            .await;
    }
    env.wait_until_all_in(&[completed], &[PracticeState::Completed])
        .await;
    env.wait_until_all_in(&[asked], &[PracticeState::IntegrationRequested])
        .await;
    env.wait_until_all_in(&[denied], &[PracticeState::Denied])
        .await;
    // A return for a practice that already has its outcome is refused, and shows why.
    office
        .send(
            completed,
            "late",
            ReturnOutcome::Denied {
                reasons: vec!["ripensamento".into()],
            },
        )
        .await;
    let late = env
        .wait_for_messages(&env.error_queue_of("returns"), 1)
        .await;
    assert!(
        late[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("the practice is `completed`: a `denied` return is not allowed"),
        "{late:?}"
    );

    let (states, registrations, archived) = footprint(&env, completed).await;
    let mut expected = before.0.clone();
    expected.extend(["in_progress".to_owned(), "completed".to_owned()]);
    assert_eq!(states, expected, "each return applied once");
    assert_eq!(registrations, 2, "incoming and one outgoing");
    assert_eq!(archived, before.2 + 2, "the certificate and its segnatura");
    let outgoing: i64 = sqlx::query_scalar(
        "SELECT id FROM registrations WHERE practice_id = $1 AND direction = 'outgoing'",
    )
    .bind(completed)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(env.assert_archived(outgoing).await, 2);
    let last = env
        .app
        .store
        .history(completed)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        last.details["documents"][0]["media_type"],
        "application/pdf"
    );
    assert_eq!(last.details["protocol"]["direction"], "outgoing");
    for (id, state) in [(asked, "integration_requested"), (denied, "denied")] {
        let (states, registrations, _) = footprint(&env, id).await;
        assert_eq!(
            states.iter().filter(|s| *s == state).count(),
            1,
            "{states:?}"
        );
        assert_eq!(
            registrations, 1,
            "no outgoing registration without a document"
        );
    }
    let asked_details = env
        .app
        .store
        .history(asked)
        .await
        .unwrap()
        .pop()
        .unwrap()
        .details;
    assert_eq!(asked_details["deadline"], "2030-01-31");
    assert!(env.drain(&env.error_queue_of("returns")).await.is_empty());

    for file in &files {
        let _ = std::fs::remove_file(file);
    }
    let _ = operator.close(200, "done".into()).await;
    fleet.stop().await;
    env.teardown().await;
}
