//! The relay's one error type: every refusal is a status and a `{"error":{"code","message"}}`
//! body; 5xx bodies are generic and the details go to the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The protocol's error codes (`docs/relay-protocol.md`), each with its HTTP status: one
/// table, so a code cannot be sent with two statuses or spelt two ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// `malformed_tx` (bad request).
    MalformedTx,
    /// `wrong_network` (bad request).
    WrongNetwork,
    /// `fee_too_low` (bad request).
    FeeTooLow,
    /// `too_large` (payload too large).
    TooLarge,
    /// `unauthorized` (unauthorized).
    Unauthorized,
    /// `rate_limited` (too many requests).
    RateLimited,
    /// `backend_rejected` (unprocessable entity).
    BackendRejected,
    /// `missing_inputs` (unprocessable entity).
    MissingInputs,
    /// `script_verify_failed` (bad request).
    ScriptVerifyFailed,
    /// `body_timeout` (request timeout).
    BodyTimeout,
    /// `txn_conflict` (conflict).
    TxnConflict,
    /// `rbf` (conflict).
    Rbf,
    /// `too_many_pending` (too many requests).
    TooManyPending,
    /// `queue_full` (service unavailable).
    QueueFull,
    /// `not_found` (not found).
    NotFound,
    /// `backend_unavailable` (service unavailable).
    BackendUnavailable,
    /// `bad_package` (bad request).
    BadPackage,
    /// `internal` (internal server error).
    Internal,
}

impl Code {
    /// Returns the code as the protocol spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::MalformedTx => "malformed_tx",
            Code::WrongNetwork => "wrong_network",
            Code::FeeTooLow => "fee_too_low",
            Code::TooLarge => "too_large",
            Code::Unauthorized => "unauthorized",
            Code::RateLimited => "rate_limited",
            Code::BackendRejected => "backend_rejected",
            Code::MissingInputs => "missing_inputs",
            Code::ScriptVerifyFailed => "script_verify_failed",
            Code::BodyTimeout => "body_timeout",
            Code::TxnConflict => "txn_conflict",
            Code::Rbf => "rbf",
            Code::TooManyPending => "too_many_pending",
            Code::QueueFull => "queue_full",
            Code::NotFound => "not_found",
            Code::BackendUnavailable => "backend_unavailable",
            Code::BadPackage => "bad_package",
            Code::Internal => "internal",
        }
    }

    /// Returns the HTTP status the code is sent with.
    pub fn status(self) -> StatusCode {
        match self {
            Code::MalformedTx => StatusCode::BAD_REQUEST,
            Code::WrongNetwork => StatusCode::BAD_REQUEST,
            Code::FeeTooLow => StatusCode::BAD_REQUEST,
            Code::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Code::BackendRejected => StatusCode::UNPROCESSABLE_ENTITY,
            Code::MissingInputs => StatusCode::UNPROCESSABLE_ENTITY,
            Code::ScriptVerifyFailed => StatusCode::BAD_REQUEST,
            Code::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Code::TxnConflict => StatusCode::CONFLICT,
            Code::Rbf => StatusCode::CONFLICT,
            Code::TooManyPending => StatusCode::TOO_MANY_REQUESTS,
            Code::QueueFull => StatusCode::SERVICE_UNAVAILABLE,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::BackendUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::BadPackage => StatusCode::BAD_REQUEST,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal or failure, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    /// The stable error code.
    pub code: Code,
    /// What was wrong (for 5xx: logged, not sent).
    pub message: String,
}

impl AppError {
    fn new(code: Code, message: impl Into<String>) -> Self {
        AppError {
            code,
            message: message.into(),
        }
    }

    /// 400 `malformed_tx`.
    pub fn malformed(m: impl Into<String>) -> Self {
        Self::new(Code::MalformedTx, m)
    }
    /// 400 `wrong_network`.
    pub fn wrong_network(m: impl Into<String>) -> Self {
        Self::new(Code::WrongNetwork, m)
    }
    /// 400 `fee_too_low`.
    pub fn fee_too_low(m: impl Into<String>) -> Self {
        Self::new(Code::FeeTooLow, m)
    }
    /// 400 `bad_package`.
    pub fn bad_package(m: impl Into<String>) -> Self {
        Self::new(Code::BadPackage, m)
    }
    /// 413 `too_large`.
    pub fn too_large(m: impl Into<String>) -> Self {
        Self::new(Code::TooLarge, m)
    }
    /// 401 `unauthorized`.
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(Code::Unauthorized, m)
    }
    /// 429 `rate_limited`.
    pub fn rate_limited(m: impl Into<String>) -> Self {
        Self::new(Code::RateLimited, m)
    }
    /// 422 `backend_rejected`, with the backend's reason.
    pub fn backend_rejected(m: impl Into<String>) -> Self {
        Self::new(Code::BackendRejected, m)
    }
    /// 422 `missing_inputs`.
    pub fn missing_inputs(m: impl Into<String>) -> Self {
        Self::new(Code::MissingInputs, m)
    }
    /// 400 `script_verify_failed`: an input's script does not verify.
    pub fn script_failed(m: impl Into<String>) -> Self {
        Self::new(Code::ScriptVerifyFailed, m)
    }
    /// 408 `body_timeout`: the body came too slowly.
    pub fn body_timeout(m: impl Into<String>) -> Self {
        Self::new(Code::BodyTimeout, m)
    }
    /// 409 `txn_conflict`: an input is already spent in a block.
    pub fn txn_conflict(m: impl Into<String>) -> Self {
        Self::new(Code::TxnConflict, m)
    }
    /// 409 `rbf`: it spends what an unconfirmed transaction spends, and is not a valid
    /// replacement of it.
    pub fn rbf(m: impl Into<String>) -> Self {
        Self::new(Code::Rbf, m)
    }
    /// 429 `too_many_pending`: the submitter's pending transactions are at the cap.
    pub fn too_many_pending(m: impl Into<String>) -> Self {
        Self::new(Code::TooManyPending, m)
    }
    /// 503 `queue_full`: the relay holds as many pending transactions as it takes.
    pub fn queue_full(m: impl Into<String>) -> Self {
        Self::new(Code::QueueFull, m)
    }
    /// 404 `not_found`.
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(Code::NotFound, m)
    }
    /// 503 `backend_unavailable` (details logged).
    pub fn backend_unavailable(m: impl Into<String>) -> Self {
        Self::new(Code::BackendUnavailable, m)
    }
    /// 500 `internal` (details logged).
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(Code::Internal, m)
    }

    /// Returns the message the client may see.
    pub fn public_message(&self) -> String {
        if self.code.status().is_server_error() {
            match self.code {
                Code::BackendUnavailable => {
                    "the relay's chain backend is unavailable; retry later".into()
                }
                Code::QueueFull => self.message.clone(),
                _ => "internal error; the relay logged the details".into(),
            }
        } else {
            self.message.clone()
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if self.code.status().is_server_error() {
            tracing::error!(code = self.code.as_str(), "{}", self.message);
        } else {
            tracing::debug!(code = self.code.as_str(), "{}", self.message);
        }
        let body = serde_json::json!({"error": {"code": self.code.as_str(), "message": self.public_message()}});
        (self.code.status(), Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_spelling_and_its_status() {
        let all = [
            (AppError::malformed(""), "malformed_tx", 400),
            (AppError::unauthorized(""), "unauthorized", 401),
            (AppError::rate_limited(""), "rate_limited", 429),
            (AppError::too_many_pending(""), "too_many_pending", 429),
            (AppError::body_timeout(""), "body_timeout", 408),
            (AppError::rbf(""), "rbf", 409),
            (AppError::txn_conflict(""), "txn_conflict", 409),
            (AppError::too_large(""), "too_large", 413),
            (AppError::missing_inputs(""), "missing_inputs", 422),
            (AppError::queue_full(""), "queue_full", 503),
            (AppError::internal(""), "internal", 500),
        ];
        for (e, code, status) in all {
            assert_eq!((e.code.as_str(), e.code.status().as_u16()), (code, status));
        }
        // A 5xx hides its details, except where they are the client's business.
        assert!(
            !AppError::internal("db at /secret")
                .public_message()
                .contains("secret")
        );
        assert_eq!(AppError::queue_full("full").public_message(), "full");
    }
}
