//! The relay's one error type: every refusal is a status and a `{"error":{"code","message"}}`
//! body; 5xx bodies are generic and the details go to the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A refusal or failure, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable error code (`malformed_tx`, `unauthorized`, …).
    pub code: &'static str,
    /// What was wrong (for 5xx: logged, not sent).
    pub message: String,
}

impl AppError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `malformed_tx`.
    pub fn malformed(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_tx", m)
    }
    /// 400 `wrong_network`.
    pub fn wrong_network(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "wrong_network", m)
    }
    /// 400 `fee_too_low`.
    pub fn fee_too_low(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "fee_too_low", m)
    }
    /// 413 `too_large`.
    pub fn too_large(m: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", m)
    }
    /// 401 `unauthorized`.
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", m)
    }
    /// 429 `rate_limited`.
    pub fn rate_limited(m: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", m)
    }
    /// 422 `backend_rejected`, with the backend's reason.
    pub fn backend_rejected(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "backend_rejected", m)
    }
    /// 422 `missing_inputs`.
    pub fn missing_inputs(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "missing_inputs", m)
    }
    /// 400 `script_verify_failed`: an input's script does not verify.
    pub fn script_failed(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "script_verify_failed", m)
    }
    /// 408 `body_timeout`: the body came too slowly.
    pub fn body_timeout(m: impl Into<String>) -> Self {
        Self::new(StatusCode::REQUEST_TIMEOUT, "body_timeout", m)
    }
    /// 409 `txn_conflict`: an input is already spent in a block.
    pub fn txn_conflict(m: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "txn_conflict", m)
    }
    /// 409 `rbf`: it spends what an unconfirmed transaction spends, and is not a valid
    /// replacement of it.
    pub fn rbf(m: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "rbf", m)
    }
    /// 429 `too_many_pending`: the submitter's pending transactions are at the cap.
    pub fn too_many_pending(m: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_pending", m)
    }
    /// 503 `queue_full`: the relay holds as many pending transactions as it takes.
    pub fn queue_full(m: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "queue_full", m)
    }
    /// 404 `not_found`.
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", m)
    }
    /// 503 `backend_unavailable` (details logged).
    pub fn backend_unavailable(m: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "backend_unavailable", m)
    }
    /// 500 `internal` (details logged).
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", m)
    }

    /// Returns the message the client may see.
    pub fn public_message(&self) -> String {
        if self.status.is_server_error() {
            match self.code {
                "backend_unavailable" => {
                    "the relay's chain backend is unavailable; retry later".into()
                }
                "queue_full" => self.message.clone(),
                _ => "internal error; the relay logged the details".into(),
            }
        } else {
            self.message.clone()
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, "{}", self.message);
        } else {
            tracing::debug!(code = self.code, "{}", self.message);
        }
        let body =
            serde_json::json!({"error": {"code": self.code, "message": self.public_message()}});
        (self.status, Json(body)).into_response()
    }
}
