//! Shared by `redact`, `run` and `cache-key`: parsing references given on the
//! command line and resolving them, failing on the first that cannot be.

use anyhow::Context as _;
use hush_core::SecretBytes;
use hush_inject::{Reference, Resolver};

use crate::args::{Connection, NamespaceArg};
use crate::exit_code::usage;

/// A resolver for `hush://` references without a namespace in `ns`; it gets
/// a client only when some reference needs the server, so that a bad
/// `HUSH_ADDR` does not stop `env://` or `file://` references.
pub(crate) fn resolver<'a>(
    ns: &NamespaceArg,
    conn: &Connection,
    references: impl IntoIterator<Item = &'a Reference>,
) -> anyhow::Result<Resolver> {
    let needs_server = references.into_iter().any(|r| matches!(r.source, hush_inject::Source::Hush { .. }));
    let client = if needs_server { Some(super::client(conn)?) } else { None };
    Ok(Resolver::new(ns.namespace.clone(), client))
}

/// Parses a reference given for `what` (e.g. `--env MY_VAR`).
pub(crate) fn parse(what: &str, text: &str) -> anyhow::Result<Reference> {
    match Reference::parse(text) {
        Ok(reference) => Ok(reference),
        Err(e) => usage(format!("{what}: {e}")),
    }
}

/// Splits `VAR=REF` (for `what`, e.g. `--env`).
pub(crate) fn assignment<'a>(what: &str, text: &'a str) -> anyhow::Result<(&'a str, &'a str)> {
    match text.split_once('=') {
        Some((var, reference)) if hush_inject::dotenv::is_key(var) => Ok((var, reference)),
        Some(_) => usage(format!("{what}: the variable name must be letters, digits and _, not starting with a digit")),
        None => usage(format!("{what} takes VAR=REF, e.g. {what} API_TOKEN=env://API_TOKEN")),
    }
}

/// Resolves each `(label, reference)` in order; the first failure is the
/// error, named by its label.
pub(crate) async fn resolve_all(
    resolver: &Resolver,
    references: &[(String, Reference)],
) -> anyhow::Result<Vec<SecretBytes>> {
    let mut values = Vec::with_capacity(references.len());
    for (label, reference) in references {
        let value = resolver.resolve(reference).await.with_context(|| format!("{label}: cannot resolve"))?;
        values.push(value);
    }
    Ok(values)
}
