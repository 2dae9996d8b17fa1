//! Streamed answers (a backup, a verification's progress) count as in
//! flight until their last byte, not only until their head: the
//! connection watchdog would otherwise close a connection whose answer is
//! still being produced once the idle timeout passed.
//!
//! Only handlers that mark their response with [`HoldUntilEnd`] get this,
//! after they authorized the call (an `admin` or `audit:read` token), and
//! never for longer than [`LONG_REQUEST_TIMEOUT`]: after that the watchdog's
//! idle timeout applies again, so a reader that stops reading cannot keep
//! the connection forever. Every other answer (gRPC's included, whose
//! bodies have no known size) is in flight until its head only
//! (docs/security.md).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::connection_watchdog::InFlight;
use crate::request_timeout::LONG_REQUEST_TIMEOUT;

/// The response extension a handler sets to have its body held in flight.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HoldUntilEnd;

/// The request's in-flight mark, let go at the body's end, its drop, or the time limit.
type Held = Arc<Mutex<Option<InFlight>>>;

/// A body that holds its request's [`InFlight`] until it ends.
pub(crate) struct Streamed {
    inner: Body,
    held: Held,
    limit: tokio::task::JoinHandle<()>,
}

impl Streamed {
    /// The response with `in_flight` held until its body ends if the
    /// handler asked for it ([`HoldUntilEnd`]); otherwise `in_flight` ends now.
    pub(crate) fn hold(response: Response, in_flight: InFlight) -> Response {
        Self::hold_for(response, in_flight, LONG_REQUEST_TIMEOUT)
    }

    fn hold_for(response: Response, in_flight: InFlight, limit: Duration) -> Response {
        if response.extensions().get::<HoldUntilEnd>().is_none() {
            return response;
        }
        let held: Held = Arc::new(Mutex::new(Some(in_flight)));
        let expiring = Arc::clone(&held);
        let limit = tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            release(&expiring);
        });
        response.map(|inner| Body::new(Streamed { inner, held, limit }))
    }
}

fn release(held: &Held) {
    held.lock().unwrap_or_else(|e| e.into_inner()).take();
}

impl Drop for Streamed {
    fn drop(&mut self) {
        self.limit.abort();
    }
}

impl http_body::Body for Streamed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            release(&self.held);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http_body_util::BodyExt;

    use super::*;
    use crate::connection_watchdog::Activity;

    fn streamed(activity: &Arc<Activity>) -> (tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>, Body) {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
        let mut response = Response::new(Body::from_stream(stream));
        response.extensions_mut().insert(HoldUntilEnd);
        let held = Streamed::hold_for(response, activity.begin(), Duration::from_secs(2));
        (tx, held.into_body())
    }

    #[tokio::test]
    async fn only_marked_answers_are_in_flight_until_their_end() {
        let activity = Activity::new(Duration::from_secs(5), Duration::from_secs(60), false);
        for unmarked in
            [Body::from("whole"), Body::from_stream(futures_util::stream::pending::<Result<Bytes, std::io::Error>>())]
        {
            let response = Streamed::hold(Response::new(unmarked), activity.begin());
            assert!(activity.deadline().is_some(), "unmarked: the connection's idle time runs from its head");
            drop(response);
        }

        let (tx, mut body) = streamed(&activity);
        assert!(activity.deadline().is_none(), "still in flight");
        tx.send(Ok(Bytes::from_static(b"piece"))).await.unwrap();
        assert_eq!(body.frame().await.unwrap().unwrap().into_data().unwrap(), "piece");
        assert!(activity.deadline().is_none(), "still in flight after a piece");
        drop(tx);
        assert!(body.frame().await.is_none());
        assert!(activity.deadline().is_some(), "done at its end");
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_stops_reading_is_let_go_after_the_limit() {
        let activity = Activity::new(Duration::from_secs(5), Duration::from_secs(60), false);
        let (_tx, body) = streamed(&activity);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(activity.deadline().is_none());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(activity.deadline().is_some(), "past the limit the idle timeout applies");
        drop(body);
    }
}
