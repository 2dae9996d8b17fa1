//! [`SecretSource`] over hush's REST API: the runner's own token reads the
//! namespace's secrets and registry credentials, sending `X-Hush-Context`
//! (workflow, instance and state) with every read so the audit log shows
//! which run read what.

use async_trait::async_trait;
use hush_client::{Client, ClientError, RegistryScope, RegistryTarget};

use crate::secrets::{FetchedSecret, RegistryLogin, SecretSource, SourceError};

/// Secrets of one namespace, read through a hush server.
#[derive(Debug, Clone)]
pub struct ServerSource {
    client: Client,
    namespace: String,
}

impl ServerSource {
    /// Reads from `namespace` with `client`.
    pub fn new(client: Client, namespace: &str) -> ServerSource {
        ServerSource { client, namespace: namespace.to_owned() }
    }

    fn failed(&self, what: &str, e: ClientError) -> SourceError {
        SourceError::Failed(format!("cannot read {what} in namespace {:?}: {e}", self.namespace))
    }
}

#[async_trait]
impl SecretSource for ServerSource {
    async fn secret(&self, name: &str, context: &str) -> Result<FetchedSecret, SourceError> {
        let client = self.client.clone().with_context(context);
        match client.get_secret(&self.namespace, name, None).await {
            Ok(revealed) => {
                Ok(FetchedSecret { secret_type: revealed.secret_type().to_owned(), fields: revealed.fields })
            }
            Err(e) if e.status() == Some(404) => {
                Err(SourceError::NotFound(format!("secret {name:?} does not exist in namespace {:?}", self.namespace)))
            }
            Err(e) => Err(self.failed(&format!("secret {name:?}"), e)),
        }
    }

    async fn exists(&self, name: &str) -> Result<bool, SourceError> {
        match self.client.secret_versions(&self.namespace, name).await {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(self.failed(&format!("secret {name:?}"), e)),
        }
    }

    async fn registry_login(&self, image: &str, context: &str) -> Result<Option<RegistryLogin>, SourceError> {
        let client = self.client.clone().with_context(context);
        let scope = RegistryScope::Namespace(self.namespace.clone());
        match client.registry_credentials(&scope, &RegistryTarget::Image(image)).await {
            Ok(revealed) => {
                let text = |n: &str| {
                    revealed
                        .field(n)
                        .map(|v| String::from_utf8_lossy(v.expose_secret()).into_owned())
                        .unwrap_or_default()
                };
                let Some(password) = revealed.field("password").cloned() else {
                    return Err(SourceError::Failed(format!("the registry entry for {image:?} has no password")));
                };
                Ok(Some(RegistryLogin { registry: text("url"), username: text("username"), password }))
            }
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(self.failed(&format!("registry credentials for {image:?}"), e)),
        }
    }
}
