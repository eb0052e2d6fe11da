//! The procedure's clock (L. 241/1990): its rules, in pure date arithmetic, and the table that
//! holds each practice's clock (`procedure_clocks`, migrations 0013 and 0015), owned here alone.
//!
//! - The term runs from the protocol date of the incoming registration (art. 18-bis: the date of
//!   presentation), in Italian calendar days, for the catalog's `term_days` (art. 2).
//! - **due date = protocol date + term + suspended days.** The due date is the last day on
//!   which the office may still conclude; the day after, the practice is late.
//! - An integration request suspends the term once, for at most 30 days (art. 2 c.7): it resumes
//!   when the citizen's integration is registered or when the 30 days run out; a second request
//!   does not suspend again.
//! - A preavviso di rigetto suspends the term for the citizen's observations, at most 10 days
//!   (art. 10-bis, as amended by DL 76/2020): it resumes when the observations are registered or
//!   when the 10 days run out; it does not use up the integration's one suspension.
//! - While a suspension is open the due date shown is the latest it can become (as if the
//!   suspension lasted its longest); when the suspension ends it is the exact one. A suspended
//!   term never runs late.
//! - Suspended days are whole calendar days between the day of the request and the day the
//!   suspension ends (a request answered the same day suspends nothing).

pub mod times;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Europe::Rome;
use serde::Serialize;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::catalog::{PracticeType, Silence};
use crate::store::Tx;

/// Art. 2 c.7: an integration request suspends the term for at most 30 days.
pub const INTEGRATION_MAX_DAYS: u32 = 30;
/// Art. 10-bis: the citizen has 10 days for observations.
pub const OBSERVATIONS_DAYS: u32 = 10;

/// The last day for the citizen's observations on a preavviso di rigetto given at `at`.
pub fn observations_deadline(at: DateTime<Utc>) -> NaiveDate {
    legal_date(at) + Duration::days(i64::from(OBSERVATIONS_DAYS))
}

/// The legal date of an instant: Italian local time.
pub fn legal_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Rome).date_naive()
}

/// The procedure's day at `now` for a clock started on `started_on` at `started_at`: the
/// Italian calendar date, or — when a demo shortens the day to `day_secs` seconds — the
/// protocol date plus the shortened days elapsed since the registration.
pub fn day_of(
    started_on: NaiveDate,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
    day_secs: u64,
) -> NaiveDate {
    if day_secs == 0 || day_secs == 86_400 {
        return legal_date(now);
    }
    let elapsed = (now - started_at).num_seconds().max(0) as u64;
    started_on + Duration::days((elapsed / day_secs) as i64)
}

/// Why the term stands still.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspensionKind {
    /// Art. 2 c.7: documents or information the office does not already hold.
    Integration,
    /// Art. 10-bis: the citizen's observations after a preavviso di rigetto.
    Observations,
}

impl SuspensionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SuspensionKind::Integration => "integration",
            SuspensionKind::Observations => "observations",
        }
    }

    pub fn parse(text: &str) -> Option<SuspensionKind> {
        match text {
            "integration" => Some(SuspensionKind::Integration),
            "observations" => Some(SuspensionKind::Observations),
            _ => None,
        }
    }

    /// The longest this suspension may last.
    pub fn max_days(self) -> u32 {
        match self {
            SuspensionKind::Integration => INTEGRATION_MAX_DAYS,
            SuspensionKind::Observations => OBSERVATIONS_DAYS,
        }
    }
}

/// A suspension under way since `since` (the day of the request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OpenSuspension {
    pub kind: SuspensionKind,
    pub since: NaiveDate,
}

impl OpenSuspension {
    /// The day it ends by itself.
    pub fn runs_out_on(&self) -> NaiveDate {
        self.since + Duration::days(i64::from(self.kind.max_days()))
    }
}

/// One practice's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clock {
    pub started_on: NaiveDate,
    pub term_days: u32,
    /// Days of suspensions that have ended.
    pub suspended_days: u32,
    pub open: Option<OpenSuspension>,
    /// The one integration suspension has been used.
    pub integration_used: bool,
}

/// Where a clock stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    /// Within the configured days before the due date (the due date included).
    DueSoon,
    /// The due date has passed.
    Overdue,
    Suspended,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::DueSoon => "due_soon",
            Status::Overdue => "overdue",
            Status::Suspended => "suspended",
        }
    }
}

impl Clock {
    pub fn start(started_on: NaiveDate, term_days: u32) -> Clock {
        Clock {
            started_on,
            term_days,
            suspended_days: 0,
            open: None,
            integration_used: false,
        }
    }

    /// Protocol date + term + suspended days; with a suspension open, as if it ran its course.
    pub fn due_on(&self) -> NaiveDate {
        let open = self.open.map_or(0, |open| open.kind.max_days());
        self.started_on + Duration::days(i64::from(self.term_days + self.suspended_days + open))
    }

    /// Suspends the term from `on`; false (nothing changes) when a suspension is already open
    /// or the one integration suspension has been used.
    pub fn suspend(&mut self, kind: SuspensionKind, on: NaiveDate) -> bool {
        if self.open.is_some() {
            return false;
        }
        match kind {
            SuspensionKind::Integration if self.integration_used => return false,
            SuspensionKind::Integration => self.integration_used = true,
            // Art. 10-bis suspends besides the one integration suspension of art. 2 c.7.
            SuspensionKind::Observations => {}
        }
        self.open = Some(OpenSuspension { kind, since: on });
        true
    }

    /// Ends the open suspension on `on`; returns the days it counted (at most its maximum).
    pub fn resume(&mut self, on: NaiveDate) -> Option<u32> {
        let open = self.open.take()?;
        let elapsed = (on - open.since).num_days().max(0);
        let days = u32::try_from(elapsed)
            .unwrap_or(u32::MAX)
            .min(open.kind.max_days());
        self.suspended_days += days;
        Some(days)
    }

    /// Ends a suspension whose longest duration has run out by `today`.
    pub fn settle(&mut self, today: NaiveDate) -> Option<u32> {
        match self.open {
            Some(open) if today >= open.runs_out_on() => self.resume(open.runs_out_on()),
            _ => None,
        }
    }

    /// The clock's status on `today`, `soon_days` being how early "due soon" begins.
    pub fn status(&self, today: NaiveDate, soon_days: u32) -> Status {
        let mut clock = self.clone();
        clock.settle(today);
        if clock.open.is_some() {
            return Status::Suspended;
        }
        let due = clock.due_on();
        if today > due {
            Status::Overdue
        } else if today + Duration::days(i64::from(soon_days)) >= due {
            Status::DueSoon
        } else {
            Status::Running
        }
    }
}

/// Whether an outcome reached in `state` ends the procedure (the clock stops).
pub fn concludes(state: crate::domain::state::PracticeState) -> bool {
    use crate::domain::state::PracticeState::*;
    matches!(
        state,
        Completed | Denied | Withdrawn | Rejected | Delivered | SilentConsent
    )
}

// ───────────────────────────── the table ─────────────────────────────

/// A clock as the folder, the API and the events show it.
#[derive(Debug, Clone, Serialize)]
pub struct ClockView {
    pub practice_id: Uuid,
    pub practice_type: String,
    pub term_days: u32,
    pub silence: String,
    pub office: String,
    pub started_on: NaiveDate,
    pub due_on: NaiveDate,
    pub suspended_days: u32,
    /// `integration` while a suspension is open.
    pub suspended: Option<String>,
    pub suspended_since: Option<NaiveDate>,
    pub concluded_at: Option<DateTime<Utc>>,
}

/// Starts the clock of a practice registered on `protocol_date`; a clock started before stays.
pub async fn start(
    tx: &mut Tx,
    practice_id: Uuid,
    practice_type: &PracticeType,
    protocol_date: NaiveDate,
    registered_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let clock = Clock::start(protocol_date, practice_type.term_days);
    sqlx::query(
        "INSERT INTO procedure_clocks (practice_id, practice_type, term_days, silence, office, \
         started_on, due_on, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT DO NOTHING",
    )
    .bind(practice_id)
    .bind(&practice_type.code)
    .bind(practice_type.term_days as i32)
    .bind(practice_type.silence.as_str())
    .bind(&practice_type.office)
    .bind(protocol_date)
    .bind(clock.due_on())
    .bind(registered_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn clock_of(row: &sqlx::postgres::PgRow) -> Clock {
    let kind: Option<String> = row.get("suspension_kind");
    let since: Option<NaiveDate> = row.get("suspended_since");
    Clock {
        started_on: row.get("started_on"),
        term_days: row.get::<i32, _>("term_days") as u32,
        suspended_days: row.get::<i32, _>("suspended_days") as u32,
        open: kind
            .as_deref()
            .and_then(SuspensionKind::parse)
            .zip(since)
            .map(|(kind, since)| OpenSuspension { kind, since }),
        integration_used: row.get("integration_used"),
    }
}

macro_rules! columns {
    () => {
        "practice_id, practice_type, term_days, silence, office, started_on, due_on, \
         suspended_days, suspension_kind, suspended_since, integration_used, concluded_at, \
         started_at"
    };
}

/// A clock locked for a change, with the instant it started.
async fn locked(
    tx: &mut Tx,
    practice_id: Uuid,
) -> Result<Option<(Clock, DateTime<Utc>)>, sqlx::Error> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM procedure_clocks WHERE practice_id = $1 AND concluded_at IS NULL FOR UPDATE"
    ))
    .bind(practice_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row
        .as_ref()
        .map(|row| (clock_of(row), row.get("started_at"))))
}

/// Writes `clock` back (due date recomputed).
pub async fn save(tx: &mut Tx, practice_id: Uuid, clock: &Clock) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE procedure_clocks SET suspended_days = $2, suspension_kind = $3, \
         suspended_since = $4, integration_used = $5, due_on = $6, updated_at = now() \
         WHERE practice_id = $1",
    )
    .bind(practice_id)
    .bind(clock.suspended_days as i32)
    .bind(clock.open.map(|open| open.kind.as_str()))
    .bind(clock.open.map(|open| open.since))
    .bind(clock.integration_used)
    .bind(clock.due_on())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Suspends the practice's term from `on` if the rules allow; returns whether it did.
pub async fn suspend(
    tx: &mut Tx,
    practice_id: Uuid,
    kind: SuspensionKind,
    now: DateTime<Utc>,
    day_secs: u64,
) -> Result<bool, sqlx::Error> {
    let Some((mut clock, started_at)) = locked(tx, practice_id).await? else {
        return Ok(false);
    };
    let on = day_of(clock.started_on, started_at, now, day_secs);
    // A suspension that ran out before is over before another is asked for.
    clock.settle(on);
    let suspended = clock.suspend(kind, on);
    if suspended {
        save(tx, practice_id, &clock).await?;
    }
    Ok(suspended)
}

/// Resumes the practice's term at `now` (the citizen's answer was registered); returns the
/// days the suspension counted, `None` when none was open.
pub async fn resume(
    tx: &mut Tx,
    practice_id: Uuid,
    now: DateTime<Utc>,
    day_secs: u64,
) -> Result<Option<u32>, sqlx::Error> {
    let Some((mut clock, started_at)) = locked(tx, practice_id).await? else {
        return Ok(None);
    };
    let on = day_of(clock.started_on, started_at, now, day_secs);
    let days = clock.resume(on);
    if days.is_some() {
        save(tx, practice_id, &clock).await?;
    }
    Ok(days)
}

/// Stops the clock: the procedure has its outcome.
pub async fn conclude(
    tx: &mut Tx,
    practice_id: Uuid,
    at: DateTime<Utc>,
    day_secs: u64,
) -> Result<(), sqlx::Error> {
    if let Some((mut clock, started_at)) = locked(tx, practice_id).await? {
        clock.resume(day_of(clock.started_on, started_at, at, day_secs));
        save(tx, practice_id, &clock).await?;
        sqlx::query("UPDATE procedure_clocks SET concluded_at = $2 WHERE practice_id = $1")
            .bind(practice_id)
            .bind(at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

fn view_of(row: &sqlx::postgres::PgRow) -> ClockView {
    let clock = clock_of(row);
    ClockView {
        practice_id: row.get("practice_id"),
        practice_type: row.get("practice_type"),
        term_days: clock.term_days,
        silence: row.get("silence"),
        office: row.get("office"),
        started_on: clock.started_on,
        due_on: clock.due_on(),
        suspended_days: clock.suspended_days,
        suspended: clock.open.map(|open| open.kind.as_str().to_owned()),
        suspended_since: clock.open.map(|open| open.since),
        concluded_at: row.get("concluded_at"),
    }
}

/// The practice's clock, once registered.
pub async fn view(pool: &PgPool, practice_id: Uuid) -> Result<Option<ClockView>, sqlx::Error> {
    let row = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM procedure_clocks WHERE practice_id = $1"
    ))
    .bind(practice_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(view_of))
}

/// The due dates of `practices` that have a clock.
pub async fn due_dates_of(
    pool: &PgPool,
    practices: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, NaiveDate>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT practice_id, due_on FROM procedure_clocks WHERE practice_id = ANY($1)")
            .bind(practices)
            .fetch_all(pool)
            .await?;
    Ok(rows
        .iter()
        .map(|row| (row.get("practice_id"), row.get("due_on")))
        .collect())
}

/// A practice whose term is close or past, for the operators' list.
#[derive(Debug, Clone, Serialize)]
pub struct DueEntry {
    #[serde(flatten)]
    pub clock: ClockView,
    /// `due_soon` or `overdue`.
    pub status: Status,
    /// Days past the due date (negative: days left).
    pub days_late: i64,
    pub state: String,
    pub subject: String,
}

/// The open clocks in `wanted` status (`DueSoon` or `Overdue`) at `now`, most late first.
pub async fn due_list(
    pool: &PgPool,
    wanted: Status,
    now: DateTime<Utc>,
    day_secs: u64,
    soon_days: u32,
) -> Result<Vec<DueEntry>, sqlx::Error> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        ", (SELECT state FROM practices p WHERE p.id = c.practice_id) AS state, \
         (SELECT subject FROM practices p WHERE p.id = c.practice_id) AS subject \
         FROM procedure_clocks c WHERE concluded_at IS NULL ORDER BY due_on, practice_id"
    ))
    .fetch_all(pool)
    .await?;
    let mut list = Vec::new();
    for row in &rows {
        let mut clock = clock_of(row);
        let today = day_of(clock.started_on, row.get("started_at"), now, day_secs);
        clock.settle(today);
        let status = clock.status(today, soon_days);
        if status != wanted {
            continue;
        }
        let mut view = view_of(row);
        view.due_on = clock.due_on();
        view.suspended_days = clock.suspended_days;
        list.push(DueEntry {
            days_late: (today - clock.due_on()).num_days(),
            clock: view,
            status,
            state: row.get("state"),
            subject: row.get("subject"),
        });
    }
    list.sort_by_key(|entry| std::cmp::Reverse(entry.days_late));
    Ok(list)
}

mod timers;
pub use timers::*;

#[cfg(test)]
mod tests;
