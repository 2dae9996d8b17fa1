//! `hush audit list|export|verify`.

use std::io::Write;

use hush_client::{AuditExport, AuditListing};
use serde_json::Value;

use crate::args::{AuditCommand, ExportFormat};
use crate::commands::client;
use crate::exit_code::AuditFailed;
use crate::interrupt;
use crate::output;
use crate::progress::{Progress, Unit};

pub(crate) async fn run(cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::List { namespace, name, action, outcome, token_id, limit, conn, json } => {
            if token_id.as_deref().is_some_and(|t| t.starts_with("hush_")) {
                // Said before anything is sent: a token in a URL ends up in logs.
                return crate::exit_code::usage(
                    "--token-id takes a token's public id (the 16 characters after 'hush_', as `hush token list` \
                     shows them), not the token itself",
                );
            }
            let filter = AuditListing {
                namespace: namespace.as_deref(),
                name: name.as_deref(),
                action: action.as_deref(),
                outcome: outcome.as_deref(),
                token: token_id.as_deref(),
                before: None,
                limit: Some(limit),
            };
            let page = client(&conn)?.audit(&filter).await?;
            if json {
                output::json(&page);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page["events"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|e| {
                            [
                                "seq",
                                "at",
                                "token_id",
                                "action",
                                "namespace",
                                "name",
                                "version",
                                "outcome",
                                "context",
                                "client_cert",
                            ]
                            .map(|k| output::field(e, k))
                            .into_iter()
                            .chain([refusals(e), identity(e)])
                            .collect()
                        })
                        .collect()
                })
                .unwrap_or_default();
            output::table(
                &[
                    "SEQ",
                    "TIME",
                    "TOKEN",
                    "ACTION",
                    "NAMESPACE",
                    "NAME",
                    "VERSION",
                    "OUTCOME",
                    "CONTEXT",
                    "CLIENT CERT",
                    "REFUSED",
                    "IDENTITY",
                ],
                &rows,
            );
            Ok(())
        }
        AuditCommand::Export { since, until, namespace, format: ExportFormat::Jsonl, page_size, quiet, conn } => {
            let client = client(&conn)?;
            let mut filter = AuditExport {
                namespace: namespace.as_deref(),
                since: since.as_deref(),
                until: until.as_deref(),
                after: None,
                limit: Some(page_size),
            };
            let progress = Progress::new("exporting", Unit::Items("events"), None, quiet);
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            // Ctrl-C: every event written so far is a whole line (each page
            // is written and flushed between requests).
            let pages = async {
                loop {
                    let page = client.audit_export(&filter).await?;
                    for event in page["events"].as_array().into_iter().flatten() {
                        if let Err(e) = writeln!(out, "{event}") {
                            return stdout_closed(e);
                        }
                        progress.add(1);
                    }
                    if let Some(last) = page["events"].as_array().and_then(|e| e.last()) {
                        progress.note(format!("up to {}", output::field(last, "at")));
                    }
                    if let Err(e) = out.flush() {
                        return stdout_closed(e);
                    }
                    match page["next"].as_u64() {
                        Some(next) => filter.after = Some(next),
                        None => break Ok(()),
                    }
                }
            };
            crate::interrupt::or_ctrl_c(pages, "the events written so far are whole lines").await?;
            progress.finish();
            Ok(())
        }
        AuditCommand::Verify { conn, json, quiet } => {
            let client = client(&conn)?;
            let progress = Progress::new("verifying", Unit::Items("events"), None, json || quiet);
            let verifying = async {
                let heard = |checked: u64, total: u64| {
                    progress.set_total(total.max(checked));
                    progress.set_position(checked);
                };
                Ok(client.audit_verify_with_progress(heard).await?)
            };
            // Verifying changes nothing: stopping it leaves nothing to clean up.
            let report = interrupt::or_ctrl_c(verifying, "nothing was changed").await?;
            progress.finish();
            let ok = report["ok"].as_bool() == Some(true);
            if json {
                output::json(&report);
            } else if ok {
                let from = match report["checkpoint_seq"].as_u64() {
                    Some(seq) => format!(", verified from the prune checkpoint at event {seq}"),
                    None => String::new(),
                };
                println!(
                    "audit log intact: {} events, last {}, anchored at {}{from}",
                    output::field(&report, "events"),
                    output::field(&report, "last_seq"),
                    output::field(&report, "anchor_seq"),
                );
                if let Some(left) = report["before_checkpoint"].as_u64().filter(|n| *n > 0) {
                    println!(
                        "{left} events before the checkpoint are still stored (a prune did not finish): run the prune again"
                    );
                }
            } else {
                println!(
                    "AUDIT LOG TAMPERED at event {}: {}",
                    output::field(&report["problem"], "seq"),
                    output::field(&report["problem"], "message"),
                );
            }
            if ok { Ok(()) } else { Err(AuditFailed.into()) }
        }
    }
}

/// An `auth.refused` event's count, address and reasons, e.g.
/// `20000 from 192.0.2.7 (invalid_token=20, rate_limited=19980)`; empty for
/// other events.
fn refusals(event: &Value) -> String {
    let Some(r) = event["refusals"].as_object() else { return String::new() };
    let reasons: Vec<String> = r
        .get("reasons")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
        .unwrap_or_default();
    format!(
        "{} from {} ({})",
        r.get("count").map(Value::to_string).unwrap_or_default(),
        output::field(event, "client_addr"),
        reasons.join(", ")
    )
}

/// Who a workload's token stands for (or, for a failed login, why it
/// failed): the subject and the recorded claims, e.g.
/// `repo:org/app:ref:refs/heads/main repository=org/app run_id=42`.
fn identity(event: &serde_json::Value) -> String {
    let id = &event["identity"];
    let mut parts: Vec<String> = Vec::new();
    if let Some(reason) = event["reason"].as_str() {
        parts.push(format!("refused: {reason}"));
    }
    if let Some(sub) = id["sub"].as_str() {
        parts.push(sub.to_owned());
    }
    if let Some(claims) = id["claims"].as_object() {
        parts.extend(claims.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())));
    }
    if parts.is_empty() { "-".to_owned() } else { parts.join(" ") }
}

/// A reader that went away (`| head`) ends the export quietly; any other
/// write error is one.
fn stdout_closed(e: std::io::Error) -> anyhow::Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(anyhow::Error::new(e).context("writing to standard output"))
    }
}
