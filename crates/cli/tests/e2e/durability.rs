//! Every acknowledged write survives `kill -9`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::harness::Hush;

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_kill_9() {
    let mut h = Hush::init();
    tokio::task::block_in_place(|| h.start(&[], &["--keep-versions", "1000"]));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..8 {
        let http = h.http();
        let url = h.url(&format!("/v1/namespaces/default/secrets/durable-{w}"));
        let token = h.token.clone();
        let stop = Arc::clone(&stop);
        writers.push(tokio::spawn(async move {
            let mut acked: Vec<(u64, String)> = Vec::new();
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let value = format!("writer {w} write {i}");
                let sent = http.put(&url).bearer_auth(&token).json(&serde_json::json!({ "value": value })).send().await;
                let Ok(resp) = sent else { break };
                if !resp.status().is_success() {
                    break;
                }
                let Ok(meta) = resp.json::<serde_json::Value>().await else { break };
                acked.push((meta["version"].as_u64().unwrap(), value));
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tokio::task::block_in_place(|| h.kill9());
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for (w, task) in writers.into_iter().enumerate() {
        all.push((w, task.await.unwrap()));
    }
    let total: usize = all.iter().map(|(_, a)| a.len()).sum();
    assert!(total > 50, "only {total} writes were acknowledged before the kill");

    tokio::task::block_in_place(|| h.start(&[], &["--keep-versions", "1000"]));
    let http = h.http();
    for (w, acked) in &all {
        for (version, value) in acked {
            let url = h.url(&format!("/v1/namespaces/default/secrets/durable-{w}?version={version}"));
            let resp = http.get(url).bearer_auth(&h.token).send().await.unwrap();
            assert_eq!(resp.status(), 200, "writer {w} version {version} was acknowledged but is gone");
            let v: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(v["value"].as_str(), Some(value.as_str()));
        }
    }
    // And the store is consistent: the audit chain verifies.
    let out = tokio::task::block_in_place(|| h.cli(&["audit", "verify"]));
    assert_eq!(out.status.code(), Some(0), "{}", crate::harness::show(&out));
    eprintln!("{total} acknowledged writes survived kill -9");
}

/// Every read that returned a value has its audit event after `kill -9`:
/// the events of reads go to the audit journal, and the restarted server
/// moves what it holds into the audit log with the chain intact.
#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_reads_are_audited_after_kill_9() {
    let mut h = Hush::init();
    tokio::task::block_in_place(|| h.start(&[], &[]));
    let http = h.http();
    let resp = http
        .put(h.url("/v1/namespaces/default/secrets/watched"))
        .bearer_auth(&h.token)
        .json(&serde_json::json!({ "value": "read-me" }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for r in 0..8 {
        let http = h.http();
        let url = h.url("/v1/namespaces/default/secrets/watched");
        let token = h.token.clone();
        let stop = Arc::clone(&stop);
        readers.push(tokio::spawn(async move {
            let mut acked: Vec<String> = Vec::new();
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                // Each read names itself in the context the audit records.
                let context = format!("reader-{r}-{i}");
                let sent = http.get(&url).bearer_auth(&token).header("X-Hush-Context", &context).send().await;
                let Ok(resp) = sent else { break };
                if !resp.status().is_success() {
                    break;
                }
                let Ok(body) = resp.json::<serde_json::Value>().await else { break };
                assert_eq!(body["value"], "read-me");
                acked.push(context);
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tokio::task::block_in_place(|| h.kill9());
    stop.store(true, Ordering::Relaxed);
    let mut acked = std::collections::HashSet::new();
    for task in readers {
        acked.extend(task.await.unwrap());
    }
    assert!(acked.len() > 50, "only {} reads were acknowledged before the kill", acked.len());

    tokio::task::block_in_place(|| h.start(&[], &[]));
    let mut audited = std::collections::HashSet::new();
    let mut before: Option<u64> = None;
    loop {
        let mut url = "/v1/audit?action=secret.read&limit=1000".to_owned();
        if let Some(b) = before {
            url.push_str(&format!("&before={b}"));
        }
        let page: serde_json::Value =
            http.get(h.url(&url)).bearer_auth(&h.token).send().await.unwrap().json().await.unwrap();
        for e in page["events"].as_array().unwrap() {
            if let Some(c) = e["context"].as_str() {
                audited.insert(c.to_owned());
            }
        }
        match page["next"].as_u64() {
            Some(n) => before = Some(n),
            None => break,
        }
    }
    let missing: Vec<&String> = acked.difference(&audited).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged reads have no audit event, e.g. {:?}",
        missing.len(),
        &missing[..3.min(missing.len())]
    );
    let out = tokio::task::block_in_place(|| h.cli(&["audit", "verify"]));
    assert_eq!(out.status.code(), Some(0), "{}", crate::harness::show(&out));
    eprintln!("{} acknowledged reads were all audited after kill -9", acked.len());
}
