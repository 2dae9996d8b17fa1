//! `hush tls self-signed`: a private CA, a server certificate and client
//! certificates for a quick setup, with how to use them.

use std::path::PathBuf;

use anyhow::Context;
use hush_tls::{SelfSigned, SelfSignedRequest};
use serde_json::json;

use crate::args::{SelfSignedArgs, TlsCommand};
use crate::exit_code::usage;
use crate::output;

pub(crate) async fn run(cmd: TlsCommand) -> anyhow::Result<()> {
    match cmd {
        TlsCommand::SelfSigned(args) => self_signed(args),
    }
}

/// A client name must make a plain file name and not shadow the other files.
fn check_client_name(name: &str) -> anyhow::Result<()> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with('.');
    if !plain {
        return usage(format!(
            "--client {name:?}: use 1-64 letters, digits, '.', '_' or '-' (it names the files NAME.pem and NAME-key.pem)"
        ));
    }
    if matches!(name, "ca" | "server") {
        return usage(format!("--client {name}: that name is taken by the CA's or the server's files"));
    }
    Ok(())
}

fn self_signed(args: SelfSignedArgs) -> anyhow::Result<()> {
    for name in &args.clients {
        check_client_name(name)?;
    }
    let request = SelfSignedRequest {
        hosts: args.hosts.clone(),
        clients: args.clients.clone(),
        ..SelfSignedRequest::for_hosts(&[]).valid_for_days(args.days)
    };
    let set = match SelfSigned::generate(&request) {
        Ok(set) => set,
        Err(e @ hush_tls::TlsError::Settings(_)) => return usage(e.to_string()),
        Err(e) => return Err(e.into()),
    };
    let mut files: Vec<(PathBuf, &str)> = vec![
        (args.out.join("ca.pem"), set.ca_pem.as_str()),
        (args.out.join("server.pem"), set.server.cert_pem.as_str()),
        (args.out.join("server-key.pem"), set.server.key_pem.as_str()),
    ];
    for (name, issued) in args.clients.iter().zip(&set.clients) {
        files.push((args.out.join(format!("{name}.pem")), issued.cert_pem.as_str()));
        files.push((args.out.join(format!("{name}-key.pem")), issued.key_pem.as_str()));
    }
    if !args.force
        && let Some((existing, _)) = files.iter().find(|(path, _)| path.exists())
    {
        return usage(format!("{} exists; nothing was written (--force replaces it)", existing.display()));
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    for (path, text) in &files {
        crate::private_file::write_private(path, text.as_bytes(), args.force)?;
    }

    let ca = std::path::absolute(args.out.join("ca.pem")).unwrap_or_else(|_| args.out.join("ca.pem"));
    let first = &args.hosts[0];
    let host = if first.contains(':') { format!("[{first}]") } else { first.clone() };
    let url = format!("https://{host}:8270");
    if args.json {
        let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
        output::json(
            &json!({ "dir": args.out.display().to_string(), "files": names, "ca_cert": ca.display().to_string() }),
        );
        return Ok(());
    }
    let shown = |name: &str| args.out.join(name).display().to_string();
    let until = request.not_after;
    println!(
        "wrote {} (each mode 0600; valid until {}):",
        args.out.display(),
        humantime::format_rfc3339_seconds(until).to_string().get(..10).unwrap_or_default()
    );
    for (path, _) in &files {
        println!("  {}", path.display());
    }
    let mutual = if args.clients.is_empty() { String::new() } else { format!(" --tls-client-ca {}", shown("ca.pem")) };
    println!("\nserve:");
    println!(
        "  hush serve --listen 0.0.0.0:8270 --tls-cert {} --tls-key {}{mutual}",
        shown("server.pem"),
        shown("server-key.pem")
    );
    println!("clients (the CLI, credential helpers, workflows, hush run):");
    println!("  export HUSH_ADDR={url} HUSH_CACERT={}", ca.display());
    if let Some(name) = args.clients.first() {
        println!(
            "  export HUSH_CLIENT_CERT={} HUSH_CLIENT_KEY={}",
            shown(&format!("{name}.pem")),
            shown(&format!("{name}-key.pem"))
        );
    }
    println!("  curl --cacert {} {url}/v1/health", ca.display());
    println!(
        "or trust the CA system-wide (then HUSH_CACERT is not needed):\n  \
         cp {} /usr/local/share/ca-certificates/hush-ca.crt && update-ca-certificates",
        ca.display()
    );
    Ok(())
}
