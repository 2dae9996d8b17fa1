//! `hush serve --config FILE` (issue 21): a server whose address,
//! directories and limits come from a TOML file; each option's layer
//! (default < file < environment < flag) as `--print-config` reports it;
//! and the file's mistakes refused by key and line, never by value.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::components::free_port;
use crate::harness::{HUSH, Hush, option, print_config, show};

/// Writes `text` as `hush.toml` (mode 0600) in `dir`.
fn write_config(dir: &Path, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("hush.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// `hush serve` with no flag but what `args` adds, run from `cwd` (where
/// the default directories would not be the installation's).
fn bare_serve(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(HUSH);
    cmd.arg("serve")
        .args(args)
        .current_dir(cwd)
        .env_remove("HUSH_ROOT_KEY")
        .env_remove("HUSH_LISTEN")
        .env_remove("HUSH_DATA_DIR")
        .env_remove("HUSH_KEY_DIR")
        .env_remove("HUSH_MAX_VALUE_SIZE")
        .env("HUSH_LOG", "info")
        .envs(env.iter().copied());
    cmd
}

#[test]
fn serve_takes_its_address_directories_and_limits_from_the_config_file() {
    let mut h = Hush::init();
    let port = free_port();
    let elsewhere = h.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let config = write_config(
        h.dir.path(),
        &format!(
            "# hush serve, configured from a file\n\
             listen = \"127.0.0.1:{port}\"\n\
             data-dir = \"{}\"\n\
             key-dir = \"{}\"\n\
             max-value-size = \"1KiB\"\n",
            h.data_dir().display(),
            h.key_dir().display()
        ),
    );
    h.start_command(bare_serve(&elsewhere, &["--config", config.to_str().unwrap()], &[]));
    assert_eq!(h.addr, format!("http://127.0.0.1:{port}"));
    // The installation's admin token works there: the directories are the file's.
    let out = h.cli_stdin(&["secret", "create", "small", "--value-stdin"], b"fits");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // The file's limit is in force: a value over 1 KiB is refused (413: exit 2).
    let out = h.cli_stdin(&["secret", "create", "big", "--value-stdin"], &[b'x'; 2048]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(!elsewhere.join("hush-data").exists(), "the default data directory was used");
    h.stop();

    // HUSH_CONFIG names the file as well as --config does.
    h.start_command(bare_serve(&elsewhere, &[], &[("HUSH_CONFIG", config.to_str().unwrap())]));
    assert_eq!(h.addr, format!("http://127.0.0.1:{port}"));
    let out = h.cli(&["secret", "get", "small"]);
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(0), &b"fits"[..]), "{}", show(&out));
}

/// One option of the layering table: its key, its value in the file
/// (TOML), its variable and value, its flag's value, and the value shown
/// from each layer (default, file, env, flag).
struct Row {
    key: &'static str,
    file: &'static str,
    env: (&'static str, &'static str),
    flag: &'static str,
    shown: [Value; 4],
}

#[test]
fn each_option_comes_from_its_flag_its_variable_the_file_or_its_default() {
    let rows = [
        Row {
            key: "listen",
            file: "\"127.0.0.1:1001\"",
            env: ("HUSH_LISTEN", "127.0.0.1:1002"),
            flag: "127.0.0.1:1003",
            shown: [json!("127.0.0.1:8270"), json!("127.0.0.1:1001"), json!("127.0.0.1:1002"), json!("127.0.0.1:1003")],
        },
        Row {
            key: "max-connections",
            file: "500",
            env: ("HUSH_MAX_CONNECTIONS", "600"),
            flag: "700",
            shown: [Value::Null, json!("500"), json!("600"), json!("700")],
        },
        Row {
            key: "keep-versions",
            file: "3",
            env: ("HUSH_KEEP_VERSIONS", "4"),
            flag: "5",
            shown: [json!("10"), json!("3"), json!("4"), json!("5")],
        },
        Row {
            key: "idle-timeout",
            file: "\"2m\"",
            env: ("HUSH_IDLE_TIMEOUT", "3m"),
            flag: "4m",
            shown: [json!("60s"), json!("2m"), json!("3m"), json!("4m")],
        },
        Row {
            key: "trusted-proxy",
            file: "[\"10.0.0.0/8\", \"fd00::/8\"]",
            env: ("HUSH_TRUSTED_PROXIES", "10.1.0.0/16,10.2.0.0/16"),
            flag: "10.3.0.0/16",
            shown: [
                Value::Null,
                json!(["10.0.0.0/8", "fd00::/8"]),
                json!(["10.1.0.0/16", "10.2.0.0/16"]),
                json!(["10.3.0.0/16"]),
            ],
        },
        Row {
            key: "database-url",
            file: "\"postgres://hush:from-file@db1/hush_data?sslmode=verify-full\"",
            env: ("HUSH_DATABASE_URL", "postgres://hush:from-env@db2/hush_data"),
            flag: "postgres://hush:from-flag@db3/hush_data",
            shown: [
                Value::Null,
                json!("postgres://hush:****@db1/hush_data?sslmode=verify-full"),
                json!("postgres://hush:****@db2/hush_data"),
                json!("postgres://hush:****@db3/hush_data"),
            ],
        },
        Row {
            key: "insecure-no-tls",
            file: "true",
            env: ("HUSH_INSECURE_NO_TLS", "false"),
            flag: "",
            shown: [json!(false), json!(true), json!(false), json!(true)],
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let full: String = rows.iter().map(|r| format!("{} = {}\n", r.key, r.file)).collect();
    let full = write_config(dir.path(), &format!("# every row's key\n{full}"));
    let empty_dir = dir.path().join("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    let empty = write_config(&empty_dir, "# nothing\n");
    // Which layers each case gives, and the one that wins.
    let cases: [(&Path, bool, bool, usize); 5] = [
        (&empty, false, false, 0),
        (&full, false, false, 1),
        (&full, true, false, 2),
        (&full, true, true, 3),
        (&empty, true, true, 3),
    ];
    for (config, with_env, with_flags, winner) in cases {
        let mut args = vec!["--config", config.to_str().unwrap()];
        let mut env = Vec::new();
        for row in &rows {
            if with_env {
                env.push(row.env);
            }
            match row.flag {
                _ if !with_flags => {}
                "" => args.push(flag_name(row.key)),
                value => args.extend([flag_name(row.key), value]),
            }
        }
        let printed = print_config(&args, &env);
        for (line, row) in (2..).zip(&rows) {
            let o = option(&printed, row.key);
            let case = format!("{} with env {with_env}, flags {with_flags}: {o}", config.display());
            assert_eq!(o["value"], row.shown[winner], "{case}");
            let layer = ["default", "file", "env", "flag"][winner];
            assert_eq!(o["layer"], layer, "{case}");
            match layer {
                "file" => assert_eq!((&o["file"], &o["line"]), (&json!(config), &json!(line)), "{case}"),
                "env" => assert_eq!(o["env"], row.env.0, "{case}"),
                _ => {}
            }
        }
        for password in ["from-file", "from-env", "from-flag"] {
            assert!(!printed.to_string().contains(password), "{printed}");
        }
        assert_eq!(option(&printed, "config")["layer"], "flag");
    }

    // The table for people says the same: FILE:LINE, the variable, the flag.
    let out = bare_serve(
        dir.path(),
        &["--config", full.to_str().unwrap(), "--print-config", "--keep-versions", "9"],
        &[("HUSH_MAX_CONNECTIONS", "600")],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let words = |line: &str| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let lines: Vec<Vec<String>> = text.lines().map(words).collect();
    let shown = |key: &str| lines.iter().find(|l| l.first().is_some_and(|k| k == key)).cloned().unwrap_or_default();
    assert_eq!(shown("OPTION"), ["OPTION", "VALUE", "FROM"]);
    assert_eq!(shown("listen"), ["listen", "127.0.0.1:1001", "file", &format!("{}:2", full.display())]);
    assert_eq!(shown("max-connections"), ["max-connections", "600", "env", "HUSH_MAX_CONNECTIONS"]);
    assert_eq!(shown("keep-versions"), ["keep-versions", "9", "flag"]);
    assert_eq!(shown("key-dir"), ["key-dir", "./hush-keys", "default"]);
    assert_eq!(shown("max"), ["max", "connections", "600"], "{text}");
    assert!(!text.contains("from-file"), "{text}");
}

/// `--KEY`, leaked for the test's argument lists.
fn flag_name(key: &str) -> &'static str {
    Box::leak(format!("--{key}").into_boxed_str())
}

#[test]
fn a_bad_config_file_is_refused_by_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    // (file, exit code, what stderr says); FILE stands for the file's path.
    let table: [(&str, i32, &[&str]); 7] = [
        (
            "listen = \"127.0.0.1:1\"\n\ntls_cert = \"server.pem\"\n",
            2,
            &["FILE:3: unknown key `tls_cert` (did you mean `tls-cert`?)"],
        ),
        ("listen = \"127.0.0.1:1\"\ndatabase-url = postgres://hush:hunter2@db/x\n", 2, &["FILE:2:16: not valid TOML"]),
        (
            "keep-versions = 3\nmax-connections = \"lots\"\n",
            2,
            &["FILE:2: `max-connections`: invalid value 'lots' for '--max-connections <N>'"],
        ),
        ("\ninsecure-no-tls = \"yes\"\n", 2, &["FILE:2: `insecure-no-tls` must be true or false, not a string"]),
        (
            "keep-versions = 0\n",
            2,
            &["FILE:1: `keep-versions`: invalid value '0' for '--keep-versions <KEEP_VERSIONS>': 0 is not in 1..=1000"],
        ),
        (
            "database-url = \"postgres://hush:hunter2@db/x\"\nmax-connections = 10\ntls-cert = \"server.pem\"\n",
            2,
            &[
                "--tls-key <FILE>",
                "note: the config file gave database-url (FILE:1), max-connections (FILE:2), tls-cert (FILE:3)",
            ],
        ),
        ("", 1, &["cannot read the config file FILE: No such file or directory"]),
    ];
    for (text, code, expected) in table {
        let path = if text.is_empty() { dir.path().join("missing.toml") } else { write_config(dir.path(), text) };
        let out = bare_serve(dir.path(), &["--config", path.to_str().unwrap(), "--listen", "127.0.0.1:0"], &[])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).replace(&path.display().to_string(), "FILE");
        let stderr = stderr.replace(&dir.path().display().to_string(), "FILE");
        assert_eq!(out.status.code(), Some(code), "{text:?}: {}", show(&out));
        for part in expected {
            assert!(stderr.contains(part), "{text:?}: {part:?} in\n{stderr}");
        }
        assert!(!stderr.contains("hunter2") && !stderr.contains("panicked"), "{stderr}");
    }

    // A file holding a password that others can read is served, with a warning.
    let path = write_config(dir.path(), "database-url = \"postgres://hush:hunter2@db/x\"\n");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = bare_serve(dir.path(), &["--config", path.to_str().unwrap(), "--print-config"], &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sets `database-url` and other users can read it: chmod 600 it"), "{stderr}");
}

#[test]
fn the_example_in_the_operations_guide_is_complete_and_valid() {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/operations.md")).unwrap();
    let start = guide.find("```toml\n# /etc/hush/hush.toml").expect("the example") + "```toml\n".len();
    let example = &guide[start..start + guide[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), example);
    let printed = print_config(&["--config", path.to_str().unwrap()], &[]);
    assert_eq!(option(&printed, "listen")["layer"], "file");
    assert_eq!(option(&printed, "trusted-proxy")["value"], json!(["10.0.0.0/8", "fd00::/8"]));
    // Every option is in it, set or commented out.
    for o in printed["options"].as_array().unwrap() {
        let key = o["key"].as_str().unwrap();
        let listed =
            example.lines().any(|l| l.starts_with(&format!("{key} = ")) || l.starts_with(&format!("# {key} = ")));
        assert!(key == "config" || listed, "{key} is not in the example");
    }
}
