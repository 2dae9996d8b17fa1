//! One module per command group; each turns arguments into API calls (or, for
//! `serve` and `init`, into a running or initialised service) and prints.

pub(crate) mod admin;
pub(crate) mod audit;
pub(crate) mod cache_key;
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

use hush_client::Client;
use hush_core::SecretString;

use crate::args::Connection;

/// A client for the connection flags.
pub(crate) fn client(conn: &Connection) -> anyhow::Result<Client> {
    let token = conn.auth_token.clone().map(SecretString::new);
    Ok(if conn.allow_plain_http {
        Client::new_allowing_plain_http(&conn.addr, token, &conn.tls())?
    } else {
        Client::new(&conn.addr, token, &conn.tls())?
    })
}
