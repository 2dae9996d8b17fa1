//! Parsing secret references: `hush://[ns/]name[#field]`, `env://NAME`,
//! `file://PATH`, `cmd://COMMAND`, `vault://[mount/]path#field`, Dagger's
//! `vault://path.field` and 1Password's `op://vault/item/[section/]field`,
//! each optionally ending in `?cacheKey=K`.
//!
//! Errors never quote the text they were given: a user who passes a value
//! where a reference belongs (`--env TOKEN=hunter2`) must not see it echoed
//! into a CI log. They name the scheme at most.

use std::fmt;

/// Why a reference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// There is no `scheme://`.
    #[error(
        "not a reference: expected SCHEME://…, e.g. env://NAME, file://PATH, cmd://COMMAND, vault://PATH#FIELD, op://VAULT/ITEM/FIELD or hush://NAME"
    )]
    NotAReference,
    /// The scheme is not one hush knows.
    #[error("unknown reference scheme {0:?} (known: hush, env, file, cmd, vault, op)")]
    UnknownScheme(String),
    /// A scheme hush knows of but cannot resolve yet.
    #[error("{0}:// references are not supported yet")]
    Unsupported(&'static str),
    /// Nothing after `scheme://`.
    #[error("{0}:// reference has nothing after the scheme")]
    Empty(&'static str),
    /// A `hush://` reference whose namespace, name or field is malformed.
    #[error("hush:// reference is malformed: {0}")]
    BadHushReference(String),
    /// A `vault://` reference without a field, or with an empty segment.
    #[error("vault:// reference is malformed: {0}")]
    BadVaultReference(&'static str),
    /// An `op://` reference with too few or too many segments, an empty
    /// one, or a query other than `?cacheKey=`.
    #[error("op:// reference is malformed: {0}")]
    BadOnePasswordReference(&'static str),
}

/// Where a secret value comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum Source {
    /// A secret on the hush server: namespace (or the default), name, field.
    Hush { namespace: Option<String>, name: String, field: Option<String> },
    /// An environment variable of this process.
    Env(String),
    /// A file (`~` already expanded by the resolver, not here).
    File(String),
    /// The standard output of `sh -c COMMAND`.
    Command(String),
    /// A field of a Vault/OpenBao KV v2 secret. `mount: None` is
    /// `VAULT_PATH_PREFIX`, else `secret`, when resolved.
    Vault { mount: Option<String>, path: String, field: String },
    /// A field of a 1Password item, each part a name or an id.
    OnePassword { vault: String, item: String, section: Option<String>, field: String },
}

/// A parsed reference.
#[derive(Clone, PartialEq, Eq)]
pub struct Reference {
    /// Where the value comes from.
    pub source: Source,
    /// The `?cacheKey=` given, if any.
    pub cache_key: Option<String>,
}

const CACHE_KEY_QUERY: &str = "?cacheKey=";

impl Reference {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        let (scheme, rest) = text.split_once("://").ok_or(ReferenceError::NotAReference)?;
        let (body, cache_key) = match rest.rfind(CACHE_KEY_QUERY) {
            Some(at) => (&rest[..at], Some(rest[at + CACHE_KEY_QUERY.len()..].to_owned())),
            None => (rest, None),
        };
        let source = match scheme {
            "hush" => parse_hush(body)?,
            "env" => Source::Env(non_empty("env", body)?.to_owned()),
            "file" => Source::File(non_empty("file", body)?.to_owned()),
            "cmd" => Source::Command(non_empty("cmd", body)?.to_owned()),
            "vault" => parse_vault(body)?,
            "op" => parse_onepassword(body)?,
            other if is_scheme_like(other) => return Err(ReferenceError::UnknownScheme(other.to_owned())),
            _ => return Err(ReferenceError::NotAReference),
        };
        Ok(Reference { source, cache_key })
    }

    /// Whether `text` looks like a reference of a known scheme (used to tell
    /// references from literal values in dotenv files).
    pub fn looks_like_reference(text: &str) -> bool {
        text.split_once("://").is_some_and(|(scheme, _)| KNOWN_SCHEMES.contains(&scheme))
    }
}

const KNOWN_SCHEMES: &[&str] = &["hush", "env", "file", "cmd", "vault", "op"];

/// A short token of letters, digits, `+`, `-`, `.`: safe to quote back.
fn is_scheme_like(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 16
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn non_empty<'a>(scheme: &'static str, body: &'a str) -> Result<&'a str, ReferenceError> {
    if body.is_empty() { Err(ReferenceError::Empty(scheme)) } else { Ok(body) }
}

/// `[mount/]path#field`: with `#`, a first segment before at least one
/// more is the mount. Dagger's `path.field`: the field after the last dot,
/// the mount from the environment.
fn parse_vault(body: &str) -> Result<Source, ReferenceError> {
    let (mount, path, field) = match body.split_once('#') {
        Some((path, field)) => match path.split_once('/') {
            Some((mount, rest)) if !rest.is_empty() => (Some(mount.to_owned()), rest, field),
            _ => (None, path, field),
        },
        None => match body.rsplit_once('.') {
            Some((path, field)) => (None, path, field),
            None => {
                return Err(ReferenceError::BadVaultReference(
                    "name a field: vault://mount/path#field or vault://path.field",
                ));
            }
        },
    };
    if field.is_empty() {
        return Err(ReferenceError::BadVaultReference("the field is empty"));
    }
    if path.is_empty() || path.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(ReferenceError::BadVaultReference("the path has an empty, . or .. segment"));
    }
    if mount.as_deref().is_some_and(|m| m.is_empty() || m == "." || m == "..") {
        return Err(ReferenceError::BadVaultReference("the mount is empty"));
    }
    Ok(Source::Vault { mount, path: path.to_owned(), field: field.to_owned() })
}

/// `vault/item/field` or `vault/item/section/field`, as `op read` takes them.
fn parse_onepassword(body: &str) -> Result<Source, ReferenceError> {
    const SHAPE: &str = "expected op://VAULT/ITEM/FIELD or op://VAULT/ITEM/SECTION/FIELD";
    if body.is_empty() {
        return Err(ReferenceError::Empty("op"));
    }
    if body.contains('?') {
        return Err(ReferenceError::BadOnePasswordReference(
            "query parameters such as ?attribute= are not supported (only ?cacheKey=)",
        ));
    }
    let segments: Vec<&str> = body.split('/').collect();
    let (vault, item, section, field) = match segments[..] {
        [vault, item, field] => (vault, item, None, field),
        [vault, item, section, field] => (vault, item, Some(section), field),
        [_] | [_, _] => return Err(ReferenceError::BadOnePasswordReference(SHAPE)),
        _ => {
            return Err(ReferenceError::BadOnePasswordReference(
                "too many segments: at most op://VAULT/ITEM/SECTION/FIELD",
            ));
        }
    };
    let empty = if vault.is_empty() {
        Some("the vault is empty")
    } else if item.is_empty() {
        Some("the item is empty")
    } else if section == Some("") {
        Some("the section is empty")
    } else if field.is_empty() {
        Some("the field is empty")
    } else {
        None
    };
    if let Some(problem) = empty {
        return Err(ReferenceError::BadOnePasswordReference(problem));
    }
    Ok(Source::OnePassword {
        vault: vault.to_owned(),
        item: item.to_owned(),
        section: section.map(str::to_owned),
        field: field.to_owned(),
    })
}

fn parse_hush(body: &str) -> Result<Source, ReferenceError> {
    let (path, field) = match body.split_once('#') {
        Some((path, field)) => (path, Some(field)),
        None => (body, None),
    };
    if path.is_empty() {
        return Err(ReferenceError::Empty("hush"));
    }
    let (namespace, name) = match path.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, path),
    };
    if let Some(ns) = namespace {
        hush_core::NamespaceName::parse(ns).map_err(|e| ReferenceError::BadHushReference(format!("namespace: {e}")))?;
    }
    hush_core::SecretName::parse(name).map_err(|e| ReferenceError::BadHushReference(format!("name: {e}")))?;
    if let Some(field) = field
        && (field.is_empty() || !field.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    {
        return Err(ReferenceError::BadHushReference("the field after # must be a field name like token".into()));
    }
    Ok(Source::Hush { namespace: namespace.map(str::to_owned), name: name.to_owned(), field: field.map(str::to_owned) })
}

/// How a reference is named in messages: the scheme and its target, except
/// for `cmd://`, whose command line may hold a literal value and is shown
/// only by its program name.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Hush { namespace, name, field } => {
                write!(f, "hush://")?;
                if let Some(ns) = namespace {
                    write!(f, "{ns}/")?;
                }
                write!(f, "{name}")?;
                if let Some(field) = field {
                    write!(f, "#{field}")?;
                }
                Ok(())
            }
            Source::Env(name) => write!(f, "env://{name}"),
            Source::File(path) => write!(f, "file://{path}"),
            Source::Command(command) => {
                let program = command.split_whitespace().next().unwrap_or("");
                write!(f, "cmd://{program} …")
            }
            Source::Vault { mount, path, field } => match mount {
                Some(m) => write!(f, "vault://{m}/{path}#{field}"),
                None => write!(f, "vault://{path}#{field}"),
            },
            Source::OnePassword { vault, item, section, field } => match section {
                Some(s) => write!(f, "op://{vault}/{item}/{s}/{field}"),
                None => write!(f, "op://{vault}/{item}/{field}"),
            },
        }
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Reference { source: self.clone(), cache_key: None })
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hush(ns: Option<&str>, name: &str, field: Option<&str>) -> Source {
        Source::Hush { namespace: ns.map(Into::into), name: name.into(), field: field.map(Into::into) }
    }

    fn op(vault: &str, item: &str, section: Option<&str>, field: &str) -> Source {
        Source::OnePassword {
            vault: vault.into(),
            item: item.into(),
            section: section.map(Into::into),
            field: field.into(),
        }
    }

    #[test]
    fn parses_each_scheme() {
        let table: &[(&str, Source, Option<&str>)] = &[
            ("hush://db", hush(None, "db", None), None),
            ("hush://team-a/db#token", hush(Some("team-a"), "db", Some("token")), None),
            ("hush://team-a/ci/deploy-key", hush(Some("team-a"), "ci/deploy-key", None), None),
            ("env://API_TOKEN", Source::Env("API_TOKEN".into()), None),
            ("file://~/.secrets/token", Source::File("~/.secrets/token".into()), None),
            ("cmd://pass show ci/token", Source::Command("pass show ci/token".into()), None),
            ("env://A?cacheKey=v1", Source::Env("A".into()), Some("v1")),
            ("cmd://echo a?b?cacheKey=k", Source::Command("echo a?b".into()), Some("k")),
            (
                "vault://secret/app/db#password",
                Source::Vault { mount: Some("secret".into()), path: "app/db".into(), field: "password".into() },
                None,
            ),
            ("vault://db#password", Source::Vault { mount: None, path: "db".into(), field: "password".into() }, None),
            (
                "vault://app/db.password",
                Source::Vault { mount: None, path: "app/db".into(), field: "password".into() },
                None,
            ),
            (
                "vault://kv/a.b/c#f?cacheKey=z",
                Source::Vault { mount: Some("kv".into()), path: "a.b/c".into(), field: "f".into() },
                Some("z"),
            ),
            ("op://dev/Stripe/publishable-key", op("dev", "Stripe", None, "publishable-key"), None),
            ("op://Management/PagerDuty/Admin/email", op("Management", "PagerDuty", Some("Admin"), "email"), None),
            (
                "op://Prod Vault/Prod DB/pass word?cacheKey=v2",
                op("Prod Vault", "Prod DB", None, "pass word"),
                Some("v2"),
            ),
            (
                "op://kfnxq4cbvwomqykyy6ckcvbaxm/u2tygvhg6yalhxsl4v3gn6jkma/password",
                op("kfnxq4cbvwomqykyy6ckcvbaxm", "u2tygvhg6yalhxsl4v3gn6jkma", None, "password"),
                None,
            ),
        ];
        for (text, source, key) in table {
            let r = Reference::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(&r.source, source, "{text}");
            assert_eq!(r.cache_key.as_deref(), *key, "{text}");
        }
    }

    #[test]
    fn errors_name_the_problem_and_never_the_text() {
        let table: &[(&str, &str)] = &[
            ("hunter2", "not a reference"),
            ("s3cr3t://hunter2", "unknown reference scheme \"s3cr3t\""),
            ("pass word://hunter2", "not a reference"),
            ("env://", "nothing after"),
            ("vault://kv/hunter2", "name a field"),
            ("vault://kv/hunter2#", "field is empty"),
            ("vault://kv//hunter2#f", "empty, . or .."),
            ("vault://kv/../hunter2#f", "empty, . or .."),
            ("op://", "op:// reference has nothing after"),
            ("op://hunter2", "expected op://VAULT/ITEM/FIELD"),
            ("op://vault/hunter2", "expected op://VAULT/ITEM/FIELD"),
            ("op://vault/hunter2/s/f/x", "too many segments"),
            ("op:///hunter2/f", "the vault is empty"),
            ("op://v//hunter2", "the item is empty"),
            ("op://v/hunter2/", "the field is empty"),
            ("op://v/hunter2//f", "the section is empty"),
            ("op://v/hunter2/s/", "the field is empty"),
            ("op://v/i/hunter2?attribute=otp", "query parameters"),
            ("op://hunter2/x?cacheKey=k", "expected op://VAULT/ITEM/FIELD"),
            ("hush://hunter2 x", "malformed"),
            ("hush://ns/hunter2#", "field"),
        ];
        for (text, want) in table {
            let message = Reference::parse(text).unwrap_err().to_string();
            assert!(message.contains(want), "{text}: {message}");
            assert!(!message.contains("hunter2"), "{text}: {message} echoes the input");
        }
    }

    #[test]
    fn display_hides_command_lines() {
        let r = Reference::parse("cmd://echo hunter2").unwrap();
        assert_eq!(r.to_string(), "cmd://echo …");
        assert_eq!(Reference::parse("hush://a/b#token").unwrap().to_string(), "hush://a/b#token");
        for text in ["op://dev/Stripe/key", "op://Prod Vault/Prod DB/Admin/pass word"] {
            assert_eq!(Reference::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(Reference::parse("op://v/i/f?cacheKey=k").unwrap().to_string(), "op://v/i/f");
        assert!(Reference::looks_like_reference("op://v/i/f"));
    }
}
