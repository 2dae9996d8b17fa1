//! The credential helpers: `docker-credential-hush` and `git-credential-hush`.
//!
//! Both are this binary under another name (links made by `hush
//! credential-helper install`), or `hush credential-helper docker|git`.
//! They read `HUSH_ADDR`, `HUSH_TOKEN` and `HUSH_NAMESPACE` (and, for an
//! https:// server, `HUSH_CACERT`, `HUSH_CLIENT_CERT` and `HUSH_CLIENT_KEY`)
//! and ask the server; nothing is written to the client's own configuration.
//! Without `HUSH_TOKEN`, `HUSH_ROLE` makes them log in as a workload (see
//! `hush_client::WorkloadLogin`), the token kept in memory only.
//!
//! They are read-only unless `HUSH_HELPER_WRITABLE=1`: clients call
//! `store` after every login and `erase` after every rejected password or
//! logout, and neither may change what an operator stored in hush.

pub(crate) mod docker;
pub(crate) mod git;
pub(crate) mod install;

use hush_client::Client;

use crate::args::DEFAULT_ADDR;
use hush_core::SecretString;

/// What a helper is configured with, from the environment.
pub(crate) struct HelperEnv {
    addr: String,
    token: Option<SecretString>,
    tls: hush_tls::ClientTls,
    allow_plain_http: bool,
    /// The namespace (or `global`, `global-private`) lookups start in.
    pub(crate) namespace: String,
    /// Whether `store` and `erase` may change anything.
    pub(crate) writable: bool,
}

impl HelperEnv {
    pub(crate) fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        HelperEnv {
            addr: var("HUSH_ADDR").unwrap_or_else(|| DEFAULT_ADDR.to_owned()),
            token: var("HUSH_TOKEN").map(SecretString::new),
            tls: hush_tls::ClientTls::hush_from_env(),
            allow_plain_http: var("HUSH_ALLOW_PLAIN_HTTP").is_some_and(|v| truthy(&v)),
            namespace: var("HUSH_NAMESPACE").unwrap_or_else(|| "default".to_owned()),
            writable: var("HUSH_HELPER_WRITABLE").is_some_and(|v| truthy(&v)),
        }
    }

    pub(crate) fn client(&self, helper: &str) -> Result<Client, hush_client::ClientError> {
        let client = if self.allow_plain_http {
            Client::new_allowing_plain_http(&self.addr, self.token.clone(), &self.tls)?
        } else {
            Client::new(&self.addr, self.token.clone(), &self.tls)?
        };
        let client = match (&self.token, hush_client::WorkloadLogin::from_env()?) {
            (None, Some(login)) => client.with_workload_login(login),
            _ => client,
        };
        Ok(client.with_context(format!("credential helper: {helper}")))
    }
}

/// Whether a variable says yes, as the CLI's flags read their variables
/// (clap's `BoolishValueParser`): y, yes, t, true, on or 1, in any case.
fn truthy(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "y" | "yes" | "t" | "true" | "on" | "1")
}

/// All of stdin as text (helpers get a few hundred bytes at most; more is refused).
pub(crate) fn read_stdin(limit: usize) -> Result<zeroize::Zeroizing<String>, String> {
    use std::io::Read;
    let mut text = zeroize::Zeroizing::new(String::new());
    let read = std::io::stdin().lock().take(limit as u64 + 1).read_to_string(&mut text);
    match read {
        Ok(n) if n > limit => Err(format!("the input is larger than {limit} bytes")),
        Ok(_) => Ok(text),
        Err(e) => Err(format!("cannot read the input: {e}")),
    }
}
