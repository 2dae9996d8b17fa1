//! Token scopes (DESIGN.md, "Token") and sets of them.

use std::fmt;
use std::str::FromStr;

/// One permission a token can carry. `Admin` implies every other scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// List secrets and read their metadata, never values.
    SecretsList,
    /// Read secret values.
    SecretsRead,
    /// Create and rotate secrets.
    SecretsWrite,
    /// Delete secrets.
    SecretsDelete,
    /// Read registry credentials (for pulls).
    RegistriesRead,
    /// Create and delete registry credentials.
    RegistriesWrite,
    /// Create, list and revoke tokens (never beyond the caller's own rights).
    TokensManage,
    /// Create and delete namespaces.
    NamespacesManage,
    /// Read the audit log.
    AuditRead,
    /// Everything.
    Admin,
    /// Read the server's metrics (`GET /metrics`); nothing else. Last, so
    /// the other scopes keep their bits.
    MetricsRead,
}

/// A scope name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}; expected one of {list}", list = Scope::names().join(", "))]
pub struct UnknownScope(pub String);

impl Scope {
    /// Every scope, in documentation order.
    pub const ALL: [Scope; 11] = [
        Scope::SecretsList,
        Scope::SecretsRead,
        Scope::SecretsWrite,
        Scope::SecretsDelete,
        Scope::RegistriesRead,
        Scope::RegistriesWrite,
        Scope::TokensManage,
        Scope::NamespacesManage,
        Scope::AuditRead,
        Scope::MetricsRead,
        Scope::Admin,
    ];

    /// The wire name, e.g. `secrets:read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SecretsList => "secrets:list",
            Scope::SecretsRead => "secrets:read",
            Scope::SecretsWrite => "secrets:write",
            Scope::SecretsDelete => "secrets:delete",
            Scope::RegistriesRead => "registries:read",
            Scope::RegistriesWrite => "registries:write",
            Scope::TokensManage => "tokens:manage",
            Scope::NamespacesManage => "namespaces:manage",
            Scope::AuditRead => "audit:read",
            Scope::Admin => "admin",
            Scope::MetricsRead => "metrics:read",
        }
    }

    /// All wire names.
    pub fn names() -> Vec<&'static str> {
        Scope::ALL.iter().map(|s| s.as_str()).collect()
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| UnknownScope(s.chars().take(40).collect()))
    }
}

/// A set of scopes, stored as bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScopeSet(u16);

impl ScopeSet {
    /// The empty set.
    pub const EMPTY: ScopeSet = ScopeSet(0);

    /// A set holding `scopes`.
    pub fn of(scopes: impl IntoIterator<Item = Scope>) -> Self {
        let mut set = Self::EMPTY;
        for s in scopes {
            set.insert(s);
        }
        set
    }

    /// Adds a scope.
    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
    }

    /// Whether the set grants `scope`, directly or through `admin`.
    pub fn grants(self, scope: Scope) -> bool {
        self.0 & (scope.bit() | Scope::Admin.bit()) != 0
    }

    /// Whether every scope of `other` is granted by `self` (no privilege escalation).
    pub fn covers(self, other: ScopeSet) -> bool {
        self.grants(Scope::Admin) || (other.0 & !self.0) == 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes held, in documentation order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.0 & s.bit() != 0)
    }

    /// Parses a space- or comma-separated list, as stored.
    pub fn parse_list(text: &str) -> Result<Self, UnknownScope> {
        text.split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Scope>, _>>()
            .map(Self::of)
    }

    /// The scopes as a space-separated list, as stored.
    pub fn to_list(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>(), Ok(s));
        }
        assert!("secrets:READ".parse::<Scope>().is_err());
    }

    #[test]
    fn admin_grants_everything_and_covers_everything() {
        let admin = ScopeSet::of([Scope::Admin]);
        for s in Scope::ALL {
            assert!(admin.grants(s));
        }
        assert!(admin.covers(ScopeSet::of(Scope::ALL)));
    }

    #[test]
    fn covers_is_subset() {
        let list_read = ScopeSet::of([Scope::SecretsList, Scope::SecretsRead]);
        assert!(list_read.covers(ScopeSet::of([Scope::SecretsList])));
        assert!(!list_read.covers(ScopeSet::of([Scope::SecretsWrite])));
        assert!(!list_read.covers(ScopeSet::of([Scope::Admin])));
        assert!(!list_read.grants(Scope::SecretsWrite));
    }

    #[test]
    fn list_round_trip() {
        let set = ScopeSet::of([Scope::AuditRead, Scope::SecretsList]);
        assert_eq!(set.to_list(), "secrets:list audit:read");
        assert_eq!(ScopeSet::parse_list(&set.to_list()), Ok(set));
        assert_eq!(ScopeSet::parse_list("secrets:list,audit:read"), Ok(set));
        assert!(ScopeSet::parse_list("secrets:list nope").is_err());
    }
}
