//! The layers through `parse_from` and `file_flags`: what a config file
//! gives, what overrides it, and how its mistakes are reported. (Variables
//! are process-wide, so the environment layer is driven through `given`
//! here and through the real binary in the end-to-end tests.)

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap::parser::ValueSource;

use super::file::ConfigFile;
use super::layers::{Effective, FileFlags};
use super::*;
use crate::args::ServeArgs;

/// A config file with `text` in a fresh directory.
fn config(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hush.toml");
    std::fs::write(&path, text).unwrap();
    // Private, as a file with a database password should be (no warning).
    let private = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600);
    std::fs::set_permissions(&path, private).unwrap();
    (dir, path)
}

/// `hush serve --config PATH ARGS…`.
fn serve(path: &Path, args: &[&str]) -> Result<ServeArgs, ParseError> {
    let mut argv: Vec<OsString> = vec!["hush".into(), "serve".into(), "--config".into(), path.into()];
    argv.extend(args.iter().map(OsString::from));
    match parse_from(argv)?.command {
        Command::Serve(args) => Ok(*args),
        other => panic!("not serve: {other:?}"),
    }
}

/// The config file's problems, as reported.
fn problems(text: &str) -> String {
    let (_dir, path) = config(text);
    match serve(&path, &[]) {
        Err(ParseError::Config(e)) => {
            assert!(e.downcast_ref::<crate::exit_code::UsageError>().is_some(), "exit 2: {e:#}");
            format!("{e:#}").replace(&path.display().to_string(), "FILE")
        }
        Err(ParseError::Clap(e, _)) => panic!("clap: {e}"),
        Ok(_) => panic!("accepted: {text}"),
    }
}

/// Each file of `table` is refused with a message that says its part.
fn assert_problems(table: &[(&str, &str)]) {
    for (text, expected) in table {
        let e = problems(text);
        assert!(e.contains(expected), "{text:?}:\n{e}");
    }
}

fn setting<'a>(effective: &'a Effective, key: &str) -> (&'a Shown, &'a Layer) {
    let s = effective.settings.iter().find(|s| s.key == key).unwrap_or_else(|| panic!("no {key}"));
    (&s.value, &s.layer)
}

#[test]
fn file_values_sit_between_defaults_and_flags() {
    let (_dir, path) = config(
        "# hush serve\n\
         listen = \"0.0.0.0:8270\"\n\
         insecure-no-tls = true\n\
         max-connections = 500\n\
         keep-versions = 3\n\
         trusted-proxy = [\"10.0.0.0/8\", \"fd00::/8\"]\n\
         log-format = \"json\"\n\
         idle-timeout = \"2m\"\n",
    );
    let args = serve(&path, &["--keep-versions", "7", "--idle-timeout=90s"]).unwrap();
    let file = |line| Layer::File { path: path.clone(), line };
    let one = |v: &str| Shown::One(v.to_owned());
    let table: [(&str, Shown, Layer); 11] = [
        ("listen", one("0.0.0.0:8270"), file(2)),
        ("insecure-no-tls", Shown::Switch(true), file(3)),
        ("max-connections", one("500"), file(4)),
        ("keep-versions", one("7"), Layer::Flag),
        ("trusted-proxy", Shown::Many(vec!["10.0.0.0/8".into(), "fd00::/8".into()]), file(6)),
        ("log-format", one("json"), file(7)),
        ("idle-timeout", one("90s"), Layer::Flag),
        ("key-dir", one("./hush-keys"), Layer::Default),
        ("max-value-size", one("1MiB"), Layer::Default),
        ("tls-cert", Shown::Unset, Layer::Default),
        ("config", one(path.to_str().unwrap()), Layer::Flag),
    ];
    for (key, value, layer) in table {
        assert_eq!(setting(&args.effective, key), (&value, &layer), "{key}");
    }
    // The typed arguments the server runs with agree.
    assert_eq!(args.listen, "0.0.0.0:8270");
    assert!(args.tls.insecure_no_tls);
    assert_eq!(args.limits.max_connections, Some(500));
    assert_eq!(args.keep_versions, 7);
    assert_eq!(args.limits.trusted_proxies.len(), 2);
    assert_eq!(args.log_format, crate::args::LogFormat::Json);
    assert_eq!(args.limits.idle_timeout, std::time::Duration::from_secs(90));
    // --print-config and --json are not part of what is shown.
    assert!(args.effective.settings.iter().all(|s| !["print-config", "json", "help"].contains(&s.key.as_str())));
}

#[test]
fn a_false_switch_in_the_file_is_the_files() {
    let (_dir, path) = config("insecure-no-tls = false\n");
    let args = serve(&path, &[]).unwrap();
    assert!(!args.tls.insecure_no_tls);
    assert_eq!(setting(&args.effective, "insecure-no-tls"), (&Shown::Switch(false), &Layer::File { path, line: 1 }));
}

#[test]
fn variables_and_flags_override_the_file() {
    let mut command = crate::args::Cli::command();
    command.build();
    let serve = command.find_subcommand("serve").unwrap();
    let (_dir, path) =
        config("listen = \"0.0.0.0:1\"\nkeep-versions = 3\ndata-dir = \"/srv/hush\"\ninsecure-no-tls = true\n");
    let file = ConfigFile::read(&path).unwrap();
    let given = |id: &str| match id {
        "listen" => Some(ValueSource::EnvVariable),
        "keep_versions" => Some(ValueSource::CommandLine),
        "insecure_no_tls" => Some(ValueSource::EnvVariable),
        _ => Some(ValueSource::DefaultValue),
    };
    let FileFlags { args, layer } = layers::file_flags(serve, &file, given).unwrap();
    assert_eq!(args, vec![OsString::from("--data-dir=/srv/hush")]);
    assert_eq!(layer.describe(), format!("data-dir ({}:3)", path.display()));
}

#[test]
fn secrets_are_masked() {
    let (_dir, path) = config("database-url = \"postgres://hush:hunter2@db1/hush_data?sslmode=verify-full\"\n");
    let args = serve(&path, &[]).unwrap();
    assert_eq!(args.dirs.database_url.as_deref(), Some("postgres://hush:hunter2@db1/hush_data?sslmode=verify-full"));
    let (value, _) = setting(&args.effective, "database-url");
    assert_eq!(value, &Shown::One("postgres://hush:****@db1/hush_data?sslmode=verify-full".into()));
    assert!(!format!("{:?}", args.effective).contains("hunter2"));
    assert!(!format!("{args:?}").contains("hunter2"));
}

#[test]
fn unknown_keys_are_named_with_their_lines() {
    let table = [
        (
            "listen = \"127.0.0.1:1\"\ntls_cert = \"a.pem\"\n",
            "FILE:2: unknown key `tls_cert` (did you mean `tls-cert`?)",
        ),
        ("HUSH_LISTEN = \"127.0.0.1:1\"\n", "FILE:1: unknown key `HUSH_LISTEN` (did you mean `listen`?)"),
        (
            "trusted-proxies = [\"10.0.0.0/8\"]\n",
            "FILE:1: unknown key `trusted-proxies` (did you mean `trusted-proxy`?)",
        ),
        ("\n\nlisen = \"x\"\n", "FILE:3: unknown key `lisen`: the keys are hush serve's long flag names"),
        ("[tls]\ncert = \"a.pem\"\n", "FILE:1: unknown key `tls`"),
        ("config = \"other.toml\"\n", "FILE:1: `config` cannot be set in a config file"),
        ("print-config = true\n", "FILE:1: `print-config` cannot be set in a config file"),
        ("addr = \"http://x\"\n", "FILE:1: unknown key `addr`"),
    ];
    assert_problems(&table);
    // Every problem, not just the first.
    let e = problems("a = 1\nlisten = \"x\"\nb = 2\n");
    assert!(e.contains("FILE:1: unknown key `a`") && e.contains("FILE:3: unknown key `b`"), "{e}");
}

#[test]
fn wrong_types_and_refused_values_are_named_with_their_lines() {
    let table = [
        ("\nmax-connections = true\n", "FILE:2: `max-connections` must be a string or an integer, not a boolean"),
        ("insecure-no-tls = \"yes\"\n", "FILE:1: `insecure-no-tls` must be true or false, not a string"),
        ("listen = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n", "FILE:1: `listen` takes one value, not an array"),
        ("keep-versions = 1.5\n", "FILE:1: `keep-versions` must be a string or an integer, not a float"),
        ("trusted-proxy = true\n", "FILE:1: `trusted-proxy` must be a string or an array of strings, not a boolean"),
        ("data-dir = { path = \"x\" }\n", "FILE:1: `data-dir` must be a string or an integer, not a table"),
        // A string where a number is expected: the flag's own message.
        ("max-connections = \"lots\"\n", "FILE:1: `max-connections`: invalid value 'lots' for '--max-connections <N>'"),
        (
            "max-connections = 0\n",
            "FILE:1: `max-connections`: invalid value '0' for '--max-connections <N>': 0 is not in 1..",
        ),
        ("keep-versions = -1\n", "FILE:1: `keep-versions`: invalid value '-1' for '--keep-versions <KEEP_VERSIONS>'"),
        ("log-format = \"xml\"\n", "FILE:1: `log-format`: invalid value 'xml' for '--log-format <LOG_FORMAT>'"),
        ("header-read-timeout = \"0s\"\n", "is zero; give a positive duration"),
        ("trusted-proxy = [\"10.0.0.0/8\", \"proxy.internal\"]\n", "\"proxy.internal\" is not an address or CIDR"),
        ("trusted-proxy = \"10.0.0.0/8,proxy.internal\"\n", "\"proxy.internal\" is not an address or CIDR"),
        ("listen = \"127.0.0.1:1\"\nlisten = \"127.0.0.1:2\"\n", "FILE:2:1: not valid TOML"),
    ];
    assert_problems(&table);
    let e = problems("log-format = \"xml\"\n");
    assert!(e.contains("possible values: text, json"), "{e}");
}

#[test]
fn checks_across_options_see_the_file() {
    // --tls-key on the command line, its partner --tls-cert in the file.
    let (_dir, path) = config("tls-cert = \"server.pem\"\n");
    let args = serve(&path, &["--tls-key", "server-key.pem"]).unwrap();
    assert_eq!(args.tls.tls_cert.as_deref(), Some(Path::new("server.pem")));
    // The file alone is missing the key: clap says so, and what the file gave.
    match serve(&path, &[]) {
        Err(ParseError::Clap(e, Some(from_file))) => {
            assert!(e.to_string().contains("--tls-key"), "{e}");
            assert_eq!(from_file, format!("tls-cert ({}:1)", path.display()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_a_config_file_nothing_changes() {
    let argv = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
    let cli = parse_from(argv(&["hush", "serve", "--listen", "127.0.0.1:9", "--print-config"])).unwrap();
    let Command::Serve(args) = cli.command else { panic!("not serve") };
    assert_eq!(setting(&args.effective, "listen"), (&Shown::One("127.0.0.1:9".into()), &Layer::Flag));
    assert_eq!(setting(&args.effective, "config").0, &Shown::Unset);
    assert!(matches!(parse_from(argv(&["hush", "secret", "list"])).unwrap().command, Command::Secret(_)));
    // --json says how to print the configuration.
    assert!(matches!(parse_from(argv(&["hush", "serve", "--json"])), Err(ParseError::Clap(..))));
    // A missing file is not a usage error (exit 1), and names the file.
    match parse_from(argv(&["hush", "serve", "--config", "/nonexistent/hush.toml"])) {
        Err(ParseError::Config(e)) => {
            assert!(e.downcast_ref::<crate::exit_code::UsageError>().is_none());
            assert!(format!("{e:#}").contains("cannot read the config file /nonexistent/hush.toml"), "{e:#}");
        }
        other => panic!("{other:?}"),
    }
}
