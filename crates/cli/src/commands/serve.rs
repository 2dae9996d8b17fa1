//! `hush serve` and `hush init`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hush_core::SecretString;
use hush_service::bootstrap::{self, FirstStart, OpenOptions, Opened};
use hush_service::{ServiceConfig, TransitConfig};

use crate::args::{InitArgs, KmsKind, ProxyHeader, ServeArgs, ServerLimitsArgs, StoreDirs};
use crate::exit_code::usage;

/// The KMS settings, if `--kms` is given: address, key and VAULT_TOKEN are then required.
fn kms(dirs: &StoreDirs) -> anyhow::Result<Option<TransitConfig>> {
    let Some(KmsKind::Transit) = dirs.kms else { return Ok(None) };
    let addr = dirs.kms_addr.clone().or_else(|| std::env::var("VAULT_ADDR").ok()).filter(|a| !a.is_empty());
    let Some(addr) = addr else { return usage("--kms transit needs --kms-addr (or VAULT_ADDR)") };
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"].iter().any(|p| addr.starts_with(p));
    if !(addr.starts_with("https://") || loopback) {
        return usage("--kms-addr must be an https:// URL (plain http:// only on 127.0.0.1, localhost or [::1])");
    }
    let Some(key) = dirs.kms_key.clone().filter(|k| !k.is_empty()) else {
        return usage("--kms transit needs --kms-key (the Transit key's name)");
    };
    let Some(token) = std::env::var("VAULT_TOKEN").ok().filter(|t| !t.is_empty()) else {
        return usage("--kms transit needs VAULT_TOKEN (a token that may use transit/encrypt and transit/decrypt)");
    };
    Ok(Some(TransitConfig {
        addr,
        mount: dirs.kms_mount.clone(),
        key,
        token: SecretString::new(token),
        tls: hush_tls::ClientTls::vault_from_env(),
    }))
}

pub(crate) fn options(dirs: &StoreDirs, config: ServiceConfig) -> anyhow::Result<OpenOptions> {
    let root_key = std::env::var("HUSH_ROOT_KEY").ok().filter(|k| !k.is_empty()).map(SecretString::new);
    if root_key.is_some() && dirs.root_key_file.is_some() {
        return usage("HUSH_ROOT_KEY and --root-key-file (HUSH_ROOT_KEY_FILE) both give the root key: set one");
    }
    Ok(OpenOptions {
        data_dir: dirs.data_dir.clone(),
        key_dir: dirs.key_dir.clone(),
        root_key,
        root_key_file: dirs.root_key_file.clone(),
        config,
        database_url: dirs.database_url.clone().map(SecretString::new),
        keystore_url: dirs.keystore_url.clone().map(SecretString::new),
        kms: kms(dirs)?,
        audit_sinks: None,
    })
}

async fn open(dirs: &StoreDirs, config: ServiceConfig) -> anyhow::Result<Opened> {
    // OpenError's messages name paths and remedies; show them as they are.
    bootstrap::open(options(dirs, config)?).await.map_err(|e| anyhow::anyhow!("{e}"))
}

/// A PostgreSQL URL without its password.
fn hush_store_url(url: &str) -> String {
    hush_service::postgres_url_shown(url)
}

/// What the first start created, on stdout, with the admin token alone on the last line.
fn print_first_start(dirs: &StoreDirs, first: &FirstStart) {
    println!("hush initialised");
    match &dirs.database_url {
        Some(url) => println!("  data store: {}", hush_store_url(url)),
        None => println!("  data store: {}", dirs.data_dir.display()),
    }
    match &dirs.keystore_url {
        Some(url) => println!("  key store:  {}", hush_store_url(url)),
        None => println!("  key store:  {}", dirs.key_dir.display()),
    }
    match &first.root_key_file {
        Some(file) => println!("  root key:   {} (keep it apart from backups of the data directory)", file.display()),
        None if dirs.kms.is_some() => println!("  root key:   none: keys are wrapped by the KMS"),
        None => match &dirs.root_key_file {
            Some(file) => println!("  root key:   from {} (--root-key-file)", file.display()),
            None => println!("  root key:   from HUSH_ROOT_KEY"),
        },
    }
    println!("admin token (shown once; keep it safe):");
    println!("{}", first.admin_token.expose_secret());
}

/// `hush init`: initialise without serving; with `--recover-admin-token`,
/// issue a new admin token on an existing installation.
pub(crate) async fn init(args: InitArgs) -> anyhow::Result<()> {
    let dirs = args.dirs;
    if args.recover_admin_token {
        let token = bootstrap::recover_admin_token(options(&dirs, ServiceConfig::default())?)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        eprintln!("new admin token (shown once; keep it safe; revoke the lost one with hush token revoke):");
        println!("{}", token.expose_secret());
        return Ok(());
    }
    let opened = open(&dirs, ServiceConfig::default()).await?;
    match &opened.first_start {
        Some(first) => {
            print_first_start(&dirs, first);
            Ok(())
        }
        None => anyhow::bail!(
            "hush is already initialised in {} and {}; no new admin token was made \
             (hush init --recover-admin-token makes one, with the server stopped)",
            dirs.data_dir.display(),
            dirs.key_dir.display()
        ),
    }
}

/// `hush serve`.
pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = ServiceConfig { keep_versions: args.keep_versions, max_value_bytes: args.max_value_size };
    if args.print_config {
        crate::config::print(&args);
        return Ok(());
    }
    // From here on SIGHUP (systemctl reload) must not stop the server,
    // however long opening the stores takes.
    let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    // TLS files are read, and the address checked, before anything is
    // opened or created.
    let tls = server_tls(&args)?;
    // Bound before the stores are opened: a busy port must fail before a
    // first start creates an admin token that could then not be shown.
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    // Installed before the stores open, so their first events count too.
    let _ = hush_server::metrics_export::handle();
    let metrics_listener = match &args.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (--metrics-listen)"))?,
        ),
        None => None,
    };
    let local = listener.local_addr().context("cannot read the listening address")?;
    let plain_off_loopback = tls.is_none() && !local.ip().is_loopback();
    if plain_off_loopback && !args.tls.insecure_no_tls {
        return usage(format!(
            "refusing to serve plain HTTP on {local}, a non-loopback address: tokens and secrets would cross the \
             network in clear. Give --tls-cert and --tls-key (hush tls self-signed makes a pair), or \
             --insecure-no-tls if a proxy in front terminates TLS"
        ));
    }
    let sinks = hush_service::audit_sink::AuditSinks::open(args.audit_file.as_deref(), args.audit_stdout)
        .with_context(|| {
            format!("cannot open the audit file {}", args.audit_file.as_deref().unwrap_or(Path::new("")).display())
        })?
        .map(Arc::new);
    let mut options = options(&args.dirs, config)?;
    options.audit_sinks = sinks.clone();
    let opened = bootstrap::open(options).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(first) = &opened.first_start {
        print_first_start(&args.dirs, first);
    }
    let hush = opened.hush;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if let Some(tls) = &tls {
        hush_server::log_certificate(tls.certificate().as_ref(), "serving TLS certificate");
        if tls.mutual() {
            tracing::info!("mutual TLS: clients must present a certificate from --tls-client-ca");
        }
    }
    if plain_off_loopback {
        tracing::warn!("serving plain HTTP on a non-loopback address (--insecure-no-tls): only behind a TLS proxy");
        if args.limits.trusted_proxies.is_empty() {
            tracing::warn!(
                "no --trusted-proxy: behind a proxy every client looks like the proxy, and shares its connection \
                 cap, failed-authentication budget and audit address; name the proxy with --trusted-proxy CIDR"
            );
        }
    }
    tracing::info!(addr = %format!("{scheme}://{local}"), root_key = %hush.root_key_fingerprint(), "hush is serving");
    let metrics_server = metrics_listener.map(|listener| {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(addr = %format!("http://{addr}/metrics"), "serving metrics without a token");
        }
        tokio::spawn(hush_server::metrics_export::run_metrics(listener, std::future::pending()))
    });
    let anchor = hush.spawn_audit_anchor(Duration::from_secs(1));
    let refusals = hush.spawn_refusal_flush(args.limits.audit_refusals_every);
    let limits = server_limits(&args.limits);
    tracing::debug!(?limits, "limits");
    warn_if_few_file_descriptors(limits.max_connections);
    let state =
        hush_server::AppState::new(Arc::clone(&hush)).with_limits(limits).with_vault_mount(args.vault_mount.clone());
    let reload = tls.as_ref().map(|_| Arc::new(tokio::sync::Notify::new()));
    if let Some(path) = sinks.as_ref().and_then(|s| s.file_path()) {
        tracing::info!(path = %path.display(), "writing audit events to a file too");
    }
    let on_hangup = tokio::spawn(notify_on_hangup(hangups, reload.clone(), sinks));
    let fresh = tls
        .as_ref()
        .zip(reload)
        .map(|(tls, reload)| tokio::spawn(hush_server::keep_certificate_fresh(Arc::clone(tls), reload, RELOAD_POLL)));
    let served = match tls {
        None => hush_server::run(listener, state, shutdown_signal()).await,
        Some(tls) => hush_server::run_tls(listener, state, tls, shutdown_signal()).await,
    };
    on_hangup.abort();
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    if let Some(fresh) = fresh {
        fresh.abort();
    }
    // The periodic flush puts back what it had not written when aborted.
    refusals.abort();
    let _ = refusals.await;
    if let Err(e) = hush.flush_refusals().await {
        tracing::warn!(error = %e, "could not write the refused requests' audit events at shutdown");
    }
    served.context("the server stopped")?;
    anchor.abort();
    if let Err(e) = hush.advance_audit_anchor().await {
        tracing::warn!(error = %e, "could not record the audit anchor at shutdown");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The server's limits from the flags.
pub(crate) fn server_limits(args: &ServerLimitsArgs) -> hush_server::ServerLimits {
    let nonzero = |n: u32| std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN);
    hush_server::ServerLimits {
        header_read_timeout: args.header_read_timeout,
        idle_timeout: args.idle_timeout,
        body_read_timeout: args.body_read_timeout,
        http2_keepalive_interval: args.http2_keepalive_interval,
        http2_keepalive_timeout: args.http2_keepalive_timeout,
        max_connections: args.max_connections.map_or_else(hush_server::default_max_connections, |n| n as usize),
        max_connections_per_ip: args.max_connections_per_ip as usize,
        trusted_proxies: args.trusted_proxies.clone(),
        forwarded_header: match args.trusted_proxy_header {
            ProxyHeader::XForwardedFor => hush_server::ForwardedHeader::XForwardedFor,
            ProxyHeader::Forwarded => hush_server::ForwardedHeader::Forwarded,
        },
        failed_auth_per_second: nonzero(args.failed_auth_per_second),
        failed_auth_burst: nonzero(args.failed_auth_burst),
        requests_per_token: args.rate_limit_per_token.map(nonzero),
    }
}

/// Warns when the process may open fewer files than the connection cap
/// needs (each connection is one), read from /proc (no call needed).
fn warn_if_few_file_descriptors(max_connections: usize) {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else { return };
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse::<usize>().ok());
    let wanted = max_connections + 64;
    if let Some(soft) = soft.filter(|soft| *soft < wanted) {
        tracing::warn!(
            open_files = soft,
            max_connections,
            "the process may open {soft} files, fewer than --max-connections needs ({wanted}): raise the limit \
             (ulimit -n, systemd LimitNOFILE=) or lower --max-connections"
        );
    }
}

/// How often the TLS files are checked for changes.
const RELOAD_POLL: Duration = Duration::from_secs(2);

/// The TLS configuration the flags ask for, read now so a bad file stops
/// the start with a message that names it.
fn server_tls(args: &ServeArgs) -> anyhow::Result<Option<Arc<hush_server::ServerTls>>> {
    let (Some(cert), Some(key)) = (&args.tls.tls_cert, &args.tls.tls_key) else {
        return Ok(None);
    };
    if args.tls.insecure_no_tls {
        return usage(
            "--insecure-no-tls (HUSH_INSECURE_NO_TLS) contradicts --tls-cert: serve TLS, or plain HTTP behind a proxy",
        );
    }
    let files =
        hush_server::TlsFiles { cert: cert.clone(), key: key.clone(), client_ca: args.tls.tls_client_ca.clone() };
    let tls = hush_server::ServerTls::load(files).context("cannot use the TLS files")?;
    if let Ok(meta) = std::fs::metadata(key) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                key = %key.display(),
                mode = %format!("{mode:o}"),
                "the TLS private key is readable by other users: chmod 600 it"
            );
        }
    }
    Ok(Some(Arc::new(tls)))
}

/// Notifies `reload` on every SIGHUP. Without TLS there is nothing to
/// reload, but a SIGHUP (`systemctl reload`) must not stop the server.
async fn notify_on_hangup(
    hangups: std::io::Result<tokio::signal::unix::Signal>,
    reload: Option<Arc<tokio::sync::Notify>>,
    sinks: Option<Arc<hush_service::audit_sink::AuditSinks>>,
) {
    match hangups {
        Ok(mut hangups) => {
            while hangups.recv().await.is_some() {
                if let Some(sinks) = &sinks
                    && let Some(path) = sinks.file_path()
                {
                    match sinks.reopen() {
                        Ok(()) => tracing::info!(path = %path.display(), "SIGHUP: reopened the audit file"),
                        Err(e) => tracing::error!(path = %path.display(), error = %e,
                            "SIGHUP: cannot reopen the audit file; still writing the old one"),
                    }
                }
                match &reload {
                    Some(reload) => {
                        tracing::info!("SIGHUP: reloading the TLS certificate");
                        reload.notify_one();
                    }
                    None => tracing::info!("SIGHUP: nothing to reload (no TLS)"),
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot listen for SIGHUP; certificate files are still watched"),
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
