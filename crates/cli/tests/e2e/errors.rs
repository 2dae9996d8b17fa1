//! Bad input over REST: the right status and code, a message that names the
//! problem without echoing a value, and nothing lost.

use reqwest::Method;
use serde_json::Value;

use crate::harness::Hush;

const SECRET: &str = "S3CRET-VALUE-do-not-echo";

struct Case {
    method: Method,
    path: &'static str,
    body: Option<String>,
    auth: Auth,
    status: u16,
    code: &'static str,
}

#[derive(Clone, Copy)]
enum Auth {
    Admin,
    Anonymous,
    Bogus,
    ListOnly,
}

fn case(method: Method, path: &'static str, body: Option<&str>, auth: Auth, status: u16, code: &'static str) -> Case {
    Case { method, path, body: body.map(|b| b.replace("$S", SECRET)), auth, status, code }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_has_its_status_code_and_message() {
    let mut h = Hush::init();
    tokio::task::block_in_place(|| h.start(&[], &["--max-value-size", "1KiB"]));
    let http = h.http();
    let put = |body: &str| {
        let http = http.clone();
        let url = h.url("/v1/namespaces/default/secrets/existing");
        let token = h.token.clone();
        let body = body.to_owned();
        async move { http.put(url).bearer_auth(token).body(body).send().await.unwrap() }
    };
    assert_eq!(put(r#"{"type":"generic","value":"original"}"#).await.status(), 201);
    let list_only = tokio::task::block_in_place(|| h.token(&["default"], &["secrets:list"]));
    let big = format!(r#"{{"value":"{}"}}"#, "x".repeat(2000));
    let big: &'static str = Box::leak(big.into_boxed_str());
    use Auth::*;
    use Method as M;
    let cases = vec![
        case(
            M::PUT,
            "/v1/namespaces/default/secrets/existing",
            Some(r#"{"type":"generic","value":"$S""#),
            Admin,
            400,
            "malformed_body",
        ),
        case(M::PUT, "/v1/namespaces/default/secrets/existing", Some(r#"["$S"]"#), Admin, 400, "malformed_body"),
        case(M::PUT, "/v1/namespaces/default/secrets/existing", Some(""), Admin, 400, "malformed_body"),
        case(
            M::PUT,
            "/v1/namespaces/default/secrets/existing",
            Some(r#"{"type":"generic","valeu":"$S"}"#),
            Admin,
            400,
            "malformed_body",
        ),
        case(
            M::PUT,
            "/v1/namespaces/default/secrets/existing",
            Some(r#"{"type":"generic","value":"$S","cas":"$S"}"#),
            Admin,
            400,
            "malformed_body",
        ),
        case(
            M::PUT,
            "/v1/namespaces/default/secrets/existing",
            Some(r#"{"type":"generic","value":["$S"]}"#),
            Admin,
            400,
            "malformed_body",
        ),
        case(
            M::PUT,
            "/v1/namespaces/default/secrets/existing",
            Some(r#"{"type":"$S","value":"x"}"#),
            Admin,
            400,
            "invalid_type",
        ),
        case(
            M::PUT,
            "/v1/namespaces/default/secrets/existing",
            Some(r#"{"type":"generic","value_base64":"$S!!"}"#),
            Admin,
            400,
            "malformed_body",
        ),
        case(
            M::PUT,
            "/v1/namespaces/default/secrets/existing",
            Some(r#"{"type":"generic","value":"$S","value_base64":"eA=="}"#),
            Admin,
            400,
            "malformed_body",
        ),
        case(
            M::PUT,
            "/v1/namespaces/default/secrets/existing",
            Some(r#"{"type":"git","token":"$S"}"#),
            Admin,
            400,
            "malformed_body",
        ),
        case(
            M::PUT,
            "/v1/namespaces/default/secrets/existing",
            Some(r#"{"type":"generic","value":""}"#),
            Admin,
            400,
            "invalid_value",
        ),
        case(
            M::PUT,
            "/v1/namespaces/default/secrets/bad%20name",
            Some(r#"{"value":"$S"}"#),
            Admin,
            400,
            "invalid_name",
        ),
        case(M::PUT, "/v1/namespaces/default/secrets/a%2F%2Fb", Some(r#"{"value":"$S"}"#), Admin, 400, "invalid_name"),
        case(M::PUT, "/v1/namespaces/-bad/secrets/x", Some(r#"{"value":"$S"}"#), Admin, 400, "invalid_name"),
        case(M::PUT, "/v1/namespaces/default/secrets/existing", Some(big), Admin, 413, "value_too_large"),
        case(
            M::PUT,
            "/v1/namespaces/default/secrets/existing",
            Some(r#"{"value":"$S","cas":7}"#),
            Admin,
            409,
            "cas_mismatch",
        ),
        case(
            M::PUT,
            "/v1/namespaces/default/secrets/existing",
            Some(r#"{"type":"git","username":"u","token":"$S"}"#),
            Admin,
            409,
            "type_conflict",
        ),
        case(
            M::PUT,
            "/v1/namespaces/default/secrets/existing",
            Some(r#"{"value":"$S"}"#),
            Anonymous,
            401,
            "unauthenticated",
        ),
        case(
            M::PUT,
            "/v1/namespaces/default/secrets/existing",
            Some(r#"{"value":"$S"}"#),
            Bogus,
            401,
            "unauthenticated",
        ),
        case(M::PUT, "/v1/namespaces/default/secrets/existing", Some(r#"{"value":"$S"}"#), ListOnly, 403, "forbidden"),
        case(
            M::PUT,
            "/v1/namespaces/nowhere/secrets/existing",
            Some(r#"{"value":"$S"}"#),
            Admin,
            404,
            "namespace_not_found",
        ),
        case(M::GET, "/v1/namespaces/default/secrets/existing", None, ListOnly, 403, "forbidden"),
        case(M::GET, "/v1/namespaces/default/secrets/missing", None, Admin, 404, "secret_not_found"),
        case(M::GET, "/v1/namespaces/default/secrets/existing?version=0", None, Admin, 400, "invalid_query"),
        case(M::GET, "/v1/namespaces/default/secrets/existing?version=abc", None, Admin, 400, "invalid_query"),
        case(M::GET, "/v1/namespaces/default/secrets/existing?verison=1", None, Admin, 400, "invalid_query"),
        case(M::GET, "/v1/namespaces/default/secrets/existing?version=5", None, Admin, 404, "version_not_found"),
        case(M::GET, "/v1/namespaces/default/secrets?limit=0", None, Admin, 400, "invalid_query"),
        case(M::GET, "/v1/namespaces/default/secrets?limit=1001", None, Admin, 400, "invalid_limit"),
        case(M::GET, "/v1/namespaces/default/secrets?prefix=%00", None, Admin, 400, "invalid_query"),
        case(M::GET, "/v1/namespaces/default/secrets/missing/versions", None, Admin, 404, "secret_not_found"),
        case(M::DELETE, "/v1/namespaces/default/secrets/existing", None, ListOnly, 403, "forbidden"),
        case(M::POST, "/v1/namespaces", Some(r#"{"name":"bad name"}"#), Admin, 400, "invalid_name"),
        case(M::POST, "/v1/namespaces", Some(r#"{"name":"default"}"#), Admin, 409, "already_exists"),
        case(M::POST, "/v1/namespaces", Some(r#"{"nmae":"x"}"#), Admin, 400, "malformed_body"),
        case(M::POST, "/v1/namespaces", Some(r#"{"name":"x"}"#), ListOnly, 403, "forbidden"),
        case(
            M::POST,
            "/v1/tokens",
            Some(r#"{"namespaces":["default"],"scopes":["secrets:fly"]}"#),
            Admin,
            400,
            "invalid_scopes",
        ),
        case(M::POST, "/v1/tokens", Some(r#"{"namespaces":["default"],"scopes":[]}"#), Admin, 400, "invalid_scopes"),
        case(
            M::POST,
            "/v1/tokens",
            Some(r#"{"namespaces":["default"],"scopes":["admin"],"ttl":"soon"}"#),
            Admin,
            400,
            "malformed_body",
        ),
        case(M::POST, "/v1/tokens", Some(r#"{"scopes":["admin"]}"#), Admin, 400, "malformed_body"),
        case(M::DELETE, "/v1/tokens/nothex", None, Admin, 400, "invalid_token_id"),
        case(M::DELETE, "/v1/tokens/0123456789abcdef", None, Admin, 404, "token_not_found"),
        case(M::GET, "/v1/nothing", None, Admin, 404, "route_not_found"),
        case(M::PATCH, "/v1/namespaces", None, Admin, 405, "method_not_allowed"),
        case(M::GET, "/v1/audit?limit=5000", None, Admin, 400, "invalid_limit"),
        case(M::GET, "/v1/audit", None, ListOnly, 403, "forbidden"),
    ];
    for c in &cases {
        let mut req = http.request(c.method.clone(), h.url(c.path));
        req = match c.auth {
            Admin => req.bearer_auth(&h.token),
            Anonymous => req,
            Bogus => req.bearer_auth("hush_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ListOnly => req.bearer_auth(&list_only),
        };
        if let Some(b) = &c.body {
            req = req.body(b.clone());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(status, c.status, "{} {}: {text}", c.method, c.path);
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{} {}: not JSON: {text}", c.method, c.path));
        assert_eq!(v["error"]["code"], c.code, "{} {}: {text}", c.method, c.path);
        let message = v["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty());
        assert!(!text.contains(SECRET), "{} {} echoed the value: {text}", c.method, c.path);
    }
    // Nothing was lost or changed by any of it.
    let v: Value = http
        .get(h.url("/v1/namespaces/default/secrets/existing"))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["value"], "original");
    assert_eq!(v["version"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_are_refused_before_parsing() {
    let mut h = Hush::init();
    tokio::task::block_in_place(|| h.start(&[], &["--max-value-size", "1KiB"]));
    let body = format!(r#"{{"value":"{}"}}"#, "\\u0041".repeat(20_000));
    let resp =
        h.http().put(h.url("/v1/namespaces/default/secrets/x")).bearer_auth(&h.token).body(body).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "body_too_large");
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_openapi_need_no_token() {
    let h = tokio::task::block_in_place(Hush::running);
    let http = h.http();
    let v: Value = http.get(h.url("/v1/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["status"], "ok");
    let doc: Value = http.get(h.url("/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/namespaces/{namespace}/secrets/{name}"]["put"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_cleartext_works_on_the_same_port() {
    let h = tokio::task::block_in_place(Hush::running);
    let http = reqwest::Client::builder().no_proxy().http2_prior_knowledge().build().unwrap();
    let resp = http.get(h.url("/v1/health")).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
}
