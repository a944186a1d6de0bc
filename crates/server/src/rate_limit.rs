//! Sign-in rate limiting: a token bucket per client address and one per username, checked
//! before any password is hashed. An attempt takes a token from both, and a successful one gives
//! them back, so only failed attempts use the buckets up; when either is empty the
//! answer is 429 `too_many_sign_ins` with `Retry-After` (seconds until the emptier bucket has a
//! token again), nothing is verified, counted or audited (a flood must not fill the audit log).
//! It sits in front of the lockout ([`Settings::max_failed_sign_ins`]), which still locks a
//! username after 5 failures in a row whatever the addresses.
//!
//! **In memory, per server instance.** Several instances behind a load balancer each keep their
//! own buckets, so a client gets up to n times the rate; the lockout, kept in the database,
//! bounds password guessing across instances anyway. The buckets are lost on restart.
//!
//! **Addresses.** The peer address of the connection (`main.rs` serves with `ConnectInfo`).
//! Behind a reverse proxy every client has the proxy's address: set
//! [`Settings::trust_forwarded_for`] (env `LIAISON_TRUST_FORWARDED_FOR`) to take the last
//! `X-Forwarded-For` entry instead, which is the one the proxy added. A request with no address
//! at all (tests through `oneshot`) shares one bucket.
//!
//! The maps are bounded ([`MAX_KEYS`]): full buckets are dropped first (they hold nothing a
//! new bucket would not), then, under a flood of distinct keys, everything.
//!
//! [`Settings::max_failed_sign_ins`]: crate::Settings::max_failed_sign_ins
//! [`Settings::trust_forwarded_for`]: crate::Settings::trust_forwarded_for

use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The client's address as the limiter keys it (see the module docs), `"unknown"` without one.
pub struct ClientAddress(pub String);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let forwarded = state
            .settings
            .trust_forwarded_for
            .then(|| {
                parts
                    .headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(','))
                    .map(str::trim)
                    .rfind(|v| !v.is_empty())
                    .map(str::to_owned)
            })
            .flatten();
        let peer = || {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip().to_string())
        };
        Ok(ClientAddress(
            forwarded
                .or_else(peer)
                .unwrap_or_else(|| "unknown".to_owned()),
        ))
    }
}

/// How many attempts a bucket allows at once, and how fast it refills.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub burst: u32,
    /// One more attempt after each such period.
    pub every: Duration,
}

impl Rate {
    /// Per address: a station's tablets share one address behind its router, and a shift change
    /// signs in several deputies at once.
    pub const PER_ADDRESS: Rate = Rate {
        burst: 30,
        every: Duration::from_secs(6),
    };
    /// Per username: well above a person mistyping, well below guessing.
    pub const PER_USERNAME: Rate = Rate {
        burst: 10,
        every: Duration::from_secs(12),
    };
}

/// Most keys kept per map.
pub const MAX_KEYS: usize = 10_000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The tokens of `bucket` at `now`: what it had plus what `rate` refilled since, up to the burst.
fn refill(rate: Rate, bucket: Bucket, now: Instant) -> f64 {
    let per_second = 1.0 / rate.every.as_secs_f64().max(1e-9);
    let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
    (bucket.tokens + elapsed * per_second).min(f64::from(rate.burst))
}

#[derive(Debug)]
struct Buckets {
    rate: Rate,
    map: HashMap<String, Bucket>,
}

impl Buckets {
    fn new(rate: Rate) -> Self {
        Buckets {
            rate,
            map: HashMap::new(),
        }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        refill(self.rate, bucket, now)
    }

    /// The wait before `key` may try, `None` if it may now (without taking a token).
    fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        let bucket = self.map.get(key)?;
        let tokens = self.refilled(*bucket, now);
        (tokens < 1.0).then(|| self.rate.every.mul_f64(1.0 - tokens))
    }

    /// Gives back the token [`Buckets::take`] took (a successful attempt), up to the burst.
    fn give_back(&mut self, key: &str, now: Instant) {
        let burst = f64::from(self.rate.burst);
        let rate = self.rate;
        if let Some(bucket) = self.map.get_mut(key) {
            *bucket = Bucket {
                tokens: (refill(rate, *bucket, now) + 1.0).min(burst),
                at: now,
            };
        }
    }

    fn take(&mut self, key: &str, now: Instant) {
        if self.map.len() >= MAX_KEYS && !self.map.contains_key(key) {
            let burst = f64::from(self.rate.burst);
            let rate = self.rate;
            self.map
                .retain(|_, bucket| refill(rate, *bucket, now) < burst);
            if self.map.len() >= MAX_KEYS {
                self.map.clear();
            }
        }
        let full = Bucket {
            tokens: f64::from(self.rate.burst),
            at: now,
        };
        let tokens = self
            .map
            .get(key)
            .map_or(full.tokens, |b| self.refilled(*b, now));
        self.map.insert(
            key.to_owned(),
            Bucket {
                tokens: (tokens - 1.0).max(0.0),
                at: now,
            },
        );
    }
}

/// The sign-in buckets of one server instance.
#[derive(Debug)]
pub struct SignInLimiter {
    inner: Mutex<(Buckets, Buckets)>,
}

impl SignInLimiter {
    pub fn new(per_address: Rate, per_username: Rate) -> Self {
        SignInLimiter {
            inner: Mutex::new((Buckets::new(per_address), Buckets::new(per_username))),
        }
    }

    /// Takes one attempt for `address` and `username` (already normalised), or answers how long
    /// to wait (nothing taken then).
    pub fn attempt(&self, address: &str, username: &str) -> Result<(), Duration> {
        self.attempt_at(address, username, Instant::now())
    }

    pub fn attempt_at(&self, address: &str, username: &str, now: Instant) -> Result<(), Duration> {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (addresses, usernames) = &mut *guard;
        let wait = [addresses.wait(address, now), usernames.wait(username, now)]
            .into_iter()
            .flatten()
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        addresses.take(address, now);
        usernames.take(username, now);
        Ok(())
    }

    /// The attempt [`SignInLimiter::attempt`] took for `address` and `username` succeeded (the
    /// right password): its tokens are given back, so only failed attempts use the buckets up.
    pub fn succeeded(&self, address: &str, username: &str) {
        self.succeeded_at(address, username, Instant::now());
    }

    pub fn succeeded_at(&self, address: &str, username: &str, now: Instant) {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (addresses, usernames) = &mut *guard;
        addresses.give_back(address, now);
        usernames.give_back(username, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        burst: 3,
        every: Duration::from_secs(10),
    };

    #[test]
    fn a_burst_then_one_per_period() {
        let limiter = SignInLimiter::new(RATE, Rate { burst: 100, ..RATE });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.attempt_at("a", "u", t0), Ok(()));
        }
        assert_eq!(
            limiter.attempt_at("a", "u", t0),
            Err(Duration::from_secs(10))
        );
        assert_eq!(limiter.attempt_at("b", "u", t0), Ok(()), "another address");
        let later = t0 + Duration::from_secs(4);
        assert_eq!(
            limiter.attempt_at("a", "u", later),
            Err(Duration::from_secs(6))
        );
        assert_eq!(
            limiter.attempt_at("a", "u", t0 + Duration::from_secs(10)),
            Ok(())
        );
        assert!(
            limiter
                .attempt_at("a", "u", t0 + Duration::from_secs(10))
                .is_err()
        );
    }

    #[test]
    fn only_failed_attempts_use_the_buckets_up() {
        let limiter = SignInLimiter::new(RATE, RATE);
        let t0 = Instant::now();
        // A shift change: far more sign-ins than the burst, all with the right password.
        for _ in 0..20 {
            assert_eq!(limiter.attempt_at("station", "deputy", t0), Ok(()));
            limiter.succeeded_at("station", "deputy", t0);
        }
        for _ in 0..3 {
            assert_eq!(limiter.attempt_at("station", "deputy", t0), Ok(()));
        }
        assert!(
            limiter.attempt_at("station", "deputy", t0).is_err(),
            "three wrong passwords used the burst up"
        );
        limiter.succeeded_at("station", "deputy", t0);
        assert_eq!(
            limiter.attempt_at("station", "deputy", t0),
            Ok(()),
            "a success gives back no more than its own attempt"
        );
        assert!(limiter.attempt_at("station", "deputy", t0).is_err());
    }

    #[test]
    fn a_username_is_limited_across_addresses() {
        let limiter = SignInLimiter::new(Rate { burst: 100, ..RATE }, RATE);
        let t0 = Instant::now();
        for address in ["a", "b", "c"] {
            assert_eq!(limiter.attempt_at(address, "u", t0), Ok(()));
        }
        assert!(limiter.attempt_at("d", "u", t0).is_err());
        assert_eq!(limiter.attempt_at("d", "v", t0), Ok(()));
    }

    #[test]
    fn the_maps_stay_bounded() {
        let limiter = SignInLimiter::new(RATE, RATE);
        let t0 = Instant::now();
        for n in 0..(MAX_KEYS + 10) {
            let _ = limiter.attempt_at(&n.to_string(), &n.to_string(), t0);
        }
        let guard = limiter.inner.lock().unwrap();
        assert!(guard.0.map.len() <= MAX_KEYS && guard.1.map.len() <= MAX_KEYS);
    }
}
