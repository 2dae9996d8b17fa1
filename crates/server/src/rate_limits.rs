//! Rate limits (governor's GCRA): failed authentications per client
//! address, and, if configured, requests per token. A refused request is
//! told how long to wait (`Retry-After`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::client_address::SourceKey;
use crate::limits::ServerLimits;

/// The limiters every request shares.
pub(crate) struct RateLimits {
    failed_auth: DefaultKeyedRateLimiter<SourceKey>,
    per_token: Option<DefaultKeyedRateLimiter<String>>,
    /// Sources whose failed-authentication budget a failed login spent, and
    /// until when: their logins are refused before the body is read. (A
    /// login cannot spend the budget up front: a good one must not count.)
    blocked_logins: Mutex<HashMap<SourceKey, Instant>>,
    /// When the maps last forgot settled keys.
    forgotten_at: Mutex<Instant>,
}

/// How often the maps forget keys whose budget is whole again, so they do
/// not keep every address and token ever seen.
const FORGET_PERIOD: Duration = Duration::from_secs(60);

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("sources", &self.failed_auth.len())
            .field("tokens", &self.per_token.as_ref().map(|l| l.len()))
            .finish()
    }
}

impl RateLimits {
    pub(crate) fn new(limits: &ServerLimits) -> Self {
        let failed = Quota::per_second(limits.failed_auth_per_second).allow_burst(limits.failed_auth_burst);
        RateLimits {
            failed_auth: RateLimiter::keyed(failed),
            per_token: limits.requests_per_token.map(|rate| RateLimiter::keyed(Quota::per_second(rate))),
            blocked_logins: Mutex::new(HashMap::new()),
            forgotten_at: Mutex::new(Instant::now()),
        }
    }

    /// Counts a failed login from `source`; once its budget is spent, its
    /// logins are refused until the budget has room again.
    pub(crate) fn failed_login(&self, source: SourceKey) {
        if let Err(wait) = self.failed_auth(source) {
            let mut blocked = self.blocked_logins.lock().unwrap_or_else(|e| e.into_inner());
            blocked.insert(source, Instant::now() + wait);
        }
    }

    /// How long `source` must wait before it may try to log in again, if it must.
    pub(crate) fn login_wait(&self, source: SourceKey) -> Option<Duration> {
        let mut blocked = self.blocked_logins.lock().unwrap_or_else(|e| e.into_inner());
        let until = *blocked.get(&source)?;
        let now = Instant::now();
        if until > now {
            Some(until - now)
        } else {
            blocked.remove(&source);
            None
        }
    }

    /// Counts a failed authentication from `source`: `Err(wait)` once its
    /// budget is spent.
    pub(crate) fn failed_auth(&self, source: SourceKey) -> Result<(), Duration> {
        self.forget_settled_now_and_then();
        self.failed_auth.check_key(&source).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Counts a request by token `token_id`: `Err(wait)` past its rate.
    pub(crate) fn token_request(&self, token_id: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.per_token else { return Ok(()) };
        self.forget_settled_now_and_then();
        // The key is the public token id; looking up by &str avoids nothing
        // here (the map owns its keys), so one small allocation per request.
        limiter.check_key(&token_id.to_owned()).map_err(|n| n.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets settled keys once every [`FORGET_PERIOD`].
    fn forget_settled_now_and_then(&self) {
        let Ok(mut at) = self.forgotten_at.try_lock() else { return };
        if at.elapsed() >= FORGET_PERIOD {
            *at = Instant::now();
            drop(at);
            self.forget_settled();
        }
    }

    /// Forgets sources and tokens whose budget is whole again.
    fn forget_settled(&self) {
        self.failed_auth.retain_recent();
        self.failed_auth.shrink_to_fit();
        let now = Instant::now();
        self.blocked_logins.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, until| *until > now);
        if let Some(limiter) = &self.per_token {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// `Retry-After` in whole seconds, at least 1.
pub(crate) fn retry_after_seconds(wait: Duration) -> u64 {
    u64::try_from(wait.as_nanos().div_ceil(1_000_000_000)).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn limits(per_second: u32, burst: u32, per_token: Option<u32>) -> ServerLimits {
        ServerLimits {
            failed_auth_per_second: NonZeroU32::new(per_second).unwrap(),
            failed_auth_burst: NonZeroU32::new(burst).unwrap(),
            requests_per_token: per_token.and_then(NonZeroU32::new),
            ..ServerLimits::default()
        }
    }

    #[test]
    fn failed_authentications_are_limited_per_source_after_the_burst() {
        let limits = RateLimits::new(&limits(1, 3, None));
        let a = SourceKey::of("192.0.2.1".parse().unwrap());
        let b = SourceKey::of("192.0.2.2".parse().unwrap());
        for _ in 0..3 {
            limits.failed_auth(a).expect("within the burst");
        }
        let wait = limits.failed_auth(a).expect_err("past the burst");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        limits.failed_auth(b).expect("another source has its own budget");
    }

    #[test]
    fn tokens_are_limited_only_when_configured() {
        let unlimited = RateLimits::new(&limits(10, 20, None));
        for _ in 0..1000 {
            unlimited.token_request("t1").unwrap();
        }
        let limited = RateLimits::new(&limits(10, 20, Some(5)));
        for _ in 0..5 {
            limited.token_request("t1").unwrap();
        }
        assert!(limited.token_request("t1").is_err());
        limited.token_request("t2").expect("per token");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        for (wait, want) in [(0, 1), (1, 1), (999, 1), (1000, 1), (1001, 2), (2500, 3)] {
            assert_eq!(retry_after_seconds(Duration::from_millis(wait)), want, "{wait} ms");
        }
    }
}
