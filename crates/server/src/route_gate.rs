//! The one layer every matched REST route goes through, inside the router:
//! the route's time limit (`request_timeout`), the gate (`admission`:
//! client address, token, rate limits), and the route's template noted on
//! the answer for the access log and the metrics (`access_log::RouteOf`).
//!
//! One layer rather than three: each `from_fn` layer clones the route's
//! boxed service and boxes and moves the request's future once more, per
//! request; with three, that was a visible share of a read's CPU (`memmove`
//! 5.6% of hush's samples, docs/benchmarks.md). Unknown routes never reach
//! it: they are answered 404 whatever the token.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::access_log::RouteOf;
use crate::admission::{self, Admission};
use crate::request_timeout::limit_for;

/// The middleware: the gate and the route under the route's limit (past
/// it, 408), the answer marked with the route that gave it.
pub(crate) async fn gate(State(admission): State<Arc<Admission>>, mut request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let answer = async {
        match admission::check(&admission, &mut request).await {
            Some(refused) => refused,
            None => next.run(request).await,
        }
    };
    let mut response = match tokio::time::timeout(limit_for(route.as_ref().map(MatchedPath::as_str)), answer).await {
        Ok(response) => response,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    };
    if let Some(route) = route {
        response.extensions_mut().insert(RouteOf::new(route));
    }
    response
}
