//! Git credentials by URL: the `git` secret whose `url` covers a remote
//! most specifically (`git-credential-hush` asks for `protocol://host/path`).

use std::fmt;

use hush_core::{Location, NamespaceName, Scope, SecretString, SecretType, SecretValue, best_match};
use hush_store::{AuditAction, SecretRecord};

use crate::{Credentials, Hush, Missing, ServiceError};

/// A git secret picked for a URL, with its credentials.
pub struct GitCredential {
    /// The secret.
    pub record: SecretRecord,
    /// Its `url` field.
    pub url: String,
    /// Login name.
    pub username: String,
    /// Token or password.
    pub token: SecretString,
}

impl fmt::Debug for GitCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitCredential").field("record", &self.record).field("url", &self.url).finish_non_exhaustive()
    }
}

impl Hush {
    /// The git secret of `namespace` whose `url` covers `target` most
    /// specifically (secrets without a `url` are only used by name). Needs
    /// `secrets:read`; the read is audited and sets `last_read_at`.
    pub async fn git_credential(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
        target: &Location,
    ) -> Result<GitCredential, ServiceError> {
        let mut event = self.event(creds, AuditAction::GitCredential, Some(namespace), None);
        let result = async {
            let (_, ns) = self.authorize_in(creds, &mut event, namespace, Scope::SecretsRead).await?;
            let mut candidates = Vec::new();
            for sealed in self.readable_of_type(&ns.id, SecretType::Git).await? {
                let SecretValue::Git { username, token, url } = self.open_sealed(&ns, &sealed).await? else {
                    continue;
                };
                if url.is_empty() {
                    continue;
                }
                match Location::parse_url(&url) {
                    Ok(location) => candidates.push((location, sealed, username, token, url)),
                    Err(e) => tracing::warn!(namespace = %ns.name, secret = %sealed.secret.name, error = %e,
                        "a git secret's url does not parse; it is not used for lookups"),
                }
            }
            let best = best_match(candidates.iter().map(|c| &c.0).zip(0..), target);
            let (index, _) = best.ok_or(ServiceError::NotFound(Missing::GitCredential))?;
            let (_, sealed, username, token, url) = candidates.swap_remove(index);
            event.event.name = Some(sealed.secret.name.to_string());
            self.record_read(&mut event, &sealed).await?;
            Ok(GitCredential { record: sealed.secret, url, username, token })
        }
        .await;
        self.finish(event, result).await
    }
}
