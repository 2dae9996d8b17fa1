//! `git-credential-hush`: git's credential-helper protocol.
//!
//! git runs `git-credential-hush [--secret NAME] get|store|erase` and
//! writes `key=value` lines (`protocol`, `host`, `path`, `username`,
//! `password`, and keys such as `capability[]` and `wwwauth[]`, which are
//! ignored). For `get`, the answer is `username=…` and `password=…` from
//! the `git` secret whose `url` covers `protocol://host[/path]` most
//! specifically (git sends `path` only with `credential.useHttpPath`), or
//! the secret named by `--secret`. No match: no answer, and git goes on to
//! its next helper or prompt.
//!
//! `store` and `erase` change nothing unless `HUSH_HELPER_WRITABLE=1`: git
//! calls `erase` after every rejected password, and a typo on the server
//! side must not delete the stored token. When writable, `store` writes a
//! new version only if the credentials differ, and `erase` deletes a secret
//! only if its token is the one git says was rejected.

use hush_client::{Client, ClientError, RevealedValue};
use hush_core::{Location, SecretString};
use serde_json::json;
use zeroize::Zeroizing;

use super::{HelperEnv, read_stdin};
use crate::exit_code;

/// Largest input accepted on stdin.
const MAX_INPUT: usize = 64 * 1024;

/// What git said about the credential it needs.
#[derive(Default)]
pub(crate) struct Request {
    protocol: Option<String>,
    host: Option<String>,
    path: Option<String>,
    url: Option<String>,
    username: Option<String>,
    password: Option<SecretString>,
}

impl Request {
    /// Parses git's `key=value` lines up to a blank line or the end.
    /// Unknown keys are ignored, as git's documentation asks of helpers.
    pub(crate) fn parse(text: &str) -> Request {
        let mut r = Request::default();
        for line in text.lines() {
            if line.is_empty() {
                break;
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            match key {
                "protocol" => r.protocol = Some(value.to_owned()),
                "host" => r.host = Some(value.to_owned()),
                "path" => r.path = Some(value.to_owned()),
                "url" => r.url = Some(value.to_owned()),
                "username" => r.username = Some(value.to_owned()),
                "password" => r.password = Some(SecretString::copy_from(value)),
                _ => {}
            }
        }
        r
    }

    /// `protocol://host[/path]`, if git said enough to look one up.
    pub(crate) fn target(&self) -> Option<String> {
        if let Some(url) = &self.url {
            return Some(url.clone());
        }
        let (protocol, host) = (self.protocol.as_deref()?, self.host.as_deref()?);
        Some(match self.path.as_deref().filter(|p| !p.is_empty()) {
            Some(path) => format!("{protocol}://{host}/{}", path.trim_start_matches('/')),
            None => format!("{protocol}://{host}"),
        })
    }
}

/// Runs one operation; returns the exit code.
pub(crate) async fn run(secret: Option<&str>, operation: &str) -> u8 {
    let env = HelperEnv::from_env();
    let input = match read_stdin(MAX_INPUT) {
        Ok(text) => text,
        Err(e) => return fail(&e),
    };
    let request = Request::parse(&input);
    let result = match operation {
        "get" => get(&env, secret, &request).await,
        "store" if env.writable => store(&env, secret, &request).await,
        "erase" if env.writable => erase(&env, secret, &request).await,
        // Read-only: git's store and erase are acknowledged and ignored; so
        // are operations a later git may add (gitcredentials(7) asks that).
        _ => Ok(()),
    };
    match result {
        Ok(()) => exit_code::OK,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> u8 {
    eprintln!("git-credential-hush: {message}");
    exit_code::ERROR
}

/// The secret to use: the pinned one (which must be a git secret, and
/// whose `url`, if it has one, must cover the request), or the one whose url
/// covers the request. `None` when nothing matches, and for protocols other
/// than http and https (git also asks about `cert`, for instance).
async fn find(
    client: &Client,
    env: &HelperEnv,
    secret: Option<&str>,
    request: &Request,
) -> Result<Option<RevealedValue>, String> {
    let target = request.target().filter(|t| t.starts_with("https://") || t.starts_with("http://"));
    let found = match (secret, &target) {
        (Some(name), Some(_)) => client.get_secret(&env.namespace, name, None).await,
        (None, Some(url)) => client.git_credential(&env.namespace, url).await,
        (_, None) => return Ok(None),
    };
    match found {
        Ok(v) if v.secret_type() == "git" && secret.is_some() && !pinned_covers(&v, target.as_deref()) => Ok(None),
        Ok(v) if v.secret_type() == "git" => Ok(Some(v)),
        Ok(v) => Err(format!(
            "secret {:?} is a {} secret; --secret needs a git secret (username and token)",
            secret.unwrap_or_default(),
            v.secret_type()
        )),
        // A miss only when no secret matches: a namespace the token cannot
        // see is a configuration error to report.
        Err(ClientError::Api { code, .. }) if code == "credential_not_found" => Ok(None),
        Err(e) => Err(describe(&e)),
    }
}

/// A pinned secret with a `url` answers only for what that url covers, so
/// `credential.helper = hush --secret NAME` set globally does not hand the
/// token to a submodule's host or wherever a remote redirects.
fn pinned_covers(found: &RevealedValue, target: Option<&str>) -> bool {
    let Some(url) = url_of(found) else { return true };
    match (parse(&url), target.and_then(parse)) {
        (Some(entry), Some(target)) => entry.prefix_len(&target).is_some(),
        _ => false,
    }
}

/// A git secret's `url` field, if it has one.
fn url_of(found: &RevealedValue) -> Option<String> {
    found.field("url").map(|u| String::from_utf8_lossy(u.expose_secret()).into_owned())
}

/// The secret's name, from its metadata.
fn name_of(found: &RevealedValue) -> &str {
    found.metadata.get("name").and_then(|v| v.as_str()).unwrap_or_default()
}

fn parse(text: &str) -> Option<Location> {
    Location::parse_url(text).ok()
}

fn describe(e: &ClientError) -> String {
    match e {
        ClientError::Api { status: 401 | 403, .. } => {
            format!("{e}: the token (HUSH_TOKEN) needs secrets:read in namespace HUSH_NAMESPACE")
        }
        other => other.to_string(),
    }
}

async fn get(env: &HelperEnv, secret: Option<&str>, request: &Request) -> Result<(), String> {
    let client = env.client("git get").map_err(|e| e.to_string())?;
    let Some(found) = find(&client, env, secret, request).await? else { return Ok(()) };
    let field = |name: &str| found.field(name).map(|v| v.expose_secret()).unwrap_or_default();
    let (username, token) = (field("username"), field("token"));
    // A newline or NUL would end the line early and let the value forge keys.
    if [username, token].iter().any(|v| v.iter().any(|b| *b == b'\n' || *b == 0)) {
        return Err("the stored username or token holds a newline or NUL, which git's protocol cannot carry".into());
    }
    let mut out = Zeroizing::new(Vec::with_capacity(32 + username.len() + token.len()));
    for (key, value) in [("username", username), ("password", token)] {
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out).and_then(|()| stdout.flush()).map_err(|e| format!("cannot write the answer: {e}"))
}

async fn store(env: &HelperEnv, secret: Option<&str>, request: &Request) -> Result<(), String> {
    let (Some(username), Some(password)) = (&request.username, &request.password) else { return Ok(()) };
    let client = env.client("git store").map_err(|e| e.to_string())?;
    // Rotate the pinned secret, or one whose url is exactly this remote's; a
    // login for one repository must not overwrite a host-wide secret.
    let existing =
        find(&client, env, secret, request).await?.filter(|found| secret.is_some() || same_url(found, request));
    if let Some(found) = &existing {
        let same = |name: &str, v: &[u8]| found.field(name).is_some_and(|f| f.expose_secret() == v);
        if same("username", username.as_bytes()) && same("token", password.expose_secret().as_bytes()) {
            return Ok(());
        }
    }
    let url = existing.as_ref().and_then(url_of).or_else(|| request.target()).unwrap_or_default();
    let name = match (secret, &existing) {
        (Some(name), _) => name.to_owned(),
        (None, Some(found)) => name_of(found).to_owned(),
        (None, None) => new_secret_name(request).ok_or("git did not say which host the credential is for")?,
    };
    let body = json!({ "type": "git", "username": username, "token": password.expose_secret(), "url": url });
    client.put_secret(&env.namespace, &name, body).await.map_err(|e| describe(&e))?;
    Ok(())
}

/// Whether the secret's url is the request's remote (normalized).
fn same_url(found: &RevealedValue, request: &Request) -> bool {
    match (url_of(found).as_deref().and_then(parse), request.target().as_deref().and_then(parse)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `git/HOST[/PATH]`, with characters a secret name cannot hold replaced.
fn new_secret_name(request: &Request) -> Option<String> {
    let host = request.host.as_deref()?;
    let mut name = format!("git/{host}");
    if let Some(path) = request.path.as_deref().filter(|p| !p.is_empty()) {
        name.push('/');
        name.push_str(path.trim_matches('/'));
    }
    Some(hush_core::name_safe(&name))
}

async fn erase(env: &HelperEnv, secret: Option<&str>, request: &Request) -> Result<(), String> {
    let client = env.client("git erase").map_err(|e| e.to_string())?;
    let Some(found) = find(&client, env, secret, request).await? else { return Ok(()) };
    let rejected = request.password.as_ref().map(|p| p.expose_secret().as_bytes());
    if rejected.is_none() || found.field("token").map(|t| t.expose_secret()) != rejected {
        return Ok(());
    }
    client.delete_secret(&env.namespace, name_of(&found)).await.map_err(|e| describe(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_as_git_2_47_writes_them() {
        let text = "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=git.example.com:8443\n\
                    path=org/repo.git\nwwwauth[]=Basic realm=\"x\"\nusername=bot\npassword=pw=with=equals\n\nhost=ignored\n";
        let r = Request::parse(text);
        assert_eq!(r.target().as_deref(), Some("https://git.example.com:8443/org/repo.git"));
        assert_eq!(r.username.as_deref(), Some("bot"));
        assert_eq!(r.password.as_ref().map(|p| p.expose_secret()), Some("pw=with=equals"));
        assert_eq!(Request::parse("protocol=https\nhost=h\n").target().as_deref(), Some("https://h"));
        assert_eq!(Request::parse("url=https://h/x\n").target().as_deref(), Some("https://h/x"));
        assert_eq!(Request::parse("host=h\n").target(), None);
        assert_eq!(Request::parse("").target(), None);
    }

    #[test]
    fn new_names_are_valid_secret_names() {
        let r = Request::parse("protocol=https\nhost=127.0.0.1:8080\npath=org/repo.git\n");
        let name = new_secret_name(&r).unwrap();
        assert_eq!(name, "git/127.0.0.1_8080/org/repo.git");
        assert!(hush_core::SecretName::parse(&name).is_ok());
    }
}
