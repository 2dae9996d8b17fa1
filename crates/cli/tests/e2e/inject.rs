//! `hush run`, `hush redact` and `hush cache-key` as a user runs them: the real
//! binary, real child processes, and for `hush://` a real server.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::harness::{HUSH, Hush, contains, show};

/// `hush ARGS` with `env`, no server, stdin closed.
fn hush(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(HUSH);
    cmd.args(args).env_remove("HUSH_TOKEN").env_remove("HUSH_LOG").env("HUSH_ADDR", "http://127.0.0.1:9");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null()).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn daggers_demo_works_as_written() {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "export API_TOKEN=\"guessme\"; {HUSH} run --env MY_SECRET=env://API_TOKEN -- sh -c 'echo this is the secret: $MY_SECRET'"
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(stdout(&out), "this is the secret: ***\n");
}

#[test]
fn run_scrubs_both_streams_and_passes_stdin_and_exit_code() {
    let mut child = Command::new(HUSH)
        .args(["run", "--env", "S=env://RUN_SECRET", "--", "sh", "-c"])
        .arg("read line; echo \"in=$line out=$S\"; echo \"err=$S\" >&2; printf %s \"$S\" | base64; exit 7")
        .env("RUN_SECRET", "s3cr3t-value!")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"from-stdin\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", show(&out));
    assert_eq!(stdout(&out), "in=from-stdin out=***\n***\n");
    assert_eq!(stderr(&out), "err=***\n");
}

#[test]
fn run_masks_the_hush_token_it_passes_on_and_needs_no_server_for_env() {
    let out = hush(
        &["run", "--env", "S=env://TOKEN_TEST_SECRET", "--", "sh", "-c", "echo $HUSH_TOKEN $S"],
        &[
            ("HUSH_TOKEN", "hush_0123456789abcdef_notarealtokenvalue"),
            ("TOKEN_TEST_SECRET", "abcdefgh"),
            ("HUSH_ADDR", "not a url"),
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(stdout(&out), "*** ***\n");
}

#[test]
fn run_reports_death_by_signal_as_128_plus_n() {
    let out = hush(&["run", "--", "sh", "-c", "kill -TERM $$"], &[]);
    assert_eq!(out.status.code(), Some(128 + 15), "{}", show(&out));
    let out = hush(&["run", "--", "sh", "-c", "kill -KILL $$"], &[]);
    assert_eq!(out.status.code(), Some(128 + 9), "{}", show(&out));
}

#[test]
fn run_exit_status_for_missing_commands_is_127() {
    let out = hush(&["run", "--", "hush-no-such-command-xyz"], &[]);
    assert_eq!(out.status.code(), Some(127), "{}", show(&out));
    assert!(stderr(&out).contains("cannot start hush-no-such-command-xyz"), "{}", show(&out));
}

#[test]
fn a_failing_reference_stops_the_child_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("started");
    let script = format!("touch {}", marker.display());
    let cases: &[(&[&str], &str, i32)] = &[
        (
            &["--env", "A=env://HUSH_E2E_UNSET_VAR"],
            "--env A: cannot resolve: env://HUSH_E2E_UNSET_VAR: the environment variable is not set",
            1,
        ),
        (
            &["--env", "A=file:///nonexistent/hush-e2e"],
            "--env A: cannot resolve: file:///nonexistent/hush-e2e: cannot read the file",
            1,
        ),
        (
            &["--file", "A=cmd://echo hunter2-inline; exit 4"],
            "--file A: cannot resolve: cmd://echo …: the command failed",
            1,
        ),
        (&["--env", "A=hunter2-literal"], "--env A: not a reference", 2),
        (&["--env", "A=ftp://x"], "unknown reference scheme \"ftp\"", 2),
        (&["--env", "1A=env://HOME"], "--env: the variable name must be", 2),
        (&["--env", "A=hush://db"], "--env A: cannot resolve: hush://db:", 1),
        (&["--env", "OK=env://HOME", "--env", "A=env://HUSH_E2E_UNSET_VAR"], "env://HUSH_E2E_UNSET_VAR", 1),
    ];
    for (flags, want, code) in cases {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", "sh", "-c", &script]);
        let out = hush(&args, &[]);
        assert_eq!(out.status.code(), Some(*code), "{flags:?}: {}", show(&out));
        assert!(stderr(&out).contains(want), "{flags:?}: {}", show(&out));
        assert!(!stderr(&out).contains("hunter2"), "{flags:?} echoed a value: {}", show(&out));
        assert!(!marker.exists(), "{flags:?}: the child started");
    }
}

#[test]
fn file_references_are_private_files_removed_afterwards() {
    let out = hush(
        &["run", "--file", "TOKEN_FILE=cmd://printf 'file-secret-1'", "--", "sh", "-c"]
            .into_iter()
            .chain(["stat -c '%a' \"$TOKEN_FILE\" \"$(dirname \"$TOKEN_FILE\")\"; cat \"$TOKEN_FILE\"; echo; echo \"$TOKEN_FILE\""])
            .collect::<Vec<_>>(),
        &[],
    );
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(&lines[..3], ["600", "700", "***"], "{text}");
    let path = Path::new(lines[3]);
    assert!(path.is_absolute());
    assert!(!path.exists(), "the secret file was left behind");
    assert!(!path.parent().unwrap().exists(), "the private directory was left behind");
}

#[test]
fn env_files_mix_plain_values_and_references() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("app.env");
    std::fs::write(
        &env_file,
        "# settings\nPORT=8080\nexport GREETING=\"hi there\"\nDB_PASSWORD=env://ENVFILE_SECRET\n",
    )
    .unwrap();
    let env_file = env_file.to_str().unwrap();
    let out = hush(
        &["run", "--env-file", env_file, "--", "sh", "-c", "echo $PORT $GREETING $DB_PASSWORD"],
        &[("ENVFILE_SECRET", "pg-pass-771")],
    );
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(stdout(&out), "8080 hi there ***\n");

    std::fs::write(dir.path().join("bad.env"), "OK=1\nthis line has hunter2 but no equals\n").unwrap();
    let bad = dir.path().join("bad.env");
    let out = hush(&["run", "--env-file", bad.to_str().unwrap(), "--", "true"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(stderr(&out).contains("bad.env: line 2: expected KEY=VALUE"), "{}", show(&out));
    assert!(!stderr(&out).contains("hunter2"));
}

/// Reads one line from `reader` on a thread; gives up after a minute so a
/// broken build fails instead of hanging (this is not a timing assertion).
fn read_line_within_a_minute(reader: impl Read + Send + 'static) -> (String, BufReader<Box<dyn Read + Send>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(Box::new(reader) as Box<dyn Read + Send>);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let _ = tx.send((line, reader));
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("no line within a minute: output is being held back")
}

#[test]
fn output_appears_while_the_child_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    // The child prints a line, then waits for the test to create `go`: if
    // hush held the line back until the child ended, the test would stall.
    let script = format!("echo hello world; while [ ! -e {} ]; do sleep 0.05; done; echo \"bye $S\"", go.display());
    let mut child = Command::new(HUSH)
        .args(["run", "--env", "S=env://LIVE_SECRET", "--", "sh", "-c", &script])
        .env("LIVE_SECRET", "TOP_SECRET_LIVE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (line, mut rest) = read_line_within_a_minute(child.stdout.take().unwrap());
    assert_eq!(line, "hello world\n");
    std::fs::write(&go, b"").unwrap();
    let mut tail = String::new();
    rest.read_to_string(&mut tail).unwrap();
    assert_eq!(tail, "bye ***\n");
    assert!(child.wait().unwrap().success());
}

#[test]
fn sigterm_and_sigint_are_forwarded_to_the_child() {
    for (signal, name) in [("TERM", "term"), ("INT", "int")] {
        let script = format!("trap 'echo got-{name}; exit 3' {signal}; echo ready; while :; do sleep 0.05; done");
        let mut child =
            Command::new(HUSH).args(["run", "--", "sh", "-c", &script]).stdout(Stdio::piped()).spawn().unwrap();
        let (line, mut rest) = read_line_within_a_minute(child.stdout.take().unwrap());
        assert_eq!(line, "ready\n");
        let kill = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
        assert!(kill.success());
        let mut tail = String::new();
        rest.read_to_string(&mut tail).unwrap();
        assert_eq!(tail, format!("got-{name}\n"));
        assert_eq!(child.wait().unwrap().code(), Some(3), "hush must pass the child's status after {signal}");
    }
}

#[test]
fn redact_streams_and_holds_back_only_a_possible_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.json");
    std::fs::write(&secrets, r#"["TOP_SECRET", "", "Password123!"]"#).unwrap();
    let mut child = Command::new(HUSH)
        .args(["redact", "--secrets-file", secrets.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(b"hello world\nhello TOP_").unwrap();
    input.flush().unwrap();
    let (line, mut rest) = read_line_within_a_minute(child.stdout.take().unwrap());
    assert_eq!(line, "hello world\n");
    input.write_all(b"SECRET!\nauth: OlBhc3N3b3JkMTIzIQo=\n\xff\x00 end").unwrap();
    drop(input);
    let mut tail = Vec::new();
    rest.read_to_end(&mut tail).unwrap();
    assert_eq!(show_bytes(&tail), show_bytes(b"hello ***!\nauth: Ol***o=\n\xff\x00 end"));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(stderr(&out).contains("secret 2 of"), "{}", stderr(&out));
    assert!(stderr(&out).contains("is empty or whitespace-only"), "{}", stderr(&out));
}

fn show_bytes(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn redact_rejects_bad_input_by_position() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        ("[\"hunter2\", 5]", "element 2 is not a string"),
        ("{\"a\": \"hunter2\"}", "expected a JSON array of strings"),
        ("[\"hunter2\"", "not valid JSON"),
    ];
    for (content, want) in cases {
        let file = dir.path().join("s.json");
        std::fs::write(&file, content).unwrap();
        let out = hush(&["redact", "--secrets-file", file.to_str().unwrap()], &[]);
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert!(stderr(&out).contains(want), "{}", show(&out));
        assert!(!stderr(&out).contains("hunter2"), "{}", show(&out));
    }
    let out = hush(&["redact"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nothing to mask"), "{}", show(&out));
    let out = hush(&["redact", "--secrets-file", "/nonexistent/hush.json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("reading /nonexistent/hush.json"), "{}", show(&out));
}

#[test]
fn hush_references_resolve_through_the_server() {
    let h = Hush::running();
    let ok = |out: Output| assert!(out.status.success(), "{}", show(&out));
    ok(h.cli_stdin(&["secret", "create", "db-password", "--value-stdin"], b"srv-secret-9f1"));
    ok(h.cli(&["namespace", "create", "team-a"]));
    ok(h.cli_stdin(
        &["secret", "create", "deploy", "-n", "team-a", "--type", "git", "--username", "bot", "--token-stdin"],
        b"git-token-55aa",
    ));
    let run = |args: &[&str]| h.cli(&[&["run"], args].concat());
    let out = run(&[
        "--env",
        "DB=hush://db-password",
        "--env",
        "USER=hush://team-a/deploy#username",
        "--file",
        "TOKEN=hush://team-a/deploy",
        "--",
        "sh",
        "-c",
        "echo db=$DB user=$USER; cat $TOKEN; echo",
    ]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(stdout(&out), "db=*** user=***\n***\n");

    let out = run(&["--env", "X=hush://missing", "--", "true"]);
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert!(stderr(&out).contains("--env X: cannot resolve: hush://missing"), "{}", show(&out));
    let out = run(&["--env", "X=hush://team-a/deploy#password", "--", "true"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(stderr(&out).contains("has no field \"password\" (it has: username, token)"), "{}", show(&out));

    // A token without secrets:read is refused, and the child does not start.
    let list_only = h.token(&["default"], &["secrets:list"]);
    let out = h.cli_as(&list_only, &["run", "--env", "X=hush://db-password", "--", "echo", "started"], None);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(!stdout(&out).contains("started"));

    // hush redact takes the same references.
    let out = h.cli_stdin(&["redact", "--secret-ref", "hush://db-password"], b"pw=srv-secret-9f1;\n");
    assert_eq!(stdout(&out), "pw=***;\n");
}

#[test]
fn cache_keys_follow_the_value_and_reveal_nothing() {
    let h = Hush::running();
    let config = tempfile::tempdir().unwrap();
    let key = |reference: &str| {
        let out = Command::new(HUSH)
            .args(["cache-key", reference])
            .env("HUSH_ADDR", &h.addr)
            .env("HUSH_TOKEN", &h.token)
            .env("XDG_CONFIG_HOME", config.path())
            .env_remove("HUSH_CACHE_SALT")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", show(&out));
        assert!(!contains(&out.stdout, b"cache-value"), "the key shows the value");
        stdout(&out).trim().to_owned()
    };
    assert!(h.cli_stdin(&["secret", "create", "c", "--value-stdin"], b"cache-value-1").status.success());
    let first = key("hush://c");
    assert!(first.starts_with("argon2id:"), "{first}");
    assert_eq!(key("hush://c"), first, "the same value must give the same key");
    let explicit = key("hush://c?cacheKey=build-v1");
    assert!(h.cli_stdin(&["secret", "create", "c", "--value-stdin"], b"cache-value-2").status.success());
    assert_ne!(key("hush://c"), first, "a rotated value must give a new key");
    assert_eq!(key("hush://c?cacheKey=build-v1"), explicit, "an explicit cacheKey survives rotation");

    // The salt was made on first use, private to the user.
    use std::os::unix::fs::PermissionsExt;
    let salt = config.path().join("hush/cache-salt");
    assert_eq!(std::fs::metadata(&salt).unwrap().permissions().mode() & 0o777, 0o600);
    // HUSH_CACHE_SALT replaces it; another salt gives another key.
    let out = hush(&["cache-key", "env://CK"], &[("CK", "v"), ("HUSH_CACHE_SALT", "one")]);
    let out2 = hush(&["cache-key", "env://CK", "--json"], &[("CK", "v"), ("HUSH_CACHE_SALT", "two")]);
    let json: serde_json::Value = serde_json::from_slice(&out2.stdout).unwrap();
    assert_eq!(json[0]["reference"], "env://CK");
    assert_ne!(stdout(&out).trim(), json[0]["key"].as_str().unwrap());
}

#[test]
fn debug_logs_of_run_and_redact_carry_no_value() {
    let out = hush(
        &["run", "--env", "S=env://LOG_SECRET", "--", "sh", "-c", "echo $S"],
        &[("LOG_SECRET", "log-secret-e2e-31"), ("HUSH_LOG", "trace")],
    );
    assert!(out.status.success(), "{}", show(&out));
    assert!(!contains(&out.stdout, b"log-secret-e2e-31") && !contains(&out.stderr, b"log-secret-e2e-31"));
}

/// Runs `script` in `sh` and waits for it for up to a minute; kills it and
/// fails if it is still running then.
fn sh_within_a_minute(script: &str) -> Output {
    let mut child =
        Command::new("sh").arg("-c").arg(script).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("still running after a minute: {script}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn endless_output_ends_when_its_reader_goes_away() {
    // The copies read on threads of their own: when `head` has its lines and
    // leaves, they must still let go of the pipe, so that the writer gets
    // SIGPIPE and everything ends.
    let out = sh_within_a_minute(&format!(
        "export RUN_SECRET=endless-secret-value; {HUSH} run --env S=env://RUN_SECRET -- sh -c 'yes \"x $S\"' | head -n 2"
    ));
    assert_eq!(stdout(&out), "x ***\nx ***\n", "{}", show(&out));
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.json");
    std::fs::write(&secrets, r#"["endless-secret-value"]"#).unwrap();
    let out = sh_within_a_minute(&format!(
        "yes 'y endless-secret-value' | {HUSH} redact --secrets-file {} | head -n 1",
        secrets.display()
    ));
    assert_eq!(stdout(&out), "y ***\n", "{}", show(&out));
}
