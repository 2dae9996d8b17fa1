//! `hush audit list|verify`.

use crate::args::AuditCommand;
use crate::commands::client;
use crate::exit_code::AuditFailed;
use crate::output;

pub(crate) async fn run(cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::List { namespace, name, limit, conn, json } => {
            let page = client(&conn)?.audit(namespace.as_deref(), name.as_deref(), None, Some(limit)).await?;
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
                            .to_vec()
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
