//! KV v2 metadata routes. Served so far: listing, as Go clients send it
//! (`GET /v1/secret/metadata/{prefix}?list=true`) and as hvac does (the
//! HTTP method `LIST`). Keys are one level deep, folders end in `/`, and
//! an empty listing is `404 {"errors":[]}`, as Vault answers.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use hush_service::ListSecrets;
use serde_json::json;

use super::{VaultError, bad_request, envelope, namespace_and_credentials};
use crate::AppState;

/// Most names a listing reads (pages of 1000); a larger folder answers 400.
const MAX_LISTED: usize = 100_000;

/// Any method on `/v1/secret/metadata[/{prefix}]`.
pub(crate) async fn metadata(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Result<Response, VaultError> {
    let listing = request.method().as_str() == "LIST"
        || (request.method() == Method::GET && query.get("list").is_some_and(|v| v == "true" || v == "1"));
    if !listing {
        return Err(VaultError::new(StatusCode::METHOD_NOT_ALLOWED, vec!["unsupported operation".to_owned()]));
    }
    let path = request.uri().path().strip_prefix(&format!("/v1/{}/metadata", super::MOUNT)).unwrap_or("").to_owned();
    let (parts, _) = request.into_parts();
    let (ns, creds) = namespace_and_credentials(&app, &parts).await?;
    let folder = path.trim_matches('/');
    let prefix = if folder.is_empty() { None } else { Some(format!("{folder}/")) };

    let mut keys = BTreeSet::new();
    let mut seen = 0usize;
    let mut after = None;
    loop {
        let page = app
            .hush
            .list_secrets(&creds, &ns, &ListSecrets { prefix: prefix.clone(), after: after.take(), limit: Some(1000) })
            .await?;
        seen += page.secrets.len();
        if seen > MAX_LISTED {
            return Err(bad_request(&format!("the folder has more than {MAX_LISTED} secrets; list a deeper one")));
        }
        for secret in &page.secrets {
            let rest = &secret.name.as_str()[prefix.as_deref().map_or(0, str::len)..];
            keys.insert(match rest.find('/') {
                Some(slash) => rest[..=slash].to_owned(),
                None => rest.to_owned(),
            });
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if keys.is_empty() {
        return Err(VaultError::new(StatusCode::NOT_FOUND, Vec::new()));
    }
    Ok(envelope(json!({ "keys": keys })))
}
