//! `docker-credential-hush`: the Docker credential-helper protocol, as
//! docker, skopeo, podman and buildah speak it.
//!
//! - `get`: the server on stdin (`127.0.0.1:5000`, `https://index.docker.io/v1/`);
//!   `{"ServerURL","Username","Secret"}` on stdout. On a miss,
//!   `credentials not found in native keychain` on stdout and exit 1.
//! - `list`: `{"SERVER":"USER"}` for the entries a pull can use (users obfuscated).
//! - `store` (`{"ServerURL","Username","Secret"}` on stdin) and `erase`
//!   (the server on stdin): change nothing unless `HUSH_HELPER_WRITABLE=1`.
//! - `version`.
//!
//! Errors go to stdout, where the protocol's clients look for them; they
//! never hold a value.

use hush_client::{ClientError, RegistryScope, RegistryTarget};
use hush_core::SecretString;
use serde_json::Value;
use zeroize::{Zeroize, Zeroizing};

use super::{HelperEnv, read_stdin};

/// The protocol's "not found" message, which clients match on.
pub(crate) const NOT_FOUND: &str = "credentials not found in native keychain";

/// Largest input accepted on stdin.
const MAX_INPUT: usize = 64 * 1024;

/// Runs one operation; returns the exit code.
pub(crate) async fn run(operation: &str) -> u8 {
    let env = HelperEnv::from_env();
    let result = match operation {
        "get" => get(&env).await,
        "list" => list(&env).await,
        "store" => store(&env).await,
        "erase" => erase(&env).await,
        "version" => {
            println!("docker-credential-hush (hush) {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        _ => Err(format!("unknown operation {operation:?}; use get, store, erase, list or version")),
    };
    match result {
        Ok(()) => 0,
        Err(message) => {
            println!("{message}");
            1
        }
    }
}

/// A miss only when no entry matches: a namespace the token cannot see is
/// a configuration error to report, not a reason to pull anonymously.
fn failure(e: ClientError) -> String {
    match &e {
        ClientError::Api { code, .. } if code == "registry_not_found" => NOT_FOUND.to_owned(),
        _ => format!("hush: {e}"),
    }
}

async fn get(env: &HelperEnv) -> Result<(), String> {
    let input = read_stdin(MAX_INPUT)?;
    let server = input.trim();
    if server.is_empty() {
        return Err("no server address on stdin".into());
    }
    let client = env.client("docker get").map_err(failure)?;
    let scope = RegistryScope::from_namespace(&env.namespace);
    let found = client.registry_credentials(&scope, &RegistryTarget::Server(server)).await.map_err(failure)?;
    let field = |name: &str| found.field(name).map(|v| v.expose_secret()).unwrap_or_default();
    let (username, secret) = (field("username"), field("password"));
    let mut out = Zeroizing::new(Vec::with_capacity(64 + server.len() + 6 * (username.len() + secret.len())));
    out.extend_from_slice(b"{\"ServerURL\":");
    json_string(&mut out, server.as_bytes());
    out.extend_from_slice(b",\"Username\":");
    json_string(&mut out, username);
    out.extend_from_slice(b",\"Secret\":");
    json_string(&mut out, secret);
    out.extend_from_slice(b"}\n");
    write_stdout(&out)
}

fn json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    let _ = serde_json::to_writer(&mut *out, &String::from_utf8_lossy(bytes));
}

fn write_stdout(bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes).and_then(|()| stdout.flush()).map_err(|e| format!("cannot write the answer: {e}"))
}

async fn list(env: &HelperEnv) -> Result<(), String> {
    let client = env.client("docker list").map_err(failure)?;
    let scope = RegistryScope::from_namespace(&env.namespace);
    let mut scopes = vec![scope.clone()];
    if scope != RegistryScope::Global {
        scopes.push(RegistryScope::Global);
    }
    let mut keys: Vec<String> = Vec::new();
    let mut out = serde_json::Map::new();
    for s in &scopes {
        let listed = client.list_registries(s).await.map_err(|e| format!("hush: {e}"))?;
        for entry in listed["registries"].as_array().into_iter().flatten() {
            let key = entry["key"].as_str().unwrap_or_default().to_owned();
            if keys.contains(&key) {
                continue;
            }
            keys.push(key);
            out.insert(entry["url"].as_str().unwrap_or_default().to_owned(), entry["user"].clone());
        }
    }
    println!("{}", Value::Object(out));
    Ok(())
}

async fn store(env: &HelperEnv) -> Result<(), String> {
    let input = read_stdin(MAX_INPUT)?;
    if !env.writable {
        eprintln!("docker-credential-hush: read-only, nothing stored (HUSH_HELPER_WRITABLE=1 allows it)");
        return Ok(());
    }
    let mut parsed: Value = serde_json::from_str(&input).map_err(|e| {
        format!("the input is not the JSON object store expects: line {}, column {}", e.line(), e.column())
    })?;
    let mut take = |k: &str| match parsed.get_mut(k).map(Value::take) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(format!("the input has no string field {k:?}")),
    };
    let (server, username, secret) = (take("ServerURL"), take("Username"), take("Secret").map(SecretString::new));
    hush_client::wipe(&mut parsed);
    let (server, username, secret) = (server?, username?, secret?);
    let client = env.client("docker store").map_err(failure)?;
    let scope = RegistryScope::from_namespace(&env.namespace);
    client.put_registry(&scope, &server, &username, &secret).await.map_err(|e| format!("hush: {e}"))?;
    Ok(())
}

async fn erase(env: &HelperEnv) -> Result<(), String> {
    let mut input = read_stdin(MAX_INPUT)?;
    if !env.writable {
        eprintln!("docker-credential-hush: read-only, nothing erased (HUSH_HELPER_WRITABLE=1 allows it)");
        input.zeroize();
        return Ok(());
    }
    let client = env.client("docker erase").map_err(failure)?;
    let scope = RegistryScope::from_namespace(&env.namespace);
    client.delete_registry(&scope, input.trim()).await.map_err(failure)
}
