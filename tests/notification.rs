//! Citizen notification on the real stack, read back from maildev: every sample's applicant
//! gets exactly the email its outcome calls for (a receipt with protocol number and impronte, or
//! the rejection with its reasons), and an event delivered again never sends a second copy.

#[path = "mail/mod.rs"]
mod mail;
#[path = "quiet/mod.rs"]
mod quiet;

use mail::{Inbox, Sample};
use secrecy::SecretString;
use sportello_e2e::{PATIENCE, RunningFleet, TestEnv, json_files, samples_dir};
use sportello_fleet::folder;
use sportello_shared::broker::{self, Publisher};
use sportello_shared::config::{PecRelaySettings, Settings, SmtpTls};
use sportello_shared::domain::email::EmailAddress;
use sportello_shared::domain::state::PracticeState;
use sportello_shared::messages::PracticeEvent;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use uuid::Uuid;

/// The local maildev doubles as the PEC provider's relay, so the PEC channel is exercised too.
fn with_pec_relay(settings: &mut Settings) {
    settings.smtp.pec = Some(PecRelaySettings {
        host: settings.smtp.host.clone(),
        port: settings.smtp.port,
        tls: SmtpTls::None,
        from: "Comune di Bergamo <protocollo@pec.comune.bergamo.it>".into(),
        username: String::new(),
        password: SecretString::from(""),
    });
}

/// Where the notification must go: the valid PEC if any (a PEC relay is configured), the
/// ordinary address otherwise, nowhere when that is not an address.
fn expected_recipient(sample: &Sample) -> Option<String> {
    if let Some(pec) = sample
        .pec
        .as_deref()
        .and_then(|p| EmailAddress::parse(p).ok())
    {
        return Some(pec.as_str().to_owned());
    }
    EmailAddress::parse(&sample.email)
        .ok()
        .map(|a| a.as_str().to_owned())
}

fn scratch_dir(env: &TestEnv) -> PathBuf {
    std::env::temp_dir().join(format!("sportello-notification-{}", env.namespace))
}

async fn submit_samples(env: &TestEnv, samples: &[Sample]) -> Vec<Uuid> {
    let files: Vec<PathBuf> = samples.iter().map(|s| s.file.clone()).collect();
    env.submit_files(&files).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_applicant_gets_exactly_the_email_of_their_outcome() {
    let env = TestEnv::with_settings(with_pec_relay).await;
    let inbox = Inbox::new(&env.settings.smtp.web_api);
    let fleet = env.start_fleet(&["intake", "validation", "protocol", "notification"]);
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(samples_dir().join("expected.json")).unwrap())
            .unwrap();
    let samples = mail::rewrite_samples(
        &json_files(&samples_dir().join("submissions")),
        &env.namespace,
        &scratch_dir(&env),
    );
    let ids = submit_samples(&env, &samples).await;
    env.wait_until_all_in(&ids, &[PracticeState::Registered, PracticeState::Rejected])
        .await;
    let pool = env.app.store.pool();
    mail::wait_until_settled(pool, &ids, PATIENCE).await;

    let records: BTreeMap<Uuid, _> = mail::notifications(pool, &ids)
        .await
        .into_iter()
        .map(|n| (n.practice_id, n))
        .collect();
    assert_eq!(records.len(), ids.len(), "one notification per practice");
    let municipality_email = &env.settings.municipality.email;
    let mut wanted: BTreeMap<String, (Uuid, &Sample, String)> = BTreeMap::new();
    for (sample, id) in samples.iter().zip(&ids) {
        let valid = expected[&sample.name]["valid"].as_bool().unwrap();
        let state = if valid { "registered" } else { "rejected" };
        let record = &records[id];
        assert_eq!(record.event, state, "{}", sample.name);
        assert_eq!(
            record.template,
            if valid { "receipt" } else { "rejection" },
            "{}",
            sample.name
        );
        assert_eq!(
            record.message_id,
            mail::message_id(*id, state, municipality_email)
        );
        match expected_recipient(sample) {
            Some(recipient) => {
                assert_eq!(
                    record.status, "sent",
                    "{}: {:?}",
                    sample.name, record.last_error
                );
                assert_eq!(record.attempts, 1, "{}", sample.name);
                assert_eq!(record.recipient, recipient, "{}", sample.name);
                let channel = if sample.pec.as_deref() == Some(recipient.as_str()) {
                    "pec"
                } else {
                    "email"
                };
                assert_eq!(record.channel, channel, "{}", sample.name);
                wanted.insert(record.message_id.clone(), (*id, sample, recipient));
            }
            None => {
                // Nobody to write to: recorded, never attempted, never retried.
                assert_eq!(record.status, "failed_permanent", "{}", sample.name);
                assert_eq!(record.attempts, 0);
                assert!(
                    record.last_error.as_deref().unwrap().contains("not usable"),
                    "{:?}",
                    record.last_error
                );
            }
        }
    }
    assert!(
        records.values().any(|r| r.channel == "pec"),
        "some applicant is reached by PEC"
    );
    assert!(
        records.values().any(|r| r.status == "failed_permanent"),
        "the samples include an applicant without a usable address"
    );

    // Exactly one email per notification sent, to the right person, and nothing else: not to
    // the ordinary address of those reached by PEC, not to anybody twice.
    let every_address: Vec<String> = samples
        .iter()
        .flat_map(|s| [Some(s.email.clone()), s.pec.clone()])
        .flatten()
        .collect();
    let emails = inbox.to_any(&every_address).await;
    let mut by_id: BTreeMap<String, Vec<&mail::Email>> = BTreeMap::new();
    for email in &emails {
        by_id
            .entry(email.message_id().to_owned())
            .or_default()
            .push(email);
    }
    assert_eq!(
        by_id.keys().collect::<BTreeSet<_>>(),
        wanted.keys().collect::<BTreeSet<_>>(),
        "the emails are exactly the notifications sent"
    );
    assert_eq!(emails.len(), wanted.len(), "no email twice");

    let registrations: BTreeMap<Uuid, (i64, serde_json::Value)> =
        sqlx::query_as::<_, (Uuid, i64, serde_json::Value)>(
            "SELECT practice_id, number, documents FROM registrations",
        )
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, number, documents)| (id, (number, documents)))
        .collect();
    for (message_id, (id, sample, recipient)) in &wanted {
        let email = by_id[message_id][0];
        let to: Vec<&str> = email.to.iter().map(|p| p.address.as_str()).collect();
        assert_eq!(to, [recipient.as_str()], "{}", sample.name);
        let html = email.html_text();
        let practice = env.practice(*id).await.unwrap();
        if practice.state == PracticeState::Registered {
            let (number, documents) = &registrations[id];
            let number = format!("{number:07}");
            assert!(email.subject.contains(&number), "{}", email.subject);
            assert!(email.subject.starts_with("Ricevuta di protocollo"));
            for part in [&email.text, &html] {
                assert!(part.contains(&number), "{}: {part}", sample.name);
                for document in documents.as_array().unwrap() {
                    let impronta = document["impronta"].as_str().unwrap();
                    assert!(
                        part.contains(impronta),
                        "{}: impronta {impronta}",
                        sample.name
                    );
                }
            }
        } else {
            assert_eq!(email.subject, "La Sua pratica non è stata accettata");
            let reasons = practice.rejection_reasons.unwrap();
            for reason in reasons.as_array().unwrap() {
                let message = reason["message"].as_str().unwrap();
                for part in [&email.text, &html] {
                    assert!(part.contains(message), "{}: {message}", sample.name);
                }
            }
        }
        assert!(email.text.contains("Gentile"), "Italian, plain text");
        assert!(html.contains("<html lang=\"it\">"));
    }

    // The folder shows each practice's notifications to its owner and the operator.
    let (sample, id) = samples
        .iter()
        .zip(&ids)
        .find(|(s, _)| s.name == "anagrafe.cambio_residenza-01.json")
        .unwrap();
    let tax_code = env.practice(*id).await.unwrap().tax_code;
    let entries = env.app.store.folder(&tax_code).await.unwrap();
    let sent = folder::notifications(&env.app.store, &entries)
        .await
        .unwrap();
    let json = folder::to_json(&tax_code, &entries, &sent);
    let practices = json["practices"].as_array().unwrap();
    assert!(practices.len() > 1, "this citizen has several practices");
    for practice in practices {
        let notifications = practice["notifications"].as_array().unwrap();
        assert_eq!(notifications.len(), 1, "{practice}");
        assert!(
            ["sent", "failed_permanent"].contains(&notifications[0]["status"].as_str().unwrap())
        );
    }
    let shown = practices
        .iter()
        .find(|p| p["id"] == id.to_string())
        .unwrap();
    assert_eq!(
        shown["notifications"][0]["recipient"],
        sample.email.as_str()
    );
    assert_eq!(shown["notifications"][0]["template"], "receipt");
    assert_eq!(shown["notifications"][0]["attempts"], 1);
    let text = folder::to_text(&tax_code, &entries, &sent);
    assert!(text.contains("notifiche:"), "{text}");
    assert!(
        text.contains(&format!("receipt email a {}", sample.email)),
        "{text}"
    );
    assert!(text.contains("stato: sent"), "{text}");

    fleet.stop().await;
    let _ = std::fs::remove_dir_all(scratch_dir(&env));
    env.teardown().await;
}

async fn publish_events(env: &TestEnv, events: &[PracticeEvent]) {
    let connection = broker::connect(&env.settings.broker, "test-events")
        .await
        .unwrap();
    let publisher = Publisher::open(&connection).await.unwrap();
    for event in events {
        // As the workers publish events: a state no queue binds goes nowhere.
        publisher
            .publish(&event.outgoing(&env.exchange("events")))
            .await
            .unwrap();
    }
    let _ = connection.close(200, "done".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_never_sends_a_second_email() {
    let env = TestEnv::new().await;
    let inbox = Inbox::new(&env.settings.smtp.web_api);
    let valid: Vec<PathBuf> = [
        "anagrafe.cambio_residenza-01.json",
        "tributi.rimborso_imu-01.json",
    ]
    .iter()
    .map(|name| samples_dir().join("submissions").join(name))
    .collect();
    let samples = mail::rewrite_samples(&valid, &env.namespace, &scratch_dir(&env));
    // Both practices reach the register with nobody notifying yet: their events wait.
    let upstream = env.start_fleet(&["intake", "validation", "protocol"]);
    let ids = submit_samples(&env, &samples).await;
    env.wait_until_all_in(&ids, &[PracticeState::Registered])
        .await;
    upstream.stop().await;
    let (first, second) = (ids[0], ids[1]);
    let registered = |id| PracticeEvent::new(id, PracticeState::Registered);

    // Four copies of the second practice's event, handled side by side by four tasks.
    publish_events(
        &env,
        &[registered(second), registered(second), registered(second)],
    )
    .await;
    let fleet = env.start_fleet(&["notification"]);
    mail::wait_until_settled(env.app.store.pool(), &ids, PATIENCE).await;

    // The same events again, after the emails went out; and a state the citizen never hears of
    // (no longer even routed to the notification queue).
    publish_events(
        &env,
        &[
            registered(first),
            registered(first),
            registered(second),
            PracticeEvent::new(first, PracticeState::Received),
        ],
    )
    .await;
    // "Never a second email" means something only once every copy has been handled.
    quiet::until_quiet(
        &env,
        &quiet::queues_of(&env, &["notification"]),
        fleet,
        RunningFleet::stop,
        || env.start_fleet(&["notification"]),
    )
    .await;

    let records = mail::notifications(env.app.store.pool(), &ids).await;
    assert_eq!(records.len(), 2);
    for record in &records {
        assert_eq!(
            (record.status.as_str(), record.attempts),
            ("sent", 1),
            "{record:?}"
        );
    }
    let municipality_email = &env.settings.municipality.email;
    for (sample, id) in samples.iter().zip(&ids) {
        let emails = inbox.to(&sample.email).await;
        let ids: Vec<&str> = emails.iter().map(|e| e.message_id()).collect();
        assert_eq!(
            ids,
            [mail::message_id(*id, "registered", municipality_email)],
            "{}: exactly one receipt",
            sample.name
        );
    }
    let _ = std::fs::remove_dir_all(scratch_dir(&env));
    env.teardown().await;
}

/// The notification queue is bound to exactly the events that can send an email: a state that
/// concerns the citizen but is not bound would never be mailed; one bound but not concerning
/// the citizen would cost a delivery for nothing.
#[test]
fn the_notification_queue_hears_exactly_the_states_that_send_mail() {
    let topology = sportello_shared::topology::Topology::load(
        sportello_e2e::repository_root()
            .join("queues.toml")
            .to_str()
            .unwrap(),
    )
    .expect("queues.toml loads");
    let bound: BTreeSet<String> = topology
        .worker("notification")
        .unwrap()
        .bindings
        .iter()
        .map(|(exchange, key)| {
            assert_eq!(exchange.name, "sportello.events", "{key}");
            key.clone()
        })
        .collect();
    let mailed: BTreeSet<String> = PracticeState::ALL
        .iter()
        .filter(|s| sportello_notification::handler::concerns_citizen(**s))
        .map(|s| format!("practice.{}", s.as_str()))
        .collect();
    assert_eq!(bound, mailed);
}
