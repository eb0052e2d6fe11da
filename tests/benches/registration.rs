//! Benchmark: registration throughput, batched against one at a time, and both against the
//! raw limits of the same components measured in the same run.
//!
//! `cargo bench -p sportello-e2e --bench registration` (the local stack must be up). It drives
//! the protocol worker's handler directly on a fresh database — no broker in the loop — so it
//! measures what batching changes: commits. The raw limits measured first are one PostgreSQL
//! commit (a one-row insert per transaction) and one segnatura signature (CPU); a registration
//! needs at least one of each, and batching can only amortise the first.
//!
//! Sizes: `SPORTELLO_BENCH_SINGLE` (default 400) and `SPORTELLO_BENCH_BATCHED` (default 8192).

use sportello_e2e::TestEnv;
use sportello_shared::messages::StageMessage;
use sportello_shared::worker::{BatchHandler, Incoming, Outcome};
use std::time::Instant;

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn message(id: uuid::Uuid) -> Incoming {
    Incoming {
        body: serde_json::to_vec(&StageMessage::new(id)).unwrap(),
        headers: Default::default(),
        attempt: 0,
        redelivered: false,
        practice_id: Some(id.to_string()),
        user_id: None,
        sender: None,
    }
}

/// A segnatura like the ones the worker signs: one citizen, one AOO, two documents.
fn sample_segnatura(
    keeper: &sportello_register::Keeper,
) -> sportello_register::segnatura::Segnatura {
    use sportello_register::segnatura::*;
    let document = |name: &str| Document {
        file_name: name.to_owned(),
        mime_type: "application/pdf".to_owned(),
        description: None,
        fingerprint: Impronta::of(name.as_bytes()),
        location: None,
    };
    Segnatura {
        registration: RegistrationId {
            administration: keeper.administration.clone(),
            aoo: keeper.aoo.clone(),
            register: keeper.register.clone(),
            number: ProtocolNumber::new(1).unwrap(),
            date: chrono::Utc::now().date_naive(),
            time: None,
        },
        first_registration: None,
        subject: "Richiesta di cambio di residenza".to_owned(),
        classification: Classification {
            name: "Anagrafe".to_owned(),
            code: ClassCode::Flat("11.2".to_owned()),
        },
        dossier: None,
        reserved: None,
        sender: Party::NaturalPerson(NaturalPerson {
            given_name: "Giulia".to_owned(),
            family_name: "Bonfanti".to_owned(),
            title: None,
            codice_fiscale: Some("BNFGLI87C54A794U".to_owned()),
            contacts: None,
        }),
        recipients: vec![Recipient::new(keeper.as_party())],
        primary_document: document("istanza.json"),
        attachments: vec![document("domanda.pdf")],
    }
}

fn rate(count: usize, started: Instant) -> f64 {
    count as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let single = size("SPORTELLO_BENCH_SINGLE", 400);
    let batched = size("SPORTELLO_BENCH_BATCHED", 8192);
    let env = TestEnv::new().await;
    let pool = env.app.store.pool();

    // Raw limit 1: one durable commit.
    sqlx::query("CREATE TABLE bench_commit (n integer)")
        .execute(pool)
        .await
        .unwrap();
    let started = Instant::now();
    for n in 0..single as i32 {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO bench_commit VALUES ($1)")
            .bind(n)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let commits = rate(single, started);

    // Raw limit 2: one signature of a segnatura.
    let protocol = sportello_fleet::fleet::protocol(&env.app).expect("protocol worker");
    let signer = protocol.signer.clone();
    let sample = sample_segnatura(&protocol.keeper);
    let started = Instant::now();
    for _ in 0..single {
        signer.sign(&sample, chrono::Utc::now()).unwrap();
    }
    let signatures = rate(single, started);

    // One registration per transaction.
    let ids = env.seed_validated((single + batched) as i64).await;
    let (one_by_one, in_batches) = ids.split_at(single);
    let started = Instant::now();
    for id in one_by_one {
        let outcomes = protocol.handle_batch(&[message(*id)]).await;
        assert!(matches!(outcomes[..], [Outcome::Done(_)]));
    }
    let single_rate = rate(single, started);

    // The deliveries in hand, registered together.
    let batch_size = env.settings.protocol.batch_size;
    let started = Instant::now();
    for chunk in in_batches.chunks(batch_size) {
        let messages: Vec<Incoming> = chunk.iter().copied().map(message).collect();
        let outcomes = protocol.handle_batch(&messages).await;
        assert!(outcomes.iter().all(|o| matches!(o, Outcome::Done(_))));
    }
    let batch_rate = rate(batched, started);

    let registered: i64 = sqlx::query_scalar("SELECT count(*) FROM registrations")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(
        registered as usize,
        single + batched,
        "every practice registered once"
    );

    println!(
        "registration benchmark ({} one at a time, {} in batches of {batch_size})",
        single, batched
    );
    println!("  raw PostgreSQL commit           {commits:>10.0} /s");
    println!("  raw segnatura signature         {signatures:>10.0} /s");
    println!(
        "  registration, one per commit    {single_rate:>10.0} /s   = {:.2} x raw commit",
        single_rate / commits
    );
    println!(
        "  registration, batched           {batch_rate:>10.0} /s   = {:.2} x raw signature",
        batch_rate / signatures
    );
    println!(
        "  batched / one at a time         {:>10.1} x",
        batch_rate / single_rate
    );
    env.teardown().await;
}
