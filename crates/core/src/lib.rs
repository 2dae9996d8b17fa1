//! The vocabulary every other hush crate speaks.
//!
//! This crate owns the rules that are the same wherever a name or a value
//! travels: what a namespace or secret name may look like ([`NamespaceName`],
//! [`SecretName`]), the three secret types and their fields ([`SecretType`],
//! [`SecretValue`]), the token scopes ([`Scope`], [`ScopeSet`]) and the
//! zeroizing containers that hold plaintext ([`SecretBytes`], [`SecretString`]),
//! and where a credential applies ([`Location`], [`RegistryAddress`]: hosts,
//! image references and the longest-prefix rule).
//!
//! It does no I/O, no cryptography and no storage: those live in `hush-crypto`
//! and `hush-store`. Nothing in here can print a secret value: the containers
//! print `[REDACTED]` and implement neither `Display` nor `Serialize`.

mod location;
mod name;
mod registry_address;
mod scope;
mod secret_type;
mod secret_value;
mod sensitive;

pub use location::{Location, LocationError, best_match};
pub use name::{NameError, NamespaceName, RESERVED_NAMESPACES, SecretName, name_safe};
pub use registry_address::{DOCKER_HUB, RegistryAddress, obfuscate_user};
pub use scope::{Scope, ScopeSet, UnknownScope};
pub use secret_type::{SecretType, UnknownSecretType};
pub use secret_value::{SecretValue, ValueDecodeError, ValueField};
pub use sensitive::{SecretBytes, SecretString, zeroizing_bytes};
