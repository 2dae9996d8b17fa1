//! The runner with an in-memory secret source: data flow, transforms,
//! retries, failures and their scrubbing, and what functions receive.
#![allow(missing_debug_implementations)]

mod control_flow;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hush_core::SecretBytes;
use hush_workflow::log::SharedBuffer;
use hush_workflow::secrets::{FetchedSecret, RegistryLogin, SourceError};
use hush_workflow::{Failure, Level, Log, LogFormat, Runner, SecretSet, SecretSource};
use serde_json::{Value, json};

#[derive(Debug, Default)]
struct Memory {
    secrets: HashMap<String, String>,
    contexts: Mutex<Vec<String>>,
}

#[async_trait]
impl SecretSource for Memory {
    async fn secret(&self, name: &str, context: &str) -> Result<FetchedSecret, SourceError> {
        self.contexts.lock().unwrap().push(context.to_owned());
        match self.secrets.get(name) {
            Some(v) => Ok(FetchedSecret {
                secret_type: "generic".into(),
                fields: vec![("value".into(), SecretBytes::copy_from(v.as_bytes()))],
            }),
            None => Err(SourceError::NotFound(format!("secret {name:?} does not exist"))),
        }
    }
    async fn exists(&self, name: &str) -> Result<bool, SourceError> {
        Ok(self.secrets.contains_key(name))
    }
    async fn registry_login(&self, _: &str, _: &str) -> Result<Option<RegistryLogin>, SourceError> {
        Ok(None)
    }
}

struct Run {
    result: Result<Value, Failure>,
    log: String,
    contexts: Vec<String>,
}

async fn run_in(dir: &Path, yaml: &str, input: Value, secrets: &[(&str, &str)], strict: bool) -> Run {
    let file = dir.join("wf.yaml");
    std::fs::write(&file, yaml).unwrap();
    let workflow = hush_workflow::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let source = Arc::new(Memory {
        secrets: secrets.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Memory::default()
    });
    let captured = SharedBuffer::default();
    let log = Log::new(Box::new(captured.clone()), LogFormat::Text, Level::Info, SecretSet::default());
    let runner = Runner::new(source.clone(), log.clone(), None).unwrap();
    let result = runner.run(&workflow, input, strict).await.map(|o| o.output);
    if let Err(f) = &result {
        log.failure(f);
    }
    let log = captured.contents();
    let contexts = source.contexts.lock().unwrap().clone();
    Run { result, log, contexts }
}

async fn run(yaml: &str, input: Value, secrets: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    run_in(dir.path(), yaml, input, secrets, false).await
}

#[tokio::test]
async fn data_flows_through_states_as_in_direktiv() {
    let yaml = r#"
id: flow
start: {type: default, state: first}
functions:
- {id: echo, type: process, cmd: [cat]}
states:
- id: unused
  type: noop
  transform: {never: true}
- id: first
  type: noop
  transform: 'jq({n: (.n + 1), kept: .kept})'
  transition: second
- id: second
  type: action
  action: {function: echo, input: {doubled: 'jq(.n * 2)', label: 'n is jq(.n)'}}
  transition: third
- id: third
  type: noop
  log: 'third sees jq(.return.label)'
"#;
    let r = run(yaml, json!({"n": 1, "kept": [1], "dropped": true}), &[]).await;
    assert_eq!(r.result.unwrap(), json!({"n": 2, "kept": [1], "return": {"doubled": 4, "label": "n is 2"}}));
    assert!(r.log.contains("flow[third] third sees n is 2"), "{}", r.log);
}

#[tokio::test]
async fn secrets_reach_only_the_input_and_every_read_says_which_run() {
    let yaml = r#"
id: sec
functions:
- {id: echo, type: process, cmd: [cat]}
states:
- id: use
  type: action
  action: {function: echo, secrets: [a, b], input: {both: 'jq(.secrets.a)-jq(.secrets.b)', all: 'jq(.secrets | keys)'}}
  transform: 'jq({ret: .return, has_secrets: has("secrets")})'
"#;
    let r = run(yaml, json!({}), &[("a", "alpha-1"), ("b", "beta-22")]).await;
    assert_eq!(r.result.unwrap(), json!({"ret": {"both": "alpha-1-beta-22", "all": ["a", "b"]}, "has_secrets": false}));
    assert!(r.log.contains("the output holds resolved secret values at .ret.both"), "{}", r.log);
    assert!(!r.log.contains("alpha-1") && !r.log.contains("beta-22"), "{}", r.log);
    assert_eq!(r.contexts.len(), 2);
    for c in &r.contexts {
        assert!(c.starts_with("workflow=sec instance=") && c.ends_with(" state=use"), "{c}");
    }
}

#[tokio::test]
async fn strict_output_masks_values() {
    let yaml = "functions: [{id: echo, type: process, cmd: [cat]}]\nstates:\n- {id: s, type: action, action: {function: echo, secrets: [k], input: {v: 'x jq(.secrets.k) y'}}}\n";
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(dir.path(), yaml, json!({}), &[("k", "kval-123")], true).await;
    assert_eq!(r.result.unwrap(), json!({"return": {"v": "x *** y"}}));
}

#[tokio::test]
async fn failures_name_the_state_code_and_expression_and_are_scrubbed() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "functions: [{id: echo, type: process, cmd: [cat]}]\nstates:\n- {id: s, type: action, action: {function: echo, secrets: [k], input: {v: 'jq(error(.secrets.k))'}}}\n",
            "direktiv.jq.badCommand",
            "wf[s]: direktiv.jq.badCommand: jq(error(.secrets.k)): \"***\"",
        ),
        (
            "states: [{id: t, type: noop, transform: 'jq([1])'}]\n",
            "direktiv.jq.notObject",
            "wf[t]: direktiv.jq.notObject: the transform produced a list",
        ),
        (
            "functions: [{id: f, type: process, cmd: [sh, -c, 'echo secret kval-123 >&2; exit 3']}]\nstates:\n- {id: p, type: action, action: {function: f, secrets: [k]}}\n",
            "function.failed",
            "wf[p]: function.failed: function \"f\" exited with status 3",
        ),
        (
            "functions: [{id: f, type: process, cmd: [sh, -c, 'echo not json']}]\nstates: [{id: p, type: action, action: {function: f}}]\n",
            "function.badOutput",
            "are not JSON",
        ),
        (
            "functions: [{id: f, type: process, cmd: [/nonexistent/prog]}]\nstates: [{id: p, type: action, action: {function: f}}]\n",
            "function.failed",
            "cannot start /nonexistent/prog",
        ),
        (
            "functions: [{id: c, type: reusable, image: 'example.com/fn:v1'}]\nstates: [{id: p, type: action, action: {function: c}}]\n",
            "function.unavailable",
            "needs podman",
        ),
    ];
    for (yaml, code, message) in cases {
        let r = run(yaml, json!({}), &[("k", "kval-123")]).await;
        let failure = r.result.unwrap_err();
        assert_eq!(failure.code, *code, "{yaml}");
        assert!(r.log.contains(message), "{yaml}: expected {message:?} in\n{}", r.log);
        assert!(!r.log.contains("kval-123"), "{}", r.log);
    }
}

#[tokio::test]
async fn retries_follow_codes_and_give_up_after_max_attempts() {
    let dir = tempfile::tempdir().unwrap();
    // Fails twice, then answers: a counter file in the workflow's directory.
    let flaky = "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ $n -ge 3 ] && echo '{\"attempt\": '$n'}' || exit 1";
    let yaml = format!(
        "functions: [{{id: f, type: process, cmd: [sh, -c, \"{}\"]}}]\nstates:\n- {{id: s, type: action, action: {{function: f, retries: {{max_attempts: 2, delay: PT0.01S, codes: ['function\\..*']}}}}}}\n",
        flaky.replace('"', "\\\"")
    );
    let r = run_in(dir.path(), &yaml, json!({}), &[], false).await;
    assert_eq!(r.result.unwrap(), json!({"return": {"attempt": 3}}));
    assert_eq!(r.log.matches("retry ").count(), 2, "{}", r.log);

    std::fs::remove_file(dir.path().join("count")).unwrap();
    let fewer = yaml.replace("max_attempts: 2", "max_attempts: 1");
    let r = run_in(dir.path(), &fewer, json!({}), &[], false).await;
    let exhausted = r.result.unwrap_err();
    assert_eq!(exhausted.code, "direktiv.retries.exceeded");
    assert!(exhausted.message.contains("the last attempt failed with function.failed"), "{exhausted}");

    std::fs::remove_file(dir.path().join("count")).unwrap();
    let other_codes = yaml.replace("'function\\..*'", "request.status");
    let r = run_in(dir.path(), &other_codes, json!({}), &[], false).await;
    assert_eq!(r.result.unwrap_err().code, "function.failed");
    assert_eq!(std::fs::read_to_string(dir.path().join("count")).unwrap().trim(), "1", "not retried");
}

#[tokio::test]
async fn a_failing_subflow_reports_where_in_both_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("child.yaml"), "id: kid\nstates: [{id: inner, type: noop, transform: 'jq(1)'}]\n")
        .unwrap();
    let yaml = "id: parent\nfunctions: [{id: c, type: subflow, workflow: child.yaml}]\nstates: [{id: outer, type: action, action: {function: c}}]\n";
    let r = run_in(dir.path(), yaml, json!({}), &[], false).await;
    let failure = r.result.unwrap_err();
    assert_eq!(failure.trace, vec!["kid[inner]", "parent[outer]"]);
    assert!(
        r.log.contains(
            "kid[inner]: direktiv.jq.notObject: the transform produced a number, not an object (in parent[outer])"
        ),
        "{}",
        r.log
    );
}

#[tokio::test]
async fn a_call_that_takes_too_long_is_stopped() {
    let yaml = "functions: [{id: f, type: process, cmd: [sleep, '30']}]\nstates: [{id: s, type: action, action: {function: f, timeout: PT0.2S}}]\n";
    let started = std::time::Instant::now();
    let r = run(yaml, json!({}), &[]).await;
    assert_eq!(r.result.unwrap_err().code, "direktiv.cancels.timeout.soft");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "the sleeping function was not stopped");
}

/// A one-route HTTP server: answers every request with `answer(path)` and
/// records the requests' header blocks.
fn http_server(answer: fn(&str, u16) -> String) -> (u16, Arc<Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            record.lock().unwrap().push(head);
            let _ = std::io::Write::write_all(&mut stream, answer(&path, port).as_bytes());
        }
    });
    (port, seen)
}

#[tokio::test]
async fn redirects_are_followed_only_within_the_origin() {
    let (other, other_seen) =
        http_server(|_, _| "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into());
    static OTHER: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    OTHER.set(other).unwrap();
    let (port, seen) = http_server(|path, port| match path {
        "/here" => format!(
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{port}/final\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ),
        "/away" => format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:{}/steal\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            OTHER.get().unwrap()
        ),
        _ => "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 4\r\nconnection: close\r\n\r\ndone".into(),
    });
    let yaml = |path: &str| {
        format!(
            "functions: [{{id: r, type: reusable, image: direktiv/request}}]\nstates:\n- {{id: s, type: action, action: {{function: r, secrets: [k], input: {{url: 'http://127.0.0.1:{port}{path}', headers: {{X-Api-Key: 'jq(.secrets.k)'}}}}}}}}\n"
        )
    };
    let r = run(&yaml("/here"), json!({}), &[("k", "key-value-9")]).await;
    let out = r.result.unwrap();
    assert_eq!((out["return"]["status"].clone(), out["return"]["body"].clone()), (json!(200), json!("done")));
    assert_eq!(seen.lock().unwrap().len(), 2, "the same-origin redirect was followed");

    let r = run(&yaml("/away"), json!({}), &[("k", "key-value-9")]).await;
    let out = r.result.unwrap();
    assert_eq!(out["return"]["status"], 307, "a redirect to another origin is the answer");
    assert!(other_seen.lock().unwrap().is_empty(), "the secret header went to another host");
}
