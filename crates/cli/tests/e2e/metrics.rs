//! Prometheus metrics, scraped by a real Prometheus (Debian's `prometheus`)
//! started on loopback: the request counters rise by exactly the requests
//! made, the histograms have samples, `/metrics` on the main port needs a
//! token with `metrics:read`, and no label holds a name a client chose.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::components::{free_port, require};
use crate::harness::Hush;

/// The secret route's GET counter, as Prometheus selects it for `job`.
fn reads_selector(job: &str) -> String {
    format!(
        "hush_http_requests_total{{job=\"{job}\",surface=\"rest\",route=\"/v1/namespaces/{{ns}}/secrets/{{*name}}\",method=\"GET\",status=\"2xx\"}}"
    )
}

/// One instant query: the value of the first series, if any.
async fn query(http: &reqwest::Client, prometheus: &str, promql: &str) -> Option<f64> {
    let url = reqwest::Url::parse_with_params(&format!("{prometheus}/api/v1/query"), [("query", promql)]).ok()?;
    let resp = http.get(url).send().await.ok()?;
    let body: Value = resp.json().await.ok()?;
    body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Waits until `promql` has a value for which `done` holds; returns it.
async fn until(http: &reqwest::Client, prometheus: &str, promql: &str, done: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = query(http, prometheus, promql).await.filter(|v| done(*v)) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{promql}: no such value in 60 s (last {:?})",
            query(http, prometheus, promql).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_request_counters_and_histograms() {
    if !require("prometheus_scrapes_request_counters_and_histograms", &["prometheus", "promtool"]) {
        return;
    }
    let metrics_port = free_port();
    let mut h = tokio::task::block_in_place(Hush::init);
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    tokio::task::block_in_place(|| h.start(&[], &["--metrics-listen", &metrics_addr]));
    let http = h.http();
    let secret = "metrics-watched-secret";
    let url = h.url(&format!("/v1/namespaces/default/secrets/{secret}"));
    let put = http.put(&url).bearer_auth(&h.token).json(&serde_json::json!({ "value": "v" })).send().await.unwrap();
    assert!(put.status().is_success());

    // /metrics on the main port: a token, with metrics:read (admin implies it).
    let scraper = tokio::task::block_in_place(|| h.token(&[], &["metrics:read"]));
    let reader = tokio::task::block_in_place(|| h.token(&[], &["secrets:read"]));
    let main_metrics = h.url("/metrics");
    assert_eq!(http.get(&main_metrics).send().await.unwrap().status(), 401);
    assert_eq!(http.get(&main_metrics).bearer_auth(&reader).send().await.unwrap().status(), 403);
    let text = http.get(&main_metrics).bearer_auth(&scraper).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("hush_build_info{version="), "{text}");
    assert!(!text.contains(secret), "no label holds a secret's name:\n{text}");
    // The exposition passes Prometheus's own linter.
    let dir = tempfile::tempdir().unwrap();
    let exposition = dir.path().join("metrics.txt");
    std::fs::write(&exposition, &text).unwrap();
    let lint = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&exposition).unwrap())
        .output()
        .unwrap();
    // promtool prints naming advice for counters and histograms (no
    // failure); a parse error makes it exit non-zero.
    assert!(lint.status.success(), "promtool: {}", String::from_utf8_lossy(&lint.stderr));

    // Prometheus scrapes both: the metrics port without a token, the main
    // port with the scraper's token.
    let prometheus_port = free_port();
    let config = dir.path().join("prometheus.yml");
    let main_target = h.url("").trim_start_matches("http://").to_owned();
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n\
             - job_name: hush\n  static_configs:\n  - targets: ['{metrics_addr}']\n\
             - job_name: hush-main\n  authorization:\n    type: Bearer\n    credentials: '{scraper}'\n  static_configs:\n  - targets: ['{main_target}']\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _prometheus = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts"),
    );
    let prom = format!("http://127.0.0.1:{prometheus_port}");
    {
        for job in ["hush", "hush-main"] {
            until(&http, &prom, &format!("up{{job=\"{job}\"}}"), |v| v == 1.0).await;
        }
        // The reads so far (none: only a PUT), as Prometheus has them.
        let before = until(&http, &prom, &format!("{} or vector(0)", reads_selector("hush")), |_| true).await;
        let reads = 7;
        for _ in 0..reads {
            let resp = http.get(&url).bearer_auth(&h.token).send().await.unwrap();
            assert_eq!(resp.status(), 200);
        }
        let after = until(&http, &prom, &reads_selector("hush"), |v| v >= before + f64::from(reads)).await;
        assert_eq!(after, before + f64::from(reads), "the counter rose by exactly the reads made");
        // The main port's scrape sees the same counter.
        until(&http, &prom, &reads_selector("hush-main"), |v| v >= before + f64::from(reads)).await;
        // Histograms have samples: request latency, and the audit journal's syncs.
        let latency = "hush_http_request_duration_seconds_count{job=\"hush\",route=\"/v1/namespaces/{ns}/secrets/{*name}\",method=\"GET\"}";
        assert!(until(&http, &prom, latency, |v| v >= f64::from(reads)).await >= f64::from(reads));
        let le = "hush_http_request_duration_seconds_bucket{job=\"hush\",method=\"GET\",le=\"+Inf\",route=\"/v1/namespaces/{ns}/secrets/{*name}\"}";
        until(&http, &prom, le, |v| v >= f64::from(reads)).await;
        until(&http, &prom, "hush_audit_sync_seconds_count{job=\"hush\",via=\"journal\"}", |v| v >= 1.0).await;
        until(&http, &prom, "hush_audit_events_total{job=\"hush\",via=\"journal\"}", |v| v >= f64::from(reads)).await;
        until(&http, &prom, "hush_open_connections{job=\"hush\"}", |v| v >= 1.0).await;
        // The caches count from the first request (their counters exist before the stores open).
        let token_hits = "hush_cache_lookups_total{job=\"hush\",cache=\"tokens\",result=\"hit\"}";
        until(&http, &prom, token_hits, |v| v >= f64::from(reads)).await;
        let key_hits = "hush_cache_lookups_total{job=\"hush\",cache=\"namespace_keys\",result=\"hit\"}";
        until(&http, &prom, key_hits, |v| v >= f64::from(reads)).await;
        // No series anywhere names the secret.
        let series_url =
            reqwest::Url::parse_with_params(&format!("{prom}/api/v1/series"), [("match[]", "{job=\"hush\"}")]).unwrap();
        let series: Value = http.get(series_url).send().await.unwrap().json().await.unwrap();
        let all = series.to_string();
        assert!(all.contains("hush_http_requests_total") && !all.contains(secret), "{all}");
    }
}

/// A child process stopped when the test ends, whether it passed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
