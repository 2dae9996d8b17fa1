//! The one mapping from failures to HTTP responses:
//! `{"error":{"code":"…","message":"…"}}` with a fitting status.
//!
//! Internal failures show a fixed message; their cause was logged where it
//! happened. No message carries a secret value: service errors name fields,
//! and JSON syntax errors name a line and column.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hush_service::ServiceError;
use serde_json::{Value, json};

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<(&'static str, Value)>,
}

impl ApiError {
    /// A response with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), details: None }
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The same error under another code (a compatibility route's own name for it).
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let status = match &e {
            ServiceError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ServiceError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::CasMismatch { .. }
            | ServiceError::CasRequired
            | ServiceError::TypeConflict { .. }
            | ServiceError::AlreadyExists(_)
            | ServiceError::Refused { .. } => StatusCode::CONFLICT,
            ServiceError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &e {
            ServiceError::Internal(_) => "internal error; the server log has the details".to_owned(),
            other => other.to_string(),
        };
        let details = match &e {
            ServiceError::CasMismatch { current } => Some(("current_version", json!(current))),
            ServiceError::TypeConflict { existing } => Some(("existing_type", json!(existing.as_str()))),
            _ => None,
        };
        ApiError { status, code: e.code(), message, details }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some((key, value)) = self.details {
            error[key] = value;
        }
        let mut response = (self.status, axum::Json(json!({ "error": error }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"hush\""));
        }
        response
    }
}
