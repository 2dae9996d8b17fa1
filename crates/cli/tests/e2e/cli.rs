//! The CLI shapes from the issue, byte-exact values, folders, versions.

use crate::harness::{Hush, show};

#[test]
fn tour_of_every_type() {
    let h = Hush::running();
    let out = h.cli(&[
        "secret",
        "create",
        "ghcr-pull",
        "--type",
        "registry",
        "--username",
        "u",
        "--password",
        "t",
        "--server-address",
        "ghcr.io",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("can be seen by other local users"), "{}", show(&out));
    let out = h.cli(&["secret", "create", "gh-clone", "--type", "git", "--username", "u", "--token", "pat"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let out = h.cli(&["secret", "get", "ghcr-pull"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, serde_json::json!({"username": "u", "password": "t", "server_address": "ghcr.io"}));
    let out = h.cli(&["secret", "get", "gh-clone", "--field", "token"]);
    assert_eq!(out.stdout, b"pat");
    let out = h.cli(&["secret", "get", "gh-clone", "--field", "password"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("username, token"), "{}", show(&out));

    let out = h.cli(&["secret", "get", "gh-clone", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["type"], "git");
    assert_eq!(v["version"], 1);
    assert_eq!(v["token"], "pat");

    let out = h.cli(&["secret", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["secrets"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["gh-clone", "ghcr-pull"]);
    // Listing never carries a value.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("pat\""));
    for s in v["secrets"].as_array().unwrap() {
        let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["created_at", "last_read_at", "name", "type", "updated_at", "version"]);
    }
    let table = h.cli(&["secret", "list"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(text.contains("gh-clone") && text.contains("registry"), "{text}");
}

#[test]
fn values_are_byte_exact() {
    let h = Hush::running();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("multi", b"line1\nline2\r\n\n\n".to_vec()),
        ("trailing-space", b"  padded  ".to_vec()),
        ("binary", (0u8..=255).collect()),
        ("utf8", "pässwörd 🔑\n".as_bytes().to_vec()),
        ("json-ish", br#"{"a":"\u0000\\"}"#.to_vec()),
    ];
    for (name, bytes) in &cases {
        let out = h.cli_stdin(&["secret", "create", name, "--value-stdin"], bytes);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", show(&out));
        let out = h.cli(&["secret", "get", name]);
        assert_eq!(&out.stdout, bytes, "{name}");
    }
    // --from-file, byte for byte.
    let file = h.dir.path().join("blob");
    std::fs::write(&file, b"\x00\xff\nend\n").unwrap();
    let out = h.cli(&["secret", "create", "from-file", "--from-file", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(h.cli(&["secret", "get", "from-file"]).stdout, b"\x00\xff\nend\n");
    // A password read from stdin loses exactly one trailing newline.
    let out = h.cli_stdin(
        &["secret", "create", "reg", "--type", "registry", "--username", "u", "--password-stdin"],
        b"p w\n\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(h.cli(&["secret", "get", "reg", "--field", "password"]).stdout, b"p w\n");
}

#[test]
fn rotation_versions_cas_and_delete() {
    let h = Hush::running();
    for v in ["one", "two", "three"] {
        let out = h.cli(&["secret", "create", "db/password", "--value", v]);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    }
    assert_eq!(h.cli(&["secret", "get", "db/password"]).stdout, b"three");
    assert_eq!(h.cli(&["secret", "get", "db/password", "--version", "1"]).stdout, b"one");
    let out = h.cli(&["secret", "versions", "db/password", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let versions: Vec<u64> = v["versions"].as_array().unwrap().iter().map(|x| x["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [3, 2, 1]);
    let out = h.cli(&["secret", "get", "db/password", "--version", "9"]);
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("version_not_found"), "{}", show(&out));

    // cas: stale → conflict (exit 5), current → ok, 0 on an existing secret → conflict.
    let out = h.cli(&["secret", "create", "db/password", "--value", "x", "--cas", "2"]);
    assert_eq!(out.status.code(), Some(5), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("current version is 3"), "{}", show(&out));
    assert_eq!(h.cli(&["secret", "create", "db/password", "--value", "four", "--cas", "3"]).status.code(), Some(0));
    assert_eq!(h.cli(&["secret", "create", "db/password", "--value", "x", "--cas", "0"]).status.code(), Some(5));
    assert_eq!(h.cli(&["secret", "create", "fresh", "--value", "x", "--cas", "0"]).status.code(), Some(0));
    // A type is fixed at creation.
    let out = h.cli(&["secret", "create", "db/password", "--type", "git", "--username", "u", "--token", "t"]);
    assert_eq!(out.status.code(), Some(5), "{}", show(&out));
    assert_eq!(h.cli(&["secret", "get", "db/password"]).stdout, b"four");

    // Delete is idempotent.
    for _ in 0..2 {
        let out = h.cli(&["secret", "delete", "db/password"]);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    }
    assert_eq!(h.cli(&["secret", "get", "db/password"]).status.code(), Some(4));
    // Re-created, it starts again at version 1 and old versions are gone.
    assert_eq!(h.cli(&["secret", "create", "db/password", "--value", "new"]).status.code(), Some(0));
    assert_eq!(h.cli(&["secret", "get", "db/password", "--version", "2"]).status.code(), Some(4));
}

#[test]
fn only_the_last_versions_are_kept() {
    let mut h = Hush::init();
    h.start(&[], &["--keep-versions", "3"]);
    for i in 1..=5 {
        assert_eq!(h.cli(&["secret", "create", "k", "--value", &format!("v{i}")]).status.code(), Some(0));
    }
    let out = h.cli(&["secret", "versions", "k", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["versions"].as_array().unwrap().len(), 3);
    assert_eq!(h.cli(&["secret", "get", "k", "--version", "2"]).status.code(), Some(4));
    assert_eq!(h.cli(&["secret", "get", "k", "--version", "3"]).stdout, b"v3");
}

#[test]
fn folders_prefixes_and_a_secret_named_versions() {
    let h = Hush::running();
    for name in ["app/db", "app/api/key", "app2", "a", "a/versions"] {
        assert_eq!(h.cli(&["secret", "create", name, "--value", name]).status.code(), Some(0), "{name}");
    }
    let out = h.cli(&["secret", "list", "--prefix", "app/", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["secrets"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["app/api/key", "app/db"]);
    // `a/versions` is a secret; the versions of `a` are a listing.
    assert_eq!(h.cli(&["secret", "get", "a/versions"]).stdout, b"a/versions");
    let out = h.cli(&["secret", "versions", "a", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["name"], "a");
    // Bad names are refused with the position, not echoed.
    let out = h.cli(&["secret", "create", "bad name", "--value", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("position 4"), "{}", show(&out));
}

#[test]
fn pagination_walks_every_page() {
    let h = Hush::running();
    for i in 0..7 {
        assert_eq!(h.cli(&["secret", "create", &format!("s{i}"), "--value", "x"]).status.code(), Some(0));
    }
    let client = h.http();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut names = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = h.url("/v1/namespaces/default/secrets?limit=3");
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let page: serde_json::Value =
            rt.block_on(async { client.get(url).bearer_auth(&h.token).send().await.unwrap().json().await.unwrap() });
        names.extend(page["secrets"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(names, ["s0", "s1", "s2", "s3", "s4", "s5", "s6"]);
}

#[test]
fn usage_errors_and_help() {
    let h = Hush::running();
    let table: &[(&[&str], &str)] = &[
        (&["secret", "create", "x", "--type", "git", "--token", "t"], "--username is required"),
        (&["secret", "create", "x", "--username", "u", "--value", "v"], "--username does not apply"),
        (&["secret", "create", "x", "--type", "registry", "--username", "u", "--token", "t"], "--token"),
        (&["secret", "create", "x"], "no value given"),
        (&["secret", "create", "x", "--value", "a", "--value-stdin"], "cannot be used with"),
    ];
    for (args, expected) in table {
        let out = h.cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains(expected), "{args:?}: {}", show(&out));
    }
    let out = h.cli(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Exit codes") && text.contains("HUSH_TOKEN"), "{text}");
    let out = h.cli(&["secret", "create", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--value-stdin"));
}

#[test]
fn namespaces_and_the_env_default() {
    let h = Hush::running();
    assert_eq!(h.cli(&["namespace", "create", "team-a"]).status.code(), Some(0));
    let out = h.cli(&["namespace", "create", "team-a"]);
    assert_eq!(out.status.code(), Some(5), "{}", show(&out));
    let out = h.cli(&["namespace", "create", "global"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let out = h.cli(&["namespace", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["namespaces"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["default", "team-a"]);
    // -n, then HUSH_NAMESPACE, then default.
    assert_eq!(h.cli(&["secret", "create", "k", "-n", "team-a", "--value", "in-a"]).status.code(), Some(0));
    let out = std::process::Command::new(crate::harness::HUSH)
        .args(["secret", "get", "k"])
        .env("HUSH_ADDR", &h.addr)
        .env("HUSH_TOKEN", &h.token)
        .env("HUSH_NAMESPACE", "team-a")
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"in-a", "{}", show(&out));
    assert_eq!(h.cli(&["secret", "get", "k"]).status.code(), Some(4));
    assert_eq!(h.cli(&["namespace", "delete", "team-a"]).status.code(), Some(0));
    assert_eq!(h.cli(&["secret", "get", "k", "-n", "team-a"]).status.code(), Some(4));
    assert_eq!(h.cli(&["namespace", "delete", "team-a"]).status.code(), Some(4));
}
