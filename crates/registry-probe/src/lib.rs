//! Tries registry credentials against a registry's `/v2/` endpoint and says
//! whether they work: **ok**, **unauthorized** or **unreachable** (the
//! "test connection" button Direktiv's users asked for).
//!
//! The check follows the distribution spec's auth flow: an anonymous
//! `GET /v2/`; on `401`, the challenge in `WWW-Authenticate` decides the
//! next step: `Basic` retries `/v2/` with the credentials, `Bearer` asks
//! the token service named by `realm` for a token with them and retries
//! `/v2/` with it. Nothing is pulled or pushed.
//!
//! Without a scheme, a registry is tried over HTTPS; `localhost` and
//! loopback addresses fall back to plain HTTP as docker does for them.
//! Docker Hub's API lives at `registry-1.docker.io`.
//!
//! A test makes its caller's choice of address receive a request, so it
//! never connects to link-local (cloud metadata), unspecified or multicast
//! addresses, resolves each host once and pins the connection to what it
//! checked, follows no redirects, reads at most 64 KiB of a token answer,
//! and sends the password to a token service only over HTTPS (unless the
//! registry itself is plain HTTP). The password is never part of a report
//! or a log line.

mod challenge;
mod destination;

use std::time::Duration;

use hush_core::{RegistryAddress, SecretString};
use reqwest::StatusCode;

use zeroize::{Zeroize, Zeroizing};

use crate::challenge::Challenge;
use crate::destination::Refusal;

/// How long each connection may take to open, and each request in all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What a probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The registry accepted the credentials (or needs none).
    Ok,
    /// The registry refused the credentials.
    Unauthorized,
    /// No registry answered (connection refused, DNS, TLS, timeout).
    Unreachable,
    /// Something answered, but not as a registry does.
    Error,
}

impl Verdict {
    /// `ok`, `unauthorized`, `unreachable`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Unauthorized => "unauthorized",
            Verdict::Unreachable => "unreachable",
            Verdict::Error => "error",
        }
    }
}

/// A probe's result, fit to show a person or return as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The verdict.
    pub verdict: Verdict,
    /// The `/v2/` URL that answered (or the last one tried).
    pub endpoint: String,
    /// The last HTTP status seen, if any.
    pub status: Option<u16>,
    /// One sentence for people.
    pub message: String,
}

impl Report {
    /// `{"result","endpoint","status","message"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "result": self.verdict.as_str(),
            "endpoint": self.endpoint,
            "status": self.status,
            "message": self.message,
        })
    }
}

/// The probe could not be set up (a TLS configuration problem).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up an HTTP client for the connection test: {0}")]
pub struct SetupError(String);

/// The base URLs to try for a registry, in order.
fn candidates(address: &RegistryAddress) -> Vec<String> {
    let host = if address.is_docker_hub() { "registry-1.docker.io" } else { address.host() };
    match address.scheme() {
        Some(scheme) => vec![format!("{scheme}://{host}")],
        None if is_loopback(host) => vec![format!("https://{host}"), format!("http://{host}")],
        None => vec![format!("https://{host}")],
    }
}

fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, port)| if port.parse::<u16>().is_ok() { h } else { host }),
    };
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A client that connects only to the checked addresses of `url`'s host
/// and follows no redirects (a redirect could lead anywhere).
async fn pinned_client(url: &reqwest::Url) -> Result<reqwest::Client, Refusal> {
    let (host, addrs) = destination::resolve(url).await?;
    hush_tls::http_client(&hush_tls::ClientTls::default())
        .map_err(|e| Refusal::Unresolved(format!("cannot set up an HTTP client: {e}")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(&host, &addrs)
        .user_agent(concat!("hush/", env!("CARGO_PKG_VERSION"), " (registry connection test)"))
        .build()
        .map_err(|e| Refusal::Unresolved(format!("cannot set up an HTTP client: {e}")))
}

/// Tries `username`/`password` against the registry at `address`.
pub async fn probe(address: &RegistryAddress, username: &str, password: &SecretString) -> Result<Report, SetupError> {
    let mut last_failure = None;
    for base in candidates(address) {
        let endpoint = format!("{base}/v2/");
        let url = reqwest::Url::parse(&endpoint).map_err(|e| SetupError(e.to_string()))?;
        let http = match pinned_client(&url).await {
            Ok(http) => http,
            Err(Refusal::Forbidden(reason)) => {
                return Ok(Report { verdict: Verdict::Error, endpoint, status: None, message: reason });
            }
            Err(Refusal::Unresolved(reason)) => {
                last_failure = Some((endpoint, reason));
                continue;
            }
        };
        match http.get(url).send().await {
            Ok(response) => return Ok(authenticate(&http, endpoint, response, username, password).await),
            Err(e) => {
                tracing::debug!(endpoint, error = %e, "registry connection test: no answer");
                last_failure = Some((endpoint, describe(&e)));
            }
        }
    }
    let (endpoint, reason) = last_failure.unwrap_or_default();
    Ok(Report {
        verdict: Verdict::Unreachable,
        endpoint,
        status: None,
        message: format!("no registry answered: {reason}"),
    })
}

async fn authenticate(
    http: &reqwest::Client,
    endpoint: String,
    anonymous: reqwest::Response,
    username: &str,
    password: &SecretString,
) -> Report {
    let status = anonymous.status();
    let report = |verdict, status: StatusCode, message: String| Report {
        verdict,
        endpoint: endpoint.clone(),
        status: Some(status.as_u16()),
        message,
    };
    if status.is_success() {
        return report(Verdict::Ok, status, "the registry answered and needs no credentials".into());
    }
    if status != StatusCode::UNAUTHORIZED {
        return report(
            Verdict::Error,
            status,
            format!("{endpoint} answered {status}, not 200 or 401: is this a registry?"),
        );
    }
    let challenge = anonymous
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(Challenge::parse)
        .unwrap_or(Challenge::Basic);
    let retry = match challenge {
        Challenge::Basic => http.get(&endpoint).basic_auth(username, Some(password.expose_secret())).send().await,
        Challenge::Bearer { realm, service } => {
            let token = match bearer_token(&endpoint, &realm, service.as_deref(), username, password).await {
                Ok(token) => token,
                Err((verdict, token_status, message)) => {
                    return report(verdict, token_status.unwrap_or(status), message);
                }
            };
            http.get(&endpoint).bearer_auth(token.expose_secret()).send().await
        }
    };
    match retry {
        Err(e) => report(Verdict::Unreachable, status, format!("the registry stopped answering: {}", describe(&e))),
        Ok(r) if r.status().is_success() => {
            report(Verdict::Ok, r.status(), "the registry accepted the credentials".into())
        }
        Ok(r) if r.status() == StatusCode::UNAUTHORIZED || r.status() == StatusCode::FORBIDDEN => {
            report(Verdict::Unauthorized, r.status(), "the registry refused the credentials".into())
        }
        Ok(r) => {
            report(Verdict::Error, r.status(), format!("the registry answered {} with the credentials", r.status()))
        }
    }
}

/// Largest token-service answer read.
const MAX_TOKEN_ANSWER: usize = 64 * 1024;

/// Asks the token service at `realm` for a token with the credentials. The
/// realm must be HTTPS unless the registry itself is plain HTTP, so a
/// registry cannot have the password sent in the clear.
async fn bearer_token(
    endpoint: &str,
    realm: &str,
    service: Option<&str>,
    username: &str,
    password: &SecretString,
) -> Result<SecretString, (Verdict, Option<StatusCode>, String)> {
    let fail = |verdict, status, message: &str| Err((verdict, status, message.to_owned()));
    let Ok(mut url) = reqwest::Url::parse(realm) else {
        return fail(Verdict::Error, None, "the registry named a token service that is not a URL");
    };
    if url.scheme() != "https" && !endpoint.starts_with("http://") {
        return fail(
            Verdict::Error,
            None,
            "the registry named a plain-HTTP token service; credentials are not sent there",
        );
    }
    if let Some(service) = service {
        url.query_pairs_mut().append_pair("service", service);
    }
    let http = match pinned_client(&url).await {
        Ok(http) => http,
        Err(Refusal::Forbidden(reason) | Refusal::Unresolved(reason)) => return Err((Verdict::Error, None, reason)),
    };
    let mut answer = match http.get(url).basic_auth(username, Some(password.expose_secret())).send().await {
        Err(e) => {
            return Err((Verdict::Unreachable, None, format!("the token service did not answer: {}", describe(&e))));
        }
        Ok(r) if r.status() == StatusCode::UNAUTHORIZED || r.status() == StatusCode::FORBIDDEN => {
            return fail(
                Verdict::Unauthorized,
                Some(r.status()),
                "the registry's token service refused the credentials",
            );
        }
        Ok(r) if !r.status().is_success() => {
            return Err((Verdict::Error, Some(r.status()), format!("the token service answered {}", r.status())));
        }
        Ok(r) => r,
    };
    let mut body = Zeroizing::new(Vec::new());
    while let Ok(Some(chunk)) = answer.chunk().await {
        if body.len() + chunk.len() > MAX_TOKEN_ANSWER {
            return fail(Verdict::Error, None, "the token service's answer is too large");
        }
        body.extend_from_slice(&chunk);
    }
    match serde_json::from_slice::<serde_json::Value>(&body).ok().as_mut().and_then(take_token) {
        Some(token) => Ok(token),
        None => fail(Verdict::Error, None, "the token service's answer has no token"),
    }
}

/// `token` or `access_token`, moved out of a token service's JSON answer;
/// the other strings in it (a refresh token, say) are wiped.
fn take_token(body: &mut serde_json::Value) -> Option<SecretString> {
    let found = ["token", "access_token"].iter().find_map(|k| match body.get_mut(*k).map(serde_json::Value::take) {
        Some(serde_json::Value::String(s)) => Some(SecretString::new(s)),
        _ => None,
    });
    wipe(body);
    found
}

fn wipe(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(wipe),
        serde_json::Value::Object(map) => map.iter_mut().for_each(|(_, v)| wipe(v)),
        _ => {}
    }
}

/// A connection error as one short phrase (the innermost cause says most).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() { "timed out".to_owned() } else { hush_tls::describe_connect_error(e) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_a_probe_connects() {
        let table: &[(&str, &[&str])] = &[
            ("ghcr.io", &["https://ghcr.io"]),
            ("https://index.docker.io/v1/", &["https://registry-1.docker.io"]),
            ("", &["https://registry-1.docker.io"]),
            ("http://registry.internal:5000", &["http://registry.internal:5000"]),
            ("127.0.0.1:5000", &["https://127.0.0.1:5000", "http://127.0.0.1:5000"]),
            ("localhost:5000/team", &["https://localhost:5000", "http://localhost:5000"]),
            ("[::1]:5000", &["https://[::1]:5000", "http://[::1]:5000"]),
            ("10.0.0.1:5000", &["https://10.0.0.1:5000"]),
        ];
        for (text, expected) in table {
            assert_eq!(candidates(&RegistryAddress::parse(text).unwrap()), *expected, "{text}");
        }
    }

    #[test]
    fn tokens_are_read_from_either_field() {
        let token = |v: serde_json::Value| take_token(&mut v.clone()).map(|t| t.expose_secret().to_owned());
        assert_eq!(token(serde_json::json!({"token": "t"})).as_deref(), Some("t"));
        assert_eq!(token(serde_json::json!({"access_token": "a", "refresh_token": "r"})).as_deref(), Some("a"));
        assert_eq!(token(serde_json::json!({"token": 5})), None);
        assert_eq!(token(serde_json::json!({"nothing": 1})), None);
    }
}
