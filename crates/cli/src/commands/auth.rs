//! `hush auth role create|list|get|delete` and `hush login`.

use hush_client::{JwtSource, WorkloadLogin};
use serde_json::{Value, json};

use crate::args::{AuthCommand, LoginArgs, RoleCommand, RoleCreateArgs};
use crate::commands::{anonymous_client, client};
use crate::exit_code::usage;
use crate::output;

pub(crate) async fn run(cmd: AuthCommand) -> anyhow::Result<()> {
    let AuthCommand::Role(cmd) = cmd;
    match cmd {
        RoleCommand::Create(args) => create(*args).await,
        RoleCommand::List { conn, json } => {
            let list = client(&conn)?.roles().await?;
            if json {
                output::json(&list);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list["roles"]
                .as_array()
                .map(|roles| {
                    roles
                        .iter()
                        .map(|r| {
                            vec![
                                output::field(r, "name"),
                                output::field(r, "issuer"),
                                joined(&r["namespaces"]),
                                joined(&r["scopes"]),
                                joined(&r["bound_claims"]),
                                format!("{}s", r["ttl"]),
                            ]
                        })
                        .collect()
                })
                .unwrap_or_default();
            output::table(&["NAME", "ISSUER", "NAMESPACES", "SCOPES", "BOUND CLAIMS", "TTL"], &rows);
            Ok(())
        }
        RoleCommand::Get { name, conn, json } => {
            let role = client(&conn)?.role(&name).await?;
            if json {
                output::json(&role);
            } else {
                show(&role);
            }
            Ok(())
        }
        RoleCommand::Delete { name, conn } => {
            client(&conn)?.delete_role(&name).await?;
            println!("deleted role {name}");
            Ok(())
        }
    }
}

async fn create(args: RoleCreateArgs) -> anyhow::Result<()> {
    let mut body = json!({
        "name": args.name,
        "namespaces": args.namespaces,
        "scopes": args.scopes,
        "issuer": args.issuer,
        "audience": args.audience,
        "bound_claims": args.bound_claims,
        "record_claims": args.record_claims,
        "ttl": args.ttl.as_secs(),
        "max_ttl": args.max_ttl.as_secs(),
        "max_jwt_lifetime": args.max_jwt_lifetime.as_secs(),
    });
    if let Some(url) = &args.jwks_url {
        body["jwks_url"] = json!(url);
    }
    if let Some(path) = &args.jwks_file {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => return usage(format!("cannot read the JWKS file {}: {e}", path.display())),
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(set) if set.get("keys").is_some_and(Value::is_array) => body["jwks"] = set,
            _ => return usage(format!("{} is not a JWKS document ({{\"keys\": [...]}})", path.display())),
        }
    }
    let role = client(&args.conn)?.create_role(&body).await?;
    if args.json {
        output::json(&role);
    } else {
        output::note(&format!("created login role {}", output::field(&role, "name")));
        show(&role);
    }
    Ok(())
}

fn joined(v: &Value) -> String {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")).unwrap_or_default()
}

fn show(role: &Value) {
    let keys = match role["keys"].as_object().and_then(|k| k.iter().next()) {
        Some((kind, Value::String(url))) => format!("{kind} {url}"),
        Some((kind, _)) => format!("{kind} (given when the role was made)"),
        None => "-".into(),
    };
    let rows = [
        ("name", output::field(role, "name")),
        ("issuer", output::field(role, "issuer")),
        ("audience", output::field(role, "audience")),
        ("bound claims", joined(&role["bound_claims"]).replace(",", ", ")),
        ("recorded claims", joined(&role["record_claims"])),
        ("keys", keys),
        ("namespaces", joined(&role["namespaces"])),
        ("scopes", joined(&role["scopes"])),
        ("ttl", format!("{}s (max {}s)", role["ttl"], role["max_ttl"])),
        ("longest JWT", format!("{}s", role["max_jwt_lifetime"])),
        ("created", output::field(role, "created_at")),
    ];
    for (label, value) in rows {
        println!("{label:<16} {value}");
    }
}

/// `hush login`: the token alone on stdout, or JSON.
pub(crate) async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let source = match (&args.jwt_file, &args.jwt_env) {
        (Some(file), _) => JwtSource::File(file.clone()),
        (None, Some(var)) => JwtSource::Env(var.clone()),
        (None, None) => match JwtSource::github_actions(args.audience.clone()) {
            Some(github) => github,
            None => {
                return usage(
                    "no JWT to log in with: give --jwt-file or --jwt-env, or run on GitHub Actions \
                     with `permissions: id-token: write`",
                );
            }
        },
    };
    let login = WorkloadLogin { role: args.role.clone(), source };
    let (token, mut record) = anonymous_client(&args.conn)?.log_in(&login, args.ttl.as_deref()).await?;
    if args.json {
        record["token"] = Value::String(token.expose_secret().to_owned());
        output::json(&record);
        hush_client::wipe(&mut record);
        return Ok(());
    }
    let identity = &record["identity"];
    output::note(&format!(
        "logged in with role {} as {} (token {}, namespaces {}, scopes {}, expires {})",
        args.role,
        identity["sub"].as_str().unwrap_or("-"),
        output::field(&record, "id"),
        joined(&record["namespaces"]),
        joined(&record["scopes"]),
        output::field(&record, "expires_at"),
    ));
    println!("{}", token.expose_secret());
    Ok(())
}
