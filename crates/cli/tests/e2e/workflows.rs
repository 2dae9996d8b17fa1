//! `hush workflow run|check` against a real server: Direktiv's documented
//! request demo against a local HTTP server that checks the header, a
//! parent and child subflow pair, an action without input, a missing
//! secret, validation, and a container function pulled by podman from a
//! private registry with the namespace's registry credentials.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::components::{registry, require, run_ok, which};
use crate::harness::{HUSH, Hush, contains, show};

const TOKEN: &str = "WF-bearer-token-5d1e0c";

/// An HTTP server answering 200 with a JSON body only to
/// `Authorization: bearer TOKEN`, 401 otherwise; it records every
/// Authorization header it saw.
struct BearerServer {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

fn bearer_server(token: &'static str) -> BearerServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/todos/1", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut auth = String::new();
            let mut content_type = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if lower.starts_with("authorization:") {
                    auth = line["authorization:".len()..].trim().to_owned();
                }
                if lower.starts_with("content-type:") {
                    content_type = line["content-type:".len()..].trim().to_owned();
                }
            }
            record.lock().unwrap().push(auth.clone());
            let (status, body) = if auth == format!("bearer {token}") {
                ("200 OK", json!({"userId": 1, "id": 1, "title": "delectus aut autem", "contentType": content_type}))
            } else {
                ("401 Unauthorized", json!({"error": "no or wrong token"}))
            };
            let body = body.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    BearerServer { url, seen }
}

fn workflow(h: &Hush, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(HUSH);
    cmd.arg("workflow")
        .args(args)
        .env("HUSH_ADDR", &h.addr)
        .env("HUSH_TOKEN", &h.token)
        .env("HUSH_LOG", "trace")
        .env_remove("HUSH_NAMESPACE")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn secret(h: &Hush, ns: &str, name: &str, value: &str) {
    let out = h.cli_stdin(&["secret", "create", name, "-n", ns, "--value-stdin"], value.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

fn output_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", show(out)))
}

const DEMO: &str = r#"id: httpget
functions:
- id: httprequest
  image: direktiv/request:v1
  type: reusable
states:
- id: getter
  type: action
  action:
    secrets: ["secretToken"]
    function: httprequest
    input:
      method: "GET"
      url: "URL"
      headers:
        "Content-type": "application/json; charset=UTF-8"
        "Authorization": "bearer jq(.secrets.secretToken)"
"#;

#[test]
fn the_direktiv_request_demo_sends_the_secret_only_in_the_header() {
    let mut h = Hush::init();
    h.start(&[("HUSH_LOG", "trace")], &[]);
    secret(&h, "default", "secretToken", TOKEN);
    let server = bearer_server(TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("httpget.yaml");
    std::fs::write(&file, DEMO.replace("URL", &server.url)).unwrap();

    let out = workflow(&h, &["run", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let output = output_json(&out);
    assert_eq!(output["return"]["status"], 200, "{output}");
    assert_eq!(output["return"]["body"]["title"], "delectus aut autem");
    assert_eq!(output["return"]["body"]["contentType"], "application/json; charset=UTF-8");
    assert_eq!(output["return"]["headers"]["content-type"], "application/json; charset=utf-8");
    assert!(output.get("secrets").is_none(), "{output}");
    assert_eq!(*server.seen.lock().unwrap(), vec![format!("bearer {TOKEN}")]);

    // The token is in no log: not the instance log, not the CLI's trace log, not the server's.
    assert!(!contains(&out.stdout, TOKEN.as_bytes()) && !contains(&out.stderr, TOKEN.as_bytes()), "{}", show(&out));
    assert!(!h.log.lock().unwrap().contains(TOKEN), "the server logged the token");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("httpget[getter] read secrets secretToken"), "{stderr}");

    // The audit log says which run read the secret.
    let audit = h.cli(&["audit", "list", "--json", "--limit", "100"]);
    let events: Value = serde_json::from_slice(&audit.stdout).unwrap();
    let read = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "secret.read" && e["name"] == "secretToken")
        .unwrap_or_else(|| panic!("no read event: {events}"))
        .clone();
    let context = read["context"].as_str().unwrap_or_default();
    assert!(context.starts_with("workflow=httpget instance=") && context.ends_with(" state=getter"), "{read}");

    // JSON log lines carry the same, scrubbed; a wrong token fails the state with request.status.
    secret(&h, "default", "secretToken", "not-the-token-0000");
    let out = workflow(&h, &["run", file.to_str().unwrap(), "--log-format", "json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(out.stdout.is_empty(), "{}", show(&out));
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stderr).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let failure = lines.iter().find(|l| l["level"] == "error").unwrap_or_else(|| panic!("{}", show(&out)));
    assert_eq!(failure["code"], "request.status", "{failure}");
    assert!(failure["msg"].as_str().unwrap().contains("401"), "{failure}");
    assert!(!contains(&out.stderr, b"not-the-token-0000"), "{}", show(&out));
}

#[test]
fn a_subflow_gets_exactly_its_evaluated_input() {
    let h = Hush::running();
    secret(&h, "default", "key1", "value1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("parent.yaml"),
        r#"
functions:
- id: child
  type: subflow
  workflow: sub/child.yaml
states:
- id: call
  type: action
  action:
    function: child
    secrets: [key1]
    input:
      secret: 'jq(.secrets.key1)'
  transform:
    result: 'jq(.return.secret)'
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sub/child.yaml"),
        r#"
id: child
states:
- id: echo
  type: noop
  log: 'child input: jq(.)'
"#,
    )
    .unwrap();
    let parent = dir.path().join("parent.yaml");
    let out = workflow(&h, &["run", parent.to_str().unwrap(), "--input", r#"{"unrelated": 1}"#], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(output_json(&out), json!({"result": "value1"}));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The child saw only {secret}: not the parent's data, and its log line is scrubbed.
    assert!(stderr.contains(r#"child[echo] child input: {"secret":"***"}"#), "{stderr}");
    assert!(stderr.contains("the output holds resolved secret values at .result"), "{stderr}");
    assert!(!stderr.contains("value1"), "{stderr}");

    let out = workflow(&h, &["run", parent.to_str().unwrap(), "--strict"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(output_json(&out), json!({"result": "***"}));
}

#[test]
fn an_action_without_input_does_not_see_secrets_or_the_token() {
    let h = Hush::running();
    secret(&h, "default", "apikey", "WF-apikey-value-77");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wf.yaml"),
        r#"
functions:
- id: spy
  type: process
  cmd: ["sh", "-c", "cat > seen.json; env > env.txt; echo 'spy says WF-apikey-value-77' >&2; echo '{\"done\": true}'"]
states:
- id: first
  type: action
  action:
    function: spy
    secrets: [apikey]
  transition: second
- id: second
  type: noop
  transform: 'jq({done: .return.done, keys: (. | keys)})'
"#,
    )
    .unwrap();
    let file = dir.path().join("wf.yaml");
    let out = workflow(&h, &["run", file.to_str().unwrap(), "--input", r#"{"x": "y"}"#], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(output_json(&out), json!({"done": true, "keys": ["return", "x"]}));
    let seen: Value = serde_json::from_slice(&std::fs::read(dir.path().join("seen.json")).unwrap()).unwrap();
    assert_eq!(seen, json!({"x": "y"}), "the function got the state data, without .secrets");
    let env = std::fs::read_to_string(dir.path().join("env.txt")).unwrap();
    assert!(!env.contains("HUSH_TOKEN") && !env.contains(&h.token), "a function got the runner's token");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("spy: spy says ***"), "function stderr is logged, scrubbed: {stderr}");
    assert!(!stderr.contains("WF-apikey-value-77"), "{stderr}");
}

#[test]
fn a_missing_secret_fails_the_state_before_the_function_runs() {
    let h = Hush::running();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wf.yaml"),
        r#"
functions:
- id: touch
  type: process
  cmd: ["sh", "-c", "touch ran; echo null"]
states:
- id: use
  type: action
  action:
    function: touch
    secrets: [does-not-exist]
    input: {k: 'jq(.secrets."does-not-exist")'}
"#,
    )
    .unwrap();
    let file = dir.path().join("wf.yaml");
    let out = workflow(&h, &["run", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            r#"wf[use]: direktiv.secrets.notFound: secret "does-not-exist" does not exist in namespace "default""#
        ),
        "{stderr}"
    );
    assert!(!dir.path().join("ran").exists(), "the function ran");
}

#[test]
fn check_lists_secrets_of_every_file_and_fails_on_missing_ones() {
    let h = Hush::running();
    secret(&h, "default", "present", "p-value");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        r#"
functions:
- {id: sub, type: subflow, workflow: b.yaml}
- {id: req, type: reusable, image: direktiv/request}
states:
- {id: s1, type: action, action: {function: req, secrets: [zeta, present], input: {url: 'jq(.secrets.zeta)'}}, transition: s2}
- {id: s2, type: action, action: {function: sub, secrets: [alpha]}}
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        "id: child\nfunctions: [{id: req, type: reusable, image: direktiv/request}]\nstates:\n- {id: c, type: action, action: {function: req, secrets: [mid]}}\n",
    )
    .unwrap();
    let a = dir.path().join("a.yaml");
    let out = workflow(&h, &["check", a.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("present, zeta (missing)"), "{stdout}");
    assert!(stdout.contains("mid (missing)"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(r#"3 secrets are missing in namespace "default": alpha, mid, zeta"#), "{stderr}");

    let out = workflow(&h, &["check", a.to_str().unwrap(), "--json"], &[]);
    let v = output_json(&out);
    assert_eq!(v["missing"], json!(["alpha", "mid", "zeta"]));
    assert_eq!(v["files"][0]["secrets"], json!(["alpha", "present", "zeta"]));
    assert_eq!(v["files"][1]["workflow"], "child");

    for name in ["alpha", "mid", "zeta"] {
        secret(&h, "default", name, "v");
    }
    let out = workflow(&h, &["check", a.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn invalid_workflows_are_refused_naming_the_state_and_field() {
    let h = Hush::running();
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str])] = &[
        (
            "functions: [{id: f, type: reusable, image: direktiv/request}]\nstates:\n- {id: s, type: action, action: {function: f, input: {a: 'jq(.x |)'}}}\n",
            &[r#"state "s" field "action.input": jq(.x |): expected"#],
        ),
        ("states:\n- {id: s, type: teleport}\n", &[r#"state "s" field "type": unknown state type "teleport""#]),
        (
            "states:\n- {id: s, type: consumeEvent}\n",
            &[r#"state "s" field "type": consumeEvent states are not supported: events need Direktiv's event bus"#],
        ),
        ("states:\n- {id: s, type: getter}\n", &[r#"state "s" field "type": getter states are not supported"#]),
        ("states:\n- {id: s, type: switch}\n", &[r#"state "s" field "conditions": a switch state needs"#]),
        (
            "states:\n- {id: s, type: switch, conditions: [{condition: 'jq(true)', transition: nowhere}]}\n",
            &[r#"state "s" field "conditions[0].transition": no state has the id "nowhere""#],
        ),
        ("states:\n- {id: s, type: foreach, array: [1]}\n", &[r#"state "s" field "array": expected jq(…)"#]),
        ("states:\n- {id: s, type: parallel, actions: [], mode: xor}\n", &[r#"state "s" field "mode""#, "actions"]),
        ("states:\n- {id: s, type: delay, duration: soon}\n", &[r#"state "s" field "duration""#]),
        ("states:\n- {id: s, type: error, error: 'has space'}\n", &[r#"state "s" field "error""#]),
        (
            "states:\n- {id: s, type: validate, schema: {type: 12}}\n",
            &[r#"state "s" field "schema": not a valid JSON Schema"#],
        ),
        (
            "states:\n- {id: s, type: noop, catch: [{transition: s}]}\n",
            &[r#"state "s" field "catch[0]": every catch needs `error`"#],
        ),
        ("states:\n- {id: s, type: noop, timeout: forever}\n", &[r#"state "s" field "timeout""#]),
        ("states:\n- {id: s, type: noop, colour: red}\n", &[r#"state "s": unknown field "colour""#]),
        (
            "states:\n- {id: s, type: action, action: {function: nope}}\n",
            &[r#"state "s" field "action.function": no function has the id "nope""#],
        ),
        (
            "states:\n- {id: s, type: noop, transition: t}\n",
            &[r#"state "s" field "transition": no state has the id "t""#],
        ),
        (
            "states:\n- {id: a, type: noop, transition: b}\n- {id: b, type: noop, transition: a}\n",
            &["come back to this state"],
        ),
        ("functions: [{id: f, type: lambda}]\nstates: [{id: s, type: noop}]\n", &[r#"function "f" field "type""#]),
        (
            "functions: [{id: f, type: subflow, workflow: gone.yaml}]\nstates: [{id: s, type: noop}]\n",
            &["gone.yaml", "cannot read"],
        ),
        (
            "states: [{id: s, type: noop, transform: 'jq(.a'}]\n",
            &[r#"state "s" field "transform""#, "no closing parenthesis"],
        ),
        ("states: []\n", &["at least one state"]),
        ("just text\n", &["a workflow is a mapping"]),
        ("states: [{id: s, type: noop}\n", &["not valid YAML"]),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.yaml"));
        std::fs::write(&file, text).unwrap();
        for command in ["run", "check"] {
            let out = workflow(&h, &[command, file.to_str().unwrap()], &[]);
            assert_eq!(out.status.code(), Some(2), "{text}\n{}", show(&out));
            let stderr = String::from_utf8_lossy(&out.stderr);
            for e in *expected {
                assert!(stderr.contains(e), "{text}: expected {e:?} in\n{stderr}");
            }
        }
    }
    // A self-calling subflow is refused, as is input that is not JSON.
    let file = dir.path().join("loop.yaml");
    std::fs::write(&file, "functions: [{id: me, type: subflow, workflow: loop.yaml}]\nstates: [{id: s, type: noop}]\n")
        .unwrap();
    let out = workflow(&h, &["run", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in a loop"), "{}", show(&out));
    let ok = dir.path().join("ok.yaml");
    std::fs::write(&ok, "states: [{id: s, type: noop}]\n").unwrap();
    let out = workflow(&h, &["run", ok.to_str().unwrap(), "--input", "{nope"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not JSON"), "{}", show(&out));
    let out = workflow(&h, &["run", ok.to_str().unwrap(), "--input", "[1]"], &[]);
    assert_eq!(output_json(&out), json!({"input": [1]}), "{}", show(&out));
}

const REGISTRY_USER: &str = "fnpuller";
const REGISTRY_PASSWORD: &str = "WF-registry-pw-0b9a";

/// An OCI layout holding `fn:v1`: static busybox, answering `{"got": INPUT}`.
fn function_image(dir: &Path) -> std::path::PathBuf {
    let layout = dir.join("fn-layout");
    run_ok(Command::new("umoci").args(["init", "--layout"]).arg(&layout));
    let image = format!("{}:v1", layout.display());
    run_ok(Command::new("umoci").args(["new", "--image", &image]));
    let busybox = which("busybox").unwrap();
    run_ok(Command::new("umoci").args(["insert", "--rootless", "--image", &image]).arg(busybox).arg("/bin/busybox"));
    let mut config = Command::new("umoci");
    config.args(["config", "--image", &image]);
    for part in ["/bin/busybox", "sh", "-c", r#"read x; echo "pulled function says hi" >&2; echo "{\"got\": $x}""#] {
        config.args(["--config.entrypoint", part]);
    }
    run_ok(&mut config);
    layout
}

#[test]
fn a_container_function_is_pulled_with_the_namespaces_registry_credentials() {
    // busybox-static: the function image is one static busybox.
    let tools = ["podman", "runc", "umoci", "skopeo", "docker-registry", "htpasswd", "busybox"];
    if !require("a_container_function_is_pulled_with_the_namespaces_registry_credentials", &tools) {
        return;
    }
    let h = Hush::running();
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(&dir.path().join("registry"), &[(REGISTRY_USER, REGISTRY_PASSWORD)]);
    let layout = function_image(dir.path());
    let image = format!("{}/functions/echo:v1", reg.addr);
    run_ok(Command::new("skopeo").args([
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        "--dest-creds",
        &format!("{REGISTRY_USER}:{REGISTRY_PASSWORD}"),
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{image}"),
    ]));

    // podman as ../shared/COMPONENTS.md sets it up, with storage of its own
    // and the test registry allowed over plain HTTP.
    let conf = dir.path().join("containers.conf");
    std::fs::write(&conf, "[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = \"cgroupfs\"\n").unwrap();
    let registries = dir.path().join("registries.conf");
    std::fs::write(&registries, format!("[[registry]]\nlocation = \"{}\"\ninsecure = true\n", reg.addr)).unwrap();
    let storage = dir.path().join("storage");
    let podman_args =
        format!("--runtime runc --root {0}/root --runroot {0}/run --storage-driver vfs", storage.display());
    // No credentials but hush's: an empty auth file instead of the machine's.
    let no_auth = dir.path().join("no-auth.json");
    std::fs::write(&no_auth, "{}").unwrap();
    let env = [
        ("CONTAINERS_CONF", conf.to_str().unwrap()),
        ("CONTAINERS_REGISTRIES_CONF", registries.to_str().unwrap()),
        ("HUSH_PODMAN_ARGS", podman_args.as_str()),
        ("REGISTRY_AUTH_FILE", no_auth.to_str().unwrap()),
    ];
    let file = dir.path().join("container.yaml");
    std::fs::write(
        &file,
        format!(
            "id: boxed\nfunctions:\n- {{id: echo, type: knative-workflow, image: \"{image}\"}}\nstates:\n\
             - {{id: run, type: action, action: {{function: echo, input: {{hello: 'jq(.who)'}}}}}}\n"
        ),
    )
    .unwrap();

    // Without credentials the pull is refused by the registry.
    let out = workflow(&h, &["run", file.to_str().unwrap(), "--input", r#"{"who": "world"}"#], &env);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no registry credentials apply"), "{stderr}");
    assert!(stderr.contains("function.failed"), "{stderr}");

    let created = h.cli_stdin(
        &["registry", "create", &format!("http://{}", reg.addr), "--username", REGISTRY_USER, "--password-stdin"],
        REGISTRY_PASSWORD.as_bytes(),
    );
    assert_eq!(created.status.code(), Some(0), "{}", show(&created));
    let out = workflow(&h, &["run", file.to_str().unwrap(), "--input", r#"{"who": "world"}"#], &env);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(output_json(&out), json!({"who": "world", "return": {"got": {"hello": "world"}}}));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is pulled with the credentials of registry"), "{stderr}");
    assert!(stderr.contains("echo: pulled function says hi"), "{stderr}");
    assert!(!stderr.contains(REGISTRY_PASSWORD), "{stderr}");

    // A foreach whose action is the same container: three pulls-and-runs
    // with the namespace's credentials, the returns in element order.
    let each = dir.path().join("each.yaml");
    std::fs::write(
        &each,
        format!(
            "id: boxed-each\nfunctions:\n- {{id: echo, type: knative-workflow, image: \"{image}\"}}\nstates:\n\
             - {{id: run, type: foreach, array: 'jq(.items)', action: {{function: echo, input: {{n: 'jq(.value)'}}}}}}\n"
        ),
    )
    .unwrap();
    let out = workflow(&h, &["run", each.to_str().unwrap(), "--input", r#"{"items": [1, 2, 3]}"#], &env);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let returned = &output_json(&out)["return"];
    assert_eq!(returned, &json!([{"got": {"n": 1}}, {"got": {"n": 2}}, {"got": {"n": 3}}]), "{}", show(&out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(REGISTRY_PASSWORD), "{}", show(&out));

    // Another namespace has no entry of its own and global has none either.
    assert_eq!(h.cli(&["namespace", "create", "other"]).status.code(), Some(0));
    let mut rmi = Command::new("podman");
    rmi.args(podman_args.split_whitespace()).args(["rmi", "-f", &image]).env("CONTAINERS_CONF", &conf);
    run_ok(&mut rmi);
    let out = workflow(&h, &["run", file.to_str().unwrap(), "-n", "other"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no registry credentials apply"), "{}", show(&out));
}

/// A function that looks for HUSH_TOKEN in its parent's (the runner's)
/// starting environment, printing what it finds to stderr.
const ENVIRON_SPY: &str = r#"
functions:
- id: spy
  type: process
  cmd: ["sh", "-c", "tr '\\0' '\\n' < /proc/$PPID/environ 2>/dev/null | grep HUSH_TOKEN >&2; n=$(tr '\\0' '\\n' < /proc/$PPID/environ 2>/dev/null | grep -c HUSH_TOKEN); echo \"{\\\"seen\\\": $n}\""]
states:
- {id: look, type: action, action: {function: spy}}
"#;

#[test]
fn the_runners_token_is_masked_and_out_of_reach_of_its_functions() {
    let h = Hush::running();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spy.yaml");
    std::fs::write(&file, ENVIRON_SPY).unwrap();

    // As root a function can read the runner's environment: the token is masked in the log.
    let out = workflow(&h, &["run", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    if is_root() {
        assert_eq!(output_json(&out)["return"]["seen"], 1, "{}", show(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("spy: HUSH_TOKEN=***"), "{}", show(&out));
    }
    assert!(!contains(&out.stderr, h.token.as_bytes()) && !contains(&out.stdout, h.token.as_bytes()), "{}", show(&out));

    // As an ordinary user the runner is not dumpable: a function of the same
    // user cannot read its environment at all.
    if !is_root() || which("setpriv").is_none() {
        eprintln!(
            "\n!!!!!!!! same-user /proc check: SKIPPED, needs root and setpriv to switch to an ordinary user !!!!!!!!\n"
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "in CI this check must run");
        return;
    }
    let shared = tempfile::Builder::new().prefix("hush-wf-nobody").tempdir_in("/tmp").unwrap();
    let bin = shared.path().join("hush");
    std::fs::copy(HUSH, &bin).unwrap();
    let spy = shared.path().join("spy.yaml");
    std::fs::write(&spy, ENVIRON_SPY).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&spy, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .args(["workflow", "run"])
        .arg(&spy)
        .env("HUSH_ADDR", &h.addr)
        .env("HUSH_TOKEN", &h.token)
        .env("HOME", shared.path())
        .current_dir(shared.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        output_json(&out)["return"]["seen"],
        0,
        "a same-user function read the runner's environment: {}",
        show(&out)
    );
    assert!(!contains(&out.stderr, h.token.as_bytes()), "{}", show(&out));
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

#[test]
fn subflow_files_stay_inside_the_workflows_directory_and_are_not_quoted() {
    let h = Hush::running();
    let outer = tempfile::tempdir().unwrap();
    let dir = outer.path().join("flows");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(outer.path().join("outside.yaml"), "states: [{id: s, type: noop}]\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("link.yaml")).unwrap();
    std::fs::write(dir.join("notyaml.yaml"), "key: [unclosed SECRET-LINE-CONTENT\n").unwrap();
    let cases = [
        ("../outside.yaml", "must be inside the workflow's directory"),
        ("link.yaml", "must be inside the workflow's directory"),
        ("notyaml.yaml", "not valid YAML"),
    ];
    for (target, expected) in cases {
        let file = dir.join("main.yaml");
        std::fs::write(
            &file,
            format!("functions: [{{id: c, type: subflow, workflow: '{target}'}}]\nstates: [{{id: s, type: noop}}]\n"),
        )
        .unwrap();
        let out = workflow(&h, &["check", file.to_str().unwrap()], &[]);
        assert_eq!(out.status.code(), Some(2), "{target}: {}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{target}: {stderr}");
        assert!(!stderr.contains("SECRET-LINE-CONTENT") && !stderr.contains("root:x:"), "{target}: {stderr}");
    }
    // `/x.yaml` is the first file's directory, as Direktiv's namespace paths are.
    std::fs::create_dir(dir.join("deeper")).unwrap();
    std::fs::write(dir.join("leaf.yaml"), "id: leaf\nstates: [{id: s, type: noop, transform: {from: leaf}}]\n")
        .unwrap();
    std::fs::write(
        dir.join("deeper/mid.yaml"),
        "id: mid\nfunctions: [{id: c, type: subflow, workflow: /leaf.yaml}]\nstates: [{id: s, type: action, action: {function: c}}]\n",
    )
    .unwrap();
    let file = dir.join("main.yaml");
    std::fs::write(&file, "functions: [{id: c, type: subflow, workflow: deeper/mid.yaml}]\nstates: [{id: s, type: action, action: {function: c}}]\n").unwrap();
    let out = workflow(&h, &["run", file.to_str().unwrap()], &[]);
    assert_eq!(output_json(&out), json!({"return": {"return": {"from": "leaf"}}}), "{}", show(&out));
}

/// The canary the control-flow table reads as a secret.
const CANARY: &str = "WF-CANARY-5d1c";

/// One workflow per new state type, run by `hush workflow run --strict`
/// against a real server at trace level: the exact output (or exit code and
/// error), and the canary nowhere in the output or the log.
#[test]
fn control_flow_states_run_against_the_server_and_never_show_the_canary() {
    let h = Hush::running();
    secret(&h, "default", "canary", CANARY);
    let dir = tempfile::tempdir().unwrap();
    let echo = "functions:\n- {id: echo, type: process, cmd: [cat]}\n- {id: leak, type: process, cmd: [sh, -c, 'cat >&2; exit 1']}\n";
    type Case = (&'static str, &'static str, &'static str, Result<Value, &'static str>);
    let cases: &[Case] = &[
        (
            "foreach",
            "states:\n- {id: each, type: foreach, array: 'jq([range(50)])', action: {function: echo, secrets: [canary], input: {i: 'jq(.value)', t: 'jq(.secrets.canary)'}}, transform: 'jq({n: (.return | length), first: .return[0], last: .return[49].i})'}\n",
            "{}",
            Ok(json!({"n": 50, "first": {"i": 0, "t": "***"}, "last": 49})),
        ),
        (
            "parallel",
            "states:\n- {id: both, type: parallel, actions: [{function: echo, secrets: [canary], input: {a: 'jq(.secrets.canary)'}}, {function: echo, input: {b: 'jq(.x)'}}]}\n",
            r#"{"x": 2}"#,
            Ok(json!({"x": 2, "return": [{"a": "***"}, {"b": 2}]})),
        ),
        (
            "parallel-or",
            "states:\n- {id: race, type: parallel, mode: or, actions: [{function: leak, secrets: [canary], input: {a: 'jq(.secrets.canary)'}}, {function: echo, input: {won: true}}]}\n",
            "{}",
            Ok(json!({"return": [null, {"won": true}]})),
        ),
        (
            "switch",
            "states:\n- {id: pick, type: switch, conditions: [{condition: 'jq(.n > 1)', transition: big}], defaultTransition: small}\n- {id: big, type: noop, transform: 'jq({size: \"big\"})'}\n- {id: small, type: noop, transform: 'jq({size: \"small\"})'}\n",
            r#"{"n": 5}"#,
            Ok(json!({"size": "big"})),
        ),
        (
            "switch-loop",
            "states:\n- {id: spin, type: switch, conditions: [{condition: 'jq(true)', transition: again}]}\n- {id: again, type: noop, transition: spin}\n",
            "{}",
            Err("limits.states: the instance visited more than 50 states"),
        ),
        (
            "validate",
            "states:\n- {id: check, type: validate, subject: 'jq(.user)', schema: {type: object, required: [name]}, catch: [{error: 'direktiv.schema.*', transition: bad}]}\n- {id: bad, type: noop, transform: 'jq({error: .error})'}\n",
            r#"{"user": {"nom": "x"}}"#,
            Ok(
                json!({"error": {"code": "direktiv.schema.failed", "msg": "the subject fails its JSON Schema: at /: required"}}),
            ),
        ),
        (
            "error-catch",
            "states:\n- {id: raise, type: error, error: input.missing, message: 'no %s given', args: ['jq(.want)'], catch: [{error: 'input.*', transition: handled}]}\n- {id: handled, type: noop, transform: 'jq({caught: .error.code, why: .error.msg})'}\n",
            r#"{"want": "region"}"#,
            Ok(json!({"caught": "input.missing", "why": "no region given"})),
        ),
        (
            "caught-leak",
            "states:\n- {id: call, type: action, action: {function: leak, secrets: [canary], input: {t: 'jq(.secrets.canary)'}}, catch: [{error: '*', transition: after}]}\n- {id: after, type: noop, transform: 'jq({code: .error.code, said: .error.msg})'}\n",
            "{}",
            Ok(json!({"code": "function.failed", "said": null})),
        ),
        (
            "uncaught",
            "states:\n- {id: raise, type: error, error: my.code, message: stop}\n",
            "{}",
            Err("wf[raise]: my.code: stop"),
        ),
    ];
    for (name, states, input, expected) in cases {
        let file = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&file, format!("id: wf\n{echo}{states}")).unwrap();
        let args = ["run", file.to_str().unwrap(), "--strict", "--max-states", "50", "--input", input];
        let out = workflow(&h, &args, &[]);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY), "{name}: the canary leaked\n{}", show(&out));
        match expected {
            Ok(expected) => {
                assert_eq!(out.status.code(), Some(0), "{name}: {}", show(&out));
                let mut got = output_json(&out);
                if *name == "caught-leak" {
                    // The function's message is its stderr: it echoed the canary, masked.
                    let said = got["said"].take();
                    assert!(said.as_str().is_none_or(|s| !s.contains(CANARY)), "{name}: {said}");
                }
                assert_eq!(&got, expected, "{name}: {}", show(&out));
            }
            Err(message) => {
                assert_eq!(out.status.code(), Some(1), "{name}: {}", show(&out));
                assert!(stderr.contains(message), "{name}: expected {message:?} in\n{stderr}");
            }
        }
    }

    // delay: the log's own timestamps show the wait.
    let file = dir.path().join("delay.yaml");
    std::fs::write(&file, "states:\n- {id: wait, type: delay, duration: PT0.5S, transition: after}\n- {id: after, type: noop, log: woke}\n").unwrap();
    let out = workflow(&h, &["run", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let at = |needle: &str| {
        let line = stderr.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}: {stderr}"));
        humantime::parse_rfc3339(line.split_whitespace().next().unwrap()).unwrap()
    };
    let waited = at("woke").duration_since(at("waiting 500ms")).unwrap();
    assert!(waited >= std::time::Duration::from_millis(500), "waited {waited:?}: {stderr}");

    // check lists the secrets of foreach and parallel actions too, and fails on a missing one.
    let file = dir.path().join("many.yaml");
    std::fs::write(
        &file,
        format!("{echo}states:\n- {{id: a, type: foreach, array: 'jq([])', action: {{function: echo, secrets: [canary]}}, transition: b}}\n- {{id: b, type: parallel, actions: [{{function: echo, secrets: [absent]}}]}}\n"),
    )
    .unwrap();
    let out = workflow(&h, &["check", file.to_str().unwrap(), "--json"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    let v = output_json(&out);
    assert_eq!(
        (v["files"][0]["secrets"].clone(), v["missing"].clone()),
        (json!(["absent", "canary"]), json!(["absent"]))
    );
}

/// jq that would hang or exhaust the runner ends with a clear, catchable
/// error: a loop is stopped at the time limit, deep recursion ends only its
/// worker, and the next expression runs in a fresh one.
#[test]
fn runaway_jq_is_stopped_and_the_runner_goes_on() {
    let h = Hush::running();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("forever", "jq(def f: f; f)", "took longer than 500ms and was stopped"),
        // Stopped at the time limit or the memory limit, whichever comes first.
        ("huge", "jq([range(1e12)])", ""),
        ("deep", "jq(def f: 1 + f; f)", "ended its evaluator: it recursed too deep or needed more than 256 MiB"),
    ];
    for (name, expression, expected) in cases {
        let file = dir.path().join(format!("{name}.yaml"));
        let yaml = format!(
            "id: wf\nstates:\n- id: bad\n  type: noop\n  transform: {{x: '{expression}'}}\n  catch: [{{error: 'direktiv.jq.*', transition: after}}]\n\
             - {{id: after, type: noop, transform: 'jq({{caught: .error.msg, still: (1 + 1)}})'}}\n"
        );
        std::fs::write(&file, yaml).unwrap();
        let started = std::time::Instant::now();
        let out = workflow(&h, &["run", file.to_str().unwrap(), "--jq-timeout", "500ms", "--jq-memory", "256MiB"], &[]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", show(&out));
        let got = output_json(&out);
        let caught = got["caught"].as_str().unwrap_or_else(|| panic!("{name}: {got}"));
        let limited = caught.contains("and was stopped") || caught.contains("needed more than 256 MiB");
        assert!(caught.contains(expected) && limited, "{name}: {caught}");
        assert_eq!(got["still"], 2, "{name}: the next expression ran: {got}");
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "{name}: took {:?}", started.elapsed());
    }
}
