//! The protocol register on the real stack: append-only in the database itself, annulment that
//! keeps the registration readable, numbering that restarts on 1 January (Italian time), and
//! the daily register stored once with its manifest.

use chrono::{TimeZone, Utc};
use sportello_e2e::{TestClock, TestEnv, sportello_binary, valid_samples};
use sportello_register::{daily, register};
use sportello_shared::domain::protocol_number::ProtocolNumber;
use sportello_shared::domain::state::PracticeState;
use std::path::PathBuf;
use uuid::Uuid;

fn number(n: i64) -> ProtocolNumber {
    ProtocolNumber::new(n).unwrap()
}

async fn submit_and_register(env: &TestEnv, files: &[PathBuf]) -> Vec<Uuid> {
    let ids = env.submit_files(files).await;
    env.wait_until_all_in(&ids, &[PracticeState::Registered])
        .await;
    ids
}

async fn numbers_of(env: &TestEnv, year: i32) -> Vec<i64> {
    sqlx::query_scalar("SELECT number FROM registrations WHERE year = $1 ORDER BY number")
        .bind(year)
        .fetch_all(env.app.store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbering_restarts_at_one_on_the_first_of_january_italian_time() {
    let env = TestEnv::new().await;
    // 23:59:30 on 31 December in Rome.
    let clock = TestClock::at(Utc.with_ymd_and_hms(2026, 12, 31, 22, 59, 30).unwrap());
    let fleets = env.start_fleet_with_clock(&["intake", "validation", "protocol"], clock.clone());
    let samples = valid_samples();
    let old_year = submit_and_register(&env, &samples[..3]).await;
    assert_eq!(numbers_of(&env, 2026).await, [1, 2, 3]);

    // 00:00:30 on 1 January in Rome, still 31 December in UTC.
    clock.set(Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 30).unwrap());
    let new_year = submit_and_register(&env, &samples[3..5]).await;
    assert_eq!(
        numbers_of(&env, 2027).await,
        [1, 2],
        "a new year starts at 1"
    );
    assert_eq!(
        numbers_of(&env, 2026).await,
        [1, 2, 3],
        "last year's register is untouched"
    );

    let register = sportello_fleet::fleet::keeper(&env.settings.protocol)
        .unwrap()
        .register_id();
    let first_2027 = register::find(env.app.store.pool(), &register, 2027, number(1))
        .await
        .unwrap()
        .unwrap();
    assert!(new_year.contains(&first_2027.practice_id));
    assert_eq!(first_2027.registration_date.to_string(), "2027-01-01");
    assert!(first_2027.segnatura.contains("0000001"));
    assert!(first_2027.segnatura.contains("2027-01-01"));
    let last_2026 = register::find(env.app.store.pool(), &register, 2026, number(3))
        .await
        .unwrap()
        .unwrap();
    assert!(old_year.contains(&last_2026.practice_id));
    assert_eq!(last_2026.registration_date.to_string(), "2026-12-31");

    for fleet in fleets {
        fleet.stop().await;
    }
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_is_append_only_and_annulment_keeps_the_registration_readable() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&["intake", "validation", "protocol"]);
    let ids = submit_and_register(&env, &valid_samples()[..2]).await;
    let pool = env.app.store.pool();

    // The runtime role, which the fleet connects as, has no right to change what is written,
    // nor to switch the triggers off; the owner, who has, still meets the triggers.
    let owner = env.owner_pool().await;
    for statement in [
        "UPDATE registrations SET subject = 'cambiato' WHERE number = 1",
        "DELETE FROM registrations WHERE number = 1",
        "TRUNCATE registrations CASCADE",
        "UPDATE practice_history SET actor = 'qualcun altro'",
        "DELETE FROM practice_history",
    ] {
        let err = sqlx::query(statement)
            .execute(pool)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("permission denied"),
            "{statement}: {err}"
        );
        let err = sqlx::query(statement)
            .execute(&owner)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("append-only"),
            "{statement} as the owner: {err}"
        );
    }
    for statement in [
        "ALTER TABLE registrations DISABLE TRIGGER registrations_append_only",
        "ALTER TABLE registrations DISABLE TRIGGER ALL",
        "DROP TRIGGER registrations_append_only ON registrations",
        "ALTER TABLE practice_history DISABLE TRIGGER practice_history_append_only",
        "DROP TABLE registration_annulments",
        "CREATE TABLE registrations_copy AS SELECT * FROM registrations",
    ] {
        let err = sqlx::query(statement)
            .execute(pool)
            .await
            .expect_err(statement);
        let text = err.to_string();
        assert!(
            text.contains("must be owner") || text.contains("permission denied"),
            "{statement}: {text}"
        );
    }

    // Annul through the command the protocol officer uses.
    let year = register::legal_year(Utc::now());
    let run = |args: &[&str]| {
        std::process::Command::new(sportello_binary())
            .args(args)
            .envs(env.child_env())
            .env("SPORTELLO_OPERATOR_ROLES", "protocol_officer")
            .output()
            .unwrap()
    };
    let number = "1";
    let annul = run(&[
        "protocol",
        "annul",
        &year.to_string(),
        number,
        "--reason",
        "Registrazione duplicata per errore materiale",
        "--measure",
        "Provvedimento n. 12/2026 del responsabile della gestione documentale",
        "--operator",
        "OP-BG-001",
    ]);
    assert!(
        annul.status.success(),
        "{}",
        String::from_utf8_lossy(&annul.stderr)
    );
    let again = run(&[
        "protocol",
        "annul",
        &year.to_string(),
        number,
        "--reason",
        "x",
        "--measure",
        "y",
        "--operator",
        "z",
    ]);
    assert!(!again.status.success(), "a registration is annulled once");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already annulled"));

    let show = run(&["protocol", "show", &year.to_string(), number, "--json"]);
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(shown["annulment"]["operator"], "OP-BG-001");
    assert_eq!(
        shown["annulment"]["measure"],
        "Provvedimento n. 12/2026 del responsabile della gestione documentale"
    );
    assert!(ids.contains(&shown["practice_id"].as_str().unwrap().parse().unwrap()));
    assert!(
        !shown["subject"].as_str().unwrap().is_empty(),
        "the annulled values stay readable"
    );
    assert!(
        shown["segnatura"]
            .as_str()
            .unwrap()
            .contains("SegnaturaInformatica")
    );
    let err = sqlx::query("DELETE FROM registration_annulments")
        .execute(pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    let err = sqlx::query("DELETE FROM registration_annulments")
        .execute(&env.owner_pool().await)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");

    fleet.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_register_is_stored_once_with_its_manifest() {
    let env = TestEnv::new().await;
    let day = Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap();
    let clock = TestClock::at(day);
    let fleets = env.start_fleet_with_clock(&["intake", "validation", "protocol"], clock);
    submit_and_register(&env, &valid_samples()[..4]).await;
    let register = sportello_fleet::fleet::keeper(&env.settings.protocol)
        .unwrap()
        .register_id();
    let first = register::find(env.app.store.pool(), &register, 2026, number(1))
        .await
        .unwrap()
        .unwrap();
    let request = register::AnnulRequest {
        year: 2026,
        number: number(2),
        operator: "OP-BG-001",
        reason: "Errore materiale",
        measure: "Provvedimento n. 3/2026",
    };
    register::annul(env.app.store.pool(), &register, &request, day)
        .await
        .unwrap();

    let the_day = register::legal_date(day);
    // The daily register of `the_day`, produced as if it were `today`.
    let produce = |today| {
        daily::produce(
            env.app.store.pool(),
            &env.app.objects,
            &register,
            the_day,
            today,
        )
    };
    let not_over = produce(the_day).await;
    assert!(
        matches!(not_over, Err(daily::DailyError::NotOver(_))),
        "a day is closed once it is over"
    );

    let next_day = the_day.succ_opt().unwrap();
    let produced = produce(next_day).await.unwrap();
    assert!(produced.created);
    assert_eq!(produced.entries, 5, "four registrations and one annulment");
    let bytes = env.app.objects.get(&produced.object_key).await.unwrap();
    assert_eq!(
        sportello_shared::objects::sha256_hex(&bytes),
        produced.sha256
    );
    let content: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(content["registrazioni"].as_array().unwrap().len(), 4);
    assert_eq!(content["registrazioni"][0]["numero"], "0000001");
    assert_eq!(
        content["registrazioni"][0]["oggetto"],
        first.subject.as_str()
    );
    assert_eq!(content["annullamenti"][0]["numero"], "0000002");
    let manifest: serde_json::Value =
        serde_json::from_slice(&env.app.objects.get(&produced.manifest_key).await.unwrap())
            .unwrap();
    assert_eq!(manifest["sha256"], produced.sha256.as_str());
    assert_eq!(manifest["oggetto"], produced.object_key.as_str());

    // Again, and from the command line: the same register, nothing rewritten.
    let again = produce(next_day).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.sha256, produced.sha256);
    let cli = std::process::Command::new(sportello_binary())
        .args(["protocol", "daily-register", "--date", "2026-03-10"])
        .envs(env.child_env())
        .env("SPORTELLO_OPERATOR_ROLES", "protocol_officer")
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(printed["sha256"], produced.sha256.as_str());
    assert_eq!(printed["created"], false);
    let err = sqlx::query("UPDATE daily_registers SET sha256 = 'x'")
        .execute(env.app.store.pool())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    let err = sqlx::query("UPDATE daily_registers SET sha256 = 'x'")
        .execute(&env.owner_pool().await)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");

    for fleet in fleets {
        fleet.stop().await;
    }
    env.teardown().await;
}
