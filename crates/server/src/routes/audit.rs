//! `/v1/audit`, `/v1/audit/export`, `/v1/audit/verify` and `/v1/audit/prune`.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use hush_service::{AuditAction, AuditExportFilter, AuditFilter, Outcome, PruneRequest, VerifyUpdate};
use serde_json::{Value, json};

use super::namespace_name;
use crate::query_params::QueryParams;
use crate::request_credentials::RequestCredentials;
use crate::{ApiError, AppState, render};

/// `GET /v1/audit?namespace=&name=&action=&outcome=&token=&before=&limit=`, newest first.
pub(crate) async fn list(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let mut q = QueryParams::parse(&raw)?;
    let filter = AuditFilter {
        namespace: q.take("namespace").filter(|n| !n.is_empty()).map(|n| namespace_name(&n)).transpose()?,
        name: q.take("name").filter(|n| !n.is_empty()),
        action: q.take("action").filter(|a| !a.is_empty()).map(|a| audit_action(&a)).transpose()?,
        outcome: q.take("outcome").filter(|o| !o.is_empty()).map(|o| audit_outcome(&o)).transpose()?,
        token_id: q.take("token").filter(|t| !t.is_empty()).map(|t| token_id(&t)).transpose()?,
        before: q.take_u64("before")?,
        limit: q.take_u64("limit")?.map(|l| u32::try_from(l).unwrap_or(u32::MAX)),
    };
    q.finish(&["namespace", "name", "action", "outcome", "token", "before", "limit"])?;
    let page = app.hush.audit_events(&creds, &filter).await?;
    let events: Vec<Value> = page.events.iter().map(render::audit).collect();
    Ok(Json(json!({ "events": events, "next": page.next })).into_response())
}

/// `GET /v1/audit/export?namespace=&since=&until=&after=&limit=`, oldest
/// first: `{"events": [...], "next": cursor or null}`.
pub(crate) async fn export(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let mut q = QueryParams::parse(&raw)?;
    let filter = AuditExportFilter {
        namespace: q.take("namespace").filter(|n| !n.is_empty()).map(|n| namespace_name(&n)).transpose()?,
        since: q.take("since").map(|t| time_param("since", &t)).transpose()?,
        until: q.take("until").map(|t| time_param("until", &t)).transpose()?,
        after: q.take_u64("after")?,
        limit: q.take_u64("limit")?.map(|l| u32::try_from(l).unwrap_or(u32::MAX)),
    };
    q.finish(&["namespace", "since", "until", "after", "limit"])?;
    let page = app.hush.audit_export(&creds, &filter).await?;
    let events: Vec<Value> = page.events.iter().map(render::audit).collect();
    Ok(Json(json!({ "events": events, "next": page.next })).into_response())
}

/// A time in a query (`since`, `until`): RFC 3339, in milliseconds since the epoch.
fn time_param(name: &str, text: &str) -> Result<i64, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_query",
            format!("query parameter '{name}' must be an RFC 3339 time such as 2026-12-01T00:00:00Z"),
        )
    };
    let at = humantime::parse_rfc3339_weak(text).map_err(|_| invalid())?;
    let ms = at.duration_since(std::time::UNIX_EPOCH).map_err(|_| invalid())?.as_millis();
    i64::try_from(ms).map_err(|_| invalid())
}

/// An `action` filter: one of the actions hush records.
fn audit_action(text: &str) -> Result<AuditAction, ApiError> {
    AuditAction::parse(text).ok_or_else(|| {
        let known: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        ApiError::bad_request("invalid_query", format!("unknown action; one of: {}", known.join(", ")))
    })
}

/// An `outcome` filter: one of the outcomes hush records.
fn audit_outcome(text: &str) -> Result<Outcome, ApiError> {
    Outcome::parse(text).ok_or_else(|| {
        let known: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        ApiError::bad_request("invalid_query", format!("unknown outcome; one of: {}", known.join(", ")))
    })
}

/// A `token` filter: a token's public id (never a whole token: that would put
/// a secret in a URL and the access log).
fn token_id(text: &str) -> Result<String, ApiError> {
    let plausible = text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plausible || text.starts_with("hush_") {
        return Err(ApiError::bad_request(
            "invalid_query",
            "'token' is a token's public id, as `hush token list` shows it (not the token itself)",
        ));
    }
    Ok(text.to_owned())
}

/// `POST /v1/audit/prune?before=TIME&force=true&limit=N`: removes events
/// recorded before `before` behind a signed checkpoint, at most `limit`
/// per call: `{"checkpoint": {"seq", "before", "made_at"} or null, "removed", "remaining"}`.
pub(crate) async fn prune(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let mut q = QueryParams::parse(&raw)?;
    let before = q
        .take("before")
        .map(|t| time_param("before", &t))
        .transpose()?
        .ok_or_else(|| ApiError::bad_request("invalid_query", "query parameter 'before' is required (RFC 3339)"))?;
    let force = q.take_bool("force")?;
    let limit = q.take_u64("limit")?.map(|l| u32::try_from(l).unwrap_or(u32::MAX));
    q.finish(&["before", "force", "limit"])?;
    let report = app.hush.prune_audit(&creds, &PruneRequest { before, force, limit }).await?;
    let checkpoint = report
        .checkpoint
        .as_ref()
        .map(|c| json!({ "seq": c.seq, "before": render::time(c.before_at), "made_at": render::time(c.made_at) }));
    Ok(Json(json!({ "checkpoint": checkpoint, "removed": report.removed, "remaining": report.remaining }))
        .into_response())
}

/// `GET /v1/audit/verify`: `{"ok", "events", "last_seq", "anchor_seq",
/// "checkpoint_seq", "before_checkpoint", "problem"}`. With
/// `?progress=true`, newline-delimited JSON as it goes: `{"checked",
/// "total"}` lines, then `{"result": {...}}` (or `{"error": {"code",
/// "message"}}` if it failed after the answer had started).
pub(crate) async fn verify(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let mut q = QueryParams::parse(&raw)?;
    let progress = q.take_bool("progress")?;
    q.finish(&["progress"])?;
    if !progress {
        let report = app.hush.verify_audit(&creds).await?;
        return Ok(Json(verification(&report)).into_response());
    }
    let updates = app.hush.verify_audit_streamed(&creds).await?;
    let lines = futures_util::stream::unfold(updates, |mut updates| async move {
        let line = match updates.recv().await? {
            VerifyUpdate::Checked { events, of } => json!({ "checked": events, "total": of }),
            VerifyUpdate::Done(Ok(report)) => json!({ "result": verification(&report) }),
            VerifyUpdate::Done(Err(e)) => {
                let e = ApiError::from(e);
                json!({ "error": { "code": e.code(), "message": e.message() } })
            }
        };
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        bytes.push(b'\n');
        Some((Ok::<_, std::convert::Infallible>(bytes::Bytes::from(bytes)), updates))
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        axum::Extension(crate::streamed_body::HoldUntilEnd),
        axum::body::Body::from_stream(lines),
    )
        .into_response())
}

fn verification(report: &hush_service::AuditVerification) -> Value {
    let problem = report.problem.as_ref().map(|(seq, message)| json!({ "seq": seq, "message": message }));
    json!({
        "ok": report.ok(),
        "events": report.events,
        "last_seq": report.last_seq,
        "anchor_seq": report.anchor_seq,
        "checkpoint_seq": report.checkpoint_seq,
        "before_checkpoint": report.before_checkpoint,
        "problem": problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_and_named_when_wrong() {
        assert_eq!(time_param("since", "1970-01-01T00:00:01Z").unwrap(), 1000);
        assert_eq!(time_param("since", "2023-11-14T22:13:20.123Z").unwrap(), 1_700_000_000_123);
        for bad in ["yesterday", "", "1700000000", "2023-13-01T00:00:00Z"] {
            let e = time_param("until", bad).unwrap_err();
            assert!(format!("{e:?}").contains("'until'"), "{bad}: {e:?}");
        }
    }
}
