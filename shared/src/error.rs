//! The one error type of Banter's handlers and the one place it is mapped to what clients see:
//! an HTTP status and `{"error": {code, message, details, request_id, timestamp}}` for REST,
//! an `error` message with a code for WebSocket clients.

use serde::Serialize;

use crate::auth::AuthError;
use crate::queue::QueueError;
use crate::store::StoreError;
use crate::validate::{FieldError, ValidationErrors};

/// What went wrong, as clients see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The input is malformed or fails validation (400).
    Validation,
    /// No valid credentials (401).
    Unauthorized,
    /// Authenticated but not allowed (403).
    Forbidden,
    /// The account is suspended: it may read but not write (403).
    AccountSuspended,
    /// The event holds its `max_participants` viewers already (403).
    EventFull,
    /// No such resource, or not visible to the caller (404).
    NotFound,
    /// The path exists but not with this method (405, with `Allow`).
    MethodNotAllowed,
    /// The request conflicts with the current state (409).
    Conflict,
    /// The body or frame is too large (413).
    PayloadTooLarge,
    /// Too many requests (429).
    RateLimited,
    /// A failure on our side (500). Details go to logs only.
    Internal,
    /// A dependency is temporarily unavailable (503); retry.
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status of the code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::Validation => 400,
            Self::Unauthorized => 401,
            Self::Forbidden | Self::AccountSuspended | Self::EventFull => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }

    /// The REST error code (`VALIDATION_ERROR`, …).
    pub fn rest_code(self) -> &'static str {
        match self {
            Self::Validation => "VALIDATION_ERROR",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Forbidden => "FORBIDDEN",
            Self::AccountSuspended => "ACCOUNT_SUSPENDED",
            Self::EventFull => "EVENT_FULL",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Conflict => "CONFLICT",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::RateLimited => "RATE_LIMIT_EXCEEDED",
            Self::Internal => "INTERNAL",
            Self::Unavailable => "SERVICE_UNAVAILABLE",
        }
    }

    /// The WebSocket error code (`INVALID_MESSAGE`, …): the protocol's closed set.
    pub fn ws_code(self) -> &'static str {
        match self {
            Self::Validation | Self::Conflict | Self::MethodNotAllowed => "INVALID_MESSAGE",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Forbidden => "FORBIDDEN",
            Self::AccountSuspended => "ACCOUNT_SUSPENDED",
            Self::EventFull => "EVENT_FULL",
            Self::NotFound => "NOT_FOUND",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::RateLimited => "RATE_LIMIT_EXCEEDED",
            Self::Internal | Self::Unavailable => "INTERNAL",
        }
    }
}

/// An error a handler returns to its client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct AppError {
    /// Kind of error.
    pub code: ErrorCode,
    /// Human-readable message, safe to show (never internal details).
    pub message: String,
    /// Field-level details for validation errors.
    pub details: Vec<FieldError>,
    /// For rate limiting: seconds until a retry may succeed.
    pub retry_after_secs: Option<u64>,
    /// For 405: the methods the path does declare (the `Allow` header).
    pub allow: Vec<&'static str>,
}

impl AppError {
    /// An error with `code` and a client-safe `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after_secs: None,
            allow: Vec::new(),
        }
    }

    /// A validation error on one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ValidationErrors::from(FieldError::new(field, message)).into()
    }

    /// 401 with `message`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// 403 with `message`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// 403 `ACCOUNT_SUSPENDED`: what every write of a suspended account answers.
    pub fn account_suspended() -> Self {
        Self::new(
            ErrorCode::AccountSuspended,
            "the account is suspended: it may read but not write",
        )
    }

    /// 404 for a `what` ("event", "comment", …).
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// 409 with `message`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// 500: `cause` is logged here and never shown to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// 405 for `method` on a path that declares only `allow` (sent as `Allow`).
    pub fn method_not_allowed(method: &str, allow: Vec<&'static str>) -> Self {
        Self {
            allow,
            ..Self::new(
                ErrorCode::MethodNotAllowed,
                format!("method {method} is not allowed here"),
            )
        }
    }

    /// 429 with the seconds until the window resets: in `Retry-After` and, for clients that
    /// read only the body, as the detail `{"field": "retry_after", "message": "<seconds>"}`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::rate_limited_because("rate limit exceeded", retry_after_secs)
    }

    /// [`AppError::rate_limited`] with another client-safe `message`.
    pub fn rate_limited_because(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs),
            details: vec![FieldError::new("retry_after", retry_after_secs.to_string())],
            ..Self::new(ErrorCode::RateLimited, message)
        }
    }

    /// The REST body `{"error": {...}}` for this error.
    pub fn rest_body<'a>(
        &'a self,
        request_id: &'a str,
        timestamp: crate::time::Timestamp,
    ) -> RestErrorBody<'a> {
        RestErrorBody {
            error: RestError {
                code: self.code.rest_code(),
                message: &self.message,
                details: &self.details,
                request_id,
                timestamp,
            },
        }
    }
}

/// The REST error envelope.
#[derive(Debug, Serialize)]
pub struct RestErrorBody<'a> {
    /// The error.
    pub error: RestError<'a>,
}

/// The REST error object.
#[derive(Debug, Serialize)]
pub struct RestError<'a> {
    /// `VALIDATION_ERROR`, `NOT_FOUND`, …
    pub code: &'static str,
    /// Human-readable message.
    pub message: &'a str,
    /// Field-level details (empty unless validation failed).
    pub details: &'a [FieldError],
    /// The request's id (`X-Request-ID`).
    pub request_id: &'a str,
    /// When the error happened.
    pub timestamp: crate::time::Timestamp,
}

impl From<ValidationErrors> for AppError {
    fn from(e: ValidationErrors) -> Self {
        Self {
            details: e.0,
            ..Self::new(ErrorCode::Validation, "invalid request parameters")
        }
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        ValidationErrors::from(e).into()
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("resource"),
            StoreError::Conflict(crate::model::claim::KEY_REUSED) => Self::conflict(
                "this idempotency key (Idempotency-Key, message_id or client_message_id) was \
                 used for a different request in this room within the last 24 hours: retry with \
                 the same content, or send a new key",
            ),
            StoreError::Conflict(what) => Self::conflict(format!("conflict: {what}")),
            StoreError::InvalidCursor => Self::field("cursor", "is not a valid cursor"),
            StoreError::Throttled => {
                tracing::warn!("storage throttled");
                Self::new(ErrorCode::Unavailable, "temporarily unavailable, retry")
            }
            StoreError::Backend(cause) => Self::internal(cause),
        }
    }
}

impl From<QueueError> for AppError {
    fn from(e: QueueError) -> Self {
        Self::internal(e)
    }
}

impl From<AuthError> for AppError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Expired => Self::unauthorized("token expired"),
            AuthError::Invalid(_) => Self::unauthorized("invalid token"),
            AuthError::Revoked | AuthError::Reused => Self::unauthorized("session revoked"),
            AuthError::Store(s) => s.into(),
            e @ (AuthError::Config(_) | AuthError::Crypto(_)) => Self::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_status_and_names() {
        assert_eq!(ErrorCode::Validation.http_status(), 400);
        assert_eq!(ErrorCode::Validation.ws_code(), "INVALID_MESSAGE");
        assert_eq!(ErrorCode::RateLimited.rest_code(), "RATE_LIMIT_EXCEEDED");
        assert_eq!(ErrorCode::PayloadTooLarge.http_status(), 413);
    }

    #[test]
    fn backend_errors_never_reach_the_message() {
        let e: AppError = StoreError::Backend("table banter-users: secret detail".into()).into();
        assert_eq!(e.code, ErrorCode::Internal);
        assert!(!e.message.contains("secret"));
    }

    #[test]
    fn rest_body_has_the_documented_shape() {
        let e: AppError =
            ValidationErrors(vec![FieldError::new("content", "must not be empty")]).into();
        let body = serde_json::to_value(e.rest_body("req-1", crate::time::now())).unwrap();
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
        assert_eq!(body["error"]["details"][0]["field"], "content");
        assert_eq!(body["error"]["request_id"], "req-1");
        assert!(body["error"]["timestamp"].is_string());
    }
}
