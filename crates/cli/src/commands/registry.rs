//! `hush registry create|list|delete|resolve|dockerconfig|test`.

use std::io::Write;

use hush_client::{RegistryScope, RegistryTarget};
use hush_core::{RegistryAddress, SecretString};
use hush_registry_probe::Verdict;
use serde_json::Value;

use crate::args::{LookupScopeArgs, RegistryCommand, RegistryLogin, RegistryScopeArgs};
use crate::commands::client;
use crate::exit_code::{self, usage};
use crate::output;
use crate::value_input::{prompt, stdin_line, utf8, warn_flag};

impl RegistryScopeArgs {
    fn scope(&self) -> RegistryScope {
        if self.global {
            RegistryScope::Global
        } else if self.global_private {
            RegistryScope::GlobalPrivate
        } else {
            RegistryScope::Namespace(self.namespace.clone())
        }
    }
}

impl LookupScopeArgs {
    fn scope(&self) -> RegistryScope {
        if self.global_service { RegistryScope::GlobalPrivate } else { RegistryScope::from_namespace(&self.namespace) }
    }
}

/// The password from `--password` (warned about), stdin, or a prompt.
fn password(login: RegistryLogin) -> anyhow::Result<SecretString> {
    let bytes = if login.password_stdin {
        stdin_line()?
    } else if let Some(p) = login.password {
        warn_flag("--password", "--password-stdin");
        hush_core::SecretBytes::new(p.into_bytes())
    } else {
        prompt("password", "--password-stdin or --password")?
    };
    Ok(SecretString::new(utf8(&bytes, "password")?))
}

/// Runs a registry command; returns the exit code (`test` has its own).
pub(crate) async fn run(cmd: RegistryCommand) -> anyhow::Result<u8> {
    match cmd {
        RegistryCommand::Create { url, login, scope, conn, json } => {
            let username = login.username.clone();
            let password = password(login)?;
            let entry = client(&conn)?.put_registry(&scope.scope(), &url, &username, &password).await?;
            if json {
                output::json(&entry);
            } else {
                let verb = if output::field(&entry, "version") == "1" { "created" } else { "updated" };
                println!(
                    "{verb} {} for {} in {} ({})",
                    output::field(&entry, "url"),
                    output::field(&entry, "user"),
                    output::field(&entry, "scope"),
                    output::field(&entry, "name"),
                );
            }
        }
        RegistryCommand::List { scope, conn, json } => {
            let list = client(&conn)?.list_registries(&scope.scope()).await?;
            if json {
                output::json(&list);
            } else {
                let rows: Vec<Vec<String>> = list["registries"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|e| ["url", "user", "name", "updated_at"].map(|k| output::field(e, k)).to_vec())
                            .collect()
                    })
                    .unwrap_or_default();
                output::table(&["URL", "USER", "SECRET", "UPDATED"], &rows);
            }
        }
        RegistryCommand::Delete { url, scope, conn } => {
            let scope = scope.scope();
            client(&conn)?.delete_registry(&scope, &url).await?;
            println!("deleted the entry for {url} in {}", scope.name());
        }
        RegistryCommand::Resolve { image, scope, conn, json } => {
            let entry = client(&conn)?.resolve_registry(&scope.scope(), &RegistryTarget::Image(&image)).await?;
            if json {
                output::json(&entry);
            } else {
                print_resolved(&image, &entry);
            }
        }
        RegistryCommand::Dockerconfig { scope, conn } => {
            let body = client(&conn)?.dockerconfig(&scope.scope()).await?;
            let mut out = std::io::stdout().lock();
            let written =
                out.write_all(body.expose_secret()).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush());
            if let Err(e) = written
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e.into());
            }
        }
        RegistryCommand::Test { url, login, json } => {
            let address = match RegistryAddress::parse(&url) {
                Ok(a) => a,
                Err(e) => return usage(e.to_string()),
            };
            let username = login.username.clone();
            let password = password(login)?;
            let report = hush_registry_probe::probe(&address, &username, &password).await?;
            if json {
                output::json(&report.to_json());
            } else {
                let line = format!("{}: {} ({})", report.verdict.as_str(), report.message, report.endpoint);
                match report.verdict {
                    Verdict::Ok => println!("{line}"),
                    _ => output::error(&line),
                }
            }
            return Ok(match report.verdict {
                Verdict::Ok => exit_code::OK,
                Verdict::Unauthorized => exit_code::DENIED,
                Verdict::Unreachable | Verdict::Error => exit_code::ERROR,
            });
        }
    }
    Ok(exit_code::OK)
}

fn print_resolved(image: &str, entry: &Value) {
    println!(
        "{image} pulls with {} as {} (scope {}, secret {})",
        output::field(entry, "url"),
        output::field(entry, "user"),
        output::field(entry, "scope"),
        output::field(entry, "name"),
    );
}
