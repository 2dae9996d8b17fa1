//! Validated names for namespaces and secrets.
//!
//! Names are not secret, but they travel into URLs, SQL and file paths, so they
//! are checked once, here, and carried as newtypes afterwards. The rules follow
//! DESIGN.md: a namespace is `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`; a secret name is
//! one or more `/`-separated segments of `[A-Za-z0-9._-]{1,64}`, at most 256
//! characters in all (folders, as Direktiv users asked for).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest namespace name, in characters.
const NAMESPACE_MAX: usize = 64;
/// Longest secret name segment, in characters.
const SEGMENT_MAX: usize = 64;
/// Longest whole secret name, in characters.
const SECRET_NAME_MAX: usize = 256;

/// Scopes addressed through the registry API rather than as namespaces; they
/// cannot be created, listed or deleted as ordinary namespaces.
pub const RESERVED_NAMESPACES: [&str; 2] = ["global", "global-private"];

/// Why a name was refused. Messages describe the problem by position so that
/// a mistyped value pasted into a name field is not echoed back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name was empty.
    #[error("{kind} name is empty")]
    Empty {
        /// `namespace` or `secret`.
        kind: &'static str,
    },
    /// The name is longer than allowed.
    #[error("{kind} name is {len} characters long; the limit is {max}")]
    TooLong {
        /// `namespace`, `secret` or `secret name segment`.
        kind: &'static str,
        /// Length found.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// A character outside the allowed set.
    #[error(
        "{kind} name has a character that is not allowed at position {position} ({shown}); \
         use letters, digits, '.', '_' and '-'{extra}"
    )]
    BadCharacter {
        /// `namespace` or `secret`.
        kind: &'static str,
        /// 1-based character position.
        position: usize,
        /// The character, escaped for display.
        shown: String,
        /// A hint about `/`.
        extra: &'static str,
    },
    /// A namespace must begin with a letter or digit.
    #[error("namespace name must begin with a letter or a digit")]
    BadStart,
    /// A secret name had an empty folder segment (leading, trailing or double `/`).
    #[error("secret name has an empty segment at position {position} (a leading, trailing or doubled '/')")]
    EmptySegment {
        /// 1-based segment index.
        position: usize,
    },
    /// `.` or `..` as a whole segment.
    #[error("secret name segment {position} is '.' or '..', which is not allowed")]
    DotSegment {
        /// 1-based segment index.
        position: usize,
    },
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn shown(c: char) -> String {
    if c.is_ascii_graphic() { format!("'{c}'") } else { format!("U+{:04X}", c as u32) }
}

/// A namespace name: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamespaceName(String);

impl NamespaceName {
    /// Checks `name` against the namespace rules.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        let kind = "namespace";
        if name.is_empty() {
            return Err(NameError::Empty { kind });
        }
        let len = name.chars().count();
        if len > NAMESPACE_MAX {
            return Err(NameError::TooLong { kind, len, max: NAMESPACE_MAX });
        }
        for (i, c) in name.chars().enumerate() {
            if !allowed(c) {
                return Err(NameError::BadCharacter { kind, position: i + 1, shown: shown(c), extra: "" });
            }
        }
        if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(NameError::BadStart);
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is one of the registry scopes (`global`, `global-private`).
    pub fn is_reserved(&self) -> bool {
        RESERVED_NAMESPACES.contains(&self.0.as_str())
    }
}

/// A secret name: `/`-separated segments of `[A-Za-z0-9._-]{1,64}`, at most 256 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretName(String);

impl SecretName {
    /// Checks `name` against the secret-name rules.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        let kind = "secret";
        if name.is_empty() {
            return Err(NameError::Empty { kind });
        }
        let len = name.chars().count();
        if len > SECRET_NAME_MAX {
            return Err(NameError::TooLong { kind, len, max: SECRET_NAME_MAX });
        }
        for (i, c) in name.chars().enumerate() {
            if !(allowed(c) || c == '/') {
                return Err(NameError::BadCharacter {
                    kind,
                    position: i + 1,
                    shown: shown(c),
                    extra: ", with '/' between folders",
                });
            }
        }
        for (i, segment) in name.split('/').enumerate() {
            let position = i + 1;
            if segment.is_empty() {
                return Err(NameError::EmptySegment { position });
            }
            if segment == "." || segment == ".." {
                return Err(NameError::DotSegment { position });
            }
            if segment.len() > SEGMENT_MAX {
                return Err(NameError::TooLong { kind: "secret name segment", len: segment.len(), max: SEGMENT_MAX });
            }
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `text` with every character a secret name cannot hold replaced by `_`,
/// for names derived from addresses (`registries/127.0.0.1_5000`). The
/// result still has to pass [`SecretName::parse`] (length, dot segments).
pub fn name_safe(text: &str) -> String {
    text.chars().map(|c| if allowed(c) || c == '/' { c } else { '_' }).collect()
}

macro_rules! string_like {
    ($ty:ty) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
string_like!(NamespaceName);
string_like!(SecretName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names() {
        let table: &[(&str, bool)] = &[
            ("default", true),
            ("a", true),
            ("9lives", true),
            ("team-a.prod_1", true),
            (&"x".repeat(64), true),
            (&"x".repeat(65), false),
            ("", false),
            ("-lead", false),
            (".hidden", false),
            ("_x", false),
            ("has space", false),
            ("slash/no", false),
            ("ünï", false),
        ];
        for (name, ok) in table {
            assert_eq!(NamespaceName::parse(name).is_ok(), *ok, "{name:?}");
        }
    }

    #[test]
    fn secret_names() {
        let table: &[(&str, bool)] = &[
            ("x", true),
            ("db/password", true),
            ("a/b/c/d", true),
            ("ghcr-pull", true),
            (".env", true),
            ("a..b", true),
            (&"s".repeat(64), true),
            (&"s".repeat(65), false),
            (&format!("{}/{}/{}/{}", "a".repeat(64), "b".repeat(64), "c".repeat(64), "d".repeat(61)), true),
            (&format!("{}/{}/{}/{}", "a".repeat(64), "b".repeat(64), "c".repeat(64), "d".repeat(62)), false),
            ("", false),
            ("/lead", false),
            ("trail/", false),
            ("a//b", false),
            ("a/./b", false),
            ("a/..", false),
            ("..", false),
            ("sp ace", false),
            ("a\\b", false),
            ("tab\t", false),
            ("new\nline", false),
            ("q?x", false),
            ("pct%2F", false),
        ];
        for (name, ok) in table {
            assert_eq!(SecretName::parse(name).is_ok(), *ok, "{name:?}");
        }
    }

    #[test]
    fn errors_point_at_the_problem_without_echoing_the_name() {
        let err = SecretName::parse("hunter2 is my password").unwrap_err().to_string();
        assert!(err.contains("position 8"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = NamespaceName::parse("tab\there").unwrap_err().to_string();
        assert!(err.contains("U+0009"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_accepted_names_round_trip(text in "\\PC{0,300}") {
            if let Ok(n) = SecretName::parse(&text) {
                proptest::prop_assert_eq!(n.as_str(), text.as_str());
                proptest::prop_assert!(n.as_str().len() <= SECRET_NAME_MAX);
            }
            if let Ok(n) = NamespaceName::parse(&text) {
                proptest::prop_assert_eq!(n.as_str(), text.as_str());
            }
        }

        #[test]
        fn generated_valid_names_are_accepted(segments in proptest::collection::vec("[A-Za-z0-9_-][A-Za-z0-9._-]{0,20}", 1..5)) {
            let name = segments.join("/");
            proptest::prop_assert!(SecretName::parse(&name).is_ok(), "{}", name);
        }
    }

    #[test]
    fn derived_names_keep_only_name_characters() {
        assert_eq!(name_safe("127.0.0.1:5000/team"), "127.0.0.1_5000/team");
        assert_eq!(name_safe("[::1]:5000"), "___1__5000");
        assert!(SecretName::parse(&name_safe("git/h:8080/org/repo.git")).is_ok());
    }

    #[test]
    fn reserved_namespaces_are_recognised() {
        assert!(NamespaceName::parse("global").unwrap().is_reserved());
        assert!(NamespaceName::parse("global-private").unwrap().is_reserved());
        assert!(!NamespaceName::parse("globalx").unwrap().is_reserved());
    }
}
