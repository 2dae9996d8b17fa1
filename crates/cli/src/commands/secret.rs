//! `hush secret create|list|get|delete|versions`.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hush_client::{RevealedValue, wipe};
use hush_core::SecretBytes;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::args::{CreateSecret, SecretCommand, TypeArg};
use crate::commands::client;
use crate::exit_code::usage;
use crate::output;
use crate::value_input::{file_bytes, prompt, stdin_bytes, stdin_line, utf8, warn_flag};

pub(crate) async fn run(cmd: SecretCommand) -> anyhow::Result<()> {
    match cmd {
        SecretCommand::Create(args) => create(*args).await,
        SecretCommand::List { ns, conn, prefix, json } => {
            let c = client(&conn)?;
            let mut all = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = c.list_secrets(&ns.namespace, prefix.as_deref(), after.as_deref(), Some(1000)).await?;
                all.extend(page["secrets"].as_array().cloned().unwrap_or_default());
                match page["next"].as_str() {
                    Some(next) => after = Some(next.to_owned()),
                    None => break,
                }
            }
            if json {
                output::json(&json!({ "secrets": all }));
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|s| {
                        ["name", "type", "version", "updated_at", "last_read_at"].map(|k| output::field(s, k)).to_vec()
                    })
                    .collect();
                output::table(&["NAME", "TYPE", "VERSION", "UPDATED", "LAST READ"], &rows);
            }
            Ok(())
        }
        SecretCommand::Get { name, ns, conn, version, field, json } => {
            let revealed = client(&conn)?.get_secret(&ns.namespace, &name, version).await?;
            print_revealed(&revealed, field.as_deref(), json)
        }
        SecretCommand::Delete { name, ns, conn } => {
            client(&conn)?.delete_secret(&ns.namespace, &name).await?;
            println!("deleted {name} (if it existed)");
            Ok(())
        }
        SecretCommand::Versions { name, ns, conn, json } => {
            let v = client(&conn)?.secret_versions(&ns.namespace, &name).await?;
            if json {
                output::json(&v);
            } else {
                let rows: Vec<Vec<String>> = v["versions"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| {
                                let mut row =
                                    ["version", "created_at", "key_version"].map(|k| output::field(x, k)).to_vec();
                                row.push(version_state(x));
                                row
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                output::table(&["VERSION", "CREATED", "KEY", "STATE"], &rows);
            }
            Ok(())
        }
    }
}

/// Refuses flags that belong to other types.
fn refuse(given: &[(bool, &str)], t: &str) -> anyhow::Result<()> {
    match given.iter().find(|(present, _)| *present) {
        Some((_, flag)) => usage(format!("{flag} does not apply to a {t} secret")),
        None => Ok(()),
    }
}

/// Exactly one of a flag value, a stdin read, or a prompt.
fn line_secret(
    flag_value: Option<String>,
    from_stdin: bool,
    flag: &str,
    stdin_flag: &str,
    label: &str,
) -> anyhow::Result<SecretBytes> {
    if from_stdin {
        return stdin_line();
    }
    if let Some(v) = flag_value {
        warn_flag(flag, stdin_flag);
        return Ok(SecretBytes::new(v.into_bytes()));
    }
    prompt(label, &format!("{stdin_flag} or {flag}"))
}

async fn create(a: CreateSecret) -> anyhow::Result<()> {
    let stdin_readers = [a.value_stdin, a.password_stdin, a.token_stdin].iter().filter(|b| **b).count();
    if stdin_readers > 1 {
        return usage("only one value can be read from stdin");
    }
    let mut body = match a.secret_type {
        TypeArg::Generic => {
            refuse(
                &[
                    (a.username.is_some(), "--username"),
                    (a.password.is_some() || a.password_stdin, "--password"),
                    (a.token.is_some() || a.token_stdin, "--token"),
                    (a.server_address.is_some(), "--server-address"),
                    (a.url.is_some(), "--url"),
                ],
                "generic",
            )?;
            let value = if a.value_stdin {
                stdin_bytes()?
            } else if let Some(path) = &a.from_file {
                file_bytes(path)?
            } else if let Some(v) = a.value {
                warn_flag("--value", "--value-stdin or --from-file");
                SecretBytes::new(v.into_bytes())
            } else {
                prompt("value", "--value-stdin, --from-file or --value")?
            };
            let encoded = Zeroizing::new(STANDARD.encode(value.expose_secret()));
            json!({ "type": "generic", "value_base64": encoded.as_str() })
        }
        TypeArg::Git => {
            refuse(
                &[
                    (a.value.is_some() || a.value_stdin || a.from_file.is_some(), "--value"),
                    (a.password.is_some() || a.password_stdin, "--password (a git secret has --token)"),
                    (a.server_address.is_some(), "--server-address"),
                ],
                "git",
            )?;
            let Some(username) = a.username else { return usage("--username is required for a git secret") };
            let token = line_secret(a.token, a.token_stdin, "--token", "--token-stdin", "token")?;
            let mut body = json!({ "type": "git", "username": username, "token": utf8(&token, "token")? });
            if let Some(url) = a.url {
                body["url"] = json!(url);
            }
            body
        }
        TypeArg::Registry => {
            refuse(
                &[
                    (a.value.is_some() || a.value_stdin || a.from_file.is_some(), "--value"),
                    (a.token.is_some() || a.token_stdin, "--token (a registry secret has --password)"),
                    (a.url.is_some(), "--url (a registry secret has --server-address)"),
                ],
                "registry",
            )?;
            let Some(username) = a.username else { return usage("--username is required for a registry secret") };
            let password = line_secret(a.password, a.password_stdin, "--password", "--password-stdin", "password")?;
            json!({
                "type": "registry",
                "username": username,
                "password": utf8(&password, "password")?,
                "server_address": a.server_address.unwrap_or_default(),
            })
        }
    };
    if let Some(cas) = a.cas {
        body["cas"] = json!(cas);
    }
    let result = client(&a.conn)?.put_secret(&a.ns.namespace, &a.name, body.clone()).await;
    wipe(&mut body);
    let meta = result?;
    if a.json {
        output::json(&meta);
    } else {
        let version = output::field(&meta, "version");
        let verb = if version == "1" { "created" } else { "updated" };
        println!("{verb} {} ({}, version {version})", a.name, output::field(&meta, "type"));
    }
    Ok(())
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn print_revealed(r: &RevealedValue, field: Option<&str>, as_json: bool) -> anyhow::Result<()> {
    if let Some(f) = field {
        let Some(bytes) = r.field(f) else {
            let names: Vec<&str> = r.fields.iter().map(|(n, _)| n.as_str()).collect();
            return usage(format!(
                "a {} secret has no field {f:?}; its fields are {}",
                r.secret_type(),
                names.join(", ")
            ));
        };
        return write_stdout(bytes.expose_secret());
    }
    if r.secret_type() == "generic" && !as_json {
        return write_stdout(r.field("value").map(|v| v.expose_secret()).unwrap_or_default());
    }
    // Built from the secret fields just to print them, then wiped.
    let mut object = if as_json { r.metadata.clone() } else { Map::new() };
    for (name, bytes) in &r.fields {
        let value = match std::str::from_utf8(bytes.expose_secret()) {
            Ok(text) => (name.clone(), Value::String(text.to_owned())),
            Err(_) => (format!("{name}_base64"), Value::String(STANDARD.encode(bytes.expose_secret()))),
        };
        object.insert(value.0, value.1);
    }
    let mut value = Value::Object(object);
    let mut text = Zeroizing::new(serde_json::to_string_pretty(&value).unwrap_or_default());
    text.push('\n');
    wipe(&mut value);
    write_stdout(text.as_bytes())
}

/// A version's state for the table: `destroyed`, `deleted TIME` (a time
/// still to come under a KV `delete_version_after`), or `live`.
fn version_state(version: &serde_json::Value) -> String {
    if version["destroyed"] == true {
        "destroyed".to_owned()
    } else if let Some(at) = version["deleted_at"].as_str() {
        format!("deleted {at}")
    } else {
        "live".to_owned()
    }
}
