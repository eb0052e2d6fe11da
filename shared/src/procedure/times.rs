//! Actual times of the procedures (L. 241/1990 art. 2 c.4-bis: administrations measure and
//! publish them): per practice type, how many procedures ended with an outcome, in how many
//! days net of the suspensions, and how many within their term.
//!
//! Read from the clocks: a clock records the protocol date, the suspended days and the moment
//! of the outcome, so the days to conclusion are the days from the protocol date to the
//! outcome's legal date, less the suspended days. Withdrawn and rejected practices have no
//! outcome of the office and are not counted; a silenzio-assenso is (the law's outcome, the day
//! after the term: never within it).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};
use std::collections::BTreeMap;

use super::day_of;

/// One concluded procedure, as the statistics need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concluded {
    /// Days from the protocol date to the outcome, less the suspended days.
    pub net_days: i64,
    pub within_term: bool,
}

impl Concluded {
    pub fn of(
        started_on: NaiveDate,
        concluded_on: NaiveDate,
        suspended_days: u32,
        due_on: NaiveDate,
    ) -> Concluded {
        Concluded {
            net_days: ((concluded_on - started_on).num_days() - i64::from(suspended_days)).max(0),
            within_term: concluded_on <= due_on,
        }
    }
}

/// The published figures of one practice type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeTimes {
    pub practice_type: String,
    pub term_days: u32,
    pub concluded: usize,
    /// Mean days to conclusion, net of suspensions, to one decimal.
    pub mean_days: f64,
    /// 90th percentile (nearest rank) of the same days.
    pub p90_days: i64,
    /// Share concluded within the term, 0 to 1, to three decimals.
    pub within_term_share: f64,
}

/// The figures of one type from its concluded procedures; `None` when there are none.
pub fn summarise(practice_type: &str, term_days: u32, all: &[Concluded]) -> Option<TypeTimes> {
    if all.is_empty() {
        return None;
    }
    let mut days: Vec<i64> = all.iter().map(|c| c.net_days).collect();
    days.sort_unstable();
    let n = days.len();
    // Nearest rank: the smallest value with at least 90% of the values at or below it.
    let rank = (n * 90).div_ceil(100).max(1);
    let mean = days.iter().sum::<i64>() as f64 / n as f64;
    let within = all.iter().filter(|c| c.within_term).count() as f64 / n as f64;
    Some(TypeTimes {
        practice_type: practice_type.to_owned(),
        term_days,
        concluded: n,
        mean_days: (mean * 10.0).round() / 10.0,
        p90_days: days[rank - 1],
        within_term_share: (within * 1000.0).round() / 1000.0,
    })
}

/// The figures of every type with at least one procedure concluded by an outcome.
pub async fn procedure_times(pool: &PgPool, day_secs: u64) -> Result<Vec<TypeTimes>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.practice_type, c.term_days, c.started_on, c.started_at, c.suspended_days, \
         c.due_on, c.concluded_at FROM procedure_clocks c JOIN practices p ON p.id = c.practice_id \
         WHERE c.concluded_at IS NOT NULL AND p.state IN ('completed', 'denied', 'delivered', 'silent_consent') \
         ORDER BY c.practice_type",
    )
    .fetch_all(pool)
    .await?;
    let mut by_type: BTreeMap<String, (u32, Vec<Concluded>)> = BTreeMap::new();
    for row in &rows {
        let started_on: NaiveDate = row.get("started_on");
        let started_at: DateTime<Utc> = row.get("started_at");
        let concluded_at: DateTime<Utc> = row.get("concluded_at");
        let concluded = Concluded::of(
            started_on,
            day_of(started_on, started_at, concluded_at, day_secs),
            row.get::<i32, _>("suspended_days") as u32,
            row.get("due_on"),
        );
        by_type
            .entry(row.get("practice_type"))
            .or_insert_with(|| (row.get::<i32, _>("term_days") as u32, Vec::new()))
            .1
            .push(concluded);
    }
    Ok(by_type
        .iter()
        .filter_map(|(kind, (term, all))| summarise(kind, *term, all))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    #[test]
    fn suspended_days_are_not_counted() {
        let c = Concluded::of(day(1), day(25), 10, day(31));
        assert_eq!(c.net_days, 14);
        assert!(c.within_term);
        assert!(!Concluded::of(day(1), day(31), 0, day(30)).within_term);
    }

    #[test]
    fn mean_percentile_and_share() {
        // Ten procedures of 1..=10 days, two of them late.
        let all: Vec<Concluded> = (1..=10)
            .map(|d| Concluded {
                net_days: d,
                within_term: d <= 8,
            })
            .collect();
        let t = summarise("tributi.rimborso_imu", 30, &all).unwrap();
        assert_eq!(t.concluded, 10);
        assert_eq!(t.mean_days, 5.5);
        assert_eq!(t.p90_days, 9);
        assert_eq!(t.within_term_share, 0.8);
        let one = summarise("x", 30, &all[..1]).unwrap();
        assert_eq!((one.p90_days, one.mean_days), (1, 1.0));
        assert!(summarise("x", 30, &[]).is_none());
    }
}
