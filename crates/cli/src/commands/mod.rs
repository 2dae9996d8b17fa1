//! One module per command group; each turns arguments into API calls (or, for
//! `serve` and `init`, into a running or initialised service) and prints.

pub(crate) mod admin;
pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod cache_key;
pub(crate) mod health;
pub(crate) mod namespace;
pub(crate) mod redact;
pub(crate) mod references;
pub(crate) mod registry;
pub(crate) mod run;
pub(crate) mod secret;
pub(crate) mod serve;
pub(crate) mod tls;
pub(crate) mod token;
pub(crate) mod workflow;

use hush_client::{Client, WorkloadLogin};
use hush_core::SecretString;

use crate::args::Connection;

/// A client for the connection flags. Without a token, `HUSH_ROLE` makes it
/// log in as a workload on its first call (see `hush login`).
pub(crate) fn client(conn: &Connection) -> anyhow::Result<Client> {
    let client = anonymous_client(conn)?;
    if conn.auth_token.is_some() {
        return Ok(client.with_token(conn.auth_token.clone().map(SecretString::new)));
    }
    Ok(match WorkloadLogin::from_env()? {
        Some(login) => client.with_workload_login(login),
        None => client,
    })
}

/// A client for the connection flags with no token and no login.
pub(crate) fn anonymous_client(conn: &Connection) -> anyhow::Result<Client> {
    Ok(if conn.allow_plain_http {
        Client::new_allowing_plain_http(&conn.addr, None, &conn.tls())?
    } else {
        Client::new(&conn.addr, None, &conn.tls())?
    })
}
