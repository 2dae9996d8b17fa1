//! Logging in as a workload, with no stored hush token: the platform's JWT
//! (a Kubernetes service account token file, GitLab's `id_tokens` variable,
//! or GitHub Actions' token endpoint) is exchanged for a short-lived hush
//! token with a login role. The token lives in memory only, for the life
//! of the process.
//!
//! [`WorkloadLogin::from_env`] reads `HUSH_ROLE` with `HUSH_JWT_FILE`,
//! `HUSH_JWT_ENV`, or on GitHub Actions `ACTIONS_ID_TOKEN_REQUEST_URL` and
//! `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (the job needs `permissions: id-token:
//! write`). `HUSH_JWT_AUDIENCE` overrides the audience asked of GitHub
//! (by default: the role's, asked of hush).

use std::path::PathBuf;
use std::time::Duration;

use hush_core::SecretString;
use serde_json::Value;
use zeroize::Zeroize;

use crate::ClientError;

/// Largest JWT read from a file or a variable, in bytes.
const MAX_JWT: usize = 64 * 1024;

/// Where the workload's JWT comes from.
#[derive(Debug, Clone)]
pub enum JwtSource {
    /// A file (Kubernetes: `/var/run/secrets/kubernetes.io/serviceaccount/token`, or a projected token). Read at each login.
    File(PathBuf),
    /// An environment variable (GitLab CI's `id_tokens`).
    Env(String),
    /// GitHub Actions' token endpoint, asked for a JWT with an audience.
    GitHubActions {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
        request_url: String,
        /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
        request_token: SecretString,
        /// The audience to ask for (`None`: the role's, asked of hush).
        audience: Option<String>,
    },
}

/// A role and where the JWT comes from.
#[derive(Debug, Clone)]
pub struct WorkloadLogin {
    /// The login role.
    pub role: String,
    /// The JWT's source.
    pub source: JwtSource,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl JwtSource {
    /// The source the environment names: `HUSH_JWT_FILE`, `HUSH_JWT_ENV`, or
    /// GitHub Actions' variables, in that order.
    pub fn from_env() -> Option<JwtSource> {
        if let Some(file) = var("HUSH_JWT_FILE") {
            return Some(JwtSource::File(file.into()));
        }
        if let Some(name) = var("HUSH_JWT_ENV") {
            return Some(JwtSource::Env(name));
        }
        JwtSource::github_actions(var("HUSH_JWT_AUDIENCE"))
    }

    /// GitHub Actions' token endpoint, if this runs in a job allowed to use it.
    pub fn github_actions(audience: Option<String>) -> Option<JwtSource> {
        Some(JwtSource::GitHubActions {
            request_url: var("ACTIONS_ID_TOKEN_REQUEST_URL")?,
            request_token: SecretString::new(var("ACTIONS_ID_TOKEN_REQUEST_TOKEN")?),
            audience,
        })
    }

    /// Whether the audience must be learned from hush first.
    pub(crate) fn needs_audience(&self) -> bool {
        matches!(self, JwtSource::GitHubActions { audience: None, .. })
    }

    /// The JWT. `audience` is used by GitHub's endpoint when the source names none.
    pub async fn jwt(&self, audience: Option<&str>) -> Result<SecretString, ClientError> {
        let problem = |reason: String| ClientError::Login(reason);
        match self {
            JwtSource::File(path) => {
                let mut text = std::fs::read_to_string(path)
                    .map_err(|e| problem(format!("cannot read the JWT file {}: {e}", path.display())))?;
                let jwt = checked_jwt(&text, &format!("the JWT file {}", path.display()));
                text.zeroize();
                jwt
            }
            JwtSource::Env(name) => {
                let mut text = std::env::var(name)
                    .map_err(|_| problem(format!("the variable {name} (HUSH_JWT_ENV) holds no JWT")))?;
                let jwt = checked_jwt(&text, &format!("the variable {name}"));
                text.zeroize();
                jwt
            }
            JwtSource::GitHubActions { request_url, request_token, audience: own } => {
                let audience = own.as_deref().or(audience).unwrap_or_default();
                github_jwt(request_url, request_token, audience).await
            }
        }
    }
}

impl WorkloadLogin {
    /// The login the environment asks for: `HUSH_ROLE` and a JWT source.
    /// `Ok(None)` without `HUSH_ROLE`; an error if the role is set but no
    /// JWT can be found.
    pub fn from_env() -> Result<Option<WorkloadLogin>, ClientError> {
        let Some(role) = var("HUSH_ROLE") else { return Ok(None) };
        let source = JwtSource::from_env().ok_or_else(|| {
            ClientError::Login(
                "HUSH_ROLE is set but there is no JWT to log in with: set HUSH_JWT_FILE or HUSH_JWT_ENV, \
                 or on GitHub Actions give the job `permissions: id-token: write`"
                    .into(),
            )
        })?;
        Ok(Some(WorkloadLogin { role, source }))
    }
}

fn checked_jwt(text: &str, what: &str) -> Result<SecretString, ClientError> {
    let jwt = text.trim();
    if jwt.is_empty() {
        return Err(ClientError::Login(format!("{what} is empty")));
    }
    if jwt.len() > MAX_JWT || jwt.split('.').count() != 3 {
        return Err(ClientError::Login(format!("{what} does not hold a JWT (three dot-separated parts)")));
    }
    Ok(SecretString::new(jwt.to_owned()))
}

/// Asks GitHub Actions' token endpoint for a JWT with `audience`.
async fn github_jwt(
    request_url: &str,
    request_token: &SecretString,
    audience: &str,
) -> Result<SecretString, ClientError> {
    let problem = |reason: String| ClientError::Login(format!("GitHub Actions' token endpoint: {reason}"));
    let separator = if request_url.contains('?') { '&' } else { '?' };
    let url = format!("{request_url}{separator}audience={}", crate::segment(audience));
    let http = hush_tls::http_client(&hush_tls::ClientTls::system_roots(hush_tls::ClientTls::HUSH))?
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| problem(e.to_string()))?;
    let response = http
        .get(url)
        .bearer_auth(request_token.expose_secret())
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| problem(format!("cannot reach it ({e})")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(problem(format!("it answered {status}")));
    }
    let mut body = response.bytes().await.map_err(|e| problem(e.to_string()))?.to_vec();
    let parsed = serde_json::from_slice::<Value>(&body);
    body.zeroize();
    let Ok(Value::Object(mut answer)) = parsed else { return Err(problem("the answer is not a JSON object".into())) };
    match answer.remove("value") {
        Some(Value::String(mut jwt)) => {
            let checked = checked_jwt(&jwt, "its answer");
            jwt.zeroize();
            checked
        }
        _ => Err(problem("the answer has no 'value'".into())),
    }
}
