//! Keeping the served certificate current without a restart: a reload when
//! asked (the binary wires SIGHUP to it) and when the files change on disk
//! (checked every few seconds). A refused reload is logged and the previous
//! certificate stays in use.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hush_tls::CertificateInfo;
use tokio::sync::Notify;

use crate::server_tls::ServerTls;

/// Logs which certificate is served and warns when it has expired (clients
/// will refuse it) or will within two weeks.
pub fn log_certificate(info: Option<&CertificateInfo>, message: &'static str) {
    let Some(info) = info else {
        tracing::info!("{message} (its subject and dates could not be read)");
        return;
    };
    let names = info.names.join(", ");
    let until = humantime::format_rfc3339_seconds(info.not_after).to_string();
    let now = SystemTime::now();
    if info.expired_at(now) {
        tracing::warn!(subject = %info.subject, %names, not_after = %until, "{message}; it has EXPIRED: clients will refuse it");
    } else if info.expired_at(now + Duration::from_secs(14 * 86_400)) {
        tracing::warn!(subject = %info.subject, %names, not_after = %until, "{message}; it expires within two weeks");
    } else {
        tracing::info!(subject = %info.subject, %names, not_after = %until, "{message}");
    }
}

/// Runs until the process ends: reloads `tls` when `reload_now` is
/// notified, or when its files change (checked every `poll`).
pub async fn keep_certificate_fresh(tls: Arc<ServerTls>, reload_now: Arc<Notify>, poll: Duration) {
    loop {
        let trigger = tokio::select! {
            () = reload_now.notified() => "signal",
            () = tokio::time::sleep(poll) => {
                if !tls.files_changed() {
                    continue;
                }
                "files changed"
            }
        };
        match tls.reload() {
            Ok(info) => {
                tracing::info!(trigger, "TLS certificate reloaded; new connections get it");
                log_certificate(info.as_ref(), "serving TLS certificate");
            }
            Err(e) => tracing::warn!(
                trigger,
                error = %e,
                "the new TLS certificate was refused; the previous one stays in use"
            ),
        }
    }
}
