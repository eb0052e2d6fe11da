//! What keeps one caller, or all of them together, from exhausting the service: a cap on live
//! event streams (each holds a connection, a broadcast receiver and a poll of the store) and a
//! token bucket for submissions (each publishes to the broker and may carry megabytes).
//!
//! Both count per holder (issuer and subject, see [`crate::auth::Session::holder`]) in memory,
//! per process: a replica behind a load balancer limits its own share. Memory is bounded: the
//! stream map never holds more entries than streams open (at most `max_streams`), and the
//! bucket map at most [`MAX_TRACKED`] holders, a full bucket being the same as none.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Holders whose submission buckets are remembered at once.
pub const MAX_TRACKED: usize = 10_000;

/// Why a stream may not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRefusal {
    /// This holder has `max_per_holder` open already: 429.
    PerHolder(usize),
    /// The service has `max_total` open already: 503.
    Total(usize),
}

/// The open live streams, in all and per holder.
#[derive(Debug)]
pub struct StreamSlots {
    max_total: usize,
    max_per_holder: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_holder: HashMap<String, usize>,
}

/// One open stream; dropping it (the stream ended, or the client went away) frees its slot.
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    holder: String,
}

impl StreamSlots {
    pub fn new(max_total: usize, max_per_holder: usize) -> Arc<StreamSlots> {
        Arc::new(StreamSlots {
            max_total,
            max_per_holder,
            open: Mutex::default(),
        })
    }

    pub fn acquire(self: &Arc<Self>, holder: &str) -> Result<StreamSlot, StreamRefusal> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mine = open.by_holder.get(holder).copied().unwrap_or(0);
        if mine >= self.max_per_holder {
            return Err(StreamRefusal::PerHolder(self.max_per_holder));
        }
        if open.total >= self.max_total {
            return Err(StreamRefusal::Total(self.max_total));
        }
        open.total += 1;
        *open.by_holder.entry(holder.to_owned()).or_insert(0) += 1;
        Ok(StreamSlot {
            slots: self.clone(),
            holder: holder.to_owned(),
        })
    }

    /// Streams open now (for tests and metrics).
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_holder.get_mut(&self.holder) {
            *count -= 1;
            if *count == 0 {
                open.by_holder.remove(&self.holder);
            }
        }
    }
}

/// A token bucket per holder: `burst` at once, refilled at `per_minute`.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    max_tracked: usize,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub fn new(per_minute: u32, burst: u32) -> RateLimiter {
        Self::with_capacity(per_minute, burst, MAX_TRACKED)
    }

    pub fn with_capacity(per_minute: u32, burst: u32, max_tracked: usize) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_minute.max(1)) / 60.0,
            burst: f64::from(burst.max(1)),
            max_tracked: max_tracked.max(1),
            buckets: Mutex::default(),
        }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * self.per_second).min(self.burst)
    }

    /// Takes one token of `holder`'s bucket, or says how long until one is there.
    pub fn take(&self, holder: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(holder) && buckets.len() >= self.max_tracked {
            self.make_room(&mut buckets, now);
        }
        let bucket = buckets.entry(holder.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let tokens = self.refilled(*bucket, now);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            Err(Duration::from_secs_f64((1.0 - tokens) / self.per_second))
        }
    }

    /// Forgets the full buckets (the same as none); if every holder is still short of a full
    /// bucket, the fullest one — the least harm, as it is the closest to forgotten anyway.
    fn make_room(&self, buckets: &mut HashMap<String, Bucket>, now: Instant) {
        buckets.retain(|_, bucket| self.refilled(*bucket, now) < self.burst);
        if buckets.len() >= self.max_tracked {
            let fullest = buckets
                .iter()
                .max_by(|a, b| {
                    self.refilled(*a.1, now)
                        .total_cmp(&self.refilled(*b.1, now))
                })
                .map(|(holder, _)| holder.clone());
            if let Some(holder) = fullest {
                buckets.remove(&holder);
            }
        }
    }

    /// Holders remembered now.
    pub fn tracked(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_capped_per_holder_and_in_all_and_freed_on_drop() {
        let slots = StreamSlots::new(3, 2);
        let a1 = slots.acquire("a").unwrap();
        let _a2 = slots.acquire("a").unwrap();
        assert_eq!(slots.acquire("a").unwrap_err(), StreamRefusal::PerHolder(2));
        let _b1 = slots.acquire("b").unwrap();
        assert_eq!(slots.acquire("c").unwrap_err(), StreamRefusal::Total(3));
        drop(a1);
        assert_eq!(slots.open(), 2);
        let _a3 = slots.acquire("a").unwrap();
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let limiter = RateLimiter::new(60, 3);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.take("a", start).unwrap();
        }
        let wait = limiter.take("a", start).unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // Another holder has its own bucket.
        limiter.take("b", start).unwrap();
        // One a second comes back.
        limiter.take("a", start + Duration::from_secs(1)).unwrap();
        assert!(limiter.take("a", start + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn memory_stays_bounded_whoever_asks() {
        let limiter = RateLimiter::with_capacity(60, 2, 100);
        let now = Instant::now();
        for i in 0..1000 {
            limiter.take(&format!("holder-{i}"), now).unwrap();
        }
        assert!(limiter.tracked() <= 100, "{}", limiter.tracked());
        // Full buckets are forgotten first: a holder that spent its burst stays tracked.
        let limiter = RateLimiter::with_capacity(60, 2, 2);
        limiter.take("spender", now).unwrap();
        limiter.take("spender", now).unwrap();
        limiter.take("x", now).unwrap();
        limiter.take("y", now).unwrap();
        assert!(limiter.take("spender", now).is_err(), "still limited");
    }
}
