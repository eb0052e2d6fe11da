//! The timers of the clocks: `due_soon` and `overdue` fired once per practice and kind, from
//! PostgreSQL (SKIP LOCKED: any number of timer jobs), and their outbox of reminders.

use super::*;

/// One timer event, fired once per practice and kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fired {
    pub practice_id: Uuid,
    pub practice_type: String,
    /// `due_soon`, `overdue` or `suspension_ended`.
    pub kind: String,
    pub silence: String,
    pub due_on: NaiveDate,
    pub fired_on: NaiveDate,
}

/// What one pass of the timer job did.
#[derive(Debug, Default, Clone)]
pub struct Pass {
    pub looked_at: usize,
    pub fired: Vec<Fired>,
}

/// Looks at up to `limit` open clocks that may need a timer at `now`, each locked with SKIP
/// LOCKED (another timer job, or a worker moving the practice, has the others): a suspension
/// that ran out ends, and `due_soon` / `overdue` fire. Each event is a row whose primary key is
/// (practice, kind): it fires once, whatever the number of timer jobs and their crashes.
pub async fn fire_timers(
    pool: &PgPool,
    now: DateTime<Utc>,
    day_secs: u64,
    soon_days: u32,
    fired_by: &str,
    limit: i64,
) -> Result<Pass, sqlx::Error> {
    // With real days, only the clocks that can be due are read (or whose suspension may have run
    // out: 10 days is the shortest, the observations'), a shortened day reads all.
    let horizon = (day_secs == 0 || day_secs == 86_400).then(|| legal_date(now));
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM procedure_clocks c WHERE concluded_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM procedure_timer_events e \
             WHERE e.practice_id = c.practice_id AND e.kind = 'overdue') \
         AND ($1::date IS NULL OR due_on <= $1::date + $2::int \
              OR suspended_since + 10 <= $1::date) \
         ORDER BY due_on, practice_id LIMIT $3 FOR UPDATE SKIP LOCKED"
    ))
    .bind(horizon)
    .bind(soon_days as i32)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let mut pass = Pass {
        looked_at: rows.len(),
        fired: Vec::new(),
    };
    for row in &rows {
        let practice_id: Uuid = row.get("practice_id");
        let mut clock = clock_of(row);
        let today = day_of(clock.started_on, row.get("started_at"), now, day_secs);
        let mut kinds = Vec::new();
        if clock.settle(today).is_some() {
            save(&mut tx, practice_id, &clock).await?;
            kinds.push("suspension_ended");
        }
        match clock.status(today, soon_days) {
            Status::DueSoon => kinds.push("due_soon"),
            Status::Overdue => kinds.push("overdue"),
            Status::Running | Status::Suspended => {}
        }
        for kind in kinds {
            let inserted = sqlx::query(
                "INSERT INTO procedure_timer_events \
                 (practice_id, kind, practice_type, due_on, fired_on, fired_by) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(practice_id)
            .bind(kind)
            .bind(row.get::<String, _>("practice_type"))
            .bind(clock.due_on())
            .bind(today)
            .bind(fired_by)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                pass.fired.push(Fired {
                    practice_id,
                    practice_type: row.get("practice_type"),
                    kind: kind.to_owned(),
                    silence: row.get("silence"),
                    due_on: clock.due_on(),
                    fired_on: today,
                });
            }
        }
    }
    tx.commit().await?;
    Ok(pass)
}

/// A fired event whose reminder has not gone out yet, locked until `mark_published` commits
/// (SKIP LOCKED: two timer jobs never publish the same one at once).
pub async fn unpublished(tx: &mut Tx, limit: i64) -> Result<Vec<Fired>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT e.practice_id, e.kind, e.practice_type, e.due_on, e.fired_on, c.silence \
         FROM procedure_timer_events e JOIN procedure_clocks c USING (practice_id) \
         WHERE e.published_at IS NULL AND e.kind IN ('due_soon', 'overdue') \
         ORDER BY e.fired_at LIMIT $1 FOR UPDATE OF e SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .iter()
        .map(|row| Fired {
            practice_id: row.get("practice_id"),
            practice_type: row.get("practice_type"),
            kind: row.get("kind"),
            silence: row.get("silence"),
            due_on: row.get("due_on"),
            fired_on: row.get("fired_on"),
        })
        .collect())
}

pub async fn mark_published(tx: &mut Tx, fired: &Fired) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE procedure_timer_events SET published_at = now() \
         WHERE practice_id = $1 AND kind = $2",
    )
    .bind(fired.practice_id)
    .bind(&fired.kind)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A practice whose silence has become consent (art. 20 L. 241/1990), as the database says it.
#[derive(Debug, Clone, Serialize)]
pub struct SilenceFormed {
    pub clock: ClockView,
    /// The last day of the term, as the `overdue` event recorded it.
    pub due_on: NaiveDate,
    /// The procedure's day on which the timer found the term passed.
    pub fired_on: NaiveDate,
}

impl SilenceFormed {
    /// Consent is formed on the day after the last day of the term.
    pub fn formed_on(&self) -> NaiveDate {
        self.due_on + Duration::days(1)
    }
}

/// The practice's silence, when it has become consent: its clock is still open, its type's
/// silence is consent and its `overdue` event has fired. Read from the database alone, so that
/// whatever asks (a message on the broker) cannot make it so.
pub async fn silence_formed(
    pool: &PgPool,
    practice_id: Uuid,
) -> Result<Option<SilenceFormed>, sqlx::Error> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        ", e.overdue_due_on, e.overdue_fired_on \
         FROM (SELECT * FROM procedure_clocks WHERE practice_id = $1 AND silence = 'consent' \
             AND concluded_at IS NULL) c, \
         LATERAL (SELECT due_on AS overdue_due_on, fired_on AS overdue_fired_on \
             FROM procedure_timer_events \
             WHERE practice_id = $1 AND kind = 'overdue') e"
    ))
    .bind(practice_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| SilenceFormed {
        clock: view_of(&row),
        due_on: row.get("overdue_due_on"),
        fired_on: row.get("overdue_fired_on"),
    }))
}

/// The timer events fired so far, by type and kind, for `/metrics`.
pub async fn fired_counts(pool: &PgPool) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT practice_type, kind, count(*) AS n FROM procedure_timer_events \
         GROUP BY practice_type, kind ORDER BY practice_type, kind",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| (row.get("practice_type"), row.get("kind"), row.get("n")))
        .collect())
}

/// What silence means, for a clock's `silence` column.
pub fn silence_meaning(silence: &str) -> &'static str {
    match silence {
        "consent" => Silence::Consent.meaning(),
        "refusal" => Silence::Refusal.meaning(),
        _ => Silence::Nothing.meaning(),
    }
}
