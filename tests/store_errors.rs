//! Which database errors are worth a retry: the plumbing sends the others to the error queue
//! at once, so a message with bad data does not wait through every retry tier first.

use sportello_e2e::TestEnv;
use sportello_shared::store::is_transient;
use sportello_shared::worker::Failure;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_errors_are_permanent_and_outages_are_transient() {
    let env = TestEnv::new().await;
    let pool = env.app.store.pool();
    for (sql, what) in [
        ("SELECT 1 / 0", "division by zero (22012)"),
        (
            "SELECT convert_from('\\x00'::bytea, 'UTF8')",
            "a NUL byte in text (22021)",
        ),
        ("SELECT 'not a date'::date", "an unreadable value (22007)"),
        (
            "INSERT INTO register_counters VALUES ('a', 'PG', 2026, 1), ('a', 'PG', 2026, 2)",
            "a unique violation (23505)",
        ),
    ] {
        let err = sqlx::query(sql).execute(pool).await.unwrap_err();
        assert!(!is_transient(&err), "{what}: {err}");
        assert!(
            matches!(Failure::from(err), Failure::Reject(_)),
            "{what} goes to the error queue"
        );
    }

    // Nobody listens on port 1: the database is away, which waiting can mend.
    let away = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(2))
        .connect("postgres://sportello@127.0.0.1:1/sportello")
        .await
        .unwrap_err();
    assert!(is_transient(&away), "{away}");
    assert!(matches!(Failure::from(away), Failure::Retry(_)));

    env.teardown().await;
}
