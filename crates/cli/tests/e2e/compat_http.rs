//! The HTTP shapes of the systems hush grows out of, called as their
//! clients call them, with exact bodies and status codes: dodil ignite's
//! `/v1/ignite/secrets` and Direktiv's `/api/v2` namespaces, secrets and
//! registries.

use serde_json::{Value, json};

use crate::harness::{Hush, show};

/// `body` with its time fields checked and replaced by `"<ms>"` / `"<time>"`.
fn masked(mut body: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, item) in map.iter_mut() {
                    match k.as_str() {
                        "createdAtMs" | "updatedAtMs" => {
                            let ms: i64 = item.as_str().expect("int64 as a string").parse().expect("a number");
                            assert!(ms > 1_700_000_000_000, "{k}: {ms}");
                            *item = json!("<ms>");
                        }
                        "createdAt" | "updatedAt" => {
                            let t = item.as_str().expect("a time string");
                            assert!(humantime::parse_rfc3339(t).is_ok(), "{k}: {t} is not RFC 3339");
                            *item = json!("<time>");
                        }
                        _ => walk(item),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut body);
    body
}

struct Call<'a> {
    h: &'a Hush,
    http: reqwest::Client,
    token: String,
    header: &'static str,
}

impl Call<'_> {
    async fn send(&self, method: &str, path: &str, body: Option<&str>, extra: &[(&str, &str)]) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.http.request(method, self.h.url(path));
        r = match self.header {
            "direktiv" => r.header("Direktiv-Token", &self.token),
            _ => r.bearer_auth(&self.token),
        };
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b.to_owned());
        }
        let response = r.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}")))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dodils_http_shape_works_for_its_clients() {
    let h = tokio::task::block_in_place(Hush::running);
    let (team, admin_without_ns) = tokio::task::block_in_place(|| {
        assert_eq!(h.cli(&["namespace", "create", "acme"]).status.code(), Some(0));
        (h.token(&["acme"], &["secrets:list", "secrets:read", "secrets:write", "secrets:delete"]), h.token.clone())
    });
    let c = Call { h: &h, http: h.http(), token: team, header: "bearer" };

    let (s, b) = c
        .send(
            "POST",
            "/v1/ignite/secrets",
            Some(r#"{"name":"forge","value":{"gitSecret":{"username":"bot","token":"IGN-tok-1"}}}"#),
            &[],
        )
        .await;
    assert_eq!(
        (s, masked(b)),
        (200, json!({"name": "forge", "type": "git_secret", "createdAtMs": "<ms>", "updatedAtMs": "<ms>"}))
    );
    let (s, b) = c
        .send(
            "POST",
            "/v1/ignite/secrets",
            Some(r#"{"name":"pull_creds","value":{"registrySecret":{"username":"u","password":"IGN-pw-2","serverAddress":""}},"extra":1}"#),
            &[],
        )
        .await;
    assert_eq!((s, masked(b)["type"].clone()), (200, json!("registry_secret")));

    let (s, b) = c.send("GET", "/v1/ignite/secrets", None, &[]).await;
    assert_eq!(
        (s, masked(b)),
        (
            200,
            json!({"secrets": [
                {"name": "forge", "type": "git_secret", "createdAtMs": "<ms>", "updatedAtMs": "<ms>"},
                {"name": "pull_creds", "type": "registry_secret", "createdAtMs": "<ms>", "updatedAtMs": "<ms>"},
            ]})
        )
    );
    let (s, b) = c.send("GET", "/v1/ignite/secrets/forge", None, &[]).await;
    assert_eq!(
        (s, masked(b)),
        (
            200,
            json!({"metadata": {"name": "forge", "type": "git_secret", "createdAtMs": "<ms>", "updatedAtMs": "<ms>"},
                   "value": {"gitSecret": {"username": "bot", "token": "IGN-tok-1"}}})
        )
    );
    let (_, b) = c.send("GET", "/v1/ignite/secrets/pull_creds", None, &[]).await;
    assert_eq!(b["value"], json!({"registrySecret": {"username": "u", "password": "IGN-pw-2", "serverAddress": ""}}));

    // Errors: names, bodies, missing, type changes.
    for (method, path, body, status, code) in [
        (
            "POST",
            "/v1/ignite/secrets",
            r#"{"name":"a.b","value":{"gitSecret":{"username":"u","token":"t"}}}"#,
            400,
            "invalid_name",
        ),
        (
            "POST",
            "/v1/ignite/secrets",
            r#"{"name":"ok","value":{"gitSecret":{},"registrySecret":{}}}"#,
            400,
            "invalid_value",
        ),
        ("POST", "/v1/ignite/secrets", r#"{"name":"ok"}"#, 400, "invalid_value"),
        (
            "POST",
            "/v1/ignite/secrets",
            r#"{"name":"forge","value":{"genericSecret":{"value":"aGk="}}}"#,
            409,
            "type_conflict",
        ),
        ("POST", "/v1/ignite/secrets", "[1]", 400, "malformed_body"),
        ("GET", "/v1/ignite/secrets/missing", "", 404, "secret_not_found"),
        ("GET", &format!("/v1/ignite/secrets/{}", "x".repeat(65)), "", 400, "invalid_name"),
    ] {
        let (s, b) = c.send(method, path, (!body.is_empty()).then_some(body), &[]).await;
        assert_eq!((s, b["error"]["code"].as_str()), (status, Some(code)), "{method} {path} {body}: {b}");
    }
    // Delete is idempotent.
    for _ in 0..2 {
        let (s, b) = c.send("DELETE", "/v1/ignite/secrets/pull_creds", None, &[]).await;
        assert_eq!((s, b), (200, json!({})));
    }
    // A token for every namespace names its organization.
    let admin = Call { h: &h, http: h.http(), token: admin_without_ns, header: "bearer" };
    let (s, b) = admin.send("GET", "/v1/ignite/secrets/forge", None, &[]).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("namespace_required")), "{b}");
    // The refusal is audited as the call it was.
    let audit = tokio::task::block_in_place(|| h.cli(&["audit", "list", "--json", "--limit", "1"]));
    let last: Value = serde_json::from_slice(&audit.stdout).unwrap();
    let event = &last["events"][0];
    assert_eq!(
        (event["action"].as_str(), event["name"].as_str(), event["outcome"].as_str()),
        (Some("secret.read"), Some("forge"), Some("invalid")),
        "{last}"
    );
    let (s, b) = admin.send("GET", "/v1/ignite/secrets", None, &[("X-Hush-Namespace", "acme")]).await;
    assert_eq!((s, b["secrets"].as_array().map(Vec::len)), (200, Some(1)), "{b}");
    let anonymous = Call { h: &h, http: h.http(), token: String::new(), header: "bearer" };
    let (s, _) = anonymous.send("GET", "/v1/ignite/secrets", None, &[]).await;
    assert_eq!(s, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn direktivs_v2_api_works_for_its_clients() {
    let h = tokio::task::block_in_place(Hush::running);
    let c = Call { h: &h, http: h.http(), token: h.token.clone(), header: "direktiv" };

    let (s, b) = c.send("POST", "/api/v2/namespaces", Some(r#"{"name":"flows","mirror":null}"#), &[]).await;
    assert_eq!((s, masked(b)), (200, json!({"data": {"name": "flows", "createdAt": "<time>", "updatedAt": "<time>"}})));
    let (s, b) = c.send("GET", "/api/v2/namespaces", None, &[]).await;
    let names: Vec<&str> = b["data"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!((s, names), (200, vec!["default", "flows"]));

    let base = "/api/v2/namespaces/flows/secrets";
    // A git secret of the same name as a later POST, and one in a folder.
    tokio::task::block_in_place(|| {
        let out = h.cli_stdin(
            &["secret", "create", "forge", "-n", "flows", "--type", "git", "--username", "u", "--token-stdin"],
            b"t",
        );
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        let out = h.cli_stdin(&["secret", "create", "dir/inner", "-n", "flows", "--value-stdin"], b"v");
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    });
    // Created in this order; listed in this order, not by name.
    for (name, data) in [("zeta", "WjEtdmFsdWU="), ("alpha", "QTEtdmFsdWU=")] {
        let (s, b) =
            c.send("POST", base, Some(&format!(r#"{{"name":"{name}","data":"{data}","unknown":true}}"#)), &[]).await;
        assert_eq!(
            (s, masked(b)),
            (200, json!({"data": {"name": name, "initialized": true, "createdAt": "<time>", "updatedAt": "<time>"}}))
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let (s, b) = c.send("GET", base, None, &[]).await;
    let listed: Vec<&str> = b["data"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!((s, listed), (200, vec!["forge", "dir/inner", "zeta", "alpha"]));
    let (s, b) = c.send("GET", &format!("{base}/dir/inner"), None, &[]).await;
    assert_eq!((s, b["data"]["name"].as_str()), (200, Some("dir/inner")), "{b}");
    assert!(!b.to_string().contains("dmFsdWU") && !b.to_string().contains("value"), "values are never returned: {b}");
    let (s, b) = c.send("GET", &format!("{base}/alpha"), None, &[]).await;
    assert_eq!(
        (s, masked(b)),
        (200, json!({"data": {"name": "alpha", "initialized": true, "createdAt": "<time>", "updatedAt": "<time>"}}))
    );
    let (s, _) = c.send("PATCH", &format!("{base}/alpha"), Some(r#"{"data":"bmV3"}"#), &[]).await;
    assert_eq!(s, 200);
    let value = tokio::task::block_in_place(|| h.cli(&["secret", "get", "alpha", "-n", "flows"]));
    assert_eq!(value.stdout, b"new", "{}", show(&value));

    for (method, path, body, status, code) in [
        ("POST", base, r#"{"name":"bad","data":"%%%"}"#, 400, "request_body_not_json"),
        ("POST", base, "not json", 400, "request_body_not_json"),
        ("POST", base, r#"{"name":"n","data":5}"#, 400, "request_body_not_json"),
        ("POST", base, r#"{"name":"forge","data":"eA=="}"#, 409, "resource_already_exists"),
        ("POST", base, r#"{"name":"zeta","data":"eA=="}"#, 409, "resource_already_exists"),
        ("PATCH", "/api/v2/namespaces/flows/secrets/alpha", r#"{"data":"***"}"#, 400, "request_body_not_json"),
        ("PATCH", "/api/v2/namespaces/flows/secrets/ghost", r#"{"data":"eA=="}"#, 404, "secret_not_found"),
        ("GET", "/api/v2/namespaces/flows/secrets/ghost", "", 404, "secret_not_found"),
        ("DELETE", "/api/v2/namespaces/flows/secrets/ghost", "", 404, "secret_not_found"),
        ("GET", "/api/v2/namespaces/nowhere/secrets", "", 404, "namespace_not_found"),
    ] {
        let (s, b) = c.send(method, path, (!body.is_empty()).then_some(body), &[]).await;
        assert_eq!((s, b["error"]["code"].as_str()), (status, Some(code)), "{method} {path} {body}: {b}");
        assert!(b["error"]["message"].is_string(), "{b}");
    }
    let unchanged = tokio::task::block_in_place(|| h.cli(&["secret", "get", "alpha", "-n", "flows"]));
    assert_eq!(unchanged.stdout, b"new", "a refused PATCH changed nothing");
    let (s, b) = c.send("DELETE", &format!("{base}/zeta"), None, &[]).await;
    assert_eq!((s, b), (200, json!({})));

    // Registries.
    let regs = "/api/v2/namespaces/flows/registries";
    let (s, b) =
        c.send("POST", regs, Some(r#"{"url":"https://ghcr.io","user":"admin","password":"DV2-pw:9"}"#), &[]).await;
    let id = b["data"]["id"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("secret-") && id.len() == 27 && id[7..].chars().all(|c| c.is_ascii_hexdigit()), "{b}");
    assert_eq!(
        (s, masked(b)),
        (
            200,
            json!({"data": {"namespace": "flows", "id": id, "url": "https://ghcr.io", "user": "admin", "createdAt": "<time>"}})
        )
    );
    let (s, b) = c.send("GET", regs, None, &[]).await;
    assert_eq!(
        (s, masked(b.clone())),
        (
            200,
            json!({"data": [{"namespace": "flows", "id": id, "url": "https://ghcr.io", "user": "admin", "createdAt": "<time>"}]})
        )
    );
    assert!(!b.to_string().contains("DV2-pw"), "{b}");
    // The id is derived from the namespace and URL: the same in another namespace's view of the same URL differs.
    let (_, other) = c
        .send(
            "POST",
            "/api/v2/namespaces/default/registries",
            Some(r#"{"url":"https://ghcr.io","user":"u","password":"p"}"#),
            &[],
        )
        .await;
    assert_ne!(other["data"]["id"], json!(id));
    let (s, b) = c.send("POST", regs, Some(r#"{"url":"https://ghcr.io","user":"admin"}"#), &[]).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("request_body_not_json")), "{b}");
    let (s, b) = c.send("DELETE", &format!("{regs}/{id}"), None, &[]).await;
    assert_eq!((s, b), (200, json!({})));
    let (s, b) = c.send("DELETE", &format!("{regs}/{id}"), None, &[]).await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("registry_not_found")), "{b}");
    let (_, b) = c.send("GET", regs, None, &[]).await;
    assert_eq!(b, json!({"data": []}));

    // Authorization: Bearer works as well as Direktiv-Token; no token is 401.
    let bearer = Call { h: &h, http: h.http(), token: h.token.clone(), header: "bearer" };
    assert_eq!(bearer.send("GET", base, None, &[]).await.0, 200);
    let anonymous = Call { h: &h, http: h.http(), token: String::new(), header: "direktiv" };
    assert_eq!(anonymous.send("GET", base, None, &[]).await.0, 401);
}
