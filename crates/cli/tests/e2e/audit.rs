//! The audit log: every call recorded with its outcome and context, never a
//! value; the chain detects edits, removals and truncation.

use serde_json::Value;

use crate::harness::{Hush, show};

fn events(h: &Hush) -> Vec<Value> {
    let out = h.cli(&["audit", "list", "--json", "--limit", "1000"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["events"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_call_is_recorded_with_outcome_and_context() {
    let h = tokio::task::block_in_place(Hush::running);
    let run = |args: &[&str]| tokio::task::block_in_place(|| h.cli(args));
    assert_eq!(run(&["secret", "create", "db", "--value", "AUDIT-SECRET-VALUE"]).status.code(), Some(0));
    let resp = h
        .http()
        .get(h.url("/v1/namespaces/default/secrets/db"))
        .bearer_auth(&h.token)
        .header("X-Hush-Context", "workflow=build run=42")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let lister = tokio::task::block_in_place(|| h.token(&["default"], &["secrets:list"]));
    let lister_id = lister[5..21].to_owned();
    assert_eq!(
        tokio::task::block_in_place(|| h.cli_as(&lister, &["secret", "get", "db"], None)).status.code(),
        Some(3)
    );
    assert_eq!(run(&["secret", "get", "missing"]).status.code(), Some(4));
    assert_eq!(run(&["secret", "delete", "db"]).status.code(), Some(0));
    // A context that is too long is refused, not truncated.
    let resp = h
        .http()
        .get(h.url("/v1/namespaces/default/secrets"))
        .bearer_auth(&h.token)
        .header("X-Hush-Context", "x".repeat(300))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    let events = tokio::task::block_in_place(|| events(&h));
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains("AUDIT-SECRET-VALUE"), "{text}");
    let admin_id = &h.token[5..21];
    let find = |action: &str, outcome: &str| {
        events
            .iter()
            .find(|e| e["action"] == action && e["outcome"] == outcome)
            .unwrap_or_else(|| panic!("no {action} {outcome} in {text}"))
    };
    let write = find("secret.write", "ok");
    assert_eq!(write["token_id"], admin_id);
    assert_eq!(write["namespace"], "default");
    assert_eq!(write["name"], "db");
    assert_eq!(write["version"], 1);
    let read =
        events.iter().find(|e| e["action"] == "secret.read" && e["context"] == "workflow=build run=42").expect(&text);
    assert_eq!(read["outcome"], "ok");
    assert_eq!(read["version"], 1);
    assert_eq!(find("secret.read", "denied")["token_id"], lister_id);
    assert_eq!(find("secret.read", "not_found")["name"], "missing");
    assert_eq!(find("secret.delete", "ok")["name"], "db");
    assert_eq!(find("token.create", "ok")["token_id"], admin_id);
    assert!(events.iter().any(|e| e["action"] == "init"));
    // Sequence numbers are dense, newest first.
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] == w[1] + 1), "{seqs:?}");
}

#[test]
fn secret_metadata_shows_the_last_read() {
    let h = Hush::running();
    assert_eq!(h.cli(&["secret", "create", "k", "--value", "v"]).status.code(), Some(0));
    let list = |h: &Hush| -> Value { serde_json::from_slice(&h.cli(&["secret", "list", "--json"]).stdout).unwrap() };
    assert_eq!(list(&h)["secrets"][0]["last_read_at"], Value::Null);
    assert_eq!(h.cli(&["secret", "get", "k"]).stdout, b"v");
    assert!(list(&h)["secrets"][0]["last_read_at"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_detects_edits_removals_and_truncation() {
    let mut h = tokio::task::block_in_place(Hush::running);
    let run = |h: &Hush, args: &[&str]| tokio::task::block_in_place(|| h.cli(args));
    for i in 0..5 {
        assert_eq!(run(&h, &["secret", "create", &format!("s{i}"), "--value", "v"]).status.code(), Some(0));
    }
    let out = run(&h, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact"));

    // An edited row (its strings are numbers into audit_text: migration 0006).
    h.sql("INSERT INTO audit_text (text) VALUES ('other'); UPDATE audit_events SET name = last_insert_rowid() WHERE seq = 4");
    let out = run(&h, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(6), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("event 4"), "{}", show(&out));
    let out = run(&h, &["audit", "verify", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["problem"]["seq"], 4);

    // A removed row (in a fresh installation).
    let mut h2 = tokio::task::block_in_place(Hush::running);
    for i in 0..5 {
        assert_eq!(run(&h2, &["secret", "create", &format!("s{i}"), "--value", "v"]).status.code(), Some(0));
    }
    h2.sql("DELETE FROM audit_events WHERE seq = 3");
    let out = run(&h2, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(6), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("missing"), "{}", show(&out));

    // Removed newest rows: the key store's anchor notices.
    tokio::task::block_in_place(|| h.stop());
    let mut h3 = tokio::task::block_in_place(Hush::running);
    for i in 0..5 {
        assert_eq!(run(&h3, &["secret", "create", &format!("s{i}"), "--value", "v"]).status.code(), Some(0));
    }
    tokio::task::block_in_place(|| h3.stop()); // records the anchor at the newest event
    h3.sql("DELETE FROM audit_events WHERE seq > (SELECT MAX(seq) - 3 FROM audit_events)");
    tokio::task::block_in_place(|| h3.start(&[], &[]));
    let out = run(&h3, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(6), "{}", show(&out));
    tokio::task::block_in_place(|| h2.stop());
}

/// Regression: an unauthenticated `?version=2^64-1` was recorded as -1 and
/// then made every audit listing and verification fail.
#[tokio::test(flavor = "multi_thread")]
async fn odd_input_and_odd_rows_never_make_the_log_unreadable() {
    let h = tokio::task::block_in_place(Hush::running);
    let http = h.http();
    for q in ["version=18446744073709551615", "version=9223372036854775808"] {
        let url = h.url(&format!("/v1/namespaces/default/secrets/x?{q}"));
        // Without a token the answer is 401 before the query is looked at.
        assert_eq!(http.get(&url).send().await.unwrap().status(), 401, "{q}");
        assert_eq!(http.get(&url).bearer_auth(&h.token).send().await.unwrap().status(), 400, "{q}");
    }
    let resp = http
        .get(h.url("/v1/namespaces/default/secrets?prefix=%0A%1B%5B31m"))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = http
        .post(h.url("/v1/tokens"))
        .bearer_auth(&h.token)
        .body(r#"{"namespaces":"*","scopes":["secrets:list"],"ttl":"10000y"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let out = tokio::task::block_in_place(|| h.cli(&["audit", "list"]));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\u{1b}'));
    assert_eq!(tokio::task::block_in_place(|| h.cli(&["audit", "verify"])).status.code(), Some(0));

    // A row edited to nonsense is reported as tampering, not as a server error.
    h.sql(
        "INSERT INTO audit_text (text) VALUES ('bogus'); \
         UPDATE audit_events SET action = last_insert_rowid(), version = -7 WHERE seq = 2",
    );
    let out = tokio::task::block_in_place(|| h.cli(&["audit", "list", "--json"]));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("unrecognized"));
    let out = tokio::task::block_in_place(|| h.cli(&["audit", "verify", "--json"]));
    assert_eq!(out.status.code(), Some(6), "{}", show(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["problem"]["seq"], 2);
}

/// The filters: by action, outcome and token id; a whole token is refused
/// before it is sent (it would land in a URL).
#[test]
fn audit_list_filters_by_action_outcome_and_token() {
    let h = Hush::running();
    assert_eq!(h.cli(&["secret", "create", "f", "--value", "v"]).status.code(), Some(0));
    let lister = h.token(&["default"], &["secrets:list"]);
    let lister_id = &lister[5..21];
    assert_eq!(h.cli_as(&lister, &["secret", "list"], None).status.code(), Some(0));
    assert_eq!(h.cli_as(&lister, &["secret", "get", "f"], None).status.code(), Some(3));
    let list = |filters: &[&str]| -> Vec<Value> {
        let out = h.cli(&[&["audit", "list", "--json"], filters].concat());
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["events"].as_array().unwrap().clone()
    };
    let by_token = list(&["--token-id", lister_id]);
    assert_eq!(by_token.len(), 2, "{by_token:#?}");
    assert!(by_token.iter().all(|e| e["token_id"] == lister_id));
    let denied = list(&["--outcome", "denied"]);
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["action"], "secret.read");
    let writes = list(&["--action", "secret.write", "--name", "f"]);
    assert_eq!(writes.len(), 1);
    assert_eq!(list(&["--action", "secret.write", "--outcome", "denied"]).len(), 0);
    // Unknown names are refused by name; a whole token never leaves the CLI.
    let out = h.cli(&["audit", "list", "--action", "secret.steal"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown action"), "{}", show(&out));
    let out = h.cli(&["audit", "list", "--token-id", &lister]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("public id") && !stderr.contains(&lister[22..]), "{stderr}");
}

/// `hush audit export` output, one parsed event per line.
fn exported(h: &Hush, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "export"];
    all.extend_from_slice(args);
    let out = h.cli(&all);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(out.stderr.is_empty(), "no progress off a terminal: {}", show(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

/// The export pages through the whole log oldest first, every event once,
/// never a value; filters by namespace and time; refuses what it cannot do.
#[test]
fn audit_export_streams_every_event_oldest_first_as_json_lines() {
    let h = Hush::running();
    let ok = |args: &[&str]| {
        let out = h.cli(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", show(&out));
    };
    ok(&["namespace", "create", "ci"]);
    ok(&["secret", "create", "db", "--value", "EXPORT-SECRET-VALUE"]);
    ok(&["secret", "create", "-n", "ci", "deploy-key", "--value", "EXPORT-CI-VALUE"]);
    for _ in 0..4 {
        ok(&["secret", "get", "db"]);
        ok(&["secret", "get", "-n", "ci", "deploy-key"]);
    }

    // Small pages: the export goes on until the end, and each page call is
    // itself recorded, so the numbers run 1, 2, 3 … without a gap.
    let all = exported(&h, &["--page-size", "3"]);
    let numbers = seqs(&all);
    assert!(numbers.len() > 20, "{numbers:?}");
    assert_eq!(numbers, (1..=numbers.len() as u64).collect::<Vec<_>>());
    let listed = events(&h);
    let listed_seqs: std::collections::BTreeSet<u64> =
        seqs(&listed).into_iter().filter(|s| *s <= *numbers.last().unwrap()).collect();
    assert_eq!(listed_seqs, numbers.iter().copied().collect(), "the same events as `audit list`");
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains("EXPORT-SECRET-VALUE") && !text.contains("EXPORT-CI-VALUE"), "{text}");
    assert_eq!(all.iter().filter(|e| e["action"] == "secret.read").count(), 8);

    // One namespace.
    let ci = exported(&h, &["--namespace", "ci"]);
    assert!(ci.len() >= 5, "{ci:?}");
    assert!(ci.iter().all(|e| e["namespace"] == "ci"), "{ci:?}");

    // A time window: [since, until) splits the log at one event's time.
    let middle = all[all.len() / 2]["at"].as_str().unwrap().to_owned();
    let before = exported(&h, &["--until", &middle]);
    let after = exported(&h, &["--since", &middle]);
    assert!(before.iter().all(|e| e["at"].as_str().unwrap() < middle.as_str()), "{before:?}");
    assert!(after.iter().all(|e| e["at"].as_str().unwrap() >= middle.as_str()), "{after:?}");
    assert!(!before.is_empty() && !after.is_empty());
    let split: std::collections::BTreeSet<u64> = seqs(&before).into_iter().chain(seqs(&after)).collect();
    assert!(numbers.iter().all(|s| split.contains(s)), "every event falls on one side");
    // An age: everything here is younger than an hour.
    assert!(exported(&h, &["--since", "1h"]).len() >= all.len());

    // Refusals, each naming what is wrong.
    let out = h.cli(&["audit", "export", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(show(&out).contains("--since"), "{}", show(&out));
    let bound = h.token(&["ci"], &["audit:read"]);
    let out = h.cli_as(&bound, &["audit", "export"], None);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(out.stdout.is_empty());
}

/// The REST form refuses a time it cannot read, naming the parameter.
#[tokio::test(flavor = "multi_thread")]
async fn audit_export_refuses_a_malformed_time() {
    let h = tokio::task::block_in_place(Hush::running);
    for (query, named) in
        [("since=yesterday", "'since'"), ("until=12", "'until'"), ("after=x", "after"), ("limit=0", "limit")]
    {
        let resp =
            h.http().get(h.url(&format!("/v1/audit/export?{query}"))).bearer_auth(&h.token).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{query}");
        let body = resp.text().await.unwrap();
        assert!(body.contains(named), "{query}: {body}");
    }
}
