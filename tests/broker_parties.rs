//! Attacks on the back offices' channel, against the real broker: every party logs in as
//! itself, RabbitMQ checks each message's `user_id` against the login, and the returns worker
//! takes a return's office from that checked id alone. A return from another office's login, a
//! forged `user_id` and a return without one all change nothing and end refused — by the
//! broker, or in the returns error queue with the reason — while the competent office's own
//! return, sent last, is applied (so the practice could have moved).

use sportello_backoffice::{BackOfficeReturn, ReturnOutcome};
use sportello_e2e::{TestEnv, valid_samples};
use sportello_shared::broker::{self, BrokerError, Outgoing, Publisher};
use sportello_shared::domain::state::PracticeState;
use uuid::Uuid;

fn in_progress(practice_id: Uuid, back_office: &str, return_id: &str) -> BackOfficeReturn {
    BackOfficeReturn {
        schema_version: 1,
        return_id: return_id.to_owned(),
        practice_id,
        back_office: back_office.to_owned(),
        outcome: ReturnOutcome::InProgress,
    }
}

/// Publishes `message` logged in as `party`, stamped with `user_id` when given.
async fn publish_as(
    env: &TestEnv,
    party: &str,
    user_id: Option<&str>,
    message: &Outgoing,
) -> Result<(), BrokerError> {
    let settings = env.settings.broker.as_party(party);
    let connection = broker::connect(&settings, "test-attacker").await?;
    let publisher = match user_id {
        Some(user) => Publisher::open_signed(&connection, user).await?,
        None => Publisher::open(&connection).await?,
    };
    let published = publisher.publish(message).await;
    let _ = connection.close(200, "done".into()).await;
    published
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_from_the_wrong_login_or_with_a_forged_user_id_change_nothing() {
    let env = TestEnv::new().await;
    // No simulator: the practice waits in `dispatched` for its office's answer.
    let fleet = env.start_fleet(sportello_e2e::ROUND_TRIP);
    let id = env.submit_files(&valid_samples()[..1]).await[0];
    env.wait_until_all_in(&[id], &[PracticeState::Dispatched])
        .await;
    let practice = env.practice(id).await.unwrap();
    let office_b = env
        .app
        .catalog
        .get(&practice.practice_type)
        .unwrap()
        .back_office
        .clone();
    let (office_a, _) = env
        .app
        .topology
        .back_offices()
        .find(|(office, _)| *office != office_b)
        .unwrap();
    let login = |office: &str| {
        env.app
            .topology
            .back_office_login(office)
            .unwrap()
            .to_owned()
    };
    let (login_a, login_b) = (login(office_a), login(&office_b));
    let user_b = sportello_shared::parties::user_name(&env.namespace, &login_b);
    let history_before = env.app.store.history(id).await.unwrap().len();
    let returns = env.exchange("returns");
    let message =
        |body: &BackOfficeReturn| Outgoing::json(&returns, "outcome", body, Some(body.practice_id));

    // Office A's login, honest about being A, answering B's practice.
    env.publish_as_office(office_a, &message(&in_progress(id, office_a, "a-as-a")))
        .await
        .expect("A may publish to returns");
    // Office A's login claiming in the body to be B.
    env.publish_as_office(office_a, &message(&in_progress(id, &office_b, "a-as-b")))
        .await
        .expect("A may publish to returns");
    // Office A's login with B's user as user_id: the broker refuses the message itself.
    let forged = publish_as(
        &env,
        &login_a,
        Some(&user_b),
        &message(&in_progress(id, &office_b, "forged")),
    )
    .await;
    assert!(
        forged
            .as_ref()
            .is_err_and(|e| e.to_string().contains("PRECONDITION_FAILED")),
        "a forged user_id is refused by the broker: {forged:?}"
    );
    // Operations may write every exchange, but cannot pass for an office either.
    let forged = publish_as(
        &env,
        "operations",
        Some(&user_b),
        &message(&in_progress(id, &office_b, "forged-ops")),
    )
    .await;
    assert!(forged.is_err(), "{forged:?}");
    // And without a user_id, nothing says who published: refused by the returns worker.
    publish_as(
        &env,
        "operations",
        None,
        &message(&in_progress(id, &office_b, "anonymous")),
    )
    .await
    .expect("operations may publish to returns");

    let failed = env
        .wait_for_messages(&env.error_queue_of("returns"), 3)
        .await;
    let reasons: Vec<String> = failed.iter().filter_map(|m| m.reason.clone()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains(&format!("{office_a} answered for a practice of {office_b}"))),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains(&format!(
            "published by {office_a}'s login but names {office_b}"
        ))),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("no user_id")),
        "{reasons:?}"
    );
    assert_eq!(
        env.practice(id).await.unwrap().state,
        PracticeState::Dispatched
    );
    assert_eq!(
        env.app.store.history(id).await.unwrap().len(),
        history_before,
        "no refused return left a trace in the history"
    );

    // B's own return is applied: the practice could move all along.
    env.publish_as_office(&office_b, &message(&in_progress(id, &office_b, "b-as-b")))
        .await
        .unwrap();
    env.wait_until_all_in(&[id], &[PracticeState::InProgress])
        .await;
    let last = env.app.store.history(id).await.unwrap().pop().unwrap();
    assert_eq!(last.actor, format!("backoffice:{office_b}"));
    fleet.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_party_may_do_only_its_own_part() {
    let env = TestEnv::new().await;
    let returns = env.exchange("returns");
    let intake = env.exchange("intake");
    let body = in_progress(Uuid::new_v4(), "bo.anagrafe", "x");
    let to_returns = Outgoing::json(&returns, "outcome", &body, None);
    let to_intake = Outgoing::json(&intake, "submission", &body, None);
    let refused = |result: &Result<(), BrokerError>| {
        result
            .as_ref()
            .is_err_and(|e| e.to_string().contains("ACCESS_REFUSED"))
    };
    // The portal and the counter publish submissions, never returns.
    for party in ["portal", "counter"] {
        assert!(
            publish_as(&env, party, None, &to_intake).await.is_ok(),
            "{party}"
        );
        let result = publish_as(&env, party, None, &to_returns).await;
        assert!(refused(&result), "{party}: {result:?}");
    }
    // A back office publishes returns, never submissions…
    let result = env.publish_as_office("bo.anagrafe", &to_intake).await;
    assert!(refused(&result), "{result:?}");
    // …and reads only its own queue.
    let settings = env.settings.broker.as_party("bo-anagrafe");
    let connection = broker::connect(&settings, "test-attacker").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let other = env.app.topology.back_office_queue("bo.tributi").unwrap();
    let result = channel
        .basic_get(other.into(), lapin::options::BasicGetOptions::default())
        .await;
    assert!(
        result
            .as_ref()
            .is_err_and(|e| e.to_string().contains("ACCESS_REFUSED")),
        "{result:?}"
    );
    let _ = connection.close(200, "done".into()).await;
    // A worker reads its own queue only.
    let settings = env.settings.broker.as_party("validation");
    let connection = broker::connect(&settings, "test-attacker").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let result = channel
        .basic_get(
            env.queue_of("returns").as_str().into(),
            lapin::options::BasicGetOptions::default(),
        )
        .await;
    assert!(result.is_err(), "{result:?}");
    let _ = connection.close(200, "done".into()).await;
    // `guest` is never a login, named or implied by a URL without credentials.
    let mut guest = env.settings.broker.clone();
    guest.party = None;
    let result = broker::connect(&guest, "test-guest").await;
    assert!(
        matches!(result, Err(BrokerError::Login(_))),
        "guest is refused before any connection"
    );
    env.teardown().await;
}
