//! gRPC: `hush.v1.SecretService` (dodil's SecretService contract), gRPC
//! reflection and the standard health service, on the REST listener:
//! requests with `content-type: application/grpc…` go here ([`is_grpc`]),
//! everything else to REST.
//!
//! Each RPC is a thin adapter: the same credentials reading as REST, the
//! same service calls, one mapping from service errors to gRPC codes.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use hush_core::NamespaceName;
use hush_proto::v1 as pb;
use hush_proto::v1::secret_service_server::{SecretService, SecretServiceServer};
use hush_service::{AuditAction, Credentials, ServiceError};
use tonic::{Code, Request, Response, Status};

use crate::dodil;
use crate::request_credentials::credentials;
use crate::{ApiError, AppState};

/// Whether a request is gRPC: `content-type: application/grpc[+proto|…]`.
pub fn is_grpc<B>(request: &axum::http::Request<B>) -> bool {
    request.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| {
        t == "application/grpc" || t.starts_with("application/grpc+") || t.starts_with("application/grpc;")
    })
}

/// Metadata naming the namespace of a call; without it, the token's only one.
pub const NAMESPACE_METADATA: &str = dodil::NAMESPACE_HEADER;

/// The service's errors as gRPC statuses. Messages never hold a value.
pub fn status(e: ServiceError) -> Status {
    let code = match &e {
        ServiceError::Invalid { .. } | ServiceError::TooLarge { .. } => Code::InvalidArgument,
        ServiceError::Unauthenticated(_) => Code::Unauthenticated,
        ServiceError::Forbidden(_) => Code::PermissionDenied,
        ServiceError::NotFound(_) => Code::NotFound,
        ServiceError::CasMismatch { .. }
        | ServiceError::CasRequired
        | ServiceError::TypeConflict { .. }
        | ServiceError::Refused { .. } => Code::FailedPrecondition,
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
    async fn caller<T>(
        &self,
        request: &Request<T>,
        action: AuditAction,
        name: Option<&str>,
    ) -> Result<(Credentials, NamespaceName), Status> {
        let headers = request.metadata().clone().into_headers();
        let creds = credentials(&headers, request.extensions()).map_err(api_status)?;
        let ns = dodil::organization(&self.app.hush, &headers, &creds, action, name).await.map_err(status)?;
        Ok((creds, ns))
    }
}

#[tonic::async_trait]
impl SecretService for GrpcSecrets {
    async fn create_secret(
        &self,
        request: Request<pb::CreateSecretRequest>,
    ) -> Result<Response<pb::SecretMetadata>, Status> {
        let name = request.get_ref().name.clone();
        let (creds, ns) = self.caller(&request, AuditAction::SecretWrite, Some(&name)).await?;
        let body = request.into_inner();
        let name = dodil::slot_name(&name).map_err(status)?;
        let value = dodil::to_hush(body.value).map_err(status)?;
        let record = self.app.hush.put_secret(&creds, &ns, &name, value, body.cas).await.map_err(status)?;
        Ok(Response::new(dodil::metadata(&record)))
    }

    async fn get_secret(&self, request: Request<pb::GetSecretRequest>) -> Result<Response<pb::Secret>, Status> {
        let (creds, ns) = self.caller(&request, AuditAction::SecretRead, Some(&request.get_ref().name)).await?;
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
        let (creds, ns) = self.caller(&request, AuditAction::SecretList, None).await?;
        let all = self.app.hush.list_all_secrets(&creds, &ns).await.map_err(status)?;
        let secrets = all.iter().map(dodil::metadata).collect();
        Ok(Response::new(pb::ListSecretsResponse { secrets }))
    }

    async fn delete_secret(
        &self,
        request: Request<pb::DeleteSecretRequest>,
    ) -> Result<Response<pb::DeleteSecretResponse>, Status> {
        let (creds, ns) = self.caller(&request, AuditAction::SecretDelete, Some(&request.get_ref().name)).await?;
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
    // Protobuf carries a value as it is: its size plus room for the rest.
    let limit = app.hush.config().max_value_bytes.saturating_add(64 * 1024);
    let secrets = SecretServiceServer::new(GrpcSecrets { app })
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit.saturating_mul(2));
    let (reporter, health) = tonic_health::server::health_reporter();
    complete_now(reporter.set_serving::<SecretServiceServer<GrpcSecrets>>());
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(hush_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    // Reflection and health need no token: their requests stay small.
    let v1 = reflection().build_v1().expect("the embedded descriptor sets are valid").max_decoding_message_size(SMALL);
    let v1alpha =
        reflection().build_v1alpha().expect("the embedded descriptor sets are valid").max_decoding_message_size(SMALL);
    let health = health.max_decoding_message_size(SMALL);
    tonic::service::Routes::new(secrets).add_service(health).add_service(v1).add_service(v1alpha).into_axum_router()
}

/// Largest request to the reflection and health services.
const SMALL: usize = 16 * 1024;

/// A gRPC call through `router`, stopped with DEADLINE_EXCEEDED after
/// `timeout` (the REST timeout: a call is one message each way).
pub async fn call(
    router: axum::Router,
    request: axum::extract::Request,
    timeout: Duration,
) -> axum::response::Response {
    use tower::ServiceExt;
    match tokio::time::timeout(timeout, router.oneshot(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_) => Status::deadline_exceeded(format!("the call took longer than {}s", timeout.as_secs())).into_http(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_requests_are_told_by_content_type() {
        let with = |t: &str| axum::http::Request::builder().header("content-type", t).body(()).unwrap();
        for t in ["application/grpc", "application/grpc+proto", "application/grpc; charset=x"] {
            assert!(is_grpc(&with(t)), "{t}");
        }
        for t in ["application/json", "application/grpc-web", "application/grpcx", "text/plain"] {
            assert!(!is_grpc(&with(t)), "{t}");
        }
        assert!(!is_grpc(&axum::http::Request::builder().body(()).unwrap()));
    }

    #[test]
    fn every_service_error_has_a_grpc_code() {
        use hush_service::Missing;
        let cases = [
            (ServiceError::invalid("invalid_name", "x"), Code::InvalidArgument),
            (ServiceError::Unauthenticated("no"), Code::Unauthenticated),
            (ServiceError::Forbidden("scope".into()), Code::PermissionDenied),
            (ServiceError::NotFound(Missing::Secret), Code::NotFound),
            (ServiceError::CasMismatch { current: 2 }, Code::FailedPrecondition),
            (ServiceError::TooLarge { size: 2, limit: 1 }, Code::InvalidArgument),
        ];
        for (e, code) in cases {
            assert_eq!(status(e).code(), code);
        }
    }
}
