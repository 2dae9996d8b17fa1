//! gRPC: `hush.v1.SecretService` (dodil's SecretService contract), gRPC
//! reflection and the standard health service, merged into the REST router
//! so one listener serves both (gRPC requests are HTTP/2 with
//! `content-type: application/grpc` on their own paths).
//!
//! Each RPC is a thin adapter: the same credentials reading as REST, the
//! same service calls, one mapping from service errors to gRPC codes.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use hush_core::NamespaceName;
use hush_proto::v1 as pb;
use hush_proto::v1::secret_service_server::{SecretService, SecretServiceServer};
use hush_service::{Credentials, ListSecrets, ServiceError};
use tonic::{Code, Request, Response, Status};

use crate::dodil;
use crate::request_credentials::credentials;
use crate::{ApiError, AppState};

/// Metadata naming the namespace of a call; without it, the token's only one.
pub const NAMESPACE_METADATA: &str = "x-hush-namespace";

/// The service's errors as gRPC statuses. Messages never hold a value.
pub fn status(e: ServiceError) -> Status {
    let code = match &e {
        ServiceError::Invalid { .. } | ServiceError::TooLarge { .. } => Code::InvalidArgument,
        ServiceError::Unauthenticated(_) => Code::Unauthenticated,
        ServiceError::Forbidden(_) => Code::PermissionDenied,
        ServiceError::NotFound(_) => Code::NotFound,
        ServiceError::CasMismatch { .. } | ServiceError::TypeConflict { .. } => Code::FailedPrecondition,
        ServiceError::AlreadyExists(_) => Code::AlreadyExists,
        _ => Code::Internal,
    };
    let message = match &e {
        ServiceError::Internal(_) => "internal error; the server log has the details".to_owned(),
        ServiceError::Invalid { code: "namespace_required", .. } => {
            format!("{e}: send the {NAMESPACE_METADATA} metadata")
        }
        other => format!("{other} ({})", other.code()),
    };
    Status::new(code, message)
}

fn api_status(e: ApiError) -> Status {
    Status::invalid_argument(e.message().to_owned())
}

/// The gRPC SecretService over the service.
#[derive(Debug, Clone)]
pub struct GrpcSecrets {
    app: AppState,
}

impl GrpcSecrets {
    async fn caller<T>(&self, request: &Request<T>) -> Result<(Credentials, NamespaceName), Status> {
        let headers = request.metadata().clone().into_headers();
        let creds = credentials(&headers).map_err(api_status)?;
        let ns = match headers.get(NAMESPACE_METADATA) {
            Some(v) => {
                let text = v
                    .to_str()
                    .map_err(|_| Status::invalid_argument(format!("{NAMESPACE_METADATA} is not valid text")))?;
                NamespaceName::parse(text).map_err(|e| Status::invalid_argument(e.to_string()))?
            }
            None => self.app.hush.sole_namespace(&creds).await.map_err(status)?,
        };
        Ok((creds, ns))
    }
}

#[tonic::async_trait]
impl SecretService for GrpcSecrets {
    async fn create_secret(
        &self,
        request: Request<pb::CreateSecretRequest>,
    ) -> Result<Response<pb::SecretMetadata>, Status> {
        let (creds, ns) = self.caller(&request).await?;
        let body = request.into_inner();
        let name = dodil::slot_name(&body.name).map_err(status)?;
        let value = dodil::to_hush(body.value).map_err(status)?;
        let record = self.app.hush.put_secret(&creds, &ns, &name, value, body.cas).await.map_err(status)?;
        Ok(Response::new(dodil::metadata(&record)))
    }

    async fn get_secret(&self, request: Request<pb::GetSecretRequest>) -> Result<Response<pb::Secret>, Status> {
        let (creds, ns) = self.caller(&request).await?;
        let name = dodil::slot_name(&request.get_ref().name).map_err(status)?;
        let secret = self.app.hush.get_secret(&creds, &ns, &name, None).await.map_err(status)?;
        Ok(Response::new(pb::Secret {
            metadata: Some(dodil::metadata(&secret.record)),
            value: Some(dodil::from_hush(&secret.value)),
        }))
    }

    async fn list_secrets(
        &self,
        request: Request<pb::ListSecretsRequest>,
    ) -> Result<Response<pb::ListSecretsResponse>, Status> {
        let (creds, ns) = self.caller(&request).await?;
        let mut secrets = Vec::new();
        let mut after = None;
        loop {
            let query = ListSecrets { prefix: None, after, limit: Some(hush_service::MAX_PAGE) };
            let page = self.app.hush.list_secrets(&creds, &ns, &query).await.map_err(status)?;
            secrets.extend(page.secrets.iter().map(dodil::metadata));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(Response::new(pb::ListSecretsResponse { secrets }))
    }

    async fn delete_secret(
        &self,
        request: Request<pb::DeleteSecretRequest>,
    ) -> Result<Response<pb::DeleteSecretResponse>, Status> {
        let (creds, ns) = self.caller(&request).await?;
        let name = dodil::slot_name(&request.get_ref().name).map_err(status)?;
        self.app.hush.delete_secret(&creds, &ns, &name).await.map_err(status)?;
        Ok(Response::new(pb::DeleteSecretResponse {}))
    }
}

/// Runs a future that cannot wait (an uncontended lock) to completion now.
fn complete_now(future: impl Future<Output = ()>) {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    // A fresh health reporter's lock is free; if it were not, only the
    // per-service status would be missing (the overall "" stays SERVING).
    let _: Poll<()> = future.as_mut().poll(&mut cx);
}

/// The gRPC services as an axum router: SecretService, reflection (v1 and
/// v1alpha, for every grpcurl) and health.
pub fn router(app: AppState) -> axum::Router {
    let limit = app.body_limit;
    let secrets =
        SecretServiceServer::new(GrpcSecrets { app }).max_decoding_message_size(limit).max_encoding_message_size(limit);
    let (reporter, health) = tonic_health::server::health_reporter();
    complete_now(reporter.set_serving::<SecretServiceServer<GrpcSecrets>>());
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(hush_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let v1 = reflection().build_v1().expect("the embedded descriptor sets are valid");
    let v1alpha = reflection().build_v1alpha().expect("the embedded descriptor sets are valid");
    tonic::service::Routes::new(secrets).add_service(health).add_service(v1).add_service(v1alpha).into_axum_router()
}
