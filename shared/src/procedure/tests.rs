use super::*;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

#[test]
fn the_due_date_is_protocol_date_plus_term() {
    let clock = Clock::start(day("2026-01-15"), 30);
    assert_eq!(clock.due_on(), day("2026-02-14"));
    // Calendar days across a leap February and a year's end.
    assert_eq!(
        Clock::start(day("2028-02-01"), 30).due_on(),
        day("2028-03-02")
    );
    assert_eq!(
        Clock::start(day("2026-12-20"), 30).due_on(),
        day("2027-01-19")
    );
    assert_eq!(
        Clock::start(day("2026-07-01"), 180).due_on(),
        day("2026-12-28")
    );
}

#[test]
fn a_shortened_day_counts_from_the_registration() {
    let at: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
    let later = at + Duration::seconds(95);
    assert_eq!(day_of(day("2026-03-02"), at, later, 10), day("2026-03-11"));
    assert_eq!(day_of(day("2026-03-02"), at, at, 10), day("2026-03-02"));
    // The real day is the Italian calendar's, whatever the start.
    assert_eq!(
        day_of(day("2026-03-02"), at, later, 86_400),
        day("2026-03-02")
    );
}

#[test]
fn the_legal_date_is_italian() {
    // 23:30 UTC on 31 December is already New Year's Day in Rome (CET, +1).
    let at: DateTime<Utc> = "2026-12-31T23:30:00Z".parse().unwrap();
    assert_eq!(legal_date(at), day("2027-01-01"));
    // In summer (CEST, +2) 22:30 UTC is past midnight too.
    let at: DateTime<Utc> = "2026-07-10T22:30:00Z".parse().unwrap();
    assert_eq!(legal_date(at), day("2026-07-11"));
}

#[test]
fn an_integration_suspends_once_until_answered() {
    let mut clock = Clock::start(day("2026-03-02"), 30);
    assert!(clock.suspend(SuspensionKind::Integration, day("2026-03-10")));
    // While open, the due date is the latest it can become.
    assert_eq!(clock.due_on(), day("2026-04-01") + Duration::days(30));
    assert_eq!(clock.status(day("2026-03-20"), 5), Status::Suspended);
    assert_eq!(
        clock.status(day("2026-04-20"), 5),
        Status::Running,
        "ran out"
    );
    assert_eq!(clock.resume(day("2026-03-22")), Some(12));
    assert_eq!(clock.due_on(), day("2026-04-13"));
    // A second request does not suspend again.
    assert!(!clock.suspend(SuspensionKind::Integration, day("2026-03-30")));
    assert_eq!(clock.open, None);
    assert_eq!(clock.due_on(), day("2026-04-13"));
    assert_eq!(clock.resume(day("2026-04-01")), None);
}

#[test]
fn a_suspension_lasts_at_most_thirty_days() {
    let mut clock = Clock::start(day("2026-03-02"), 30);
    clock.suspend(SuspensionKind::Integration, day("2026-03-10"));
    assert_eq!(clock.settle(day("2026-04-08")), None, "29 days: still open");
    assert_eq!(clock.settle(day("2026-04-09")), Some(30));
    assert_eq!(clock.due_on(), day("2026-05-01"));
    let mut late = Clock::start(day("2026-03-02"), 30);
    late.suspend(SuspensionKind::Integration, day("2026-03-10"));
    assert_eq!(late.resume(day("2026-06-01")), Some(30), "capped");
    // The same day: nothing suspended.
    let mut quick = Clock::start(day("2026-03-02"), 30);
    quick.suspend(SuspensionKind::Integration, day("2026-03-10"));
    assert_eq!(quick.resume(day("2026-03-10")), Some(0));
    assert_eq!(quick.due_on(), day("2026-04-01"));
}

#[test]
fn status_runs_then_is_due_soon_then_overdue() {
    let clock = Clock::start(day("2026-03-02"), 30);
    assert_eq!(clock.due_on(), day("2026-04-01"));
    assert_eq!(clock.status(day("2026-03-26"), 5), Status::Running);
    assert_eq!(clock.status(day("2026-03-27"), 5), Status::DueSoon);
    assert_eq!(clock.status(day("2026-04-01"), 5), Status::DueSoon);
    assert_eq!(clock.status(day("2026-04-02"), 5), Status::Overdue);
    // A suspension that ran out counts its 30 days and the clock runs again.
    let mut clock = clock;
    clock.suspend(SuspensionKind::Integration, day("2026-03-10"));
    assert_eq!(clock.status(day("2026-04-08"), 5), Status::Suspended);
    assert_eq!(clock.status(day("2026-04-09"), 5), Status::Running);
    assert_eq!(clock.status(day("2026-05-02"), 5), Status::Overdue);
}
