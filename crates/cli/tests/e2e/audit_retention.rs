//! Audit sinks and retention: `--audit-file` and `--audit-stdout` get every
//! event as a JSON line before the call is answered, the file is reopened
//! on SIGHUP; `hush admin audit prune` removes old events behind a signed
//! checkpoint that `hush audit verify` starts from, refuses a chain that
//! does not verify, and with a sink refuses events never exported.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{HUSH, Hush, show};

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

fn json_out(h: &Hush, args: &[&str]) -> Value {
    let out = h.cli(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", show(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[test]
fn sinks_get_every_event_before_the_answer_and_the_file_reopens_on_sighup() {
    const CANARY: &str = "SINK-CANARY-VALUE-5b1f";
    let mut h = Hush::init();
    let file = h.dir.path().join("audit.jsonl");
    h.start(&[], &["--audit-file", file.to_str().unwrap(), "--audit-stdout"]);
    assert_eq!(h.cli(&["secret", "create", "db", "--value", CANARY]).status.code(), Some(0));
    let out = h.cli(&["secret", "get", "db"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // Written and synced before the answer: the read is there as soon as the CLI returns.
    let written = lines(&file);
    let last = written.last().unwrap();
    assert_eq!(
        (last["action"].as_str(), last["name"].as_str(), last["outcome"].as_str()),
        (Some("secret.read"), Some("db"), Some("ok"))
    );
    let reader = h.token(&["default"], &["secrets:list"]);
    assert_eq!(h.cli_as(&reader, &["secret", "get", "db"], None).status.code(), Some(3));
    let written = lines(&file);
    assert_eq!(written.last().unwrap()["outcome"], "denied");
    // Every event once, in order, from the sink's start.
    let seqs: Vec<u64> = written.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    let file_text = std::fs::read_to_string(&file).unwrap();
    assert!(!file_text.contains(CANARY), "the audit file holds the value");
    assert!(!h.stdout_log.lock().unwrap().contains(CANARY), "standard output holds the value");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777, 0o600);
    // The same lines on standard output, and the same shape as the export.
    let stdout = h.stdout_log.lock().unwrap().clone();
    for line in file_text.lines() {
        assert!(stdout.contains(line), "standard output lacks {line}");
    }
    let export = h.cli(&["audit", "export", "--quiet"]);
    let exported: Vec<Value> =
        String::from_utf8_lossy(&export.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for event in &written {
        let same = exported.iter().find(|e| e["seq"] == event["seq"]).expect("exported too");
        assert_eq!(same, event, "the sink's line and the export differ");
    }

    // logrotate: move the file away, SIGHUP, and the next event goes to a new file.
    let rotated = h.dir.path().join("audit.jsonl.1");
    std::fs::rename(&file, &rotated).unwrap();
    assert!(Command::new("kill").args(["-HUP", &h.pid().to_string()]).status().unwrap().success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !h.log.lock().unwrap().contains("reopened the audit file") {
        assert!(std::time::Instant::now() < deadline, "no reopen logged:\n{}", h.log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(h.cli(&["secret", "get", "db"]).status.code(), Some(0));
    let fresh = lines(&file);
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    assert_eq!(fresh[0]["seq"].as_u64(), Some(seqs.last().unwrap() + 2), "the list call and the read");
    assert_eq!(lines(&rotated).len(), written.len() + 1);

    // A line cut short by a crash is ended before the next one.
    h.kill9();
    let mut cut = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
    std::io::Write::write_all(&mut cut, b"{\"seq\":99999,\"act").unwrap();
    drop(cut);
    h.start(&[], &["--audit-file", file.to_str().unwrap()]);
    assert_eq!(h.cli(&["secret", "get", "db"]).status.code(), Some(0));
    let text = std::fs::read_to_string(&file).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["action"], "secret.read");
    h.stop();

    // A sink that cannot be opened stops the start, naming the path.
    let bad = h.dir.path().join("no-such-dir/audit.jsonl");
    let err = h.spawn(&[], &["--audit-file", bad.to_str().unwrap()]).expect_err("must not start");
    assert!(err.contains("cannot open the audit file") && err.contains("no-such-dir"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_leaves_a_checkpoint_that_verify_starts_from() {
    let h = tokio::task::block_in_place(Hush::running);
    let client = h.http();
    for i in 0..20 {
        let r = client.get(h.url("/v1/namespaces/default/secrets")).bearer_auth(&h.token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{i}");
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cut_time = now_rfc3339();
    tokio::time::sleep(Duration::from_millis(20)).await;
    for _ in 0..5 {
        client.get(h.url("/v1/namespaces/default/secrets")).bearer_auth(&h.token).send().await.unwrap();
    }
    let block = |args: &[&str]| tokio::task::block_in_place(|| json_out(&h, args));
    let before = block(&["audit", "verify", "--json"]);
    assert_eq!(before["ok"], true, "{before}");
    assert_eq!(before["checkpoint_seq"], Value::Null);

    // One step of at most 4 events: the rest stays until the next call,
    // and the log verifies in between (an interrupted prune).
    let step: Value = client
        .post(h.url(&format!("/v1/audit/prune?before={cut_time}&limit=4")))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cut = step["checkpoint"]["seq"].as_u64().unwrap_or_else(|| panic!("{step}"));
    assert!(cut >= 20, "{step}");
    assert_eq!(step["removed"], 4);
    assert_eq!(step["remaining"].as_u64(), Some(cut - 4));
    let halfway = block(&["audit", "verify", "--json"]);
    assert_eq!((halfway["ok"].as_bool(), halfway["checkpoint_seq"].as_u64()), (Some(true), Some(cut)), "{halfway}");
    assert_eq!(halfway["before_checkpoint"].as_u64(), Some(cut - 4));

    let done = block(&["admin", "audit", "prune", "--before", &cut_time, "--json"]);
    assert_eq!((done["checkpoint"]["seq"].as_u64(), done["remaining"].as_u64()), (Some(cut), Some(0)), "{done}");
    assert_eq!(done["removed"].as_u64(), Some(cut - 4));
    let out = tokio::task::block_in_place(|| h.cli(&["audit", "verify"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(text.contains(&format!("verified from the prune checkpoint at event {cut}")), "{text}");
    let after = block(&["audit", "verify", "--json"]);
    assert_eq!(after["before_checkpoint"], 0);
    // The export starts after the checkpoint; nothing older is listed.
    let export = tokio::task::block_in_place(|| h.cli(&["audit", "export", "--quiet"]));
    let first: Value = serde_json::from_str(String::from_utf8_lossy(&export.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["seq"].as_u64(), Some(cut + 1));
    let listed = block(&["audit", "list", "--json", "--limit", "1000"]);
    assert!(listed["events"].as_array().unwrap().iter().all(|e| e["seq"].as_u64().unwrap() > cut));
    // The prune itself is recorded, with the checkpoint's number.
    assert!(
        listed["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "audit.prune" && e["version"].as_u64() == Some(cut)),
        "{listed}"
    );
    // Pruning up to now keeps the newest event, and a second run moves the checkpoint.
    let all = block(&["admin", "audit", "prune", "--before", &now_rfc3339(), "--json"]);
    let newest = block(&["audit", "list", "--json", "--limit", "1"]);
    assert!(all["checkpoint"]["seq"].as_u64().unwrap() < newest["events"][0]["seq"].as_u64().unwrap());
    assert_eq!(block(&["audit", "verify", "--json"])["ok"], true);

    // Only an admin token bound to every namespace may prune.
    let reader = tokio::task::block_in_place(|| h.token(&[], &["audit:read"]));
    let denied =
        tokio::task::block_in_place(|| h.cli_as(&reader, &["admin", "audit", "prune", "--before", "1h"], None));
    assert_eq!(denied.status.code(), Some(3), "{}", show(&denied));
    let bad = tokio::task::block_in_place(|| h.cli(&["admin", "audit", "prune", "--before", "yesterday"]));
    assert_eq!(bad.status.code(), Some(2), "{}", show(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("neither an RFC 3339 time"), "{}", show(&bad));
}

#[test]
fn prune_refuses_an_edited_chain_and_removes_nothing() {
    let h = Hush::running();
    for i in 0..5 {
        assert_eq!(h.cli(&["secret", "create", &format!("s{i}"), "--value", "v"]).status.code(), Some(0));
    }
    h.sql("UPDATE audit_events SET at = at + 1 WHERE seq = 3");
    let out = h.cli(&["admin", "audit", "prune", "--before", &now_rfc3339()]);
    assert_eq!(out.status.code(), Some(5), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not verify at event 3") && err.contains("nothing was pruned"), "{err}");
    let listed = json_out(&h, &["audit", "list", "--json", "--limit", "1000"]);
    assert!(listed["events"].as_array().unwrap().iter().any(|e| e["seq"] == 1), "event 1 is still there");
    assert_eq!(h.cli(&["audit", "verify"]).status.code(), Some(6));
}

fn prune(h: &Hush, args: &[&str]) -> std::process::Output {
    let mut all = vec!["admin", "audit", "prune", "--before"];
    all.extend_from_slice(args);
    h.cli(&all)
}

#[test]
fn with_a_sink_prune_wants_events_exported_or_force() {
    let mut h = Hush::init();
    // Events from before the sink: init's, and these.
    h.start(&[], &[]);
    for i in 0..3 {
        assert_eq!(h.cli(&["secret", "create", &format!("s{i}"), "--value", "v"]).status.code(), Some(0));
    }
    h.stop();
    let file = h.dir.path().join("audit.jsonl");
    h.start(&[], &["--audit-file", file.to_str().unwrap()]);
    let now = now_rfc3339();
    let refused = prune(&h, &[&now]);
    assert_eq!(refused.status.code(), Some(5), "{}", show(&refused));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("never delivered to an audit sink or exported") && err.contains("--force"), "{err}");
    // A filtered export does not count; a complete one does.
    h.cli(&["audit", "export", "--quiet", "--namespace", "default"]);
    assert_eq!(prune(&h, &[&now]).status.code(), Some(5));
    assert_eq!(h.cli(&["audit", "export", "--quiet"]).status.code(), Some(0));
    let out = prune(&h, &[&now, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // Events the sink delivered count as exported (once the anchor task records them).
    for _ in 0..3 {
        h.cli(&["secret", "get", "s1"]);
    }
    std::thread::sleep(Duration::from_millis(1500));
    let out = prune(&h, &[&now_rfc3339(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    h.stop();

    // Events while no sink ran are refused, and --force removes them anyway.
    h.start(&[], &[]);
    h.cli(&["secret", "get", "s1"]);
    h.stop();
    h.start(&[], &["--audit-file", file.to_str().unwrap()]);
    h.cli(&["secret", "get", "s1"]);
    let cut = now_rfc3339();
    h.cli(&["secret", "get", "s1"]);
    assert_eq!(prune(&h, &[&cut]).status.code(), Some(5));
    let forced = prune(&h, &[&cut, "--force", "--json"]);
    assert_eq!(forced.status.code(), Some(0), "{}", show(&forced));
    let v: Value = serde_json::from_slice(&forced.stdout).unwrap();
    assert_eq!(v["remaining"], 0);
    assert_eq!(json_out(&h, &["audit", "verify", "--json"])["ok"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_a_prune_with_a_log_that_verifies() {
    let h = tokio::task::block_in_place(Hush::running);
    let client = h.http();
    for _ in 0..400 {
        client.get(h.url("/v1/namespaces/default/secrets")).bearer_auth(&h.token).send().await.unwrap();
    }
    let cut = now_rfc3339();
    let child = Command::new(HUSH)
        .args(["admin", "audit", "prune", "--before", &cut, "--batch", "1"])
        .env("HUSH_ADDR", &h.addr)
        .env("HUSH_TOKEN", &h.token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let out = tokio::task::block_in_place(|| child.wait_with_output()).unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run the prune again"), "{}", show(&out));
    let halfway = tokio::task::block_in_place(|| json_out(&h, &["audit", "verify", "--json"]));
    assert_eq!(halfway["ok"], true, "{halfway}");
    assert!(halfway["before_checkpoint"].as_u64().unwrap() > 0, "{halfway}");
    let done = tokio::task::block_in_place(|| json_out(&h, &["admin", "audit", "prune", "--before", &cut, "--json"]));
    assert_eq!(done["remaining"], 0);
    let after = tokio::task::block_in_place(|| json_out(&h, &["audit", "verify", "--json"]));
    assert_eq!((after["ok"].as_bool(), after["before_checkpoint"].as_u64()), (Some(true), Some(0)), "{after}");
}

#[test]
fn on_postgresql_the_sink_and_prune_work_the_same() {
    let Some(data_url) = crate::components::postgres_database("on_postgresql_the_sink_and_prune_work_the_same") else {
        return;
    };
    let keys_url = crate::components::postgres_database("on_postgresql_the_sink_and_prune_work_the_same").unwrap();
    let env = [("HUSH_DATABASE_URL", data_url.as_str()), ("HUSH_KEYSTORE_URL", keys_url.as_str())];
    let mut h = Hush::init_with(&env);
    let file = h.dir.path().join("audit.jsonl");
    h.start(&env, &["--audit-file", file.to_str().unwrap()]);
    for i in 0..4 {
        assert_eq!(h.cli(&["secret", "create", &format!("s{i}"), "--value", "v"]).status.code(), Some(0));
    }
    assert_eq!(h.cli(&["secret", "get", "s2"]).status.code(), Some(0));
    let written = lines(&file);
    assert_eq!(written.last().unwrap()["action"], "secret.read", "written before the answer");
    assert_eq!(written.iter().filter(|e| e["action"] == "secret.write").count(), 4);
    let cut = now_rfc3339();
    assert_eq!(h.cli(&["secret", "get", "s3"]).status.code(), Some(0));
    // init's events never reached the sink.
    assert_eq!(prune(&h, &[&cut]).status.code(), Some(5));
    let out = prune(&h, &[&cut, "--force", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    let seq = done["checkpoint"]["seq"].as_u64().unwrap();
    let verified = json_out(&h, &["audit", "verify", "--json"]);
    assert_eq!((verified["ok"].as_bool(), verified["checkpoint_seq"].as_u64()), (Some(true), Some(seq)), "{verified}");
}

#[test]
fn a_sink_that_cannot_write_refuses_the_call_and_no_value_leaves() {
    const VALUE: &str = "FULL-DISK-VALUE-77aa";
    let mut h = Hush::running();
    assert_eq!(h.cli(&["secret", "create", "db", "--value", VALUE]).status.code(), Some(0));
    h.stop();
    // /dev/full: every write fails with ENOSPC, as on a full disk.
    h.start(&[], &["--audit-file", "/dev/full"]);
    let out = h.cli(&["secret", "get", "db"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(VALUE), "a value left without its audit line");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !h.log.lock().unwrap().contains("the audit sink failed") {
        assert!(std::time::Instant::now() < deadline, "{}", h.log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!h.log.lock().unwrap().contains(VALUE));
    h.stop();
    // The store kept its event (it may over-record an unanswered read, never under-record).
    h.start(&[], &[]);
    assert_eq!(json_out(&h, &["audit", "verify", "--json"])["ok"], true);
}
