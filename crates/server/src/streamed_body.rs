//! Streamed answers (a backup, a verification's progress) count as in
//! flight until their last byte, not only until their head: the
//! connection watchdog would otherwise close a connection whose answer is
//! still being produced once the idle timeout passed. Answers of a known
//! size are in flight until their head only, so a slow reader cannot hold
//! a connection with them (docs/security.md).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};

use crate::connection_watchdog::InFlight;

/// A body that holds its request's [`InFlight`] until it ends (or is dropped).
pub(crate) struct Streamed {
    inner: Body,
    in_flight: Option<InFlight>,
}

impl Streamed {
    /// `body` with `in_flight` held until its end, if its size is not known;
    /// otherwise `body` as it is, and `in_flight` ends now.
    pub(crate) fn hold(body: Body, in_flight: InFlight) -> Body {
        if body.size_hint().exact().is_some() {
            return body;
        }
        Body::new(Streamed { inner: body, in_flight: Some(in_flight) })
    }
}

impl http_body::Body for Streamed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.in_flight = None;
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

    #[tokio::test]
    async fn a_streamed_answer_is_in_flight_until_its_end_and_a_sized_one_until_its_head() {
        let activity = Activity::new(Duration::from_secs(5), Duration::from_secs(60), false);
        let sized = Streamed::hold(Body::from("whole"), activity.begin());
        assert!(activity.deadline().is_some(), "a sized answer: the connection's idle time runs from its head");
        drop(sized);

        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
        let mut body = Streamed::hold(Body::from_stream(stream), activity.begin());
        assert!(activity.deadline().is_none(), "still in flight");
        tx.send(Ok(Bytes::from_static(b"piece"))).await.unwrap();
        assert_eq!(body.frame().await.unwrap().unwrap().into_data().unwrap(), "piece");
        assert!(activity.deadline().is_none(), "still in flight after a piece");
        drop(tx);
        assert!(body.frame().await.is_none());
        assert!(activity.deadline().is_some(), "done at its end");
    }
}
