//! Time as operators write it, and how long to wait before trying again.
//!
//! Durations appear in configuration and on the command line (`5s`, `2m`, `8h`, `7d`): one
//! parser reads them all, so a retry tier and a token's validity are spelled alike. Every
//! component that reconnects (workers, the live-events feed, the start-up wait, the simulator)
//! backs off the same way, doubling up to a ceiling, so that a broker coming back is not met by
//! a stampede and a long outage is not polled every half second.

use std::time::Duration;

/// `<positive integer><s|m|h|d>`, or `None`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let number: u64 = number.parse().ok().filter(|n| *n > 0)?;
    let seconds = match unit {
        "s" => number,
        "m" => number.checked_mul(60)?,
        "h" => number.checked_mul(3600)?,
        "d" => number.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// Exponential backoff: `first`, then doubling up to `ceiling`; [`Backoff::reset`] after a
/// success that lasted.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    ceiling: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, ceiling: Duration) -> Backoff {
        Backoff {
            first,
            ceiling,
            next: first,
        }
    }

    /// Half a second, doubling up to thirty: what reconnecting to a service wants.
    pub fn reconnecting() -> Backoff {
        Backoff::new(Duration::from_millis(500), Duration::from_secs(30))
    }

    /// The pause before the next try; each call doubles the one after.
    pub fn next_pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.ceiling);
        pause
    }

    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_operators_write_them() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration(" 2m "), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("8h"), Some(Duration::from_secs(8 * 3600)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86_400)));
        for wrong in ["8", "0h", "h", "5 s", "-5s", "5w", "99999999999999999999d"] {
            assert_eq!(parse_duration(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn the_pause_doubles_up_to_its_ceiling_and_starts_over_after_a_reset() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let pauses: Vec<u64> = (0..5).map(|_| backoff.next_pause().as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 5, 5]);
        backoff.reset();
        assert_eq!(backoff.next_pause(), Duration::from_secs(1));
    }
}
