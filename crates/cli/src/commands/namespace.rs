//! `hush namespace create|list|delete`.

use std::io::{BufRead, IsTerminal, Write};

use crate::args::NamespaceCommand;
use crate::commands::client;
use crate::exit_code::usage;
use crate::output;

pub(crate) async fn run(cmd: NamespaceCommand) -> anyhow::Result<()> {
    match cmd {
        NamespaceCommand::Create { name, conn, json } => {
            let created = client(&conn)?.create_namespace(&name).await?;
            if json {
                output::json(&created);
            } else {
                println!("created namespace {name}");
            }
        }
        NamespaceCommand::List { conn, json } => {
            let list = client(&conn)?.namespaces().await?;
            if json {
                output::json(&list);
            } else {
                let rows: Vec<Vec<String>> = list["namespaces"]
                    .as_array()
                    .map(|a| a.iter().map(|n| vec![output::field(n, "name"), output::field(n, "created_at")]).collect())
                    .unwrap_or_default();
                output::table(&["NAME", "CREATED"], &rows);
            }
        }
        NamespaceCommand::Delete { name, yes, conn } => {
            if !yes && std::io::stdin().is_terminal() {
                eprint!(
                    "Deleting {name} destroys its keys and every secret in it, for good. Type the name to confirm: "
                );
                let _ = std::io::stderr().flush();
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                if answer.trim() != name {
                    return usage("not confirmed; nothing was deleted");
                }
            }
            client(&conn)?.delete_namespace(&name).await?;
            println!("deleted namespace {name}");
        }
        NamespaceCommand::RotateKey { name, conn, json } => {
            let rotated = client(&conn)?.rotate_namespace_key(&name).await?;
            if json {
                output::json(&rotated);
            } else {
                println!(
                    "namespace {name}: new writes use key version {}; run `hush admin rewrap {name}` to re-encrypt older versions",
                    output::field(&rotated, "key_version")
                );
            }
        }
    }
    Ok(())
}
