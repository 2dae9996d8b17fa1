//! The vocabulary every other hush crate speaks.
//!
//! This crate owns the rules that are the same wherever a name or a value
//! travels: what a namespace or secret name may look like ([`NamespaceName`],
//! [`SecretName`]), the three secret types and their fields ([`SecretType`],
//! [`SecretValue`]), the token scopes ([`Scope`], [`ScopeSet`]) and the
//! zeroizing containers that hold plaintext ([`SecretBytes`], [`SecretString`]).
//!
//! It does no I/O, no cryptography and no storage: those live in `hush-crypto`
//! and `hush-store`. Nothing in here can print a secret value: the containers
//! print `[REDACTED]` and implement neither `Display` nor `Serialize`.

mod name;
mod scope;
mod secret_type;
mod secret_value;
mod sensitive;

pub use name::{NameError, NamespaceName, RESERVED_NAMESPACES, SecretName};
pub use scope::{Scope, ScopeSet, UnknownScope};
pub use secret_type::{SecretType, UnknownSecretType};
pub use secret_value::{SecretValue, ValueDecodeError, ValueField};
pub use sensitive::{SecretBytes, SecretString, zeroizing_bytes};
