//! `hush audit list|verify`.

use hush_client::AuditListing;
use serde_json::Value;

use crate::args::AuditCommand;
use crate::commands::client;
use crate::exit_code::AuditFailed;
use crate::output;

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
        AuditCommand::Verify { conn, json } => {
            let report = client(&conn)?.audit_verify().await?;
            let ok = report["ok"].as_bool() == Some(true);
            if json {
                output::json(&report);
            } else if ok {
                println!(
                    "audit log intact: {} events, last {}, anchored at {}",
                    output::field(&report, "events"),
                    output::field(&report, "last_seq"),
                    output::field(&report, "anchor_seq"),
                );
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
