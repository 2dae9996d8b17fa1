//! Several `hush serve` replicas over PostgreSQL (the data store and the
//! key store in two databases): a write through one is read through the
//! other at once; racing writes with the same `cas` have exactly one
//! winner; the audit chain verifies through either replica.

use std::process::Child;

use serde_json::{Value, json};

use crate::components::postgres_database;
use crate::harness::{Hush, cli_at, show};

struct Replica(Child);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_share_one_postgresql_and_agree() {
    let Some(data_url) = postgres_database("replicas_share_one_postgresql_and_agree") else { return };
    let keys_url = postgres_database("replicas_share_one_postgresql_and_agree").unwrap();
    let env = [("HUSH_DATABASE_URL", data_url.as_str()), ("HUSH_KEYSTORE_URL", keys_url.as_str())];
    let mut h = tokio::task::block_in_place(|| Hush::init_with(&env));
    assert!(!h.data_dir().join("hush.db").exists(), "no SQLite data store beside PostgreSQL");
    tokio::task::block_in_place(|| h.start(&env, &[]));
    let a = h.addr.clone();
    let (child, b) = tokio::task::block_in_place(|| h.spawn(&env, &[])).expect("a second replica starts");
    let _b = Replica(child);
    let token = h.token.clone();

    // A write through one is read through the other at once.
    let out = tokio::task::block_in_place(|| {
        cli_at(&a, &token, &["secret", "create", "shared", "--value-stdin"], Some(b"from-a"))
    });
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = tokio::task::block_in_place(|| cli_at(&b, &token, &["secret", "get", "shared"], None));
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(0), b"from-a".as_slice()), "{}", show(&out));

    // Racing writes with the same cas: exactly one winner each round.
    let http = h.http();
    let url = |addr: &str| format!("{addr}/v1/namespaces/default/secrets/race");
    for round in 0..20u64 {
        let version = round;
        let body = |who: &str| json!({"type": "generic", "value": format!("{who}-{round}"), "cas": version});
        let (ra, rb) = tokio::join!(
            http.put(url(&a)).bearer_auth(&token).json(&body("a")).send(),
            http.put(url(&b)).bearer_auth(&token).json(&body("b")).send(),
        );
        let mut statuses = [ra.unwrap().status().as_u16(), rb.unwrap().status().as_u16()];
        statuses.sort();
        let won = if version == 0 { 201 } else { 200 };
        assert_eq!(statuses, [won, 409], "round {round}");
    }
    let current: Value = http.get(url(&b)).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(current["version"], 20);

    // Concurrent writers on both replicas, then the chain verifies through either.
    let mut writes = Vec::new();
    for i in 0..40 {
        let addr = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (http, token) = (http.clone(), token.clone());
        writes.push(tokio::spawn(async move {
            http.put(format!("{addr}/v1/namespaces/default/secrets/many-{i}"))
                .bearer_auth(&token)
                .json(&json!({"type": "generic", "value": "v"}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for w in writes {
        assert_eq!(w.await.unwrap(), 201);
    }
    // A local root key is not rotated online while replicas share the key store.
    let out = tokio::task::block_in_place(|| cli_at(&a, &token, &["admin", "rotate-root"], None));
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shared by replicas"), "{}", show(&out));
    for addr in [&a, &b] {
        let out = tokio::task::block_in_place(|| cli_at(addr, &token, &["audit", "verify", "--json"], None));
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["ok"], true, "{report}");
    }
}

#[test]
fn replicas_starting_together_on_a_fresh_installation_initialise_it_once() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let Some(data_url) = postgres_database("replicas_starting_together") else { return };
    let keys_url = postgres_database("replicas_starting_together").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        Command::new(crate::harness::HUSH)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--key-dir")
            .arg(dir.path().join("keys"))
            .env("HUSH_DATABASE_URL", &data_url)
            .env("HUSH_KEYSTORE_URL", &keys_url)
            .env("HUSH_LOG", "info")
            .env_remove("HUSH_ROOT_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Killed when dropped, also when an assertion fails.
    let mut children = [Replica(start()), Replica(start())];
    let stdouts: Vec<_> = children.iter_mut().map(|c| c.0.stdout.take().unwrap()).collect();
    for child in &mut children {
        let stderr = BufReader::new(child.0.stderr.take().unwrap());
        let mut log = String::new();
        for line in stderr.lines().map_while(Result::ok) {
            log.push_str(&line);
            log.push('\n');
            if line.contains("hush is serving") || log.len() > 100_000 {
                break;
            }
        }
        assert!(log.contains("hush is serving"), "a replica did not start:\n{log}");
    }
    drop(children);
    let stdouts: Vec<String> = stdouts
        .into_iter()
        .map(|mut out| {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut out, &mut text);
            text
        })
        .collect();
    let initialised = stdouts.iter().filter(|s| s.contains("admin token")).count();
    assert_eq!(initialised, 1, "exactly one replica initialised the installation: {stdouts:?}");
}
