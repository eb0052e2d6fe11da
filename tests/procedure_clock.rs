//! The procedure's clock (L. 241/1990) on the real stack, with an injected clock: a CILA's term
//! starts at its protocol date, an integration request suspends it until the citizen's
//! integration is registered, a second request does not suspend again; the timer jobs fire
//! `due_soon` and `overdue` once each, two jobs at once, and the back office gets one reminder
//! of each. A timer job SIGKILLed and restarted fires every event once. A preavviso di rigetto
//! suspends the term until the citizen's observations are registered, without using up the
//! integration's one suspension, and the office may decide from it directly. A silenzio-assenso
//! type whose term runs out while the office holds it ends `silent_consent`, with the
//! attestation registered as outgoing, archived, readable, and emailed; a word from the broker
//! before the term changes nothing.

#[allow(dead_code)]
#[path = "http/support.rs"]
mod support;

use chrono::{Duration as Days, Utc};
use sportello_backoffice::{BackOfficeReturn, ReturnOutcome, ToBackOffice};
use sportello_e2e::{
    PATIENCE, ROUND_TRIP, TestClock, TestEnv, inline_pdf, pdf_text, sportello_binary,
};
use sportello_register::register::Clock;
use sportello_shared::broker::{self, Outgoing, Publisher};
use sportello_shared::domain::state::PracticeState;
use sportello_shared::messages::{StageMessage, route};
use sportello_shared::procedure::{self, Status};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The citizen answers practice `id` (an integration, or observations on a preavviso): a
/// submission of the same citizen and type, with one document, that `integrates` it; returns
/// once the answer is registered and stored and the practice is back with its office.
async fn answer(
    env: &TestEnv,
    application: &serde_json::Value,
    id: Uuid,
    subject: &str,
    document: serde_json::Value,
) {
    let submission = serde_json::json!({
        "schema_version": application["schema_version"],
        "idempotency_key": format!("clock-answer-{}", Uuid::new_v4()),
        "channel": { "kind": "portal" },
        "practice_type": application["practice_type"],
        "applicant": application["applicant"],
        "subject": subject,
        "documents": [document],
        "integrates": id,
    });
    let answer = env.publish_submissions(&[submission]).await[0].unwrap();
    env.wait_until_all_in(
        &[answer],
        &[PracticeState::Dispatched, PracticeState::Stored],
    )
    .await;
    env.wait_until_all_in(&[id], &[PracticeState::Dispatched])
        .await;
}

async fn ask_integration(env: &TestEnv, office: &str, id: Uuid, return_id: &str) {
    let body = BackOfficeReturn {
        schema_version: 1,
        return_id: return_id.into(),
        practice_id: id,
        back_office: office.into(),
        outcome: ReturnOutcome::IntegrationRequested {
            missing: vec!["relazione_tecnica".into()],
            deadline: (Utc::now() + Days::days(30)).date_naive(),
            message: "Manca la relazione tecnica asseverata.".into(),
        },
    };
    let message = Outgoing::json(&env.exchange("returns"), "outcome", &body, Some(id));
    env.publish_as_office(office, &message).await.unwrap();
}

async fn return_as(env: &TestEnv, office: &str, id: Uuid, return_id: &str, outcome: ReturnOutcome) {
    let body = BackOfficeReturn {
        schema_version: 1,
        return_id: return_id.into(),
        practice_id: id,
        back_office: office.into(),
        outcome,
    };
    let message = Outgoing::json(&env.exchange("returns"), "outcome", &body, Some(id));
    env.publish_as_office(office, &message).await.unwrap();
}

/// Waits until `check` holds, polling; fails at the deadline with `what`.
async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the email of `event` (with `template`) has been sent, or given up for good.
async fn email_settled(env: &TestEnv, id: Uuid, event: &str, template: &str) {
    wait_for(&format!("the {event} email sent"), || async {
        sqlx::query_scalar::<_, String>(
            "SELECT status FROM notifications WHERE practice_id = $1 AND event = $2 \
             AND template = $3",
        )
        .bind(id)
        .bind(event)
        .bind(template)
        .fetch_optional(env.app.store.pool())
        .await
        .unwrap()
        .is_some_and(|status| status == "sent" || status == "failed_permanent")
    })
    .await;
}

async fn events_of(env: &TestEnv, id: Uuid) -> BTreeMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>(
        "SELECT kind, count(*) FROM procedure_timer_events WHERE practice_id = $1 GROUP BY kind",
    )
    .bind(id)
    .fetch_all(env.app.store.pool())
    .await
    .unwrap()
    .into_iter()
    .collect()
}

/// The reminders in the office's queue, by reminder id.
fn reminders(messages: &[sportello_e2e::DrainedMessage]) -> Vec<(String, String)> {
    messages
        .iter()
        .filter_map(|m| match ToBackOffice::parse(&m.body) {
            Ok(ToBackOffice::Reminder(r)) => Some((r.reminder_id, r.event)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integration_suspends_the_term_once_and_two_timer_jobs_fire_each_event_once() {
    let env = TestEnv::with_settings(|s| s.procedure.timer_interval_secs = 1).await;
    let t0 = Utc::now();
    let clock = TestClock::at(t0);
    let fleets = env.start_fleet_with_clock(ROUND_TRIP, clock.clone());
    let day0 = procedure::legal_date(t0);

    let (application, id) = env
        .submit_sample("edilizia.cila", &[PracticeState::Dispatched])
        .await;
    let pool = env.app.store.pool();
    let view = procedure::view(pool, id).await.unwrap().expect("a clock");
    assert_eq!(
        view.started_on, day0,
        "the term starts at the protocol date"
    );
    assert_eq!(view.term_days, 30);
    assert_eq!(view.due_on, day0 + Days::days(30));
    assert_eq!(view.silence, "nothing");
    let office = env
        .app
        .catalog
        .get("edilizia.cila")
        .unwrap()
        .back_office
        .clone();
    let queue = env
        .app
        .topology
        .back_office_queue(&office)
        .unwrap()
        .to_owned();

    // The office asks for an integration: the term stands still (due date as if 30 days).
    ask_integration(&env, &office, id, "clock-int-1").await;
    env.wait_until_all_in(&[id], &[PracticeState::IntegrationRequested])
        .await;
    let view = procedure::view(pool, id).await.unwrap().unwrap();
    assert_eq!(view.suspended.as_deref(), Some("integration"));
    assert_eq!(view.suspended_since, Some(day0));
    assert_eq!(view.due_on, day0 + Days::days(60));

    // Ten days later the citizen's integration is registered: the term resumes.
    clock.set(t0 + Days::days(10));
    answer(
        &env,
        &application,
        id,
        "Integrazione alla CILA: relazione asseverata",
        inline_pdf(
            "relazione_tecnica",
            "relazione.pdf",
            "Relazione tecnica asseverata",
        ),
    )
    .await;
    let view = procedure::view(pool, id).await.unwrap().unwrap();
    assert_eq!(view.suspended, None);
    assert_eq!(view.suspended_days, 10);
    assert_eq!(
        view.due_on,
        day0 + Days::days(40),
        "protocol date + 30 + 10"
    );

    // A second request does not suspend again.
    ask_integration(&env, &office, id, "clock-int-2").await;
    wait_for("the second request applied", || async {
        env.practice(id).await.unwrap().state == PracticeState::IntegrationRequested
    })
    .await;
    let view = procedure::view(pool, id).await.unwrap().unwrap();
    assert_eq!(view.suspended, None, "one suspension only");
    assert_eq!(view.due_on, day0 + Days::days(40));

    // The API's folder and practice show the due date.
    let practices =
        sportello_api::folder::practices_of(pool, &env.practice(id).await.unwrap().tax_code)
            .await
            .unwrap();
    let summary = practices.iter().find(|p| p.id == id).unwrap();
    assert_eq!(summary.due_on, Some(day0 + Days::days(40)));
    // And so does `sportello folder`.
    let tax_code = env.practice(id).await.unwrap().tax_code;
    let entries = env.app.store.folder(&tax_code).await.unwrap();
    let sent = sportello_fleet::folder::notifications(&env.app.store, &entries)
        .await
        .unwrap();
    let text = sportello_fleet::folder::to_text(&tax_code, &entries, &sent);
    let due = (day0 + Days::days(40)).format("%d/%m/%Y").to_string();
    assert!(
        text.contains(&format!("termine:  entro il {due} (30 giorni dal")),
        "{text}"
    );
    let json = sportello_fleet::folder::to_json(&tax_code, &entries, &sent);
    let shown = json["practices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id.to_string())
        .unwrap();
    assert_eq!(
        shown["procedure"]["due_on"],
        (day0 + Days::days(40)).to_string()
    );

    // Two timer jobs at once, on the injected clock.
    let stop = CancellationToken::new();
    let jobs: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(sportello_fleet::timers::job(
                env.app.clone(),
                clock.clone() as Arc<dyn Clock>,
                stop.clone(),
            ))
        })
        .collect();
    // Nothing is due on day 30: the suspension moved the term.
    clock.set(t0 + Days::days(30));
    sportello_fleet::timers::pass(&env.app, &*clock, "test", &mut None)
        .await
        .unwrap();
    assert!(
        events_of(&env, id).await.is_empty(),
        "nothing due on day 30"
    );
    assert!(
        procedure::due_list(pool, Status::Overdue, clock.now(), 86_400, 5)
            .await
            .unwrap()
            .iter()
            .all(|e| e.clock.practice_id != id)
    );

    clock.set(t0 + Days::days(37));
    wait_for("due_soon fired", || async {
        events_of(&env, id).await.contains_key("due_soon")
    })
    .await;
    let soon = procedure::due_list(pool, Status::DueSoon, clock.now(), 86_400, 5)
        .await
        .unwrap();
    assert!(soon.iter().any(|e| e.clock.practice_id == id));

    clock.set(t0 + Days::days(41));
    wait_for("overdue fired", || async {
        events_of(&env, id).await.contains_key("overdue")
    })
    .await;
    let late = procedure::due_list(pool, Status::Overdue, clock.now(), 86_400, 5)
        .await
        .unwrap();
    let entry = late
        .iter()
        .find(|e| e.clock.practice_id == id)
        .expect("listed late");
    assert_eq!(entry.days_late, 1);

    // The back office got one reminder of each, whatever the two jobs did.
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while got.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "reminders: {got:?}");
        got.extend(reminders(&env.drain(&queue).await));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Another pass, after both jobs': nothing fires or goes out again.
    let again = sportello_fleet::timers::pass(&env.app, &*clock, "test", &mut None)
        .await
        .unwrap();
    assert_eq!(again, 0);
    stop.cancel();
    for job in jobs {
        job.await.unwrap().unwrap();
    }
    got.extend(reminders(&env.drain(&queue).await));
    got.sort();
    assert_eq!(
        got,
        vec![
            (format!("{id}:due_soon"), "due_soon".to_owned()),
            (format!("{id}:overdue"), "overdue".to_owned()),
        ]
    );
    assert_eq!(
        events_of(&env, id).await,
        BTreeMap::from([("due_soon".to_owned(), 1), ("overdue".to_owned(), 1)])
    );

    for fleet in fleets {
        fleet.stop().await;
    }
    env.teardown().await;
}

fn timer_process(env: &TestEnv) -> Child {
    Command::new(sportello_binary())
        .args(["run", "dispatch"])
        .envs(env.child_env())
        .env("SPORTELLO__PROCEDURE__TIMER_INTERVAL_SECS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sportello run dispatch")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_job_killed_and_restarted_fires_every_event_once() {
    let env = TestEnv::new().await;
    // Practices registered 40 days ago: overdue for the real clock of the child process.
    let clock = TestClock::at(Utc::now() - Days::days(40));
    let ids = env.seed_validated(60).await;
    let fleets = env.start_fleet_with_clock(&["protocol"], clock);
    let connection = broker::connect(&env.settings.broker, "test-clock-seed")
        .await
        .unwrap();
    let publisher = Publisher::open(&connection).await.unwrap();
    for id in &ids {
        let message = Outgoing::json(
            &env.exchange("practice"),
            route::REGISTER,
            &StageMessage::new(*id),
            Some(*id),
        );
        publisher.publish(&message).await.unwrap();
    }
    let _ = connection.close(200, "done".into()).await;
    env.wait_until_all_in(&ids, &[PracticeState::Registered])
        .await;
    for fleet in fleets {
        fleet.stop().await;
    }
    let pool = env.app.store.pool();
    let fired = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM procedure_timer_events WHERE practice_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_one(pool)
        .await
        .unwrap()
    };

    // Killed as soon as it has done anything at all, then again on restart.
    let mut child = timer_process(&env);
    wait_for("the first timer job fired", || async { fired().await > 0 }).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut child = timer_process(&env);
    let unpublished = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM procedure_timer_events WHERE published_at IS NULL",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    };
    wait_for("every practice overdue and told", || async {
        fired().await == ids.len() as i64 && unpublished().await == 0
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();

    let per_practice: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT practice_id, kind, count(*) FROM procedure_timer_events \
         WHERE practice_id = ANY($1) GROUP BY practice_id, kind",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(per_practice.len(), ids.len());
    assert!(
        per_practice
            .iter()
            .all(|(_, kind, n)| kind == "overdue" && *n == 1)
    );

    // Every practice's office got its overdue reminder, each with its one id.
    let kind = env.practice(ids[0]).await.unwrap().practice_type;
    let office = env.app.catalog.get(&kind).unwrap().back_office.clone();
    let queue = env
        .app
        .topology
        .back_office_queue(&office)
        .unwrap()
        .to_owned();
    let got = reminders(&env.wait_for_messages(&queue, ids.len()).await);
    let distinct: std::collections::BTreeSet<&String> = got.iter().map(|(id, _)| id).collect();
    assert_eq!(distinct.len(), ids.len());
    assert!(got.iter().all(|(_, kind)| kind == "overdue"));

    // /metrics counts them, by type.
    let api = support::TestApi::start(&env).await;
    let metrics = api.get("/metrics", None).await.text();
    let line = format!(
        "sportello_practices_due{{practice_type=\"{kind}\",status=\"overdue\"}} {}",
        ids.len()
    );
    assert!(metrics.contains(&line), "no `{line}` in\n{metrics}");
    api.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preavviso_suspends_the_term_for_the_observations_then_the_office_decides() {
    let env = TestEnv::new().await;
    let t0 = Utc::now();
    let clock = TestClock::at(t0);
    let mut workers = ROUND_TRIP.to_vec();
    workers.push("notification");
    let fleets = env.start_fleet_with_clock(&workers, clock.clone());
    let day0 = procedure::legal_date(t0);
    let (application, id) = env
        .submit_sample("edilizia.cila", &[PracticeState::Dispatched])
        .await;
    let pool = env.app.store.pool();
    let office = env
        .app
        .catalog
        .get("edilizia.cila")
        .unwrap()
        .back_office
        .clone();

    // A preavviso without reasons is no preavviso: refused, nothing changes.
    return_as(
        &env,
        &office,
        id,
        "preavviso-empty",
        ReturnOutcome::PreavvisoRigetto {
            reasons: vec!["  ".into()],
            message: String::new(),
        },
    )
    .await;
    // The office gives its reasons (art. 10-bis): the citizen has ten days, the term stands
    // still meanwhile (due date as if the ten days ran out).
    let reason = "L'intervento descritto richiede un permesso di costruire, non una CILA.";
    return_as(
        &env,
        &office,
        id,
        "preavviso-1",
        ReturnOutcome::PreavvisoRigetto {
            reasons: vec![reason.into()],
            message: "Può allegare una relazione del tecnico.".into(),
        },
    )
    .await;
    env.wait_until_all_in(&[id], &[PracticeState::ObservationsRequested])
        .await;
    let history = env.app.store.history(id).await.unwrap();
    let preavviso = history
        .iter()
        .find(|h| h.to == "observations_requested")
        .unwrap();
    assert_eq!(preavviso.details["reasons"], serde_json::json!([reason]));
    assert_eq!(
        preavviso.details["deadline"],
        (procedure::legal_date(Utc::now()) + Days::days(10)).to_string()
    );
    assert_eq!(
        history
            .iter()
            .filter(|h| h.to == "observations_requested")
            .count(),
        1,
        "the empty preavviso was refused"
    );
    let view = procedure::view(pool, id).await.unwrap().unwrap();
    assert_eq!(view.suspended.as_deref(), Some("observations"));
    assert_eq!(view.due_on, day0 + Days::days(30 + 10));
    // The citizen is told, with the preavviso's own email.
    email_settled(&env, id, "observations_requested", "preavviso_rigetto").await;

    // Four days later the observations are registered: the term resumes, four days later.
    clock.set(t0 + Days::days(4));
    answer(
        &env,
        &application,
        id,
        "Osservazioni al preavviso di rigetto",
        inline_pdf(
            "integrazione",
            "osservazioni.pdf",
            "Osservazioni del richiedente",
        ),
    )
    .await;
    let view = procedure::view(pool, id).await.unwrap().unwrap();
    assert_eq!(view.suspended, None);
    assert_eq!(view.suspended_days, 4);
    assert_eq!(view.due_on, day0 + Days::days(34));

    // The preavviso did not use up the one integration suspension (art. 2 c.7).
    ask_integration(&env, &office, id, "after-preavviso-int").await;
    env.wait_until_all_in(&[id], &[PracticeState::IntegrationRequested])
        .await;
    let view = procedure::view(pool, id).await.unwrap().unwrap();
    assert_eq!(view.suspended.as_deref(), Some("integration"));

    // Another CILA: no observations come, and the office decides from the preavviso itself.
    let mut second = application.clone();
    second["idempotency_key"] = format!("clock-second-cila-{}", Uuid::new_v4()).into();
    let other = env.publish_submissions(&[second.clone()]).await[0].unwrap();
    env.wait_until_all_in(&[other], &[PracticeState::Dispatched])
        .await;
    return_as(
        &env,
        &office,
        other,
        "preavviso-other",
        ReturnOutcome::PreavvisoRigetto {
            reasons: vec![reason.into()],
            message: String::new(),
        },
    )
    .await;
    env.wait_until_all_in(&[other], &[PracticeState::ObservationsRequested])
        .await;
    return_as(
        &env,
        &office,
        other,
        "denied-without-observations",
        ReturnOutcome::Denied {
            reasons: vec![reason.into()],
        },
    )
    .await;
    env.wait_until_all_in(&[other], &[PracticeState::Denied])
        .await;
    let view = procedure::view(pool, other).await.unwrap().unwrap();
    assert!(view.concluded_at.is_some(), "the outcome stops the clock");
    assert_eq!(view.suspended, None);

    for fleet in fleets {
        fleet.stop().await;
    }
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silenzio_assenso_term_that_runs_out_grants_the_application_with_its_attestation() {
    let env = TestEnv::with_settings(|s| s.procedure.timer_interval_secs = 1).await;
    let t0 = Utc::now();
    let clock = TestClock::at(t0);
    let mut workers = ROUND_TRIP.to_vec();
    workers.push("notification");
    let fleets = env.start_fleet_with_clock(&workers, clock.clone());
    let day0 = procedure::legal_date(t0);
    let kind = env
        .app
        .catalog
        .get("suolo_pubblico.dehors")
        .unwrap()
        .clone();
    assert_eq!(kind.silence.as_str(), "consent");
    let (_, id) = env
        .submit_sample("suolo_pubblico.dehors", &[PracticeState::Dispatched])
        .await;
    return_as(
        &env,
        &kind.back_office,
        id,
        "in-hand",
        ReturnOutcome::InProgress,
    )
    .await;
    env.wait_until_all_in(&[id], &[PracticeState::InProgress])
        .await;
    let pool = env.app.store.pool();

    // Before the term runs out, being told that silence is due changes nothing: the worker
    // believes the database only.
    let returns = sportello_fleet::fleet::returns(&env.app).unwrap();
    let early = returns
        .attest_silence(id)
        .await
        .unwrap_or_else(|_| panic!("acknowledged"));
    assert!(early.is_empty(), "nothing published before the term");
    assert_eq!(
        env.practice(id).await.unwrap().state,
        PracticeState::InProgress
    );

    // The term (30 days from the protocol date) passes with no outcome.
    clock.set(t0 + Days::days(i64::from(kind.term_days) + 1));
    let fired = sportello_fleet::timers::pass(&env.app, &*clock, "test", &mut None)
        .await
        .unwrap();
    assert_eq!(fired, 1, "overdue, once");
    env.wait_until_all_in(&[id], &[PracticeState::SilentConsent])
        .await;
    assert_eq!(events_of(&env, id).await.get("overdue"), Some(&1));
    let view = procedure::view(pool, id).await.unwrap().unwrap();
    assert!(
        view.concluded_at.is_some(),
        "silent consent concludes the procedure"
    );
    let due_on = day0 + Days::days(i64::from(kind.term_days));
    let history = env.app.store.history(id).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.to, "silent_consent");
    assert_eq!(last.actor, "sportello:silenzio-assenso");
    assert_eq!(last.details["due_on"], due_on.to_string());
    assert_eq!(
        last.details["formed_on"],
        (due_on + Days::days(1)).to_string()
    );
    assert_eq!(last.details["protocol"]["direction"], "outgoing");

    // The attestation: an outgoing registration of its own, signed, archived with its impronta.
    let outgoing: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT id, event_key, segnatura FROM registrations \
         WHERE practice_id = $1 AND direction = 'outgoing'",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(outgoing.len(), 1);
    assert_eq!(outgoing[0].1, format!("silence:{id}"));
    assert!(outgoing[0].2.contains("PrimaRegistrazione"));
    sportello_e2e::assert_signature_verifies(&outgoing[0].2);
    env.assert_archived(outgoing[0].0).await;
    let key: String = sqlx::query_scalar(
        "SELECT object_key FROM practice_archive_objects WHERE practice_id = $1 AND kind = 'attestation'",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(key.ends_with("attestazione-silenzio-assenso.pdf"), "{key}");
    let text = pdf_text(&env.app.objects.get(&key).await.unwrap());
    let incoming: (i64, i32) = sqlx::query_as(
        "SELECT number, year FROM registrations WHERE practice_id = $1 AND direction = 'incoming'",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap();
    let italian = |d: chrono::NaiveDate| d.format("%d/%m/%Y").to_string();
    for part in [
        format!("prot. n. {:07}/{}", incoming.0, incoming.1),
        format!("{} giorni", kind.term_days),
        italian(due_on),
        italian(due_on + Days::days(1)),
        "art. 20".to_owned(),
        kind.office.clone(),
    ] {
        assert!(
            text.contains(&part),
            "`{part}` not in the attestation: {text}"
        );
    }

    // The citizen is told, with the attestation.
    email_settled(&env, id, "silent_consent", "silent_consent").await;

    // Told again (a redelivery): the event again, nothing registered twice.
    let again = returns
        .attest_silence(id)
        .await
        .unwrap_or_else(|_| panic!("acknowledged"));
    assert_eq!(again.len(), 1);
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM registrations WHERE practice_id = $1 AND direction = 'outgoing'",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(count, 1);

    for fleet in fleets {
        fleet.stop().await;
    }
    env.teardown().await;
}
