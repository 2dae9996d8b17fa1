//! The control-flow states (foreach, parallel, switch, delay, error) and
//! `catch`, `timeout` and the state limit, each with a canary secret where
//! a function could echo one back.

use serde_json::json;

use crate::{run, run_in};

/// The canary every test that uses a secret reads.
const CANARY: &str = "CANARY-7f3e-value";

fn assert_no_canary(what: &str, text: &str) {
    assert!(!text.contains(CANARY), "the canary is in the {what}: {text}");
}

#[tokio::test]
async fn foreach_calls_once_per_element_in_order_and_fetches_each_secret_once() {
    let yaml = r#"
id: each
functions:
- {id: echo, type: process, cmd: [cat]}
states:
- id: loop
  type: foreach
  array: 'jq([range(50)])'
  action: {function: echo, secrets: [tok], input: {i: 'jq(.value)', auth: 'Bearer jq(.secrets.tok)'}}
  transform: 'jq({indexes: [.return[].i], auths: ([.return[].auth] | unique), has_secrets: has("secrets")})'
"#;
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(dir.path(), yaml, json!({}), &[("tok", CANARY)], true).await;
    let out = r.result.unwrap();
    assert_eq!(out["indexes"], json!((0..50).collect::<Vec<_>>()), "returns in element order");
    assert_eq!(out["auths"], json!(["Bearer ***"]), "strict masks the echoed secret");
    assert_eq!(out["has_secrets"], false);
    assert_eq!(r.contexts.len(), 1, "one fetch for 50 iterations: {:?}", r.contexts);
    assert!(r.log.contains("50 iterations, at most 10 at once"), "{}", r.log);
    assert_no_canary("log", &r.log);
}

#[tokio::test]
async fn a_failed_iteration_fails_the_foreach_and_a_non_list_is_refused() {
    let yaml = r#"
functions:
- {id: picky, type: process, cmd: [sh, -c, 'read x; case "$x" in *3*) echo boom >&2; exit 1;; *) echo "$x";; esac']}
states:
- {id: loop, type: foreach, array: 'jq(.items)', action: {function: picky}}
"#;
    let r = run(yaml, json!({"items": [1, 2, 3, 4]}), &[]).await;
    let f = r.result.unwrap_err();
    assert_eq!(f.code, "function.failed", "{f}");
    let r = run(yaml, json!({"items": {"a": 1}}), &[]).await;
    let f = r.result.unwrap_err();
    assert_eq!(
        (f.code.as_str(), f.message.as_str()),
        ("direktiv.foreach.badArray", "the foreach array is an object, not a list")
    );
}

#[tokio::test]
async fn parallel_and_returns_every_result_in_order() {
    let yaml = r#"
functions:
- {id: echo, type: process, cmd: [cat]}
- {id: slow, type: process, cmd: [sh, -c, 'sleep 0.3; cat']}
states:
- id: both
  type: parallel
  mode: and
  actions:
  - {function: slow, secrets: [tok], input: {a: 'jq(.secrets.tok)'}}
  - {function: echo, input: {b: 2}}
"#;
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(dir.path(), yaml, json!({}), &[("tok", CANARY)], true).await;
    assert_eq!(r.result.unwrap(), json!({"return": [{"a": "***"}, {"b": 2}]}));
    assert_no_canary("log", &r.log);
}

#[tokio::test]
async fn parallel_or_takes_the_first_success_and_kills_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("slow.pid");
    let yaml = format!(
        r#"
functions:
- {{id: fast, type: process, cmd: [sh, -c, 'sleep 0.5; cat']}}
- {{id: slow, type: process, cmd: [sh, -c, 'echo $$ > {pid}; exec sleep 60']}}
- {{id: broken, type: process, cmd: [sh, -c, 'exit 3']}}
states:
- id: race
  type: parallel
  mode: or
  actions:
  - {{function: broken}}
  - {{function: slow}}
  - {{function: fast, input: {{won: true}}}}
"#,
        pid = pid_file.display()
    );
    let r = run_in(dir.path(), &yaml, json!({}), &[], false).await;
    assert_eq!(r.result.unwrap(), json!({"return": [null, null, {"won": true}]}));
    let pid = std::fs::read_to_string(&pid_file).expect("the slow branch started").trim().to_owned();
    // The losing branch's process is gone (killed when its call was dropped, then reaped).
    let mut gone = false;
    for _ in 0..100 {
        // Gone, or a zombie: it has exited, and only the runtime's reaping is left.
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let state = status.lines().find_map(|l| l.strip_prefix("State:")).map(str::trim).unwrap_or("gone");
        if state == "gone" || state.starts_with('Z') {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(gone, "the slow branch's process {pid} is still running");
}

#[tokio::test]
async fn switch_takes_the_first_truthy_condition_and_a_loop_ends_on_the_state_limit() {
    let yaml = r#"
states:
- id: pick
  type: switch
  conditions:
  - {condition: 'jq(.n > 10)', transition: big, transform: 'jq({size: "big"})'}
  - {condition: 'jq(.n > 1)', transition: medium}
  defaultTransform: 'jq({size: "small"})'
- {id: big, type: noop}
- {id: medium, type: noop, transform: 'jq({size: "medium", n: .n})'}
"#;
    for (n, expected) in
        [(50, json!({"size": "big"})), (5, json!({"size": "medium", "n": 5})), (0, json!({"size": "small"}))]
    {
        let r = run(yaml, json!({"n": n}), &[]).await;
        assert_eq!(r.result.unwrap(), expected, "n = {n}");
    }
    let looping = r#"
states:
- id: spin
  type: switch
  conditions: [{condition: 'jq(true)', transition: again}]
- {id: again, type: noop, transition: spin}
"#;
    let r = run(looping, json!({}), &[]).await;
    let f = r.result.unwrap_err();
    assert_eq!(f.code, "limits.states", "{f}");
    assert!(f.message.contains("more than 10000 states"), "{f}");
}

#[tokio::test]
async fn an_error_state_is_caught_by_a_glob_and_lands_under_error() {
    let yaml = r#"
states:
- id: check
  type: error
  error: input.invalid
  message: 'field %s is %v'
  args: ['jq(.field)', 'jq(.value)']
  catch: [{error: 'other.*'}, {error: 'input.*', transition: handled}]
- {id: handled, type: noop, transform: 'jq({seen: .error, field: .field})'}
"#;
    let r = run(yaml, json!({"field": "name", "value": [1]}), &[]).await;
    assert_eq!(
        r.result.unwrap(),
        json!({"seen": {"code": "input.invalid", "msg": "field name is [1]"}, "field": "name"})
    );
    // Not caught: the instance fails with the state's code.
    let uncaught = "states:\n- {id: e, type: error, error: my.code, message: nope}\n";
    let f = run(uncaught, json!({}), &[]).await.result.unwrap_err();
    assert_eq!((f.code.as_str(), f.to_string().as_str()), ("my.code", "wf[e]: my.code: nope"));
}

#[tokio::test]
async fn a_caught_error_never_holds_a_secret_even_when_the_function_prints_it() {
    let yaml = r#"
functions:
- {id: leak, type: process, cmd: [sh, -c, 'cat >&2; echo "failed with $(cat)" >&2; exit 1']}
states:
- id: call
  type: action
  action: {function: leak, secrets: [tok], input: {t: 'jq(.secrets.tok)'}}
  catch: [{error: '*', transition: after}]
- {id: after, type: noop}
"#;
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(dir.path(), yaml, json!({}), &[("tok", CANARY)], false).await;
    let out = r.result.unwrap();
    assert_eq!(out["error"]["code"], "function.failed", "{out}");
    assert_no_canary("caught error", &out.to_string());
    assert_no_canary("log", &r.log);
}

#[tokio::test]
async fn delay_waits_its_duration_and_timeouts_are_catchable_errors() {
    let yaml = r#"
states:
- {id: wait, type: delay, duration: PT0.4S, transition: after}
- {id: after, type: noop, log: done}
"#;
    let r = run(yaml, json!({}), &[]).await;
    assert!(r.result.is_ok());
    // The log's own timestamps: "waiting" at the start of the delay, "done" after it.
    let at = |needle: &str| {
        let line = r.log.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}: {}", r.log));
        humantime::parse_rfc3339(line.split_whitespace().next().unwrap()).unwrap()
    };
    let waited = at("done").duration_since(at("waiting 400ms")).unwrap();
    assert!(waited >= std::time::Duration::from_millis(400), "waited {waited:?}");

    let timed_out = r#"
states:
- {id: wait, type: delay, duration: PT10S, timeout: PT0.2S, catch: [{error: 'direktiv.cancels.*', transition: late}]}
- {id: late, type: noop, transform: 'jq({code: .error.code})'}
"#;
    let r = run(timed_out, json!({}), &[]).await;
    assert_eq!(r.result.unwrap(), json!({"code": "direktiv.cancels.timeout.soft"}));
}

#[tokio::test]
async fn validate_failures_name_the_path_and_keyword_never_the_value() {
    let yaml = r#"
functions:
- {id: echo, type: process, cmd: [cat]}
states:
- id: fetch
  type: action
  action: {function: echo, secrets: [tok], input: {token: 'jq(.secrets.tok)', port: 'jq(.port)'}}
  transition: check
- id: check
  type: validate
  subject: 'jq(.return)'
  schema:
    type: object
    required: [token, port, user]
    properties:
      token: {type: string, maxLength: 4}
      port: {type: integer}
  catch: [{error: direktiv.schema.failed, transition: report}]
  transition: ok
- {id: ok, type: noop, transform: 'jq({valid: true})'}
- {id: report, type: noop, transform: 'jq({error: .error})'}
"#;
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(dir.path(), yaml, json!({"port": "eighty"}), &[("tok", CANARY)], false).await;
    let out = r.result.unwrap();
    assert_eq!(out["error"]["code"], "direktiv.schema.failed", "{out}");
    let message = out["error"]["msg"].as_str().unwrap();
    for part in ["at /: required", "at /token: maxLength", "at /port: type"] {
        assert!(message.contains(part), "{part} in {message}");
    }
    assert!(!message.contains("eighty"), "no value from the data: {message}");
    assert_no_canary("caught error", message);
    assert_no_canary("log", &r.log);

    let r = run_in(dir.path(), yaml, json!({"port": 80}), &[("tok", "abc")], false).await;
    let out = r.result.unwrap();
    assert_eq!(out["error"]["code"], "direktiv.schema.failed", "user is still missing: {out}");
    let valid = yaml.replace("[token, port, user]", "[token, port]");
    let r = run_in(dir.path(), &valid, json!({"port": 80}), &[("tok", "abc")], false).await;
    assert_eq!(r.result.unwrap(), json!({"valid": true}));
}
