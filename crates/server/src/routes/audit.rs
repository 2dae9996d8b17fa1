//! `/v1/audit` and `/v1/audit/verify`.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use hush_service::AuditFilter;
use serde_json::{Value, json};

use super::namespace_name;
use crate::query_params::QueryParams;
use crate::request_credentials::RequestCredentials;
use crate::{ApiError, AppState, render};

/// `GET /v1/audit?namespace=&name=&before=&limit=`, newest first.
pub(crate) async fn list(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let mut q = QueryParams::parse(&raw)?;
    let filter = AuditFilter {
        namespace: q.take("namespace").filter(|n| !n.is_empty()).map(|n| namespace_name(&n)).transpose()?,
        name: q.take("name").filter(|n| !n.is_empty()),
        before: q.take_u64("before")?,
        limit: q.take_u64("limit")?.map(|l| u32::try_from(l).unwrap_or(u32::MAX)),
    };
    q.finish(&["namespace", "name", "before", "limit"])?;
    let page = app.hush.audit_events(&creds, &filter).await?;
    let events: Vec<Value> = page.events.iter().map(render::audit).collect();
    Ok(Json(json!({ "events": events, "next": page.next })).into_response())
}

/// `GET /v1/audit/verify`: `{"ok", "events", "last_seq", "anchor_seq", "problem"}`.
pub(crate) async fn verify(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
) -> Result<Response, ApiError> {
    let report = app.hush.verify_audit(&creds).await?;
    let problem = report.problem.as_ref().map(|(seq, message)| json!({ "seq": seq, "message": message }));
    Ok(Json(json!({
        "ok": report.ok(),
        "events": report.events,
        "last_seq": report.last_seq,
        "anchor_seq": report.anchor_seq,
        "problem": problem,
    }))
    .into_response())
}
