//! `hush admin`: backup, restore, root key rotation, and rewrap
//! (re-encrypting stored versions under each namespace's current key, a
//! batch per request, with a progress bar on a terminal).

use anyhow::Context;

use hush_client::Client;
use serde_json::{Value, json};

use crate::args::{AdminAuditCommand, AdminCommand};
use crate::commands::client;
use crate::interrupt;
use crate::output;
use crate::partial_file::PartialFile;
use crate::progress::{Progress, Unit};
use hush_service::backup::RestoreProgress;

pub(crate) async fn run(cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::Audit(AdminAuditCommand::Prune { before, force, batch, json, quiet, conn }) => {
            let client = client(&conn)?;
            let progress = Progress::new("pruning", Unit::Items("events"), None, json || quiet);
            // Each step removes the oldest events behind the checkpoint in one
            // transaction: Ctrl-C between or during steps leaves a log that
            // verifies, and a second run finishes.
            let steps = async {
                let mut removed = 0u64;
                loop {
                    let step = client.audit_prune(&before, force, batch).await?;
                    let now = step["removed"].as_u64().unwrap_or(0);
                    let remaining = step["remaining"].as_u64().unwrap_or(0);
                    removed += now;
                    progress.set_total(removed + remaining);
                    progress.add(now);
                    if remaining == 0 || now == 0 {
                        break Ok::<_, anyhow::Error>((step, removed));
                    }
                }
            };
            let (last, removed) =
                interrupt::or_ctrl_c(steps, "the log verifies as it is; run the prune again to finish").await?;
            progress.finish();
            let report =
                json!({ "checkpoint": last["checkpoint"], "removed": removed, "remaining": last["remaining"] });
            if json {
                output::json(&report);
            } else if last["checkpoint"].is_null() {
                println!("nothing to prune: no event before {before} (the newest event is always kept)");
            } else {
                println!(
                    "removed {removed} events; the log now starts after checkpoint event {} (events before {})",
                    output::field(&last["checkpoint"], "seq"),
                    output::field(&last["checkpoint"], "before"),
                );
            }
        }
        AdminCommand::Backup { file, force, conn, json, quiet } => {
            let bytes = backup(&client(&conn)?, &file, force, json || quiet).await?;
            if json {
                output::json(&json!({ "file": file.display().to_string(), "bytes": bytes }));
            } else {
                println!(
                    "backup written to {} ({bytes} bytes, encrypted; keep the root key apart from it)",
                    file.display()
                );
            }
        }
        AdminCommand::RotateRoot { conn, json: as_json } => {
            let done = client(&conn)?.rotate_root().await?;
            if as_json {
                output::json(&done);
            } else {
                println!(
                    "re-wrapped {} keys under {}{}",
                    output::field(&done, "rewrapped"),
                    output::field(&done, "root_key"),
                    done["root_key_file"].as_str().map(|f| format!("; the new root key is in {f}")).unwrap_or_default()
                );
            }
        }
        AdminCommand::Restore { file, dirs, json, quiet } => {
            let mut reader = std::io::BufReader::with_capacity(
                1 << 20,
                std::fs::File::open(&file).with_context(|| format!("cannot read {}", file.display()))?,
            );
            let options = crate::commands::serve::options(&dirs, hush_service::ServiceConfig::default())?;
            let target = restore_target(&dirs);
            let progress = Progress::new("restoring", Unit::Items("rows"), Some(0), json || quiet);
            let mut heard = |step| match step {
                RestoreProgress::Table(rows) => progress.grow_total(rows),
                RestoreProgress::Rows(rows) => progress.add(rows),
            };
            let restoring = async {
                hush_service::backup::restore(&mut reader, options, &mut heard).await.map_err(anyhow::Error::from)
            };
            let report = interrupt::or_ctrl_c(
                restoring,
                "nothing was restored (stopped while committing, a target may hold a store: the next restore says so)",
            )
            .await?;
            progress.finish();
            if json {
                let rows: serde_json::Map<String, Value> =
                    report.rows.iter().map(|(table, n)| (table.clone(), json!(n))).collect();
                output::json(&json!({
                    "installation_id": report.installation_id,
                    "namespaces": report.namespaces,
                    "rows": rows,
                }));
            } else {
                let count = |t: &str| report.rows.iter().find(|(name, _)| name == t).map_or(0, |(_, n)| *n);
                println!(
                    "restored installation {} ({} namespaces, {} secrets, {} versions, {} tokens, {} audit events) into {target}",
                    report.installation_id,
                    report.namespaces,
                    count("data.secrets"),
                    count("data.secret_versions"),
                    count("data.tokens"),
                    count("data.audit_events"),
                );
            }
        }
        AdminCommand::Rewrap { namespace, batch, conn, json, quiet } => {
            let client = client(&conn)?;
            let (names, explicit) = match namespace {
                Some(ns) => (vec![ns], true),
                None => (all_namespaces(&client).await?, false),
            };
            let mut report = Vec::new();
            let mut unfinished = Vec::new();
            // Each batch is its own transaction on the server: Ctrl-C between
            // or during batches leaves every version readable under the key
            // it is sealed with, and a second run carries on.
            let progress = Progress::new("rewrapping", Unit::Items("versions"), None, json || quiet);
            for ns in names {
                let one = rewrap(&client, &ns, batch, &progress);
                match interrupt::or_ctrl_c(async { Ok(one.await) }, "every version stays readable; run again to finish")
                    .await?
                {
                    Ok(done) => {
                        if done["remaining"].as_u64().unwrap_or(0) > 0 {
                            unfinished.push(format!("{ns} ({} left)", done["remaining"]));
                        }
                        report.push(done);
                    }
                    // The registry scopes answer 404 to tokens not bound to every namespace.
                    Err(e) if !explicit && e.status() == Some(404) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            progress.finish();
            if json {
                output::json(&Value::Array(report));
            } else {
                for r in &report {
                    println!(
                        "{}: {} versions re-encrypted under key version {}",
                        output::field(r, "namespace"),
                        output::field(r, "rewrapped"),
                        output::field(r, "key_version")
                    );
                }
            }
            if !unfinished.is_empty() {
                anyhow::bail!(
                    "versions are still under an older key in {} (they did not open, or kept changing); run again",
                    unfinished.join(", ")
                );
            }
        }
    }
    Ok(())
}

/// Every namespace the token may list, then the two registry scopes.
async fn all_namespaces(client: &Client) -> anyhow::Result<Vec<String>> {
    let listed = client.namespaces().await?;
    let mut names: Vec<String> = listed["namespaces"]
        .as_array()
        .map(|a| a.iter().filter_map(|n| n["name"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    names.extend(["global".to_owned(), "global-private".to_owned()]);
    Ok(names)
}

/// Batches until nothing is left, counted on `progress`.
async fn rewrap(client: &Client, ns: &str, batch: u32, progress: &Progress) -> Result<Value, hush_client::ClientError> {
    progress.note(ns.to_owned());
    let mut done = 0u64;
    let mut first = true;
    let (key_version, remaining) = loop {
        let answer = client.rewrap(ns, batch).await?;
        let rewrapped = answer["rewrapped"].as_u64().unwrap_or(0);
        let remaining = answer["remaining"].as_u64().unwrap_or(0);
        done += rewrapped;
        if first {
            // The total grows namespace by namespace: each one's count is
            // known after its first batch.
            progress.grow_total(done + remaining);
            first = false;
        }
        progress.add(rewrapped);
        // Nothing moved although versions remain: another writer keeps them
        // changing; stop rather than spin (a later run continues).
        if remaining == 0 || rewrapped == 0 {
            break (answer["key_version"].clone(), remaining);
        }
    };
    Ok(json!({ "namespace": ns, "key_version": key_version, "rewrapped": done, "remaining": remaining }))
}

/// Downloads a backup into `file` as it streams, with its size on a
/// progress line; returns the bytes written. The file appears only once the
/// server has sent all of it and its frames say it is whole.
async fn backup(client: &Client, file: &std::path::Path, force: bool, quiet: bool) -> anyhow::Result<u64> {
    let mut out = PartialFile::create(file, force)?;
    let progress = Progress::new("backing up", Unit::Bytes, None, quiet);
    let download = async {
        let mut download = client.backup().await?;
        let mut shape = hush_service::backup_format::FileShape::default();
        let broke_off = |e| anyhow::anyhow!("the backup broke off: {e}; no backup was written");
        while let Some(chunk) = download.chunk().await.map_err(broke_off)? {
            shape.feed(&chunk).map_err(|e| anyhow::anyhow!("{e}; no backup was written"))?;
            out.write(&chunk)?;
            progress.add(chunk.len() as u64);
        }
        shape
            .finish()
            .map_err(|e| anyhow::anyhow!("{e}: the server stopped early (see its log); no backup was written"))
    };
    interrupt::or_ctrl_c(download, "no backup file was written").await?;
    progress.finish();
    let bytes = out.written();
    out.finish(force)?;
    Ok(bytes)
}

/// Where a restore goes, for its message (PostgreSQL URLs without their passwords).
fn restore_target(dirs: &crate::args::StoreDirs) -> String {
    let data = match &dirs.database_url {
        Some(url) => hush_service::postgres_url_shown(url),
        None => dirs.data_dir.display().to_string(),
    };
    let keys = match &dirs.keystore_url {
        Some(url) => hush_service::postgres_url_shown(url),
        None => dirs.key_dir.display().to_string(),
    };
    format!("{data} and {keys}")
}
