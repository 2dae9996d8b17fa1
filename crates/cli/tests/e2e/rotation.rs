//! Key rotation without downtime: a namespace's new key version is used for
//! new writes while old versions stay readable; `hush admin rewrap` moves
//! every version to the current key, in batches, resumably, while reads and
//! writes go on; the audit chain stays valid.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::Value;

use crate::harness::{Hush, show};

fn key_versions(h: &Hush, name: &str) -> Vec<u64> {
    let out = h.cli(&["secret", "versions", name, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["versions"].as_array().unwrap().iter().map(|x| x["key_version"].as_u64().unwrap()).collect()
}

#[test]
fn rotation_and_rewrap_keep_everything_readable() {
    let h = Hush::running();
    for i in 0..25 {
        for round in 0..2 {
            let out = h.cli_stdin(
                &["secret", "create", &format!("s{i:02}"), "--value-stdin"],
                format!("v{i}-{round}").as_bytes(),
            );
            assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        }
    }
    let out =
        h.cli_stdin(&["registry", "create", "ghcr.io", "--username", "u", "--password-stdin", "--global"], b"g-pw");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let out = h.cli(&["namespace", "rotate-key", "default", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let rotated: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rotated["key_version"], 2);
    // New writes use the new key; old versions still open.
    let out = h.cli_stdin(&["secret", "create", "s00", "--value-stdin"], b"after-rotation");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(key_versions(&h, "s00"), vec![2, 1, 1]);
    assert_eq!(h.cli(&["secret", "get", "s00", "--version", "1"]).stdout, b"v0-0");

    // Rewrap while a writer and a reader keep going.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let (addr, token) = (h.addr.clone(), h.token.clone());
    let busy = {
        let (stop, failures) = (Arc::clone(&stop), Arc::clone(&failures));
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let w = crate::harness::cli_at(
                    &addr,
                    &token,
                    &["secret", "create", "busy", "--value-stdin"],
                    Some(format!("b{n}").as_bytes()),
                );
                let r = crate::harness::cli_at(&addr, &token, &["secret", "get", "s10"], None);
                if !w.status.success() || r.stdout != b"v10-1" {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                n += 1;
            }
            n
        })
    };
    let out = h.cli(&["admin", "rewrap", "--batch", "7", "--json"]);
    stop.store(true, Ordering::Relaxed);
    let rounds = busy.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(failures.load(Ordering::Relaxed), 0, "reads or writes failed during the rewrap ({rounds} rounds)");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let default = report.as_array().unwrap().iter().find(|r| r["namespace"] == "default").unwrap();
    assert_eq!(default["key_version"], 2);
    assert!(default["rewrapped"].as_u64().unwrap() >= 50, "{report}");
    assert!(
        report.as_array().unwrap().iter().any(|r| r["namespace"] == "global"),
        "the registry scopes are rewrapped too: {report}"
    );
    for i in 0..25 {
        assert!(key_versions(&h, &format!("s{i:02}")).iter().all(|v| *v == 2), "s{i:02}");
    }
    assert_eq!(h.cli(&["secret", "get", "s00", "--version", "1"]).stdout, b"v0-0");
    assert_eq!(h.cli(&["secret", "get", "s24"]).stdout, b"v24-1");

    // Resumable: one small batch, then the command finishes the rest.
    let out = h.cli(&["namespace", "rotate-key", "default", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let partial: Value = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let r =
            h.http().post(h.url("/v1/namespaces/default/rewrap?limit=5")).bearer_auth(&h.token).send().await.unwrap();
        r.json().await.unwrap()
    });
    assert_eq!((partial["rewrapped"].as_u64(), partial["key_version"].as_u64()), (Some(5), Some(3)), "{partial}");
    assert!(partial["remaining"].as_u64().unwrap() > 0, "{partial}");
    let out = h.cli(&["admin", "rewrap", "default", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    for i in 0..25 {
        assert!(key_versions(&h, &format!("s{i:02}")).iter().all(|v| *v == 3), "s{i:02}");
    }
    let out = h.cli(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // Only namespaces:manage may rotate.
    let reader = h.token(&["default"], &["secrets:read"]);
    let out = h.cli_as(&reader, &["namespace", "rotate-key", "default"], None);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
}

#[test]
fn the_root_key_rotates_while_serving_and_survives_a_restart() {
    let mut h = Hush::running();
    assert_eq!(h.cli(&["namespace", "create", "team"]).status.code(), Some(0));
    for (ns, name, value) in [("default", "a", "ROOT-a"), ("team", "b", "ROOT-b")] {
        let out = h.cli_stdin(&["secret", "create", name, "-n", ns, "--value-stdin"], value.as_bytes());
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    }
    let old_key = std::fs::read_to_string(h.key_dir().join("root.key")).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let (addr, token) = (h.addr.clone(), h.token.clone());
    let busy = {
        let (stop, failures) = (Arc::clone(&stop), Arc::clone(&failures));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let r = crate::harness::cli_at(&addr, &token, &["secret", "get", "b", "-n", "team"], None);
                let w = crate::harness::cli_at(&addr, &token, &["secret", "create", "w", "--value-stdin"], Some(b"x"));
                if r.stdout != b"ROOT-b" || !w.status.success() {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let out = h.cli(&["admin", "rotate-root", "--json"]);
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(failures.load(Ordering::Relaxed), 0, "reads or writes failed during the rotation");
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(done["rewrapped"].as_u64().unwrap() >= 6, "{done}");
    let new_key = std::fs::read_to_string(h.key_dir().join("root.key")).unwrap();
    assert_ne!(old_key, new_key, "the key file holds the new root key");
    assert!(!h.key_dir().join("root.key.next").exists());

    // A namespace created afterwards, and a restart that reads only the new key.
    assert_eq!(h.cli(&["namespace", "create", "after"]).status.code(), Some(0));
    assert_eq!(
        h.cli_stdin(&["secret", "create", "c", "-n", "after", "--value-stdin"], b"ROOT-c").status.code(),
        Some(0)
    );
    h.stop();
    h.start(&[], &[]);
    for (ns, name, value) in [("default", "a", "ROOT-a"), ("team", "b", "ROOT-b"), ("after", "c", "ROOT-c")] {
        assert_eq!(h.cli(&["secret", "get", name, "-n", ns]).stdout, value.as_bytes(), "{ns}/{name}");
    }
    assert_eq!(h.cli(&["audit", "verify"]).status.code(), Some(0));
    // The old key no longer opens this installation.
    h.stop();
    std::fs::write(h.key_dir().join("root.key"), &old_key).unwrap();
    let refused = h.spawn(&[], &[]).expect_err("the old root key is refused");
    assert!(refused.contains("does not match the key store"), "{refused}");
    // A rotation stopped after the key store was re-wrapped but before the
    // rename (the old key file, the new one beside it) is finished at start.
    std::fs::write(h.key_dir().join("root.key.next"), &new_key).unwrap();
    h.start(&[], &[]);
    assert_eq!(h.cli(&["secret", "get", "a"]).stdout, b"ROOT-a");
    assert_eq!(std::fs::read_to_string(h.key_dir().join("root.key")).unwrap(), new_key);
    assert!(!h.key_dir().join("root.key.next").exists());
    h.stop();

    // With HUSH_ROOT_KEY hush cannot replace the key: refused, nothing changed.
    h.start(&[("HUSH_ROOT_KEY", new_key.trim())], &[]);
    let out = h.cli(&["admin", "rotate-root"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HUSH_ROOT_KEY"), "{}", show(&out));
    assert_eq!(h.cli(&["secret", "get", "a"]).stdout, b"ROOT-a");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_a_rewrap_with_every_secret_readable_and_a_rerun_finishes() {
    let h = tokio::task::block_in_place(Hush::running);
    let client = h.http();
    for i in 0..600 {
        let resp = client
            .put(h.url(&format!("/v1/namespaces/default/secrets/s{i:03}")))
            .bearer_auth(&h.token)
            .json(&serde_json::json!({ "value": format!("value-{i}") }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }
    let rotated = tokio::task::block_in_place(|| h.cli(&["namespace", "rotate-key", "default"]));
    assert_eq!(rotated.status.code(), Some(0), "{}", show(&rotated));
    let child = std::process::Command::new(crate::harness::HUSH)
        .args(["admin", "rewrap", "default", "--batch", "1"])
        .env("HUSH_ADDR", &h.addr)
        .env("HUSH_TOKEN", &h.token)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Stopped once it has started: the first version (by name) is under the new key.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while tokio::task::block_in_place(|| key_versions(&h, "s000")) != vec![2] {
        assert!(std::time::Instant::now() < deadline, "the rewrap never started");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let signalled = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(signalled.success());
    let out = tokio::task::block_in_place(|| child.wait_with_output()).unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run again to finish"), "{}", show(&out));
    let mut old_key = 0;
    for i in 0..600 {
        let name = format!("s{i:03}");
        let read: Value = client
            .get(h.url(&format!("/v1/namespaces/default/secrets/{name}")))
            .bearer_auth(&h.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(read["value"], format!("value-{i}"), "{read}");
        if i % 60 == 0 {
            old_key += usize::from(tokio::task::block_in_place(|| key_versions(&h, &name)) == vec![1]);
        }
    }
    assert!(old_key > 0, "the rewrap was stopped half-way (some versions still under key 1)");
    let again = tokio::task::block_in_place(|| h.cli(&["admin", "rewrap", "default", "--json"]));
    assert_eq!(again.status.code(), Some(0), "{}", show(&again));
    for i in (0..600).step_by(60) {
        assert_eq!(tokio::task::block_in_place(|| key_versions(&h, &format!("s{i:03}"))), vec![2]);
    }
}
