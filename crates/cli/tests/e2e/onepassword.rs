//! `op://` references: against a 1Password Connect double on a loopback
//! port (the endpoints hush calls, shaped after Connect's public API spec:
//! bearer token, SCIM `eq` filters, Connect's `{"status", "message"}`
//! errors), and through a stub `op` CLI first on `PATH` when Connect is not
//! configured. In `hush run` and `hush redact`; errors name the reference
//! and never a value or a token.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::harness::{HUSH, show};

const TOKEN: &str = "connect-token-e2e-9d41";
const VAULT_ID: &str = "kfnxq4cbvwomqykyy6ckcvbaxm";
const ITEM_ID: &str = "u2tygvhg6yalhxsl4v3gn6jkma";
/// Every value the double serves, none of which may appear in a message.
const VALUES: &[&str] = &["OP-main-pw-51c", "OP-admin-pw-8e2", "OP-api-key-c07", "OP-other-4aa"];

/// The vaults and items, as Connect returns them.
struct Data {
    vaults: Vec<Value>,
    /// Full items, by vault id.
    items: HashMap<String, Vec<Value>>,
}

struct Shared {
    data: Data,
    /// Paths asked for, with their queries, for asserting how hush looked things up.
    requests: Mutex<Vec<String>>,
}

/// A 1Password Connect double on `127.0.0.1`, on a runtime of its own.
struct ConnectDouble {
    url: String,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for ConnectDouble {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn data() -> Data {
    let vaults = vec![
        json!({"id": VAULT_ID, "name": "Prod", "type": "USER_CREATED", "items": 2, "attributeVersion": 1, "contentVersion": 4}),
        json!({"id": "w3ddq5iwr6ec6pxohkfwxlqkma", "name": "Other", "type": "USER_CREATED", "items": 1}),
    ];
    let db = json!({
        "id": ITEM_ID,
        "title": "Prod DB",
        "vault": {"id": VAULT_ID},
        "category": "DATABASE",
        "sections": [{"id": "add more"}, {"id": "ewx3wpqq5xmbjqafnqgc3tjgfy", "label": "Admin"}],
        "fields": [
            {"id": "username", "type": "STRING", "purpose": "USERNAME", "label": "username", "value": "svc"},
            {"id": "password", "type": "CONCEALED", "purpose": "PASSWORD", "label": "password", "value": "OP-main-pw-51c"},
            {"id": "h4ysb2qz6bnlvtbt6ctkyxzq7e", "type": "CONCEALED", "label": "password",
             "section": {"id": "ewx3wpqq5xmbjqafnqgc3tjgfy"}, "value": "OP-admin-pw-8e2"},
            {"id": "qt6p3fsavfvh3rnqbq4aunjyja", "type": "CONCEALED", "label": "api key",
             "section": {"id": "add more"}, "value": "OP-api-key-c07"}
        ]
    });
    let other = json!({
        "id": "x7lqg2y3gbjv5mqbwz5ccfwx4e",
        "title": "Other",
        "vault": {"id": "w3ddq5iwr6ec6pxohkfwxlqkma"},
        "category": "PASSWORD",
        "fields": [{"id": "password", "type": "CONCEALED", "purpose": "PASSWORD", "label": "password", "value": "OP-other-4aa"}]
    });
    let items =
        HashMap::from([(VAULT_ID.to_owned(), vec![db]), ("w3ddq5iwr6ec6pxohkfwxlqkma".to_owned(), vec![other])]);
    Data { vaults, items }
}

impl ConnectDouble {
    fn start() -> ConnectDouble {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("connect-double")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("connect double runtime: {e}"));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap_or_else(|e| panic!("connect double bind: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("connect double address: {e}"));
        let shared = Arc::new(Shared { data: data(), requests: Mutex::new(Vec::new()) });
        let app = axum::Router::new()
            .route("/v1/vaults", get(list_vaults))
            .route("/v1/vaults/{vault}", get(get_vault))
            .route("/v1/vaults/{vault}/items", get(list_items))
            .route("/v1/vaults/{vault}/items/{item}", get(get_item))
            .with_state(Arc::clone(&shared));
        runtime.spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("connect double stopped: {e}");
            }
        });
        ConnectDouble { url: format!("http://127.0.0.1:{port}"), shared, runtime: Some(runtime) }
    }

    fn requests(&self) -> Vec<String> {
        std::mem::take(&mut *self.shared.requests.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A refusal in Connect's error shape, `{"status": …, "message": …}`.
struct Refusal(StatusCode, &'static str);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"status": self.0.as_u16(), "message": self.1}))).into_response()
    }
}

type Answer = Result<Json<Value>, Refusal>;

/// Records the request and checks the bearer token.
fn admit(shared: &Shared, headers: &HeaderMap, path: String) -> Result<(), Refusal> {
    shared.requests.lock().unwrap_or_else(PoisonError::into_inner).push(path);
    let expected = format!("Bearer {TOKEN}");
    match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(given) if given == expected => Ok(()),
        _ => Err(Refusal(StatusCode::UNAUTHORIZED, "Invalid token signature")),
    }
}

/// `key eq "value"`, the only SCIM filter Connect takes for these lists.
fn filter_value(query: &HashMap<String, String>, key: &str) -> Result<Option<String>, Refusal> {
    let Some(filter) = query.get("filter") else { return Ok(None) };
    let quoted = filter
        .strip_prefix(key)
        .and_then(|rest| rest.strip_prefix(" eq \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .ok_or(Refusal(StatusCode::BAD_REQUEST, "Invalid filter"))?;
    Ok(Some(quoted.replace("\\\"", "\"").replace("\\\\", "\\")))
}

fn described(path: &str, query: &HashMap<String, String>) -> String {
    match query.get("filter") {
        Some(filter) => format!("{path}?filter={filter}"),
        None => path.to_owned(),
    }
}

async fn list_vaults(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    admit(&shared, &headers, described("/v1/vaults", &query))?;
    let name = filter_value(&query, "name")?;
    let vaults: Vec<&Value> =
        shared.data.vaults.iter().filter(|v| name.as_ref().is_none_or(|n| v["name"] == n.as_str())).collect();
    Ok(Json(json!(vaults)))
}

async fn get_vault(State(shared): State<Arc<Shared>>, headers: HeaderMap, UrlPath(vault): UrlPath<String>) -> Answer {
    admit(&shared, &headers, format!("/v1/vaults/{vault}"))?;
    let found = shared.data.vaults.iter().find(|v| v["id"] == vault.as_str());
    found.map(|v| Json(v.clone())).ok_or(Refusal(StatusCode::NOT_FOUND, "vault not found"))
}

async fn list_items(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    UrlPath(vault): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    admit(&shared, &headers, described(&format!("/v1/vaults/{vault}/items"), &query))?;
    let title = filter_value(&query, "title")?;
    let items = shared.data.items.get(&vault).ok_or(Refusal(StatusCode::NOT_FOUND, "vault not found"))?;
    // Summaries: no fields, no sections.
    let summaries: Vec<Value> = items
        .iter()
        .filter(|i| title.as_ref().is_none_or(|t| i["title"] == t.as_str()))
        .map(|i| json!({"id": i["id"], "title": i["title"], "vault": i["vault"], "category": i["category"]}))
        .collect();
    Ok(Json(json!(summaries)))
}

async fn get_item(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    UrlPath((vault, item)): UrlPath<(String, String)>,
) -> Answer {
    admit(&shared, &headers, format!("/v1/vaults/{vault}/items/{item}"))?;
    let items = shared.data.items.get(&vault).ok_or(Refusal(StatusCode::NOT_FOUND, "vault not found"))?;
    let found = items.iter().find(|i| i["id"] == item.as_str());
    found.map(|i| Json(i.clone())).ok_or(Refusal(StatusCode::NOT_FOUND, "item not found"))
}

/// `hush ARGS` with only the given 1Password settings (and `PATH`).
fn hush(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(HUSH);
    cmd.args(args)
        .env_remove("OP_CONNECT_HOST")
        .env_remove("OP_CONNECT_TOKEN")
        .env_remove("OP_SERVICE_ACCOUNT_TOKEN")
        .env_remove("HUSH_TOKEN")
        .env_remove("HUSH_LOG")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `sh` under `hush run --env V=REFERENCE`; the child writes what it
/// got to `seen` and prints it (scrubbed).
fn run_with(reference: &str, seen: &Path, env: &[(&str, &str)]) -> Output {
    let script = format!("printf %s \"$V\" > {}; echo \"the value: $V\"", seen.display());
    hush(&["run", "--env", &format!("V={reference}"), "--", "sh", "-c", &script], env, b"")
}

/// `hush run --env V=REFERENCE` gives the child `expected` and masks it in
/// the child's output.
fn assert_child_gets(reference: &str, expected: &str, seen: &Path, env: &[(&str, &str)]) {
    let _ = std::fs::remove_file(seen);
    let out = run_with(reference, seen, env);
    assert_eq!(out.status.code(), Some(0), "{reference}: {}", show(&out));
    assert_eq!(std::fs::read_to_string(seen).unwrap(), expected, "{reference}: the child got the value");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "the value: ***\n", "{reference}: scrubbed");
}

/// The command failed, its message says `want`, and quotes none of `secrets`.
fn assert_fails(out: &Output, want: &str, secrets: &[&str]) {
    assert_ne!(out.status.code(), Some(0), "{}", show(out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(want), "wanted {want:?} in {}", show(out));
    for secret in secrets {
        assert!(!stderr.contains(secret), "{secret} in {}", show(out));
    }
}

#[test]
fn op_references_resolve_from_1password_connect() {
    let connect = ConnectDouble::start();
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("seen");
    // An empty PATH directory: no op CLI can be used by mistake.
    let path = format!("{}:/usr/bin:/bin", dir.path().display());
    let env = [("OP_CONNECT_HOST", connect.url.as_str()), ("OP_CONNECT_TOKEN", TOKEN), ("PATH", &path)];
    let secrets: Vec<&str> = VALUES.iter().copied().chain([TOKEN, "wrong-token-77b"]).collect();

    let by_id_item = format!("op://{VAULT_ID}/{ITEM_ID}/password");
    let by_id_section = format!("op://{VAULT_ID}/Prod DB/ewx3wpqq5xmbjqafnqgc3tjgfy/password");
    for (reference, expected) in [
        ("op://Prod/Prod DB/password", "OP-main-pw-51c"),
        ("op://Prod/Prod DB/Admin/password", "OP-admin-pw-8e2"),
        ("op://Prod/Prod DB/admin/PASSWORD", "OP-admin-pw-8e2"),
        ("op://Prod/Prod DB/api key", "OP-api-key-c07"),
        ("op://Prod/Prod DB/qt6p3fsavfvh3rnqbq4aunjyja?cacheKey=v1", "OP-api-key-c07"),
        (by_id_item.as_str(), "OP-main-pw-51c"),
        (by_id_section.as_str(), "OP-admin-pw-8e2"),
        ("op://Other/Other/password", "OP-other-4aa"),
    ] {
        assert_child_gets(reference, expected, &seen, &env);
    }
    let requests = connect.requests();
    // By name: the filters; by id: the vault and the item directly.
    assert!(requests.contains(&"/v1/vaults?filter=name eq \"Prod\"".to_owned()), "{requests:?}");
    assert!(requests.contains(&format!("/v1/vaults/{VAULT_ID}/items?filter=title eq \"Prod DB\"")), "{requests:?}");
    assert!(requests.contains(&format!("/v1/vaults/{VAULT_ID}")), "{requests:?}");
    assert!(requests.contains(&format!("/v1/vaults/{VAULT_ID}/items/{ITEM_ID}")), "{requests:?}");

    let out =
        hush(&["redact", "--secret-ref", "op://Prod/Prod DB/Admin/password"], &env, b"log: OP-admin-pw-8e2 done\n");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "log: *** done\n", "{}", show(&out));

    for (reference, expected) in [
        ("op://Staging/Prod DB/password", "no vault named \"Staging\""),
        ("op://Prod/Nope/password", "no item titled \"Nope\" in the vault \"Prod\""),
        ("op://Prod/Prod DB/nope", "the item has no field \"nope\" (it has: api key, password, username)"),
        ("op://Prod/Prod DB/Admin/username", "the section \"Admin\" has no field \"username\""),
        ("op://Prod/Prod DB/Ops/password", "the item has no section \"Ops\" (it has: Admin)"),
    ] {
        assert_fails(&run_with(reference, &seen, &env), &format!("{reference}: {expected}"), &secrets);
    }

    let wrong = [("OP_CONNECT_HOST", connect.url.as_str()), ("OP_CONNECT_TOKEN", "wrong-token-77b"), ("PATH", &path)];
    let refused = "op://Prod/Prod DB/password: 1Password Connect refused OP_CONNECT_TOKEN (401 Unauthorized";
    assert_fails(&run_with("op://Prod/Prod DB/password", &seen, &wrong), refused, &secrets);
    let out = hush(&["redact", "--secret-ref", "op://Prod/Prod DB/password"], &wrong, b"x\n");
    assert_fails(&out, refused, &secrets);

    // Nothing configured and no op on PATH: what to set.
    let out = hush(&["redact", "--secret-ref", "op://Prod/Prod DB/password"], &[("PATH", &path)], b"x\n");
    assert_fails(&out, "set OP_CONNECT_HOST and OP_CONNECT_TOKEN", &secrets);
}

/// A stand-in for the 1Password CLI: `op read --no-newline REF` for two
/// references when signed in with the service account token, and op's kind
/// of error (a first line, then more) for anything else.
const OP_STUB: &str = r#"#!/bin/sh
if [ "$1" != read ] || [ "$2" != --no-newline ] || [ $# -ne 3 ]; then
  echo "[ERROR] unexpected arguments: $*" >&2; exit 2
fi
if [ "$OP_SERVICE_ACCOUNT_TOKEN" != "ops_e2e-service-account" ]; then
  echo "[ERROR] 2025/01/01 00:00:00 You are not currently signed in." >&2; exit 1
fi
case "$3" in
  "op://CI/Deploy/token") printf %s 'OPCLI-token-3f9' ;;
  "op://CI/Deploy/Extra Section/api key") printf %s 'OPCLI-api-7d2' ;;
  *) echo "[ERROR] 2025/01/01 00:00:00 could not read secret '$3': no item matched" >&2
     echo "OPCLI-should-not-show" >&2; exit 1 ;;
esac
"#;

#[test]
fn op_references_use_the_op_cli_when_connect_is_not_set() {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().unwrap();
    let op = bin.path().join("op");
    std::fs::write(&op, OP_STUB).unwrap();
    std::fs::set_permissions(&op, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("seen");
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let env = [("PATH", path.as_str()), ("OP_SERVICE_ACCOUNT_TOKEN", "ops_e2e-service-account")];
    let secrets = ["OPCLI-token-3f9", "OPCLI-api-7d2", "ops_e2e-service-account", "OPCLI-should-not-show"];

    assert_child_gets("op://CI/Deploy/token", "OPCLI-token-3f9", &seen, &env);
    assert_child_gets("op://CI/Deploy/Extra Section/api key", "OPCLI-api-7d2", &seen, &env);
    let out = hush(&["redact", "--secret-ref", "op://CI/Deploy/token"], &env, b"token=OPCLI-token-3f9\n");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "token=***\n", "{}", show(&out));

    // op's failure: the reference, op's first line, nothing after it.
    let missing = "op://CI/Deploy/missing: op read failed (exit status: 1): [ERROR] 2025/01/01 00:00:00 could not \
                   read secret 'op://CI/Deploy/missing': no item matched";
    assert_fails(&run_with("op://CI/Deploy/missing", &seen, &env), missing, &secrets);
    // Not signed in: op says so.
    let out = run_with("op://CI/Deploy/token", &seen, &[("PATH", &path)]);
    assert_fails(&out, "op://CI/Deploy/token: op read failed (exit status: 1): [ERROR]", &secrets);
    assert_fails(&out, "You are not currently signed in", &secrets);
}
