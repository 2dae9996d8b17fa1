//! No value ever reaches a log line: the whole CRUD flow with every log
//! target at trace level, on the server and in the CLI.

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::harness::{HUSH, Hush, contains};

#[test]
fn trace_logs_never_carry_a_value_or_a_token() {
    let mut h = Hush::init();
    h.start(&[("HUSH_LOG", "trace")], &[]);
    let generic = "HYGIENE-generic-7c1d\nsecond line";
    let token = "HYGIENE-git-token-42aa";
    let password = "HYGIENE-registry-pw-913f";
    let rotated = "HYGIENE-rotated-5be0";
    let cli = |args: &[&str], stdin: Option<&[u8]>| {
        let mut cmd = Command::new(HUSH);
        cmd.args(args).env("HUSH_ADDR", &h.addr).env("HUSH_TOKEN", &h.token).env("HUSH_LOG", "trace");
        let out = if let Some(input) = stdin {
            use std::io::Write;
            let mut child = cmd
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(input).unwrap();
            child.wait_with_output().unwrap()
        } else {
            cmd.output().unwrap()
        };
        (out.status.code(), out.stdout, out.stderr)
    };
    let mut client_logs = Vec::new();
    let steps: Vec<(Vec<&str>, Option<&[u8]>)> = vec![
        (vec!["secret", "create", "g", "--value-stdin"], Some(generic.as_bytes())),
        (vec!["secret", "create", "git", "--type", "git", "--username", "u", "--token-stdin"], Some(token.as_bytes())),
        (
            vec!["secret", "create", "reg", "--type", "registry", "--username", "u", "--password-stdin"],
            Some(password.as_bytes()),
        ),
        (vec!["secret", "create", "g", "--value-stdin"], Some(rotated.as_bytes())),
        (vec!["secret", "get", "g"], None),
        (vec!["secret", "get", "g", "--version", "1"], None),
        (vec!["secret", "get", "git", "--json"], None),
        (vec!["secret", "get", "reg", "--field", "password"], None),
        (vec!["secret", "list"], None),
        (vec!["secret", "versions", "g"], None),
        (vec!["secret", "create", "g", "--value-stdin", "--cas", "1"], Some(rotated.as_bytes())),
        (vec!["secret", "create", "g", "--type", "git", "--username", "u", "--token-stdin"], Some(token.as_bytes())),
        (vec!["secret", "delete", "git"], None),
        (vec!["audit", "list"], None),
    ];
    let mut printed = Vec::new();
    for (args, stdin) in &steps {
        let (code, stdout, stderr) = cli(args, *stdin);
        assert!(code.is_some(), "{args:?}");
        printed.push(stdout);
        client_logs.push((args.join(" "), stderr));
    }
    // Refused tokens (401, then 429 past the failed-authentication budget)
    // are not logged either, on the server or by the CLI.
    let bogus = "hush_0123456789abcdef_HYGIENEbogus0000000000000000000000000000000";
    assert_eq!(bogus.len(), 65);
    let mut refused_codes = Vec::new();
    for _ in 0..25 {
        let out = h.cli_as(bogus, &["secret", "list"], None);
        refused_codes.push(out.status.code());
        client_logs.push(("secret list (bogus token)".to_owned(), out.stderr));
    }
    assert!(refused_codes.iter().all(|c| c.is_some() && *c != Some(0)), "{refused_codes:?}");
    // The values did flow: the reads printed them.
    assert_eq!(printed[4], rotated.as_bytes());
    assert_eq!(printed[7], password.as_bytes());
    h.stop();
    let server_log = h.log.lock().unwrap().clone();
    assert!(
        server_log.contains("TRACE") || server_log.contains("DEBUG"),
        "trace logging was not on:\n{}",
        &server_log[..server_log.len().min(2000)]
    );
    // The secret part: after "hush_", 16 hex characters and '_' (it may itself contain '_').
    let admin_secret = h.token[22..].to_owned();
    assert_eq!(admin_secret.len(), 43);
    let mut needles: Vec<Vec<u8>> = Vec::new();
    for v in [generic, "HYGIENE-generic-7c1d", token, password, rotated] {
        needles.push(v.as_bytes().to_vec());
        needles.push(STANDARD.encode(v).into_bytes());
        needles.push(serde_json::to_string(v).unwrap().into_bytes());
    }
    needles.push(admin_secret.into_bytes());
    needles.push(b"HYGIENEbogus".to_vec());
    for needle in &needles {
        assert!(!contains(server_log.as_bytes(), needle), "server log contains {:?}", String::from_utf8_lossy(needle));
        for (step, log) in &client_logs {
            assert!(!contains(log, needle), "CLI log of `{step}` contains {:?}", String::from_utf8_lossy(needle));
        }
    }
}
