//! Two Vault clients that cannot run on this machine, replayed over raw HTTP
//! against a real hush: External Secrets Operator's Vault provider (Go,
//! through `github.com/hashicorp/vault/api`) and the GitHub action
//! `hashicorp/vault-action` (Node, through `got`). Each step sends the
//! method, path, headers and body the client's source sends, in its order,
//! and asserts the answer on the fields that source reads. The comments name
//! the source file and function each request comes from
//! (external-secrets: `providers/v1/vault/`; vault-action: `src/`).
//!
//! What the two HTTP stacks do that matters here:
//! - the Vault Go client sends `X-Vault-Token`, `X-Vault-Request: true`, and
//!   `X-Vault-Namespace` only when the store names a namespace; it writes
//!   with `PUT` and a JSON body but no `Content-Type`; it lists with
//!   `GET …?list=true`; it decodes numbers as `json.Number`; and on a 404 it
//!   returns "no secret" (not an error) when the body is empty or JSON with
//!   neither `data` nor `warnings` (a body that is not JSON is an error);
//! - vault-action always sends `X-Vault-Namespace`, empty when the workflow
//!   sets no namespace, reads the answer as text and `JSON.parse`s it, and
//!   puts a 404's body into the message the workflow log shows.

use std::cell::RefCell;

use serde_json::{Value, json};

use crate::harness::{Hush, show};

/// An answer as a client receives it.
struct Answer {
    /// `METHOD path`, for assertion messages.
    what: String,
    status: u16,
    content_type: Option<String>,
    text: String,
}

impl Answer {
    /// Asserts the status and `Content-Type: application/json` exactly, and
    /// parses the body.
    fn json(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}: {}", self.what, self.text);
        assert_eq!(self.content_type.as_deref(), Some("application/json"), "{}: exactly, no charset", self.what);
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.what, self.text))
    }

    /// Asserts a 204 with no body (Vault's answer to metadata writes and deletes).
    fn no_content(&self) {
        assert_eq!((self.status, self.text.as_str()), (204, ""), "{}", self.what);
    }

    /// Whether `hashicorp/vault/api` (`Logical.ParseRawResponseAndCloseBody`)
    /// and ESO's `readSecret` (client_get.go) together read this data answer
    /// as "no secret there": a 404 whose body is empty, or JSON with neither
    /// `data` nor `warnings`; or a 404 that does carry `data` (Vault's answer
    /// for a deleted version) whose `data.data` is null. Panics where the Go
    /// client would return an error instead (ESO then fails the sync).
    fn go_client_sees_no_secret(&self) -> bool {
        if self.status != 404 {
            return false;
        }
        if self.text.is_empty() {
            return true;
        }
        let body = self.json(404);
        let carries = |key: &str| match &body[key] {
            Value::Null => false,
            Value::Object(m) => !m.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => true,
        };
        if !carries("data") && !carries("warnings") {
            return true;
        }
        assert!(
            body["data"].get("data").is_some(),
            "{}: ESO fails with 'failed to find data field': {body}",
            self.what
        );
        body["data"]["data"].is_null()
    }
}

/// One client: the headers it sends on every request, and every error body
/// it was shown (checked at the end for secret values).
struct Client<'h> {
    h: &'h Hush,
    http: reqwest::Client,
    headers: Vec<(&'static str, String)>,
    error_bodies: RefCell<Vec<String>>,
}

impl<'h> Client<'h> {
    fn new(h: &'h Hush, headers: &[(&'static str, &str)]) -> Self {
        Client {
            h,
            http: h.http(),
            headers: headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            error_bodies: RefCell::default(),
        }
    }

    /// The Vault Go client of an ESO store with token auth: the token, the
    /// client's SSRF header, and the store's `namespace` if it has one.
    fn eso(h: &'h Hush, token: &str, namespace: Option<&str>) -> Self {
        let mut headers = vec![("X-Vault-Token", token), ("X-Vault-Request", "true")];
        if let Some(ns) = namespace {
            headers.push(("X-Vault-Namespace", ns));
        }
        Client::new(h, &headers)
    }

    /// vault-action's `got` client (action.js: exportSecrets): the
    /// `namespace` input as given (`core.getInput` returns "" when unset, and
    /// the header is set whenever that is not null), then the token; `got`
    /// adds its user agent and accept-encoding.
    fn vault_action(h: &'h Hush, token: &str, namespace_input: &str) -> Self {
        Client::new(
            h,
            &[
                ("X-Vault-Namespace", namespace_input),
                ("X-Vault-Token", token),
                ("User-Agent", "got (https://github.com/sindresorhus/got)"),
                ("Accept-Encoding", "gzip, deflate, br"),
            ],
        )
    }

    /// Sends one request; a body goes as JSON bytes with no `Content-Type`,
    /// as the Vault Go client's `Request.SetJSONBody` sends it.
    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let what = format!("{method} {path}");
        let mut request = self.http.request(method.parse().unwrap(), self.h.url(path));
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.body(serde_json::to_vec(&body).unwrap());
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        if status >= 400 {
            self.error_bodies.borrow_mut().push(format!("{what}: {text}"));
        }
        Answer { what, status, content_type, text }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }
}

/// Asserts that no value appears in the server log or in any error body a
/// client was shown.
fn assert_values_never_leak(h: &Hush, clients: &[&Client<'_>], values: &[&str]) {
    let log = h.log.lock().unwrap().clone();
    assert!(!log.is_empty(), "the server log was captured");
    for value in values {
        assert!(!log.contains(value), "{value} in the server log");
        for client in clients {
            for body in client.error_bodies.borrow().iter() {
                assert!(!body.contains(value), "{value} in an error body: {body}");
            }
        }
    }
}

/// Runs the CLI and asserts it succeeded.
fn cli_ok(h: &Hush, args: &[&str], stdin: Option<&[u8]>) {
    let out = h.cli_as(&h.token, args, stdin);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", show(&out));
}

/// ESO's `listSecrets` (client_get_all_secrets.go): `GET
/// /v1/secret/metadata/{folder}?list=true`, taking `data.keys`; a key ending
/// in `/` is listed in turn, depth first, before the keys after it. Returns
/// the secret names in the order ESO finds them.
async fn eso_list_secrets(eso: &Client<'_>, folder: &str) -> Vec<String> {
    enum Item {
        Secret(String),
        Folder(String),
    }
    let mut found = Vec::new();
    let mut stack = vec![Item::Folder(folder.to_owned())];
    while let Some(item) = stack.pop() {
        let folder = match item {
            Item::Secret(name) => {
                found.push(name);
                continue;
            }
            Item::Folder(folder) => folder,
        };
        let body = eso.get(&format!("/v1/secret/metadata/{folder}?list=true")).await.json(200);
        let keys = body["data"]["keys"].as_array().unwrap_or_else(|| panic!("data.keys is a list: {body}"));
        for key in keys.iter().rev() {
            let key = key.as_str().unwrap_or_else(|| panic!("keys are strings: {body}"));
            let full = format!("{folder}{key}");
            stack.push(if key.ends_with('/') { Item::Folder(full) } else { Item::Secret(full) });
        }
    }
    found
}

/// ESO's `readSecretMetadata` (client_get.go): `GET
/// /v1/secret/metadata/{key}`; it reads `created_time`, `current_version`,
/// `delete_version_after` and the string values of `custom_metadata` (an
/// object; anything else counts as none). Returns `data`.
async fn eso_read_metadata(eso: &Client<'_>, key: &str) -> Value {
    let body = eso.get(&format!("/v1/secret/metadata/{key}")).await.json(200);
    let data = body["data"].clone();
    assert!(data["created_time"].is_string(), "{key}: {body}");
    assert!(data["current_version"].as_u64().is_some(), "{key}: current_version is an integer: {body}");
    assert!(data.get("delete_version_after").is_some(), "{key}: {body}");
    let custom = &data["custom_metadata"];
    assert!(custom.is_null() || custom.as_object().is_some_and(|m| m.values().all(Value::is_string)), "{body}");
    data
}

/// Whether ESO's PushSecret/DeleteSecret (client_push.go) count a secret as
/// theirs: `custom_metadata["managed-by"] == "external-secrets"`.
fn managed_by_eso(metadata: &Value) -> bool {
    metadata["custom_metadata"]["managed-by"] == "external-secrets"
}

#[tokio::test(flavor = "multi_thread")]
async fn external_secrets_operator_request_sequence_works_against_hush() {
    let h = tokio::task::block_in_place(Hush::running);
    let (eso_token, expiring_token) = tokio::task::block_in_place(|| {
        cli_ok(&h, &["namespace", "create", "team"], None);
        let eso = h.token(&["team"], &["secrets:read", "secrets:list", "secrets:write", "secrets:delete"]);
        let out = h.cli(&["token", "create", "-n", "team", "--scope", "secrets:read", "--ttl", "1h"]);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        let expiring = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_owned();
        // Secrets that exist before ESO: one written by hush's CLI as JSON,
        // one as plain text (not ESO's: PushSecret must refuse it).
        let db = br#"{"user":"svc","password":"ESO-pw-1","conn":{"host":"db.internal","port":5432}}"#;
        cli_ok(&h, &["secret", "create", "app/db", "-n", "team", "--value-stdin"], Some(db));
        cli_ok(&h, &["secret", "create", "legacy", "-n", "team", "--value-stdin"], Some(b"ESO-legacy-5"));
        (eso, expiring)
    });
    // More seeding, through the Vault API as an operator would.
    let admin = Client::eso(&h, &h.token, Some("team"));
    let db_v2 = json!({"data": {"user": "svc", "password": "ESO-pw-2", "conn": {"host": "db.internal", "port": 5432}}});
    admin.send("PUT", "/v1/secret/data/app/db", Some(db_v2)).await.json(200);
    for (name, data) in [
        ("app/api", json!({"key": "ESO-api-3"})),
        ("app/nested/cache", json!({"url": "ESO-cache-4"})),
        ("other/thing", json!({"x": "ESO-other-6"})),
    ] {
        admin.send("PUT", &format!("/v1/secret/data/{name}"), Some(json!({ "data": data }))).await.json(200);
    }
    for name in ["app/api", "app/nested/cache", "app/placeholder"] {
        let tags = json!({"custom_metadata": {"team": "payments"}});
        admin.send("PUT", &format!("/v1/secret/metadata/{name}"), Some(tags)).await.no_content();
    }

    // The SecretStore: server = hush, path "secret", version "v2",
    // auth.tokenSecretRef, no namespace (the token is bound to one).
    let eso = Client::eso(&h, &eso_token, None);

    // validate.go: Validate, through auth.go: checkToken — GET
    // auth/token/lookup-self; reads data.type (a string; "batch" is never
    // reused), data.ttl (json.Number.Int64 must succeed), and the key
    // expire_time (present; null, or RFC 3339). ttl < 60 with an expiry
    // counts as expired.
    let body = eso.get("/v1/auth/token/lookup-self").await.json(200);
    let data = &body["data"];
    assert_eq!(data["type"], "service", "{body}");
    assert_eq!(data["ttl"].as_i64(), Some(0), "an integer, not a float: {body}");
    assert!(data.as_object().unwrap().contains_key("expire_time") && data["expire_time"].is_null(), "{body}");
    let expiring = Client::eso(&h, &expiring_token, None);
    let body = expiring.get("/v1/auth/token/lookup-self").await.json(200);
    let ttl = body["data"]["ttl"].as_i64().unwrap_or_else(|| panic!("an integer ttl: {body}"));
    assert!((60..=3600).contains(&ttl), "{body}");
    let expire = body["data"]["expire_time"].as_str().unwrap_or_else(|| panic!("a string expire_time: {body}"));
    assert!(humantime::parse_rfc3339(expire).is_ok(), "time.RFC3339: {body}");

    // client_get.go: GetSecret with property "password": readSecret — GET
    // secret/data/app/db; data.data must be an object; the property is a key of it.
    let body = eso.get("/v1/secret/data/app/db").await.json(200);
    let secret = body["data"]["data"].as_object().unwrap_or_else(|| panic!("data.data is an object: {body}"));
    assert_eq!(secret["password"], "ESO-pw-2", "{body}");
    // client_get.go: getSecretValue with property "conn.host": not a key, so
    // a gjson path into the JSON of data.data; "conn.port" comes out as "5432".
    assert!(!secret.contains_key("conn.host"), "{body}");
    assert_eq!((secret["conn"]["host"].as_str(), secret["conn"]["port"].as_u64()), (Some("db.internal"), Some(5432)));
    // client_get.go: GetSecretMap — the same request; every key of data.data
    // becomes a key of the Kubernetes secret.
    let mut keys: Vec<&String> = secret.keys().collect();
    keys.sort();
    assert_eq!(keys, ["conn", "password", "user"], "{body}");

    // client_get.go: GetSecret with version "1": readSecret — GET secret/data/app/db?version=1.
    let body = eso.get("/v1/secret/data/app/db?version=1").await.json(200);
    assert_eq!(body["data"]["data"]["password"], "ESO-pw-1", "{body}");

    // client_get.go: GetSecret with metadataPolicy Fetch and property "team":
    // readSecretMetadata — GET secret/metadata/app/api.
    let metadata = eso_read_metadata(&eso, "app/api").await;
    assert_eq!(
        (metadata["custom_metadata"]["team"].as_str(), metadata["current_version"].as_u64()),
        (Some("payments"), Some(1))
    );

    // client_get_all_secrets.go: GetAllSecrets with find.tags {team: payments}
    // and no find.path: listSecrets from the mount's root, recursively...
    let candidates = eso_list_secrets(&eso, "").await;
    assert_eq!(
        candidates,
        ["app/api", "app/db", "app/nested/cache", "app/placeholder", "legacy", "other/thing"],
        "the listing, depth first"
    );
    // ...findSecretsFromTags: readSecretMetadata of every candidate, then
    // GetSecret (no property: the JSON of data.data) of those whose
    // custom_metadata has every tag; a secret with no data is skipped.
    let mut by_tags = serde_json::Map::new();
    for name in &candidates {
        let metadata = eso_read_metadata(&eso, name).await;
        if metadata["custom_metadata"]["team"] != "payments" {
            continue;
        }
        let answer = eso.get(&format!("/v1/secret/data/{name}")).await;
        if answer.go_client_sees_no_secret() {
            continue;
        }
        by_tags.insert(name.clone(), answer.json(200)["data"]["data"].clone());
    }
    assert_eq!(
        Value::Object(by_tags),
        json!({"app/api": {"key": "ESO-api-3"}, "app/nested/cache": {"url": "ESO-cache-4"}}),
        "app/placeholder (tags, no data) is skipped"
    );

    // client_get_all_secrets.go: GetAllSecrets with find.path "app" and
    // find.name.regexp "db|cache": listSecrets("app/"), then GetSecret of the
    // names the regexp matches (no metadata read).
    let candidates = eso_list_secrets(&eso, "app/").await;
    assert_eq!(candidates, ["app/api", "app/db", "app/nested/cache", "app/placeholder"]);
    let mut by_name = Vec::new();
    for name in candidates.iter().filter(|n| n.contains("db") || n.contains("cache")) {
        let body = eso.get(&format!("/v1/secret/data/{name}")).await.json(200);
        assert!(body["data"]["data"].is_object(), "{body}");
        by_name.push(name.as_str());
    }
    assert_eq!(by_name, ["app/db", "app/nested/cache"]);

    // client_push.go: PushSecret of a whole Kubernetes secret to the new
    // remote key "pushed/db". It reads the data first: a 404 the Go client
    // reads as "no secret" means "does not exist", so no ownership check
    // (SecretExists, for updatePolicy IfNotExists, is this same read)...
    assert!(eso.get("/v1/secret/data/pushed/db").await.go_client_sees_no_secret());
    // ...then tags the path with its metadata, before any data...
    let tag = json!({"custom_metadata": {"managed-by": "external-secrets"}});
    eso.send("PUT", "/v1/secret/metadata/pushed/db", Some(tag.clone())).await.no_content();
    let metadata = eso_read_metadata(&eso, "pushed/db").await;
    assert!(managed_by_eso(&metadata), "{metadata}");
    assert_eq!(metadata["current_version"], 0, "tagged, no data yet: {metadata}");
    // ...then writes the data (no cas: the store does not require it).
    let pushed = json!({"password": "ESO-push-7", "username": "eso-user"});
    let body = eso.send("PUT", "/v1/secret/data/pushed/db", Some(json!({ "data": pushed }))).await.json(200);
    assert_eq!(body["data"]["version"], 1, "{body}");
    let metadata = eso_read_metadata(&eso, "pushed/db").await;
    assert!(managed_by_eso(&metadata), "{metadata}");
    assert_eq!(metadata["current_version"], 1, "{metadata}");

    // client_push.go: the next reconcile of the same PushSecret reads the
    // data (it exists), checks the tag, and compares the map it read with
    // the one it pushes: equal, so it writes nothing. Any extra key or
    // changed type here would make ESO write a new version every reconcile.
    let body = eso.get("/v1/secret/data/pushed/db").await.json(200);
    assert_eq!(body["data"]["data"], pushed, "{body}");
    assert!(managed_by_eso(&eso_read_metadata(&eso, "pushed/db").await));

    // client_push.go: PushSecret of one key to remoteRef.property "api-key":
    // read the data, check the tag, merge the property into the map read,
    // then write the tag and the merged data.
    let body = eso.get("/v1/secret/data/pushed/db").await.json(200);
    let mut merged = body["data"]["data"].as_object().unwrap().clone();
    assert!(managed_by_eso(&eso_read_metadata(&eso, "pushed/db").await));
    merged.insert("api-key".to_owned(), json!("ESO-prop-8"));
    eso.send("PUT", "/v1/secret/metadata/pushed/db", Some(tag.clone())).await.no_content();
    let body = eso.send("PUT", "/v1/secret/data/pushed/db", Some(json!({ "data": merged }))).await.json(200);
    assert_eq!(body["data"]["version"], 2, "{body}");

    // client_push.go: PushSecret with checkAndSet.required to a new key:
    // getCASVersion gives 0 for a secret that does not exist, and the tag is
    // written before the data, so the cas-0 write meets a record with
    // current_version 0 (Vault lets it through).
    assert!(eso.get("/v1/secret/data/pushed/cas").await.go_client_sees_no_secret());
    eso.send("PUT", "/v1/secret/metadata/pushed/cas", Some(tag.clone())).await.no_content();
    let write = json!({"data": {"token": "ESO-cas-9"}, "options": {"cas": 0}});
    let body = eso.send("PUT", "/v1/secret/data/pushed/cas", Some(write)).await.json(200);
    assert_eq!(body["data"]["version"], 1, "{body}");
    // ...and to it again with a new value: read the data, check the tag,
    // then getCASVersion reads current_version from the metadata (an int,
    // float64 or json.Number) and sends it as cas.
    assert_eq!(eso.get("/v1/secret/data/pushed/cas").await.json(200)["data"]["data"]["token"], "ESO-cas-9");
    assert!(managed_by_eso(&eso_read_metadata(&eso, "pushed/cas").await));
    let cas = eso_read_metadata(&eso, "pushed/cas").await["current_version"].as_u64().unwrap();
    eso.send("PUT", "/v1/secret/metadata/pushed/cas", Some(tag.clone())).await.no_content();
    let write = json!({"data": {"token": "ESO-cas-10"}, "options": {"cas": cas}});
    let body = eso.send("PUT", "/v1/secret/data/pushed/cas", Some(write)).await.json(200);
    assert_eq!(body["data"]["version"], 2, "{body}");

    // client_push.go: PushSecret to "legacy", which hush's CLI made: the data
    // exists, so ESO reads the metadata, finds no managed-by tag, and
    // refuses ("secret not managed by external-secrets") without writing.
    let body = eso.get("/v1/secret/data/legacy").await.json(200);
    assert_eq!(body["data"]["data"]["value"], "ESO-legacy-5", "{body}");
    let metadata = eso_read_metadata(&eso, "legacy").await;
    assert!(!managed_by_eso(&metadata), "not ESO's: {metadata}");
    assert_eq!(metadata["current_version"], 1, "nothing was written: {metadata}");
    // (client_push.go: DeleteSecret of "legacy" makes the same two reads and
    // stops at the same check, deleting nothing.)

    // client_push.go: DeleteSecret with remoteRef.property "api-key": read
    // the data, check the tag, drop the property; other keys remain, so it
    // writes the rest back.
    let body = eso.get("/v1/secret/data/pushed/db").await.json(200);
    let mut rest = body["data"]["data"].as_object().unwrap().clone();
    assert!(managed_by_eso(&eso_read_metadata(&eso, "pushed/db").await));
    assert_eq!(rest.remove("api-key"), Some(json!("ESO-prop-8")));
    let body = eso.send("PUT", "/v1/secret/data/pushed/db", Some(json!({ "data": rest }))).await.json(200);
    assert_eq!(body["data"]["version"], 3, "{body}");

    // client_push.go: DeleteSecret of the whole "pushed/db": read the data,
    // check the tag, DELETE the data, then DELETE the metadata.
    assert_eq!(eso.get("/v1/secret/data/pushed/db").await.json(200)["data"]["data"], pushed);
    assert!(managed_by_eso(&eso_read_metadata(&eso, "pushed/db").await));
    eso.send("DELETE", "/v1/secret/data/pushed/db", None).await.no_content();
    eso.send("DELETE", "/v1/secret/metadata/pushed/db", None).await.no_content();
    assert_eq!(eso.get("/v1/secret/metadata/pushed/db").await.json(404), json!({"errors": []}));
    // The next DeleteSecret of it reads the data, sees no secret, and stops.
    assert!(eso.get("/v1/secret/data/pushed/db").await.go_client_sees_no_secret());
    assert_eq!(eso_list_secrets(&eso, "pushed/").await, ["pushed/cas"]);

    // A store with `namespace: team` and a token for every namespace (the
    // admin's): the Go client sends X-Vault-Namespace on every request,
    // the token lookup included.
    let namespaced = Client::eso(&h, &h.token, Some("team"));
    assert_eq!(namespaced.get("/v1/auth/token/lookup-self").await.json(200)["data"]["type"], "service");
    let body = namespaced.get("/v1/secret/data/app/db").await.json(200);
    assert_eq!(body["data"]["data"]["password"], "ESO-pw-2", "{body}");

    let values = [
        "ESO-pw-1",
        "ESO-pw-2",
        "ESO-api-3",
        "ESO-cache-4",
        "ESO-legacy-5",
        "ESO-other-6",
        "ESO-push-7",
        "ESO-prop-8",
        "ESO-cas-9",
        "ESO-cas-10",
    ];
    assert_values_never_leak(&h, &[&eso, &expiring, &admin, &namespaced], &values);
}

/// What vault-action outputs for a selector (secrets.js:
/// selectAndAppendResults and selectData): the JSONata path `data.` +
/// selector, with one more `data.` in front when the answer has `data.data`
/// (how it tells KV v2). A selector without `.` is one quoted key (so is a
/// wildcard key with a `.`, which it backquotes); one with `.` is a path.
/// A string comes out as itself, anything else as its JSON text; nothing
/// found is `None` (the action fails: "No match data was found").
fn action_output(body: &Value, steps: &[&str]) -> Option<String> {
    assert!(body["data"].is_object(), "vault-action reads body.data.data, so body.data must be an object: {body}");
    let mut at = &body["data"];
    if !at["data"].is_null() {
        at = &at["data"];
    }
    for step in steps {
        at = at.get(step)?;
    }
    match at {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn vault_action_request_sequence_works_against_hush() {
    let h = tokio::task::block_in_place(Hush::running);
    let (ci_token, list_only_token) = tokio::task::block_in_place(|| {
        cli_ok(&h, &["namespace", "create", "team"], None);
        cli_ok(&h, &["secret", "create", "ci/npm", "-n", "team", "--value-stdin"], Some(b"VA-npm-3"));
        (h.token(&["team"], &["secrets:read"]), h.token(&["team"], &["secrets:list"]))
    });
    let admin = Client::eso(&h, &h.token, Some("team"));
    let db = json!({
        "password": "VA-pw-1",
        "user": "svc",
        "conn": {"host": "db.internal", "port": 5432},
        "dotted.key": "VA-dot-2",
    });
    admin.send("PUT", "/v1/secret/data/ci/db", Some(json!({ "data": db }))).await.json(200);
    admin.send("PUT", "/v1/secret/data/ci/old", Some(json!({"data": {"token": "VA-old-4"}}))).await.json(200);
    admin.send("DELETE", "/v1/secret/data/ci/old", None).await.no_content();

    // auth.js: retrieveToken with method "token" returns the `token` input
    // as is: no login request. The workflow sets no `namespace`, so every
    // request carries an empty X-Vault-Namespace; the token is bound to one
    // hush namespace.
    let action = Client::vault_action(&h, &ci_token, "");

    // action.js: parseSecretsInput of
    //   secret/data/ci/db password | DB_PASS ;
    //   secret/data/ci/db user ;
    //   secret/data/ci/db conn.host | DB_HOST ;
    //   secret/data/ci/db conn.port | DB_PORT ;
    //   secret/data/ci/db * | DB_
    // then secrets.js: getSecrets — one GET v1/secret/data/ci/db (the later
    // specs for the same path use its cached body), JSON.parse of the text.
    let answer = action.get("/v1/secret/data/ci/db").await;
    let body = answer.json(200);
    assert!(body["data"]["data"].is_object(), "KV v2 is told by body.data.data: {body}");
    assert_eq!(action_output(&body, &["password"]).as_deref(), Some("VA-pw-1"), "DB_PASS");
    assert_eq!(action_output(&body, &["user"]).as_deref(), Some("svc"), "user");
    assert_eq!(action_output(&body, &["conn", "host"]).as_deref(), Some("db.internal"), "DB_HOST");
    assert_eq!(action_output(&body, &["conn", "port"]).as_deref(), Some("5432"), "DB_PORT");
    // The wildcard: one output per key of body.data.data, each selected by that key.
    let mut keys: Vec<&String> = body["data"]["data"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["conn", "dotted.key", "password", "user"], "{body}");
    assert_eq!(action_output(&body, &["dotted.key"]).as_deref(), Some("VA-dot-2"), "DB_DOTTED__KEY");
    let conn: Value = serde_json::from_str(&action_output(&body, &["conn"]).unwrap()).unwrap();
    assert_eq!(conn, json!({"host": "db.internal", "port": 5432}), "DB_CONN is the object's JSON");

    // secrets.js: getSecrets for `secret/data/ci/npm value | NPM_TOKEN`, a
    // secret hush's CLI wrote as text.
    let body = action.get("/v1/secret/data/ci/npm").await.json(200);
    assert_eq!(action_output(&body, &["value"]).as_deref(), Some("VA-npm-3"), "{body}");

    // action.js: with the `namespace: team` input and a token for every
    // namespace, the header names it.
    let named = Client::vault_action(&h, &h.token, "team");
    let body = named.get("/v1/secret/data/ci/db").await.json(200);
    assert_eq!(action_output(&body, &["password"]).as_deref(), Some("VA-pw-1"), "{body}");

    // secrets.js: getSecrets on a 404 fails the step (or, with
    // ignoreNotFound, logs an error) with a message that quotes the body,
    // trimmed; that lands in the workflow log, so it must carry no value.
    let answer = action.get("/v1/secret/data/ci/missing").await;
    assert_eq!(answer.json(404), json!({"errors": []}), "{}", answer.text);
    // A deleted version is a 404 too (its body carries the metadata only).
    let answer = action.get("/v1/secret/data/ci/old").await;
    let body = answer.json(404);
    assert!(body["data"]["data"].is_null() && !answer.text.contains("VA-old-4"), "{body}");

    // Other refusals fail the step through got's HTTPError.
    let unnamed = Client::vault_action(&h, &h.token, "");
    let body = unnamed.get("/v1/secret/data/ci/db").await.json(400);
    assert!(body["errors"][0].as_str().is_some_and(|e| e.contains("X-Vault-Namespace")), "{body}");
    let no_read = Client::vault_action(&h, &list_only_token, "");
    assert_eq!(no_read.get("/v1/secret/data/ci/db").await.json(403), json!({"errors": ["permission denied"]}));

    let values = ["VA-pw-1", "VA-dot-2", "VA-npm-3", "VA-old-4"];
    assert_values_never_leak(&h, &[&action, &named, &unnamed, &no_read, &admin], &values);
}
