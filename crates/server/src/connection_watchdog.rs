//! Closing connections that do nothing useful: one that has not finished a
//! request head within the header timeout, or that has had no request in
//! flight for the idle timeout.
//!
//! hyper's own HTTP/1 header timeout starts whenever it waits for a head, so
//! on a keep-alive connection it would also cut every idle pause at the
//! header timeout, and HTTP/2 and protocol detection have none at all. So
//! the connection's reads and its requests are watched here instead
//! ([`Watched`] and [`Activity::begin`]), and [`Activity::expiry`] says when
//! a connection has used up its time:
//!
//! - a new connection: the header timeout from accepting it, to its first
//!   request;
//! - between HTTP/1.1 requests: the idle timeout; once the next request's
//!   first byte arrives, the header timeout from that byte;
//! - HTTP/2: the idle timeout while no stream is open (its frames, pings
//!   included, are not requests).
//!
//! Reads and requests only note the time under the connection's lock; they
//! wake nothing. [`Activity::expiry`] sleeps until the deadline as it
//! stands, but never longer than the shorter of the two timeouts, and then
//! looks again. That is enough: every deadline that a later read or request
//! sets is that moment plus one of the timeouts, so it is never earlier than
//! where the sleep already ends. An earlier version woke the connection's
//! task and registered a new timer two or three times per request, for a
//! deadline that almost never arrives.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// The HTTP/2 connection preface every HTTP/2 client opens with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Why a connection's time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// A request head did not arrive in time.
    Header,
    /// No request for too long.
    Idle,
}

/// What one connection is doing, shared by its reads, its requests and the
/// task that serves it.
#[derive(Debug)]
pub(crate) struct Activity {
    state: Mutex<State>,
    header_timeout: Duration,
    idle_timeout: Duration,
}

#[derive(Debug)]
struct State {
    /// Requests being answered.
    in_flight: usize,
    /// Whether any request has arrived yet.
    served: bool,
    /// Whether this is HTTP/2 (known from ALPN, or its whole preface).
    http2: bool,
    /// How many bytes of the HTTP/2 preface have been read so far, until
    /// it is complete or a byte differs (`None`: decided).
    preface_read: Option<usize>,
    /// Since when no request has been in flight.
    idle_since: Instant,
    /// When the first byte after `idle_since` arrived (HTTP/1.1).
    head_started: Option<Instant>,
}

impl Activity {
    /// A connection accepted now; `http2` if ALPN already chose HTTP/2.
    pub(crate) fn new(header_timeout: Duration, idle_timeout: Duration, http2: bool) -> Arc<Self> {
        Arc::new(Activity {
            state: Mutex::new(State {
                in_flight: 0,
                served: false,
                http2,
                preface_read: Some(0),
                idle_since: Instant::now(),
                head_started: None,
            }),
            header_timeout,
            idle_timeout,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// ALPN chose HTTP/2.
    pub(crate) fn set_http2(&self) {
        self.state().http2 = true;
    }

    /// A request has arrived; it is in flight until the guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        let mut state = self.state();
        state.in_flight += 1;
        state.served = true;
        state.head_started = None;
        drop(state);
        InFlight(Arc::clone(self))
    }

    /// Bytes were read from the client.
    fn read(&self, first: &[u8]) {
        let mut state = self.state();
        if let Some(seen) = state.preface_read {
            // Only the whole preface makes it HTTP/2: a lone "P" does not.
            let n = first.len().min(H2_PREFACE.len() - seen);
            state.preface_read = if first[..n] != H2_PREFACE[seen..seen + n] {
                None
            } else if seen + n == H2_PREFACE.len() {
                state.http2 = true;
                None
            } else {
                Some(seen + n)
            };
        }
        if state.in_flight == 0 && state.served && !state.http2 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
        }
    }

    /// When the connection's time runs out as things stand, and why; `None`
    /// while a request is in flight (the request timeouts bound those).
    pub(crate) fn deadline(&self) -> Option<(Instant, Expiry)> {
        let state = self.state();
        if state.in_flight > 0 {
            return None;
        }
        if !state.served {
            return Some((state.idle_since + self.header_timeout, Expiry::Header));
        }
        match state.head_started {
            Some(started) => Some((started + self.header_timeout, Expiry::Header)),
            None => Some((state.idle_since + self.idle_timeout, Expiry::Idle)),
        }
    }

    /// Completes when the connection's time has run out.
    pub(crate) async fn expiry(&self) -> Expiry {
        // A zero timeout is looked at ten times a second, not in a busy loop.
        let longest_sleep = self.header_timeout.min(self.idle_timeout).max(Duration::from_millis(100));
        loop {
            let now = Instant::now();
            let wake = match self.deadline() {
                Some((at, why)) if at <= now => return why,
                Some((at, _)) => at.min(now + longest_sleep),
                None => now + longest_sleep,
            };
            tokio::time::sleep_until(wake).await;
        }
    }
}

/// A request in flight; dropping it ends it.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
            state.head_started = None;
        }
    }
}

/// A client stream whose reads are reported to its [`Activity`].
#[derive(Debug)]
pub(crate) struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub(crate) fn new(inner: S, activity: Arc<Activity>) -> Self {
        Watched { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read(&buf.filled()[before..]);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_expires_at_the_header_timeout() {
        let activity = Activity::new(HEADER, IDLE, false);
        let started = Instant::now();
        assert_eq!(activity.expiry().await, Expiry::Header);
        assert_eq!(started.elapsed(), HEADER);
    }

    #[tokio::test(start_paused = true)]
    async fn a_half_sent_first_head_expires_at_the_header_timeout() {
        let activity = Activity::new(HEADER, IDLE, false);
        let started = Instant::now();
        tokio::time::advance(Duration::from_secs(3)).await;
        activity.read(b"GET / HT");
        assert_eq!(activity.expiry().await, Expiry::Header);
        assert_eq!(started.elapsed(), HEADER, "from the connection, not the byte");
    }

    #[tokio::test(start_paused = true)]
    async fn between_requests_idle_then_header_timeouts_apply() {
        let activity = Activity::new(HEADER, IDLE, false);
        activity.read(b"GET / HTTP/1.1\r\n\r\n");
        drop(activity.begin());
        // Idle keep-alive: the idle timeout.
        let idle_from = Instant::now();
        assert_eq!(activity.expiry().await, Expiry::Idle);
        assert_eq!(idle_from.elapsed(), IDLE);

        let activity = Activity::new(HEADER, IDLE, false);
        drop(activity.begin());
        tokio::time::advance(Duration::from_secs(30)).await;
        // The next head starts: the header timeout from its first byte.
        activity.read(b"GE");
        let head_from = Instant::now();
        assert_eq!(activity.expiry().await, Expiry::Header);
        assert_eq!(head_from.elapsed(), HEADER);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_expires_while_a_request_is_in_flight() {
        let activity = Activity::new(HEADER, IDLE, false);
        let request = activity.begin();
        let waited = tokio::time::timeout(Duration::from_secs(3600), activity.expiry()).await;
        assert!(waited.is_err(), "a request in flight keeps the connection");
        let from = Instant::now();
        drop(request);
        assert_eq!(activity.expiry().await, Expiry::Idle);
        assert_eq!(from.elapsed(), IDLE);
    }

    /// Reads and requests wake nothing: a watchdog already asleep still
    /// sees each change at the right time.
    #[tokio::test(start_paused = true)]
    async fn changes_while_the_watchdog_sleeps_take_effect_on_time() {
        let activity = Activity::new(HEADER, IDLE, false);
        drop(activity.begin());
        let watching = watch(&activity);
        // Idle for 30 s, then a request head starts: the header timeout
        // from its first byte, not the idle timeout from the last request.
        tokio::time::advance(Duration::from_secs(30)).await;
        activity.read(b"GE");
        assert_eq!(watching.await.unwrap(), (Expiry::Header, Duration::from_secs(30) + HEADER));

        // A request that begins while the watchdog sleeps and lasts far
        // longer than both timeouts keeps the connection; the idle timeout
        // counts from its end.
        let activity = Activity::new(HEADER, IDLE, false);
        drop(activity.begin());
        let watching = watch(&activity);
        tokio::time::advance(Duration::from_secs(5)).await;
        let request = activity.begin();
        tokio::time::advance(Duration::from_secs(600)).await;
        assert!(!watching.is_finished(), "a request in flight keeps the connection");
        drop(request);
        assert_eq!(watching.await.unwrap(), (Expiry::Idle, Duration::from_secs(605) + IDLE));
    }

    /// The watchdog of `activity`, running: its expiry and when, from now.
    fn watch(activity: &Arc<Activity>) -> tokio::task::JoinHandle<(Expiry, Duration)> {
        let activity = Arc::clone(activity);
        let start = Instant::now();
        tokio::spawn(async move { (activity.expiry().await, start.elapsed()) })
    }

    /// With a zero timeout the watchdog still ends, and does not spin while
    /// a request is in flight.
    #[tokio::test(start_paused = true)]
    async fn a_zero_timeout_expires_at_once_after_the_request() {
        let activity = Activity::new(Duration::ZERO, Duration::ZERO, false);
        let request = activity.begin();
        let waited = tokio::time::timeout(Duration::from_secs(60), activity.expiry()).await;
        assert!(waited.is_err());
        drop(request);
        assert_eq!(activity.expiry().await, Expiry::Idle);
    }

    #[tokio::test(start_paused = true)]
    async fn an_http1_client_cannot_pass_for_http2() {
        // "P", then a head that is not the preface: still HTTP/1.1, so a
        // half-sent head later gets the header timeout, not the idle one.
        let activity = Activity::new(HEADER, IDLE, false);
        activity.read(b"P");
        activity.read(b"OST / HTTP/1.1\r\n\r\n");
        drop(activity.begin());
        tokio::time::advance(Duration::from_secs(1)).await;
        activity.read(b"GET /");
        let from = Instant::now();
        assert_eq!(activity.expiry().await, Expiry::Header);
        assert_eq!(from.elapsed(), HEADER);
    }

    #[tokio::test(start_paused = true)]
    async fn http2_frames_between_requests_are_not_heads() {
        for alpn in [true, false] {
            let activity = Activity::new(HEADER, IDLE, alpn);
            if !alpn {
                // The preface may come in pieces.
                activity.read(&H2_PREFACE[..3]);
                activity.read(&H2_PREFACE[3..]);
            }
            drop(activity.begin());
            let from = Instant::now();
            tokio::time::advance(Duration::from_secs(5)).await;
            activity.read(b"\0\0\x08\x06\0\0\0\0\0ping....");
            assert_eq!(activity.expiry().await, Expiry::Idle);
            assert_eq!(from.elapsed(), IDLE);
        }
    }
}
