//! Workload identity: what a login role demands of a JWT, and checking a JWT
//! against it.
//!
//! A CI job or a pod holds a JWT signed by its platform (GitHub Actions,
//! GitLab CI, a Kubernetes cluster) that says who it is. A role names the
//! issuer it trusts, the audience the token must be for, and claims the token
//! must carry (the repository, the branch, the service account). [`verify`]
//! checks a JWT against a role's [`LoginRules`] with the issuer's keys
//! ([`KeyCache`]) and returns the [`LoginIdentity`] to record with every
//! audit event made under the token it earns, or the [`FailedCheck`] that
//! refused it.
//!
//! Signatures and key parsing are jsonwebtoken's (RustCrypto backend); this
//! crate decides which algorithms and keys are acceptable, and the rules.

mod bound_claim;
mod jwt_check;
mod key_cache;
mod login_identity;
mod login_rules;
mod url_rules;

pub use bound_claim::{BoundClaim, ClaimPathError};
pub use jwt_check::{FailedCheck, LoginFailure, MAX_JWT_BYTES, verify};
pub use key_cache::{KeyCache, KeyProblem};
pub use login_identity::LoginIdentity;
pub use login_rules::{DEFAULT_MAX_JWT_LIFETIME, KeySource, LoginRules, MAX_LEEWAY_SECS, RuleError};
