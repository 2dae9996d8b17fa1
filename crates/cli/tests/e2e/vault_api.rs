//! Vault's HTTP API on hush, driven by the real `bao` CLI (as a user runs it,
//! with `BAO_ADDR`/`BAO_TOKEN`) and by raw HTTP for the wire details Vault
//! clients depend on: the exact error body, 403 (never 401) for any token
//! problem, `Content-Type: application/json` without a charset, the KV
//! preflight's string version, and the status routes that need no token.

use std::process::{Command, Output};

use serde_json::Value;

use crate::components::bao_cli;
use crate::harness::{Hush, show};

/// Runs `bao ARGS` against `h` with `token`.
fn bao(bin: &std::path::Path, h: &Hush, token: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("BAO_ADDR", h.url(""))
        .env("BAO_TOKEN", token)
        .output()
        .expect("bao runs")
}

#[test]
fn bao_status_and_token_lookup_work_against_hush() {
    let Some(bin) = bao_cli("bao_status_and_token_lookup_work_against_hush") else { return };
    let h = Hush::running();

    let out = bao(&bin, &h, "", &["status", "-format=json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((status["sealed"].clone(), status["initialized"].clone()), (false.into(), true.into()), "{status}");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"), "{status}");

    let scoped = h.token(&["default"], &["secrets:read", "secrets:list"]);
    let out = bao(&bin, &h, &scoped, &["token", "lookup", "-format=json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let looked: Value = serde_json::from_str(&text).unwrap();
    let data = &looked["data"];
    assert_eq!(data["id"], format!("hush_{}", &scoped[5..21]), "only the public id: {data}");
    assert!(!text.contains(&scoped[22..]), "the token's secret part is never shown: {text}");
    assert_eq!((data["type"].as_str(), data["ttl"].as_i64()), (Some("service"), Some(0)), "{data}");
    assert!(data["expire_time"].is_null(), "{data}");
    let policies: Vec<&str> = data["policies"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(policies, ["secrets:list", "secrets:read"], "{data}");

    for token in ["hush_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not-a-token"] {
        let out = bao(&bin, &h, token, &["token", "lookup"]);
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("permission denied"), "{}", show(&out));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_vault_status_preflight_and_token_routes_answer_as_vault_does() {
    let h = tokio::task::block_in_place(Hush::running);
    let (expiring, revoked) = tokio::task::block_in_place(|| {
        let expiring = h.token(&["default"], &["secrets:read"]);
        let revoked = h.token(&["default"], &["secrets:read"]);
        assert_eq!(h.cli(&["token", "revoke", &revoked[5..21]]).status.code(), Some(0));
        (expiring, revoked)
    });
    let expiring_short = tokio::task::block_in_place(|| {
        let out = h.cli(&["token", "create", "-n", "default", "--scope", "secrets:read", "--ttl", "1h"]);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_owned()
    });
    let http = h.http();
    let call = |method: &str, path: &str, token: Option<&str>| {
        let mut r = http.request(method.parse().unwrap(), h.url(path));
        if let Some(t) = token {
            r = r.header("X-Vault-Token", t);
        }
        r.send()
    };

    // Status routes need no token; HEAD is hvac's health check.
    for path in ["/v1/sys/health", "/v1/sys/seal-status", "/v1/sys/leader"] {
        let r = call("GET", path, None).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json", "{path}: exactly, no charset");
    }
    let r = call("HEAD", "/v1/sys/health", None).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().is_empty());
    let health: Value = call("GET", "/v1/sys/health", None).await.unwrap().json().await.unwrap();
    assert_eq!((health["sealed"].clone(), health["standby"].clone()), (false.into(), false.into()), "{health}");

    // The KV preflight: the mount, with the version as a string.
    for path in ["secret", "secret/", "secret/app/db"] {
        let r = call("GET", &format!("/v1/sys/internal/ui/mounts/{path}"), Some(&h.token)).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["data"]["path"], "secret/", "{body}");
        assert_eq!(body["data"]["options"]["version"], "2", "a string, not a number: {body}");
        assert_eq!(body["data"]["type"], "kv", "{body}");
        for key in ["request_id", "lease_id", "renewable", "lease_duration", "wrap_info", "warnings", "auth"] {
            assert!(body.get(key).is_some(), "{key} missing from the envelope: {body}");
        }
    }

    // Every token problem is 403 with exactly Vault's body; never 401.
    let denied = r#"{"errors":["permission denied"]}"#;
    for (what, token) in [
        ("no token", None),
        ("garbage", Some("nope")),
        ("unknown", Some("hush_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")),
        ("revoked", Some(revoked.as_str())),
    ] {
        for path in ["/v1/auth/token/lookup-self", "/v1/sys/internal/ui/mounts/secret/x"] {
            let r = call("GET", path, token).await.unwrap();
            assert_eq!(r.status(), 403, "{what} {path}");
            assert_eq!(r.headers()["content-type"], "application/json", "{what} {path}");
            assert_eq!(r.text().await.unwrap(), denied, "{what} {path}");
        }
    }
    // Another mount is refused (403: the CLI reports it instead of falling back to KV v1).
    let r = call("GET", "/v1/sys/internal/ui/mounts/kv/x", Some(&h.token)).await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (403, denied.to_owned()));

    // lookup-self: an integer ttl and an expiry for a token that expires; the
    // Bearer header works too.
    let r = http.get(h.url("/v1/auth/token/lookup-self")).bearer_auth(&expiring_short).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let ttl = body["data"]["ttl"].as_i64().expect("an integer ttl");
    assert!((3500..=3600).contains(&ttl), "{body}");
    let expire = body["data"]["expire_time"].as_str().expect("an expiry");
    assert!(humantime::parse_rfc3339(expire).is_ok(), "{body}");
    let r = call("GET", "/v1/auth/token/lookup-self", Some(&expiring)).await.unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!((body["data"]["ttl"].as_i64(), body["data"]["expire_time"].is_null()), (Some(0), true), "{body}");

    // hvac lists with the HTTP method LIST; a missing secret is exactly `404 {"errors":[]}`.
    tokio::task::block_in_place(|| {
        let out = h.cli_as(&h.token, &["secret", "create", "lonely", "--value-stdin"], Some(b"v"));
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    });
    let with_ns = |method: &str, path: &str| {
        http.request(method.parse().unwrap(), h.url(path))
            .header("X-Vault-Token", &h.token)
            .header("X-Vault-Namespace", "default/")
            .send()
    };
    let r = with_ns("LIST", "/v1/secret/metadata/").await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["keys"], serde_json::json!(["lonely"]), "{body}");
    let r = with_ns("GET", "/v1/secret/data/missing").await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), r#"{"errors":[]}"#);
    let r = with_ns("LIST", "/v1/secret/metadata/nothing-here").await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (404, r#"{"errors":[]}"#.to_owned()));

    // Bad writes: a 400 in Vault's shape that names the problem, never the value; nothing is stored.
    for (body, expected) in [
        (r#"{"data":{"password":"BAD-pw-1"}"#, "line 1"),
        (r#"{"data":"BAD-pw-2"}"#, "'data' must be an object"),
        (r#"{"data":{"password":"BAD-pw-3"},"options":{"cas":"one"}}"#, "options.cas must be a whole number"),
        (r#"{"options":{"cas":0}}"#, "no data provided"),
        (r#"{"data":{"value_base64":"BAD-pw-4!"}}"#, "not valid base64"),
    ] {
        let r = http
            .put(h.url("/v1/secret/data/bad"))
            .header("X-Vault-Token", &h.token)
            .header("X-Vault-Namespace", "default")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let answer: Value = r.json().await.unwrap();
        let errors = answer["errors"].as_array().unwrap_or_else(|| panic!("{body}: {answer}"));
        assert_eq!(answer.as_object().unwrap().len(), 1, "only errors: {answer}");
        let text = errors[0].as_str().unwrap();
        assert!(text.contains(expected) && !text.contains("BAD-pw"), "{body}: {text}");
    }
    assert_eq!(with_ns("GET", "/v1/secret/data/bad").await.unwrap().status(), 404, "nothing was stored");

    // Response wrapping is refused, never ignored: the secret does not come back in the clear.
    for (method, path) in
        [("GET", "/v1/secret/data/lonely"), ("LIST", "/v1/secret/metadata/"), ("GET", "/v1/auth/token/lookup-self")]
    {
        let r = http
            .request(method.parse().unwrap(), h.url(path))
            .header("X-Vault-Token", &h.token)
            .header("X-Vault-Namespace", "default")
            .header("X-Vault-Wrap-TTL", "60s")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{method} {path}");
        let answer: Value = r.json().await.unwrap();
        assert!(answer["errors"][0].as_str().is_some_and(|e| e.contains("X-Vault-Wrap-TTL")), "{answer}");
    }
}

#[test]
fn bao_kv_put_get_list_work_against_hush_and_match_hushs_own_api() {
    let Some(bin) = bao_cli("bao_kv_put_get_list_work_against_hush_and_match_hushs_own_api") else { return };
    let h = Hush::running();
    assert_eq!(h.cli(&["namespace", "create", "team"]).status.code(), Some(0));
    let team = h.token(&["team"], &["secrets:read", "secrets:list", "secrets:write"]);
    let ok = |out: Output| {
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        String::from_utf8(out.stdout).unwrap()
    };

    // Written through KV, read through KV and through hush.
    ok(bao(&bin, &h, &team, &["kv", "put", "secret/app/db", "user=svc", "password=KV-pw-31a"]));
    let got: Value =
        serde_json::from_str(&ok(bao(&bin, &h, &team, &["kv", "get", "-format=json", "secret/app/db"]))).unwrap();
    assert_eq!(got["data"]["data"], serde_json::json!({"user": "svc", "password": "KV-pw-31a"}), "{got}");
    assert_eq!(got["data"]["metadata"]["version"], 1, "{got}");
    assert_eq!(ok(bao(&bin, &h, &team, &["kv", "get", "-field=password", "secret/app/db"])), "KV-pw-31a");
    let own = h.cli_as(&team, &["secret", "get", "app/db", "-n", "team"], None);
    let own: Value = serde_json::from_slice(&own.stdout).unwrap_or_else(|_| panic!("{}", show(&own)));
    assert_eq!(own, serde_json::json!({"user": "svc", "password": "KV-pw-31a"}));

    // Written through hush, read through KV: text is {"value": …}.
    let out = h.cli_as(&team, &["secret", "create", "app/token", "-n", "team", "--value-stdin"], Some(b"HUSH-tok-9f"));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(ok(bao(&bin, &h, &team, &["kv", "get", "-field=value", "secret/app/token"])), "HUSH-tok-9f");

    // Versions, cas, and one level of listing with folders.
    ok(bao(&bin, &h, &team, &["kv", "put", "-cas=1", "secret/app/db", "user=svc", "password=KV-pw-2"]));
    let out = bao(&bin, &h, &team, &["kv", "put", "-cas=1", "secret/app/db", "user=x", "password=y"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("check-and-set parameter did not match"), "{}", show(&out));
    assert_eq!(ok(bao(&bin, &h, &team, &["kv", "get", "-version=1", "-field=password", "secret/app/db"])), "KV-pw-31a");
    assert_eq!(ok(bao(&bin, &h, &team, &["kv", "get", "-field=password", "secret/app/db"])), "KV-pw-2");
    ok(bao(&bin, &h, &team, &["kv", "put", "secret/top", "value=1"]));
    let listed: Value =
        serde_json::from_str(&ok(bao(&bin, &h, &team, &["kv", "list", "-format=json", "secret/"]))).unwrap();
    assert_eq!(listed, serde_json::json!(["app/", "top"]));
    let listed: Value =
        serde_json::from_str(&ok(bao(&bin, &h, &team, &["kv", "list", "-format=json", "secret/app"]))).unwrap();
    assert_eq!(listed, serde_json::json!(["db", "token"]));

    // A git secret shows its typed fields; a KV write to it must keep them.
    let out = h.cli_as(
        &team,
        &["secret", "create", "forge", "-n", "team", "--type", "git", "--username", "bot", "--token-stdin"],
        Some(b"GIT-tok-5e"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let got: Value =
        serde_json::from_str(&ok(bao(&bin, &h, &team, &["kv", "get", "-format=json", "secret/forge"]))).unwrap();
    assert_eq!(got["data"]["data"], serde_json::json!({"username": "bot", "token": "GIT-tok-5e", "url": ""}), "{got}");
    let out = bao(&bin, &h, &team, &["kv", "put", "secret/forge", "password=GIT-new-1"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("git secret") && err.contains("username and token") && !err.contains("GIT-new-1"), "{err}");
    ok(bao(&bin, &h, &team, &["kv", "put", "secret/forge", "username=bot", "token=GIT-tok-6f"]));
    assert_eq!(ok(bao(&bin, &h, &team, &["kv", "get", "-field=token", "secret/forge"])), "GIT-tok-6f");

    // A missing secret: exit 2 and "No value found", as with Vault.
    let out = bao(&bin, &h, &team, &["kv", "get", "secret/app/nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No value found"), "{}", show(&out));

    // The admin token acts in every namespace: it must name one.
    let out = bao(&bin, &h, &h.token, &["kv", "get", "secret/app/db"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("X-Vault-Namespace"), "{}", show(&out));
    assert_eq!(ok(bao(&bin, &h, &h.token, &["kv", "get", "-namespace=team", "-field=user", "secret/app/db"])), "svc");
    let out = bao(&bin, &h, &h.token, &["kv", "get", "-namespace=nowhere", "secret/app/db"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));

    // Reads through KV are audited like hush reads, with the context vault-api.
    let audit = h.cli(&["audit", "list", "--name", "app/db", "--action", "secret.read", "--json"]);
    let page: Value = serde_json::from_slice(&audit.stdout).unwrap_or_else(|_| panic!("{}", show(&audit)));
    let events = page["events"].as_array().expect("a list of events");
    // Every read of app/db above went through KV with the context vault-api,
    // but the one `hush secret get`.
    let (kv, own): (Vec<&Value>, Vec<&Value>) = events.iter().partition(|e| e["context"] == "vault-api");
    assert_eq!((kv.len(), own.len()), (6, 1), "{events:?}");
    assert!(own[0]["context"].is_null(), "{events:?}");
    let text = format!("{events:?}{}", h.log.lock().unwrap());
    assert!(!text.contains("KV-pw-31a") && !text.contains("KV-pw-2"), "no value in the audit or the log");
}

/// `bao kv … PATH` as a user runs it, with `-format=json` (put before the
/// path), parsed.
fn bao_json(bin: &std::path::Path, h: &Hush, token: &str, args: &[&str]) -> Value {
    let (path, rest) = args.split_last().expect("a path");
    let mut all = rest.to_vec();
    all.extend(["-format=json", path]);
    let out = bao(bin, h, token, &all);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", show(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{args:?}: {}", show(&out)))
}

#[test]
fn bao_kv_version_lifecycle_metadata_and_rollback_work_against_hush() {
    let Some(bin) = bao_cli("bao_kv_version_lifecycle_metadata_and_rollback_work_against_hush") else { return };
    let h = Hush::running();
    let t = h.token(&["default"], &["secrets:read", "secrets:list", "secrets:write", "secrets:delete"]);
    let ok = |args: &[&str]| {
        let out = bao(&bin, &h, &t, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", show(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let field = |args: &[&str]| ok(&[&["kv", "get"], args].concat());

    // patch merges into the current data (HTTP PATCH, and the read-write fallback).
    ok(&["kv", "put", "secret/app/db", "user=svc", "password=LC-pw-1"]);
    ok(&["kv", "patch", "secret/app/db", "password=LC-pw-2", "port=5432"]);
    let got = bao_json(&bin, &h, &t, &["kv", "get", "secret/app/db"]);
    assert_eq!(got["data"]["data"], serde_json::json!({"user": "svc", "password": "LC-pw-2", "port": "5432"}));
    assert_eq!(got["data"]["metadata"]["version"], 2);
    ok(&["kv", "patch", "-method=rw", "secret/app/db", "port=6543"]);
    assert_eq!(field(&["-field=port", "secret/app/db"]), "6543");
    let out = bao(&bin, &h, &t, &["kv", "patch", "secret/app/none", "a=b"]);
    assert_eq!(out.status.code(), Some(2), "patching nothing: {}", show(&out));

    // delete marks the current version deleted: reads fail, the metadata
    // says when, and undelete brings it back.
    ok(&["kv", "delete", "secret/app/db"]);
    // As with Vault, `kv get` shows the metadata of a deleted version (exit
    // 0) and no data.
    let got = bao_json(&bin, &h, &t, &["kv", "get", "secret/app/db"]);
    assert!(got["data"]["data"].is_null(), "a deleted version is not served: {got}");
    assert_ne!(got["data"]["metadata"]["deletion_time"], "", "{got}");
    let meta = bao_json(&bin, &h, &t, &["kv", "metadata", "get", "secret/app/db"]);
    assert_eq!(meta["data"]["current_version"], 3, "{meta}");
    assert_ne!(meta["data"]["versions"]["3"]["deletion_time"], "", "{meta}");
    assert_eq!(meta["data"]["versions"]["2"]["deletion_time"], "", "{meta}");
    // hush's own API refuses it too, and says why.
    let own = h.cli_as(&t, &["secret", "get", "app/db"], None);
    assert_ne!(own.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&own.stderr).contains("deleted"), "{}", show(&own));
    ok(&["kv", "undelete", "-versions=3", "secret/app/db"]);
    assert_eq!(field(&["-field=port", "secret/app/db"]), "6543");

    // destroy erases a version for good: it cannot be undeleted.
    ok(&["kv", "destroy", "-versions=1", "secret/app/db"]);
    let got = bao_json(&bin, &h, &t, &["kv", "get", "-version=1", "secret/app/db"]);
    assert!(got["data"]["data"].is_null() && got["data"]["metadata"]["destroyed"] == true, "{got}");
    ok(&["kv", "undelete", "-versions=1", "secret/app/db"]);
    let meta = bao_json(&bin, &h, &t, &["kv", "metadata", "get", "secret/app/db"]);
    assert_eq!(meta["data"]["versions"]["1"]["destroyed"], true, "{meta}");
    let got = bao_json(&bin, &h, &t, &["kv", "get", "-version=1", "secret/app/db"]);
    assert!(got["data"]["data"].is_null(), "destroyed stays destroyed: {got}");
    // hush's own listing of versions shows the same states.
    let out = h.cli_as(&t, &["secret", "versions", "app/db"], None);
    let table = String::from_utf8_lossy(&out.stdout);
    let state = |v: &str| table.lines().find(|l| l.starts_with(v)).map(|l| l.split_whitespace().nth(3).unwrap_or(""));
    assert_eq!((state("1"), state("3")), (Some("destroyed"), Some("live")), "{}", show(&out));

    // rollback writes an old version's data as the new current version.
    ok(&["kv", "rollback", "-version=2", "secret/app/db"]);
    assert_eq!(field(&["-field=port", "secret/app/db"]), "5432");
    assert_eq!(bao_json(&bin, &h, &t, &["kv", "get", "secret/app/db"])["data"]["metadata"]["version"], 4);

    // metadata put: custom metadata, echoed in data reads; max_versions prunes; cas_required is enforced.
    ok(&["kv", "metadata", "put", "-custom-metadata=owner=ci", "-max-versions=2", "-cas-required", "secret/app/db"]);
    let out = bao(&bin, &h, &t, &["kv", "put", "secret/app/db", "user=x"]);
    assert_eq!(out.status.code(), Some(2), "cas is required now: {}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("check-and-set parameter required"), "{}", show(&out));
    ok(&["kv", "put", "-cas=4", "secret/app/db", "user=svc", "password=LC-pw-5"]);
    let got = bao_json(&bin, &h, &t, &["kv", "get", "secret/app/db"]);
    assert_eq!(got["data"]["metadata"]["custom_metadata"], serde_json::json!({"owner": "ci"}), "{got}");
    ok(&["kv", "metadata", "patch", "-custom-metadata=team=platform", "secret/app/db"]);
    let meta = bao_json(&bin, &h, &t, &["kv", "metadata", "get", "secret/app/db"]);
    let data = &meta["data"];
    assert_eq!(data["custom_metadata"], serde_json::json!({"owner": "ci", "team": "platform"}), "{meta}");
    assert_eq!((data["max_versions"].as_u64(), data["cas_required"].as_bool()), (Some(2), Some(true)), "{meta}");
    let versions: Vec<&String> = data["versions"].as_object().unwrap().keys().collect();
    assert_eq!(versions, ["4", "5"], "max_versions 2 keeps two: {meta}");

    // Metadata before data: a record with current_version 0, listed, no value.
    ok(&["kv", "metadata", "put", "-custom-metadata=managed-by=external-secrets", "secret/pushed"]);
    let meta = bao_json(&bin, &h, &t, &["kv", "metadata", "get", "secret/pushed"]);
    assert_eq!(meta["data"]["current_version"], 0, "{meta}");
    let listed = bao_json(&bin, &h, &t, &["kv", "list", "secret/"]);
    assert_eq!(listed, serde_json::json!(["app/", "pushed"]));
    let out = bao(&bin, &h, &t, &["kv", "get", "secret/pushed"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let own = h.cli_as(&t, &["secret", "get", "pushed"], None);
    assert_ne!(own.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&own.stderr).contains("no value yet"), "{}", show(&own));
    ok(&["kv", "put", "secret/pushed", "token=LC-pushed"]);
    assert_eq!(field(&["-field=token", "secret/pushed"]), "LC-pushed");

    // metadata delete removes every version and the metadata.
    ok(&["kv", "metadata", "delete", "secret/pushed"]);
    let out = bao(&bin, &h, &t, &["kv", "metadata", "get", "secret/pushed"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));

    // Each change is audited under its own action, with the version.
    let audit = h.cli(&["audit", "list", "--name", "app/db", "--json", "--limit", "200"]);
    let page: Value = serde_json::from_slice(&audit.stdout).unwrap_or_else(|_| panic!("{}", show(&audit)));
    let seen: Vec<(String, Option<u64>)> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap_or_default().to_owned(), e["version"].as_u64()))
        .collect();
    for expected in [
        ("secret.version.delete".to_owned(), Some(3)),
        ("secret.version.undelete".to_owned(), Some(3)),
        ("secret.version.destroy".to_owned(), Some(1)),
        ("secret.metadata".to_owned(), None),
    ] {
        assert!(seen.contains(&expected), "{expected:?} in {seen:?}");
    }
    let log = h.log.lock().unwrap().clone();
    for value in ["LC-pw-1", "LC-pw-2", "LC-pw-5", "LC-pushed"] {
        assert!(!log.contains(value), "{value} in the server log");
    }

    // revoke-self: the token stops working, with no tokens:manage scope.
    ok(&["token", "revoke", "-self"]);
    let out = bao(&bin, &h, &t, &["kv", "get", "secret/app/db"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("permission denied"), "{}", show(&out));
}

#[test]
fn the_kv_mount_can_be_renamed_and_config_sets_namespace_defaults() {
    let Some(bin) = bao_cli("the_kv_mount_can_be_renamed_and_config_sets_namespace_defaults") else { return };
    let mut h = Hush::init();
    h.start(&[], &["--vault-mount", "kv"]);
    let t = h.token(&["default"], &["secrets:read", "secrets:list", "secrets:write"]);
    let run = |token: &str, args: &[&str]| bao(&bin, &h, token, args);
    let out = run(&t, &["kv", "put", "kv/app", "a=CFG-1"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = run(&t, &["kv", "get", "secret/app"]);
    assert_ne!(out.status.code(), Some(0), "the old mount is gone: {}", show(&out));

    // Namespace defaults: reading needs secrets:list; setting them needs namespaces:manage.
    let config = |token: &str, method: &str, body: &str| {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/stderr", "-w", "%{http_code}", "-X", method, "-H"])
            .arg(format!("X-Vault-Token: {token}"))
            .args(["-H", "X-Vault-Namespace: default", "--data", body, &h.url("/v1/kv/config")])
            .output()
            .unwrap();
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, _) = config(&t, "POST", r#"{"max_versions":3,"cas_required":true}"#);
    assert_eq!(code, "403", "secrets:write alone may not change the namespace's defaults");
    let (code, body) =
        config(&h.token, "POST", r#"{"max_versions":3,"cas_required":true,"delete_version_after":"1h"}"#);
    assert_eq!(code, "204", "{body}");
    let (code, body) = config(&t, "GET", "");
    assert_eq!(code, "200", "{body}");
    let read: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        read["data"],
        serde_json::json!({"max_versions": 3, "cas_required": true, "delete_version_after": "1h0m0s"}),
        "{read}"
    );
    let out = run(&t, &["kv", "put", "kv/app", "a=CFG-2"]);
    assert_eq!(out.status.code(), Some(2), "the namespace now requires cas: {}", show(&out));
    let out = run(&t, &["kv", "put", "-cas=1", "kv/app", "a=CFG-2"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // cas_required holds for hush's own API too.
    let out = h.cli_as(&t, &["secret", "create", "app", "--value-stdin"], Some(b"CFG-3"));
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("check-and-set"), "{}", show(&out));
    let written: Value = serde_json::from_slice(&run(&t, &["kv", "get", "-format=json", "kv/app"]).stdout).unwrap();
    assert_ne!(
        written["data"]["metadata"]["deletion_time"], "",
        "delete_version_after gives a deletion time: {written}"
    );
}

#[test]
fn hvac_drives_every_kv_v2_method_against_hush() {
    use serde_json::json;
    let Some(venv) = crate::components::python_clients("hvac_drives_every_kv_v2_method_against_hush") else { return };
    let has_hvac = Command::new(venv.join("bin/python")).args(["-c", "import hvac"]).output();
    if !has_hvac.is_ok_and(|o| o.status.success()) {
        let message = "hvac_drives_every_kv_v2_method_against_hush: SKIPPED, not run: hvac is not in the test venv \
                       (scripts/test installs it)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}; in CI it must run");
        eprintln!("\n!!!!!!!! {message} !!!!!!!!\n");
        return;
    }
    let h = Hush::running();
    assert_eq!(h.cli(&["namespace", "create", "team"]).status.code(), Some(0));
    // The admin token names the namespace (hvac's `namespace=` sends X-Vault-Namespace).
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/hvac_client.py");
    let out =
        Command::new(venv.join("bin/python")).arg(script).arg(h.url("")).arg(&h.token).arg("team").output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&out)));

    assert_eq!((r["authenticated"].clone(), r["anonymous_authenticated"].clone()), (json!(true), json!(false)), "{r}");
    assert_eq!(r["health"]["sealed"], false, "{r}");
    assert_eq!(r["health_head"], 200, "{r}");
    assert_eq!(r["lookup_self"], "service", "{r}");
    assert_eq!(r["configure"], 204, "{r}");
    assert_eq!(r["read_configuration"]["max_versions"], 5, "{r}");
    assert_eq!((r["create"]["version"].clone(), r["update_cas"]["version"].clone()), (json!(1), json!(2)), "{r}");
    assert_eq!(r["stale_cas"]["raised"], "InvalidRequest", "{r}");
    assert_eq!(r["read"]["data"], json!({"user": "svc", "password": "HV-pw-2"}), "{r}");
    assert_eq!(r["read"]["metadata"]["version"], 2, "{r}");
    assert_eq!(r["read_secret"], json!({"user": "svc", "password": "HV-pw-2"}), "{r}");
    assert_eq!(r["read_v1"]["password"], "HV-pw-1", "{r}");
    assert_eq!(r["patch"], 3, "{r}");
    assert_eq!(r["after_patch"], json!({"user": "svc", "password": "HV-pw-2", "port": "5432"}), "{r}");
    assert_eq!(r["missing"]["raised"], "InvalidPath", "{r}");
    assert_eq!((r["list"].clone(), r["list_app"].clone()), (json!(["app/"]), json!(["db"])), "{r}");
    assert_eq!(r["update_metadata"], 204, "{r}");
    let meta = &r["read_metadata"];
    assert_eq!((meta["max_versions"].clone(), meta["current_version"].clone()), (json!(4), json!(3)), "{r}");
    assert_eq!(meta["custom_metadata"], json!({"owner": "ci"}), "{r}");
    assert_eq!(r["delete_latest"], 204, "{r}");
    assert_eq!(r["read_deleted"]["raised"], "InvalidPath", "hvac raises on a deleted version: {r}");
    assert!(r["read_deleted_quietly"]["data"].is_null(), "{r}");
    assert_ne!(r["read_deleted_quietly"]["metadata"]["deletion_time"], "", "{r}");
    assert_eq!((r["undelete"].clone(), r["after_undelete"]["port"].clone()), (json!(204), json!("5432")), "{r}");
    assert_eq!((r["delete_versions"].clone(), r["destroy"].clone()), (json!(204), json!(204)), "{r}");
    let versions = &r["versions_after"];
    assert_ne!(versions["1"]["deletion_time"], "", "{r}");
    assert_eq!((versions["2"]["destroyed"].clone(), versions["3"]["destroyed"].clone()), (json!(true), json!(false)));
    assert_eq!(r["delete_all"], 204, "{r}");
    assert_eq!(r["gone"]["raised"], "InvalidPath", "{r}");
    assert_eq!((r["revoke_self"].clone(), r["after_revoke"].clone()), (json!(204), json!(false)), "{r}");
    let log = h.log.lock().unwrap().clone();
    assert!(!log.contains("HV-pw-1") && !log.contains("HV-pw-2"), "no value in the server log");
}

/// One secret, two ways: written through the Vault API, it reads back the
/// same through hush's REST, gRPC and CLI, and `hush run` injects it (as
/// `hush://` and as `vault://` pointed at hush's own Vault API); written
/// through hush, the Vault API reads it.
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_reads_the_same_through_kv_rest_grpc_cli_and_hush_run() {
    let Some(venv) = crate::components::python_clients("a_secret_reads_the_same_through_kv_rest_grpc_cli_and_hush_run")
    else {
        return;
    };
    let h = tokio::task::block_in_place(Hush::running);
    let t = tokio::task::block_in_place(|| h.token(&["default"], &["secrets:read", "secrets:list", "secrets:write"]));
    let http = h.http();
    for (name, body) in
        [("app/db", r#"{"data":{"user":"svc","password":"RT-pw-1"}}"#), ("plain", r#"{"data":{"value":"RT-plain-2"}}"#)]
    {
        let r = http.put(h.url(&format!("/v1/secret/data/{name}"))).header("X-Vault-Token", &t).body(body).send();
        assert_eq!(r.await.unwrap().status(), 200, "{name}");
    }

    // REST: a KV map is a generic value holding its JSON; {"value": …} is the text itself.
    let rest = |name: &'static str| {
        let request = http.get(h.url(&format!("/v1/namespaces/default/secrets/{name}"))).bearer_auth(&t).send();
        async move { request.await.unwrap().json::<Value>().await.unwrap() }
    };
    let db = rest("app/db").await;
    let inner: Value = serde_json::from_str(db["value"].as_str().expect("text")).unwrap();
    assert_eq!(inner, serde_json::json!({"user": "svc", "password": "RT-pw-1"}), "{db}");
    assert_eq!(rest("plain").await["value"], "RT-plain-2");

    tokio::task::block_in_place(|| {
        // gRPC (grpcurl, bytes as base64).
        let out = Command::new(venv.join("bin/grpcurl"))
            .args(["-plaintext", "-H", &format!("authorization: Bearer {t}"), "-d", r#"{"name":"plain"}"#])
            .arg(h.host_port())
            .arg("hush.v1.SecretService/GetSecret")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", show(&out));
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        use base64::Engine;
        let encoded = got["value"]["genericSecret"]["value"].as_str().unwrap_or_else(|| panic!("{got}"));
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap(), b"RT-plain-2");

        // The CLI.
        let out = h.cli_as(&t, &["secret", "get", "plain"], None);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "RT-plain-2", "{}", show(&out));

        // hush run: hush:// for the plain one, vault:// through hush's own Vault API for a field of the map.
        let seen = tempfile::tempdir().unwrap();
        let script = format!("printf '%s|%s' \"$A\" \"$B\" > {}/seen", seen.path().display());
        let out = crate::harness::cli_with(
            &h.addr,
            &t,
            &["run", "--env", "A=hush://plain", "--env", "B=vault://secret/app/db#password", "--", "sh", "-c", &script],
            None,
            &[("VAULT_ADDR", &h.url("")), ("VAULT_TOKEN", &t)],
        );
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        assert_eq!(std::fs::read_to_string(seen.path().join("seen")).unwrap(), "RT-plain-2|RT-pw-1");

        // The other way round: written through hush's CLI, read through KV.
        let out = h.cli_as(&t, &["secret", "create", "from-hush", "--value-stdin"], Some(br#"{"k":"RT-json-3"}"#));
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    });
    let r = http.get(h.url("/v1/secret/data/from-hush")).header("X-Vault-Token", &t).send().await.unwrap();
    let got: Value = r.json().await.unwrap();
    assert_eq!(got["data"]["data"], serde_json::json!({"k": "RT-json-3"}), "a JSON object is the KV map: {got}");
}

/// A git secret whose current version is deleted through KV is no longer
/// handed out by the git credential lookup; undeleted, it is again.
#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_current_version_is_not_handed_to_credential_helpers() {
    let h = tokio::task::block_in_place(Hush::running);
    let t = tokio::task::block_in_place(|| {
        let t = h.token(&["default"], &["secrets:read", "secrets:write", "secrets:delete"]);
        let args =
            ["secret", "create", "forge", "--type", "git", "--username", "bot", "--url", "https://git.example.com"];
        let out = h.cli_as(&t, &[&args[..], &["--token-stdin"]].concat(), Some(b"DEL-tok-1"));
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        t
    });
    let http = h.http();
    let lookup = || {
        http.get(h.url("/v1/namespaces/default/git-credentials?url=https://git.example.com/org/repo"))
            .bearer_auth(&t)
            .send()
    };
    assert_eq!(lookup().await.unwrap().status(), 200);
    let r = http.delete(h.url("/v1/secret/data/forge")).header("X-Vault-Token", &t).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(lookup().await.unwrap().status(), 404, "a deleted version is not a credential");
    let r = http
        .post(h.url("/v1/secret/undelete/forge"))
        .header("X-Vault-Token", &t)
        .body(r#"{"versions":["1"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let got: Value = lookup().await.unwrap().json().await.unwrap();
    assert_eq!(got["token"], "DEL-tok-1", "{got}");
}
