//! `hush token create|list|revoke`.

use serde_json::{Value, json};

use crate::args::TokenCommand;
use crate::commands::client;
use crate::output;

pub(crate) async fn run(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create { namespaces, all_namespaces, scopes, ttl, description, conn, json } => {
            let mut body = json!({
                "namespaces": if all_namespaces { json!("*") } else { json!(namespaces) },
                "scopes": scopes,
                "description": description,
            });
            if let Some(ttl) = ttl {
                body["ttl"] = json!(ttl.as_secs().max(1));
            }
            let created = client(&conn)?.create_token(&body).await?;
            if json {
                output::json(&created);
                return Ok(());
            }
            let list = |v: &Value| match v {
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
                other => other.as_str().unwrap_or("-").to_owned(),
            };
            output::note(&format!(
                "token {} for namespaces {} with scopes {}, expires {} (shown once):",
                output::field(&created, "id"),
                list(&created["namespaces"]),
                list(&created["scopes"]),
                created["expires_at"].as_str().unwrap_or("never"),
            ));
            println!("{}", created["token"].as_str().unwrap_or_default());
        }
        TokenCommand::List { conn, json } => {
            let list = client(&conn)?.tokens().await?;
            if json {
                output::json(&list);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list["tokens"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|t| {
                            let join = |k: &str| match &t[k] {
                                Value::Array(items) => {
                                    items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")
                                }
                                other => other.as_str().unwrap_or("-").to_owned(),
                            };
                            let state = if !t["revoked_at"].is_null() { "revoked" } else { "active" };
                            vec![
                                output::field(t, "id"),
                                join("namespaces"),
                                join("scopes"),
                                output::field(t, "expires_at"),
                                state.to_owned(),
                                output::field(t, "description"),
                            ]
                        })
                        .collect()
                })
                .unwrap_or_default();
            output::table(&["ID", "NAMESPACES", "SCOPES", "EXPIRES", "STATE", "DESCRIPTION"], &rows);
        }
        TokenCommand::Revoke { id, conn } => {
            client(&conn)?.revoke_token(&id).await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}
