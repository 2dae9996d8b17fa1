//! Namespace isolation holds over crafted paths: a token bound to one
//! namespace never reaches another's value, whatever the path looks like
//! (encoded, with `..`, or through another surface). Requests go out raw,
//! so no client normalises the path first.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::harness::Hush;

/// Sends a raw HTTP/1.1 request; returns the status and the whole answer.
fn raw(h: &Hush, head: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(h.host_port()).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer)
}

#[test]
fn a_bound_token_cannot_reach_another_namespace_over_crafted_paths() {
    let h = Hush::running();
    for ns in ["a", "b"] {
        assert_eq!(h.cli(&["namespace", "create", ns]).status.code(), Some(0));
    }
    assert_eq!(h.cli(&["secret", "create", "s", "-n", "a", "--value", "mine-a-7731"]).status.code(), Some(0));
    let theirs = "theirs-b-5e09";
    assert_eq!(h.cli(&["secret", "create", "s", "-n", "b", "--value", theirs]).status.code(), Some(0));
    let git = ["secret", "create", "g", "-n", "b", "--type", "git", "--username", "u", "--token", theirs];
    assert_eq!(h.cli(&[&git[..], &["--url", "https://git.example/"]].concat()).status.code(), Some(0));
    let token = h.token(&["a"], &["secrets:list", "secrets:read", "secrets:write"]);

    let get = |path: &str, extra: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: hush\r\nAuthorization: Bearer {token}\r\n{extra}Connection: close\r\n\r\n"
        )
    };
    let crafted = [
        get("/v1/namespaces/b/secrets/s", ""),
        get("/v1/namespaces/a/../b/secrets/s", ""),
        get("/v1/namespaces/a/%2e%2e/b/secrets/s", ""),
        get("/v1/namespaces/%62/secrets/s", ""),
        get("/v1/namespaces/a/secrets/..%2f..%2fb%2fsecrets%2fs", ""),
        get("/v1/namespaces/a/secrets/%2e%2e/%2e%2e/b/secrets/s", ""),
        get("/api/v2/namespaces/b/secrets/s", ""),
        get("/v1/namespaces/b/git-credentials?url=https://git.example/repo", ""),
        get("/v1/ignite/secrets/s", "x-hush-namespace: b\r\n"),
        get("/v1/namespaces/a%2fb/secrets/s", ""),
    ];
    for request in &crafted {
        let (status, answer) = raw(&h, request);
        let line = request.lines().next().unwrap();
        assert!(matches!(status, 400 | 403 | 404), "{line}: {status}\n{answer}");
        assert!(!answer.contains(theirs), "{line} leaked the other namespace's value");
    }
    // The token does work where it is bound.
    let (status, answer) = raw(&h, &get("/v1/namespaces/a/secrets/s", ""));
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("mine-a-7731"));
    // And it cannot write there either.
    let body = r#"{"value":"overwritten"}"#;
    let put = format!(
        "PUT /v1/namespaces/a/../b/secrets/s HTTP/1.1\r\nHost: hush\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, _) = raw(&h, &put);
    assert!(matches!(status, 400 | 403 | 404), "{status}");
    assert_eq!(h.cli(&["secret", "get", "s", "-n", "b"]).stdout, theirs.as_bytes(), "b's value is unchanged");
}
