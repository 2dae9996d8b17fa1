//! `hush serve --print-config`: every option with its value and the layer
//! it came from (secrets masked), then what they add up to: TLS, where the
//! root key comes from, the connection cap in force. A table for people,
//! or JSON with `--json`.

use std::io::Write;

use serde_json::{Value, json};

use super::{Layer, Shown};
use crate::args::ServeArgs;
use crate::output;

/// Prints the effective configuration of `args` on stdout.
pub(crate) fn print(args: &ServeArgs) {
    let in_force = InForce::of(args);
    if args.json {
        let options: Vec<Value> =
            args.effective.settings.iter().map(|s| option_json(&s.key, &s.value, &s.layer)).collect();
        output::json(&json!({
            "options": options,
            "in_force": {
                "tls": in_force.tls,
                "root_key": in_force.root_key,
                "max_connections": in_force.max_connections,
            },
        }));
        return;
    }
    let rows: Vec<Vec<String>> =
        args.effective.settings.iter().map(|s| vec![s.key.clone(), text(&s.value), s.layer.to_string()]).collect();
    output::table(&["OPTION", "VALUE", "FROM"], &rows);
    // A closed stdout (`| head`) is not a crash.
    let _ = writeln!(anstream::stdout());
    output::table(
        &["IN FORCE", "VALUE"],
        &[
            vec!["tls".into(), in_force.tls.into()],
            vec!["root key".into(), in_force.root_key],
            vec!["max connections".into(), in_force.max_connections.to_string()],
        ],
    );
}

/// What the options add up to.
struct InForce {
    tls: &'static str,
    root_key: String,
    max_connections: usize,
}

impl InForce {
    fn of(args: &ServeArgs) -> InForce {
        let tls = match (&args.tls.tls_cert, args.tls.insecure_no_tls) {
            (Some(_), _) if args.tls.tls_client_ca.is_some() => "on, mutual (client certificates required)",
            (Some(_), _) => "on",
            (None, true) => "off (--insecure-no-tls: any address, behind a TLS proxy)",
            (None, false) => "off (loopback addresses only)",
        };
        let root_key = match std::env::var("HUSH_ROOT_KEY") {
            _ if args.dirs.kms.is_some() => format!(
                "none: the KMS wraps every key ({} key {})",
                args.dirs.kms_addr.as_deref().unwrap_or("VAULT_ADDR"),
                args.dirs.kms_key.as_deref().unwrap_or("?")
            ),
            Ok(k) if !k.is_empty() => "HUSH_ROOT_KEY (set; value hidden)".to_owned(),
            _ if let Some(file) = &args.dirs.root_key_file => {
                format!("file {} (--root-key-file; read, never written)", file.display())
            }
            _ => format!("file {}", args.dirs.key_dir.join(hush_service::bootstrap::ROOT_KEY_FILE).display()),
        };
        let max_connections = crate::commands::serve::server_limits(&args.limits).max_connections;
        InForce { tls, root_key, max_connections }
    }
}

/// A value as a table cell; `-` for none.
fn text(value: &Shown) -> String {
    match value {
        Shown::Unset => "-".to_owned(),
        Shown::Switch(on) => on.to_string(),
        Shown::One(v) => v.clone(),
        Shown::Many(vs) => vs.join(", "),
    }
}

/// `{"key", "value", "layer"}`, with `file` and `line` or `env` for those layers.
fn option_json(key: &str, value: &Shown, layer: &Layer) -> Value {
    let value = match value {
        Shown::Unset => Value::Null,
        Shown::Switch(on) => json!(on),
        Shown::One(v) => json!(v),
        Shown::Many(vs) => json!(vs),
    };
    let mut option = json!({ "key": key, "value": value, "layer": layer.name() });
    match layer {
        Layer::File { path, line } => {
            option["file"] = json!(path.display().to_string());
            option["line"] = json!(line);
        }
        Layer::Env(var) => option["env"] = json!(var),
        Layer::Default | Layer::Flag => {}
    }
    option
}
