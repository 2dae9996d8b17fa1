//! Registry entries at three scopes, through the CLI, hush's REST routes and
//! Direktiv's: creation, listing, lookup, the scope rules, errors, and the
//! credential helpers' protocols (without a registry; `registry_clients.rs`
//! has the real clients).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::components::helper_bin;
use crate::harness::{Hush, contains, show};

fn json_out(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", show(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(out)))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `program` (a helper link, or hush itself) against `h` with `stdin`, as a client would.
pub fn helper(h: &Hush, program: &std::path::Path, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("HUSH_ADDR", &h.addr)
        .env("HUSH_TOKEN", &h.token)
        .env_remove("HUSH_NAMESPACE")
        .env_remove("HUSH_HELPER_WRITABLE")
        .env_remove("HUSH_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn create(h: &Hush, url: &str, user: &str, password: &str, scope: &[&str]) -> Value {
    let mut args = vec!["registry", "create", url, "--username", user, "--password-stdin", "--json"];
    args.extend_from_slice(scope);
    json_out(&h.cli_stdin(&args, format!("{password}\n").as_bytes()))
}

fn list(h: &Hush, scope: &[&str]) -> Vec<Value> {
    let mut args = vec!["registry", "list", "--json"];
    args.extend_from_slice(scope);
    json_out(&h.cli(&args))["registries"].as_array().unwrap().clone()
}

#[test]
fn entries_at_three_scopes_are_created_listed_resolved_and_deleted() {
    let h = Hush::running();
    assert_eq!(h.cli(&["namespace", "create", "team"]).status.code(), Some(0));
    let pw = "p@ss:w0rd$%*\"\\";
    let e = create(&h, "https://index.docker.io", "admin", pw, &["-n", "team"]);
    assert_eq!(
        (e["url"].as_str(), e["user"].as_str(), e["key"].as_str()),
        (Some("https://index.docker.io"), Some("ad***in"), Some("docker.io"))
    );
    assert_eq!(e["version"], 1);
    create(&h, "127.0.0.1:5000", "team-bot", "team-pw", &["-n", "team"]);
    create(&h, "127.0.0.1:5000", "global-bot", "global-pw", &["--global"]);
    create(&h, "ghcr.io", "shared", "ghcr-pw", &["--global"]);
    create(&h, "127.0.0.1:5000/services", "svc-bot", "svc-pw", &["--global-private"]);

    // Another spelling of Docker Hub rotates the same entry.
    let again = create(&h, "docker.io", "admin", "rotated-pw", &["-n", "team"]);
    assert_eq!((again["version"].as_u64(), again["name"].as_str()), (Some(2), e["name"].as_str()));

    let team = list(&h, &["-n", "team"]);
    assert_eq!(team.len(), 2);
    let global = list(&h, &["--global"]);
    assert_eq!(global.iter().map(|e| e["url"].as_str().unwrap()).collect::<Vec<_>>(), ["127.0.0.1:5000", "ghcr.io"]);
    assert_eq!(list(&h, &["--global-private"]).len(), 1);
    // The table and JSON listings never carry a password or the full user.
    for args in [&["registry", "list", "-n", "team"][..], &["registry", "list", "--global", "--json"]] {
        let out = h.cli(args);
        for secret in ["rotated-pw", "team-pw", "global-pw", "ghcr-pw", "team-bot", "global-bot"] {
            assert!(!contains(&out.stdout, secret.as_bytes()), "{secret} in {}", show(&out));
        }
    }

    // Lookup: the namespace first, then global; a global service: global-private, then global.
    let resolve = |image: &str, scope: &[&str]| {
        let mut args = vec!["registry", "resolve", image, "--json"];
        args.extend_from_slice(scope);
        h.cli(&args)
    };
    let r = json_out(&resolve("127.0.0.1:5000/team/app:v1", &["-n", "team"]));
    assert_eq!((r["scope"].as_str(), r["user"].as_str()), (Some("team"), Some("te***ot")));
    let r = json_out(&resolve("ghcr.io/org/app", &["-n", "team"]));
    assert_eq!((r["scope"].as_str(), r["url"].as_str()), (Some("global"), Some("ghcr.io")));
    let r = json_out(&resolve("alpine:3.20", &["-n", "team"]));
    assert_eq!(r["key"], "docker.io");
    let r = json_out(&resolve("127.0.0.1:5000/team/app:v1", &["-n", "default"]));
    assert_eq!(r["scope"], "global");
    let r = json_out(&resolve("127.0.0.1:5000/services/api:v1", &["--global-service"]));
    assert_eq!((r["scope"].as_str(), r["key"].as_str()), (Some("global-private"), Some("127.0.0.1:5000/services")));
    let r = json_out(&resolve("127.0.0.1:5000/other/api:v1", &["--global-service"]));
    assert_eq!(r["scope"], "global");
    let text = stdout(&resolve("127.0.0.1:5000/team/app:v1", &["-n", "team"]));
    assert!(text.contains("127.0.0.1:5000") && text.contains("te***ot") && !text.contains("team-pw"), "{text}");
    let miss = resolve("quay.io/x/y", &["-n", "team"]);
    assert_eq!(miss.status.code(), Some(4), "{}", show(&miss));

    // Deleting by another spelling of the address.
    let out = h.cli(&["registry", "delete", "https://index.docker.io/v1/", "-n", "team"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(list(&h, &["-n", "team"]).len(), 1);
    let out = h.cli(&["registry", "delete", "docker.io", "-n", "team"]);
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));

    // Registry entries are registry secrets of their namespace.
    let secrets = json_out(&h.cli(&["secret", "list", "-n", "team", "--json"]));
    assert_eq!(secrets["secrets"][0]["type"], "registry");
    // The reserved scopes are not namespaces.
    let namespaces = stdout(&h.cli(&["namespace", "list"]));
    assert!(!namespaces.contains("global"), "{namespaces}");
    assert_eq!(h.cli(&["secret", "list", "-n", "global"]).status.code(), Some(4));
}

#[test]
fn namespace_tokens_use_global_entries_but_cannot_change_them_or_see_global_private() {
    let h = Hush::running();
    assert_eq!(h.cli(&["namespace", "create", "team"]).status.code(), Some(0));
    create(&h, "127.0.0.1:5000", "global-bot", "global-pw", &["--global"]);
    create(&h, "127.0.0.1:5000", "svc", "svc-pw", &["--global-private"]);
    let rw = h.token(&["team"], &["registries:read", "registries:write"]);
    let stdin = b"pw\n";
    let as_rw = |args: &[&str]| h.cli_as(&rw, args, Some(stdin));

    let out = as_rw(&["registry", "create", "ghcr.io", "--username", "u", "--password-stdin", "-n", "team"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = as_rw(&["registry", "create", "ghcr.io", "--username", "u", "--password-stdin", "--global"]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bound to all namespaces"), "{}", show(&out));
    assert_eq!(as_rw(&["registry", "delete", "127.0.0.1:5000", "--global"]).status.code(), Some(3));
    assert_eq!(as_rw(&["registry", "list", "--global"]).status.code(), Some(0));
    assert_eq!(as_rw(&["registry", "list", "--global-private"]).status.code(), Some(3));
    assert_eq!(as_rw(&["registry", "resolve", "127.0.0.1:5000/x", "--global-service"]).status.code(), Some(3));
    let r = json_out(&as_rw(&["registry", "resolve", "127.0.0.1:5000/x", "-n", "team", "--json"]));
    assert_eq!(r["scope"], "global");
    // Other namespaces do not exist for it.
    assert_eq!(as_rw(&["registry", "list", "-n", "default"]).status.code(), Some(4));
    // Without registries:read nothing is looked up.
    let lister = h.token(&["team"], &["secrets:list"]);
    let out = h.cli_as(&lister, &["registry", "resolve", "127.0.0.1:5000/x", "-n", "team"], None);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    // The global entry is unchanged.
    assert_eq!(list(&h, &["--global"])[0]["version"], 1);
}

#[tokio::test]
async fn direktivs_registry_routes_work_as_its_documentation_shows() {
    let h = Hush::running();
    let http = h.http();
    let url = |p: &str| h.url(p);
    let bearer = format!("Bearer {}", h.token);
    let ns = "/api/functions/registries/namespaces/default";

    let r = http
        .post(url(ns))
        .header("Authorization", &bearer)
        .body(r#"{"data":"admin:8QwFLg%D$qg*","reg":"https://index.docker.io"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({}));
    // Direktiv's own header works too.
    let r = http.get(url(ns)).header("Direktiv-Token", &h.token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let id = body["registries"][0]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("secret-") && id.len() == 27, "{id}");
    assert_eq!(body, json!({"registries": [{"name": "https://index.docker.io", "id": id, "user": "ad***in"}]}));
    // The password was split on the first ':' only and stored exactly.
    let creds: Value = http
        .get(url("/v1/namespaces/default/registries/credentials?image=alpine"))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((creds["username"].as_str(), creds["password"].as_str()), (Some("admin"), Some("8QwFLg%D$qg*")));

    // Bad bodies change nothing.
    for (body, code) in [
        (r#"{"data":"no-colon","reg":"https://ghcr.io"}"#, "malformed_body"),
        (r#"{"data":"a:b"}"#, "malformed_body"),
        (r#"{"data":"a:b","reg":"ftp://x"}"#, "invalid_value"),
        (r#"{"data":1,"reg":"https://ghcr.io"}"#, "malformed_body"),
        ("not json", "malformed_body"),
    ] {
        let r = http.post(url(ns)).header("Authorization", &bearer).body(body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], code, "{body}: {e}");
    }
    let r: Value = http.get(url(ns)).header("Authorization", &bearer).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["registries"].as_array().unwrap().len(), 1);

    // Global and private scopes.
    for (path, scope) in
        [("/api/functions/registries/global", "global"), ("/api/functions/registries/private", "global-private")]
    {
        let r = http
            .post(url(path))
            .header("Authorization", &bearer)
            .body(r#"{"data":"svc:pw:with:colons","reg":"https://registry.example.com"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let listed: Value =
            http.get(url(path)).header("Authorization", &bearer).send().await.unwrap().json().await.unwrap();
        assert_eq!(listed["registries"][0]["name"], "https://registry.example.com", "{path}");
        assert_eq!(listed["registries"][0]["user"], "s***", "{path}");
        let ours: Value = http
            .get(url(&format!("/v1/registries/{scope}")))
            .header("Authorization", &bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ours["registries"][0]["id"], listed["registries"][0]["id"], "{path}");
    }

    // Delete with {"reg": URL}; a second time it is not found.
    for expected in [200, 404] {
        let r = http
            .delete(url(ns))
            .header("Authorization", &bearer)
            .body(r#"{"reg":"https://index.docker.io"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected);
    }
    let r: Value = http.get(url(ns)).header("Authorization", &bearer).send().await.unwrap().json().await.unwrap();
    assert_eq!(r, json!({"registries": []}));
    // A namespace named `private` is a namespace, not global-private.
    assert_eq!(h.cli(&["namespace", "create", "private"]).status.code(), Some(0));
    let private_ns = "/api/functions/registries/namespaces/private";
    let r = http
        .post(url(private_ns))
        .header("Authorization", &bearer)
        .body(r#"{"data":"ns:pw","reg":"https://quay.io"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let listed: Value =
        http.get(url(private_ns)).header("Authorization", &bearer).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["registries"][0]["name"], "https://quay.io");
    let shared: Value = http
        .get(url("/api/functions/registries/private"))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shared["registries"].as_array().unwrap().len(), 1, "{shared}");
    assert_eq!(shared["registries"][0]["name"], "https://registry.example.com");
    // No token: 401 as everywhere.
    assert_eq!(http.get(url(ns)).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn rest_errors_name_the_problem_and_change_nothing() {
    let h = Hush::running();
    let http = h.http();
    let bearer = format!("Bearer {}", h.token);
    let base = "/v1/namespaces/default/registries";
    let ok = http
        .post(h.url(base))
        .header("Authorization", &bearer)
        .body(r#"{"url":"ghcr.io","username":"bot","password":"kept-pw"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    let big = "x".repeat(2 * 1024 * 1024);
    let oversize = format!(r#"{{"url":"ghcr.io","username":"bot","password":"{big}"}}"#);
    let cases: Vec<(reqwest::Method, String, Option<String>, u16, &str)> = vec![
        (
            reqwest::Method::POST,
            base.into(),
            Some(r#"{"url":"ghcr.io","username":"bot"}"#.into()),
            400,
            "malformed_body",
        ),
        (
            reqwest::Method::POST,
            base.into(),
            Some(r#"{"url":"ghcr.io","username":"bot","password":""}"#.into()),
            400,
            "invalid_value",
        ),
        (
            reqwest::Method::POST,
            base.into(),
            Some(r#"{"url":"https://u:hunter2@ghcr.io","username":"bot","password":"p"}"#.into()),
            400,
            "invalid_value",
        ),
        (
            reqwest::Method::POST,
            base.into(),
            Some(r#"{"url":"ghcr.io","username":"bot","password":"p","extra":1}"#.into()),
            400,
            "malformed_body",
        ),
        (
            reqwest::Method::POST,
            base.into(),
            Some(r#"{"url":"ghcr.io","username":"b\u0007","password":"p"}"#.into()),
            400,
            "invalid_value",
        ),
        (reqwest::Method::POST, base.into(), Some(oversize), 413, "value_too_large"),
        (reqwest::Method::DELETE, base.into(), None, 400, "invalid_query"),
        (reqwest::Method::DELETE, format!("{base}?url=quay.io"), None, 404, "registry_not_found"),
        (reqwest::Method::DELETE, format!("{base}?id=secret-00000000000000000000"), None, 404, "registry_not_found"),
        (reqwest::Method::GET, format!("{base}/resolve"), None, 400, "invalid_query"),
        (reqwest::Method::GET, format!("{base}/resolve?image=a&server=b"), None, 400, "invalid_query"),
        (reqwest::Method::GET, format!("{base}/resolve?image=a%20b"), None, 400, "invalid_query"),
        (reqwest::Method::GET, format!("{base}/resolve?image=quay.io/x"), None, 404, "registry_not_found"),
        (reqwest::Method::GET, format!("{base}/credentials?server=quay.io"), None, 404, "registry_not_found"),
        (reqwest::Method::GET, "/v1/namespaces/global/registries".into(), None, 404, "namespace_not_found"),
        (reqwest::Method::GET, "/v1/namespaces/nope/registries".into(), None, 404, "namespace_not_found"),
        (reqwest::Method::GET, "/v1/registries/nope".into(), None, 404, "scope_not_found"),
        (reqwest::Method::GET, "/v1/namespaces/default/git-credentials".into(), None, 400, "invalid_query"),
        (reqwest::Method::GET, "/v1/namespaces/default/git-credentials?url=ftp://h".into(), None, 400, "invalid_query"),
        (
            reqwest::Method::GET,
            "/v1/namespaces/default/git-credentials?url=https://h/x".into(),
            None,
            404,
            "credential_not_found",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let mut request = http.request(method.clone(), h.url(&path)).header("Authorization", &bearer);
        if let Some(b) = body.clone() {
            request = request.body(b);
        }
        let r = request.send().await.unwrap();
        assert_eq!(
            r.status(),
            status,
            "{method} {path} {}",
            body.as_deref().unwrap_or("").chars().take(80).collect::<String>()
        );
        let text = r.text().await.unwrap();
        let e: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(e["error"]["code"], code, "{method} {path}: {text}");
        assert!(!text.contains("hunter2") && !text.contains("kept-pw"), "{text}");
    }
    let listed: Value =
        http.get(h.url(base)).header("Authorization", &bearer).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["registries"].as_array().unwrap().len(), 1);
    assert_eq!(listed["registries"][0]["version"], 1);
    let creds: Value = http
        .get(h.url(&format!("{base}/credentials?server=https://ghcr.io/")))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(creds["password"], "kept-pw");

    // The CLI says what was wrong and exits 2, never echoing the input.
    let out = h
        .cli_stdin(&["registry", "create", "https://u:hunter2@ghcr.io", "--username", "u", "--password-stdin"], b"p\n");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(!contains(&out.stderr, b"hunter2"), "{}", show(&out));
    let out = h.cli(&["registry", "test", "ftp://x", "--username", "u", "--password", "p"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

#[test]
fn dockerconfig_is_valid_json_whatever_the_password_holds() {
    let h = Hush::running();
    let awkward = "q\"uo\\te\u{e9}\u{1F511}:$%*";
    create(&h, "https://index.docker.io/v1/", "hub-user", awkward, &[]);
    create(&h, "127.0.0.1:5000", "ns-user", "ns-pw", &[]);
    create(&h, "127.0.0.1:5000", "global-user", "global-pw", &["--global"]);
    create(&h, "quay.io", "quay-user", "quay-pw", &["--global"]);
    let out = h.cli(&["registry", "dockerconfig"]);
    let config = json_out(&out);
    let auths = config["auths"].as_object().unwrap();
    assert_eq!(auths.keys().collect::<Vec<_>>(), ["127.0.0.1:5000", "https://index.docker.io/v1/", "quay.io"]);
    let hub = &auths["https://index.docker.io/v1/"];
    assert_eq!(hub["password"], awkward);
    let decoded = STANDARD.decode(hub["auth"].as_str().unwrap()).unwrap();
    assert_eq!(decoded, format!("hub-user:{awkward}").as_bytes());
    // The namespace's entry wins over the global one for the same registry.
    assert_eq!(auths["127.0.0.1:5000"]["username"], "ns-user");
    assert_eq!(auths["quay.io"]["username"], "quay-user");
}

#[test]
fn git_secrets_are_matched_by_the_longest_url_prefix() {
    let h = Hush::running();
    let mk = |name: &str, url: Option<&str>, token: &str| {
        let mut args = vec!["secret", "create", name, "--type", "git", "--username", "bot", "--token-stdin"];
        if let Some(u) = url {
            args.extend(["--url", u]);
        }
        let out = h.cli_stdin(&args, token.as_bytes());
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    };
    mk("forge", Some("https://git.example.com/"), "forge-token");
    mk("team", Some("https://git.example.com/team"), "team-token");
    mk("plain", None, "plain-token");
    let out = h.cli_stdin(
        &["secret", "create", "bad", "--type", "git", "--username", "u", "--token-stdin", "--url", "ftp://h"],
        b"t",
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let out = h.cli_stdin(&["secret", "create", "g", "--value-stdin", "--url", "https://h"], b"t");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));

    let got = json_out(&h.cli(&["secret", "get", "team", "--json"]));
    assert_eq!(got["url"], "https://git.example.com/team");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fetch = |target: &str| {
        rt.block_on(async {
            let r = h
                .http()
                .get(h.url(&format!("/v1/namespaces/default/git-credentials?url={target}")))
                .bearer_auth(&h.token)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        })
    };
    let (status, body) = fetch("https://git.example.com/team/app.git");
    assert_eq!((status, body["name"].as_str(), body["token"].as_str()), (200, Some("team"), Some("team-token")));
    let (_, body) = fetch("https://git.example.com/teamster/app.git");
    assert_eq!(body["name"], "forge");
    let (_, body) = fetch("https://GIT.example.com");
    assert_eq!(body["name"], "forge");
    let (status, body) = fetch("http://git.example.com/team");
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("credential_not_found")));
    let (status, _) = fetch("https://elsewhere.example.com/team");
    assert_eq!(status, 404);
    // The read is audited and sets last_read_at.
    let audit = stdout(&h.cli(&["audit", "list", "--json"]));
    assert!(audit.contains("git.credential"), "{audit}");
    let listed = json_out(&h.cli(&["secret", "list", "--json"]));
    let team = listed["secrets"].as_array().unwrap().iter().find(|s| s["name"] == "team").unwrap().clone();
    assert!(team["last_read_at"].is_string(), "{team}");
}

#[test]
fn the_docker_helper_speaks_the_protocol_and_is_read_only_by_default() {
    let h = Hush::running();
    let dir = tempfile::tempdir().unwrap();
    let bin = helper_bin(dir.path());
    create(&h, "https://index.docker.io/v1/", "hub-user", "hub-pw", &[]);
    create(&h, "127.0.0.1:5000", "reg-user", "reg-pw", &["--global"]);
    let docker = |op: &str, env: &[(&str, &str)], stdin: &str| {
        helper(&h, &bin.join("docker-credential-hush"), &[op], env, stdin.as_bytes())
    };

    for server in ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"] {
        let out = docker("get", &[], server);
        let got = json_out(&out);
        assert_eq!(got, json!({"ServerURL": server, "Username": "hub-user", "Secret": "hub-pw"}), "{server:?}");
    }
    let got = json_out(&docker("get", &[], "127.0.0.1:5000\n"));
    assert_eq!(got["Secret"], "reg-pw");
    let miss = docker("get", &[], "quay.io");
    assert_eq!((miss.status.code(), stdout(&miss).as_str()), (Some(1), "credentials not found in native keychain\n"));
    // No server, or a namespace the token cannot see, is an error, not a miss
    // (a miss makes the client pull anonymously).
    let empty = docker("get", &[], "\n");
    assert_eq!(empty.status.code(), Some(1));
    assert!(stdout(&empty).contains("no server address"), "{}", show(&empty));
    let wrong_ns = docker("get", &[("HUSH_NAMESPACE", "nope")], "docker.io");
    assert_eq!(wrong_ns.status.code(), Some(1));
    assert!(stdout(&wrong_ns).contains("namespace not found"), "{}", show(&wrong_ns));
    let listed = json_out(&docker("list", &[], ""));
    assert_eq!(listed, json!({"https://index.docker.io/v1/": "hu***er", "127.0.0.1:5000": "re***er"}));
    let version = docker("version", &[], "");
    assert!(stdout(&version).starts_with("docker-credential-hush (hush) "), "{}", show(&version));
    assert_eq!(docker("frobnicate", &[], "").status.code(), Some(1));

    // Read-only: a client's store and erase change nothing.
    let store = r#"{"ServerURL":"127.0.0.1:5000","Username":"attacker","Secret":"new-pw"}"#;
    assert_eq!(docker("store", &[("HUSH_NAMESPACE", "global")], store).status.code(), Some(0));
    assert_eq!(docker("erase", &[("HUSH_NAMESPACE", "global")], "127.0.0.1:5000").status.code(), Some(0));
    assert_eq!(docker("erase", &[], "https://index.docker.io/v1/").status.code(), Some(0));
    assert_eq!(json_out(&docker("get", &[], "127.0.0.1:5000"))["Secret"], "reg-pw");
    assert_eq!(json_out(&docker("get", &[], "docker.io"))["Secret"], "hub-pw");
    assert_eq!(list(&h, &["--global"])[0]["version"], 1);

    // Writable: store and erase act on the namespace.
    let w = [("HUSH_HELPER_WRITABLE", "1")];
    let stored = r#"{"ServerURL":"quay.io","Username":"quay-user","Secret":"quay-pw"}"#;
    assert_eq!(docker("store", &w, stored).status.code(), Some(0));
    assert_eq!(json_out(&docker("get", &[], "quay.io"))["Secret"], "quay-pw");
    assert_eq!(docker("erase", &w, "quay.io").status.code(), Some(0));
    assert_eq!(docker("get", &[], "quay.io").status.code(), Some(1));
    let bad = docker("store", &w, "{not json");
    assert_eq!(bad.status.code(), Some(1), "{}", show(&bad));

    // A token that may not read registries gets a clear error, not "not found".
    let weak = h.token(&["default"], &["secrets:list"]);
    let out = docker("get", &[("HUSH_TOKEN", &weak)], "docker.io");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("registries:read"), "{}", show(&out));
}

#[test]
fn the_git_helper_speaks_the_protocol_and_is_read_only_by_default() {
    let h = Hush::running();
    let dir = tempfile::tempdir().unwrap();
    let bin = helper_bin(dir.path());
    let out = h.cli_stdin(
        &[
            "secret",
            "create",
            "gh-clone",
            "--type",
            "git",
            "--username",
            "bot",
            "--token-stdin",
            "--url",
            "https://git.example.com/",
        ],
        b"ghp_stored\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(h.cli_stdin(&["secret", "create", "generic", "--value-stdin"], b"v").status.code(), Some(0));
    let git = |args: &[&str], env: &[(&str, &str)], stdin: &str| {
        helper(&h, &bin.join("git-credential-hush"), args, env, stdin.as_bytes())
    };
    let request = "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=git.example.com\nwwwauth[]=Basic realm=\"x\"\n\n";

    let out = git(&["get"], &[], request);
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "username=bot\npassword=ghp_stored\n"),
        "{}",
        show(&out)
    );
    let out = git(&["get"], &[], "protocol=https\nhost=other.example.com\n");
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), ""), "{}", show(&out));
    // A pinned secret answers for what its url covers, and only that.
    let out = git(&["--secret", "gh-clone", "get"], &[], "protocol=https\nhost=git.example.com\npath=a/b.git\n");
    assert_eq!(stdout(&out), "username=bot\npassword=ghp_stored\n", "{}", show(&out));
    let out = git(&["--secret", "gh-clone", "get"], &[], "protocol=https\nhost=submodule.example.org\n");
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), ""), "{}", show(&out));
    let out = git(&["--secret", "gh-clone", "get"], &[], "protocol=http\nhost=git.example.com\n");
    assert_eq!(stdout(&out), "", "{}", show(&out));
    // Protocols other than http(s), and operations git may add later, get no answer.
    let out = git(&["get"], &[], "protocol=cert\npath=/etc/cert.p12\n");
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), ""), "{}", show(&out));
    let out = git(&["frobnicate"], &[], request);
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), ""), "{}", show(&out));
    let out = git(&["--secret", "generic", "get"], &[], request);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("generic secret"), "{}", show(&out));
    assert_eq!(stdout(&out), "");
    let out = git(&["--secret", "missing", "get"], &[], request);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    // A namespace the token cannot see is reported, not taken for a miss.
    let out = git(&["get"], &[("HUSH_NAMESPACE", "nope")], request);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("namespace not found"), "{}", show(&out));

    // Read-only: git's store and erase (after a rejected password) change nothing.
    let rejected = "protocol=https\nhost=git.example.com\nusername=bot\npassword=ghp_stored\n";
    let new = "protocol=https\nhost=git.example.com\nusername=bot\npassword=ghp_new\n";
    for (op, input) in [("erase", rejected), ("store", new)] {
        assert_eq!(git(&[op], &[], input).status.code(), Some(0));
        assert_eq!(git(&["--secret", "gh-clone", op], &[], input).status.code(), Some(0));
    }
    let versions = json_out(&h.cli(&["secret", "versions", "gh-clone", "--json"]));
    assert_eq!(versions["version"], 1);

    // Writable: store writes a new version only when the credentials change;
    // erase deletes only the secret whose token git rejected.
    let w = [("HUSH_HELPER_WRITABLE", "1")];
    let same = "protocol=https\nhost=git.example.com\nusername=bot\npassword=ghp_stored\n";
    assert_eq!(git(&["store"], &w, same).status.code(), Some(0));
    assert_eq!(json_out(&h.cli(&["secret", "versions", "gh-clone", "--json"]))["version"], 1);
    assert_eq!(git(&["store"], &w, new).status.code(), Some(0));
    let got = json_out(&h.cli(&["secret", "get", "gh-clone", "--json"]));
    assert_eq!(
        (got["version"].as_u64(), got["token"].as_str(), got["url"].as_str()),
        (Some(2), Some("ghp_new"), Some("https://git.example.com/"))
    );
    assert_eq!(git(&["erase"], &w, rejected).status.code(), Some(0));
    assert_eq!(h.cli(&["secret", "get", "gh-clone"]).status.code(), Some(0), "a stale rejection must not erase");
    // A login for one repository creates its own secret; the host-wide one stays.
    let repo = "protocol=https\nhost=git.example.com\npath=team/app.git\nusername=bot\npassword=ghp_repo\n";
    assert_eq!(git(&["store"], &w, repo).status.code(), Some(0));
    assert_eq!(json_out(&h.cli(&["secret", "get", "gh-clone", "--json"]))["token"], "ghp_new");
    let repo_secret = json_out(&h.cli(&["secret", "get", "git/git.example.com/team/app.git", "--json"]));
    assert_eq!(repo_secret["url"], "https://git.example.com/team/app.git");
    let fresh = "protocol=https\nhost=new.example.com\npath=org/repo.git\nusername=me\npassword=tok\n";
    assert_eq!(git(&["store"], &w, fresh).status.code(), Some(0));
    let out = git(&["get"], &[], "protocol=https\nhost=new.example.com\npath=org/repo.git\n");
    assert_eq!(stdout(&out), "username=me\npassword=tok\n", "{}", show(&out));
    assert_eq!(
        git(&["erase"], &w, "protocol=https\nhost=git.example.com\nusername=bot\npassword=ghp_new\n").status.code(),
        Some(0)
    );
    assert_eq!(h.cli(&["secret", "get", "gh-clone"]).status.code(), Some(4));
}

#[test]
fn registry_and_helper_flows_never_log_a_value() {
    let mut h = Hush::init();
    h.start(&[("HUSH_LOG", "trace")], &[]);
    let dir = tempfile::tempdir().unwrap();
    let bin = helper_bin(dir.path());
    let password = "HYGIENE-registry-pw-77c1";
    let token = "HYGIENE-git-token-0b9e";
    let trace = [("HUSH_LOG", "trace")];
    let mut streams: Vec<Vec<u8>> = Vec::new();
    let mut cli = |args: &[&str], stdin: &[u8]| {
        let out = helper(&h, std::path::Path::new(crate::harness::HUSH), args, &trace, stdin);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", show(&out));
        streams.push(out.stderr);
        out.stdout
    };
    cli(&["registry", "create", "127.0.0.1:5000", "--username", "u", "--password-stdin"], password.as_bytes());
    cli(&["registry", "create", "ghcr.io", "--username", "u", "--password-stdin", "--global"], password.as_bytes());
    let printed = [
        cli(&["registry", "list"], b""),
        cli(&["registry", "list", "--global", "--json"], b""),
        cli(&["registry", "resolve", "127.0.0.1:5000/a/b:v1"], b""),
        cli(&["registry", "resolve", "ghcr.io/a/b", "--json"], b""),
        cli(&["audit", "list", "--json"], b""),
    ];
    cli(&["registry", "dockerconfig"], b"");
    cli(
        &[
            "secret",
            "create",
            "gh",
            "--type",
            "git",
            "--username",
            "u",
            "--token-stdin",
            "--url",
            "https://git.example.com/",
        ],
        token.as_bytes(),
    );
    let out = helper(&h, &bin.join("docker-credential-hush"), &["get"], &trace, b"127.0.0.1:5000");
    assert!(contains(&out.stdout, password.as_bytes()), "{}", show(&out));
    streams.push(out.stderr);
    let out = helper(&h, &bin.join("git-credential-hush"), &["get"], &trace, b"protocol=https\nhost=git.example.com\n");
    assert!(contains(&out.stdout, token.as_bytes()), "{}", show(&out));
    streams.push(out.stderr);
    let server_log = h.log.lock().unwrap().clone();
    assert!(server_log.contains("registries"), "the server logged nothing at trace level?");
    for value in [password, token] {
        assert!(!server_log.contains(value), "{value} in the server log");
        let encoded = STANDARD.encode(value);
        assert!(!server_log.contains(&encoded), "base64 of {value} in the server log");
        for (i, s) in streams.iter().enumerate() {
            assert!(!contains(s, value.as_bytes()), "{value} in stderr of step {i}");
        }
        for (i, s) in printed.iter().enumerate() {
            assert!(!contains(s, value.as_bytes()), "{value} in the output of listing {i}");
        }
    }
}
