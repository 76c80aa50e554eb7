//! REST routes of the `auth` function: registration, password sign-in, token refresh and
//! sign-out (none needs an access token), and the caller's own sessions (which do).
//! [`crate::http::serve`] rate-limits the `POST` routes per client IP (refresh and sign-out
//! per user when a valid access token is sent; 429 with `Retry-After`), the sessions routes
//! per user like any signed-in request; failed sign-ins also count per sign-in name
//! ([`crate::service::login_throttle`]).
//!
//! | Route | Body | Success |
//! |---|---|---|
//! | `POST /v1/auth/register` | `{username, password, display_name?, email?, device…}` | 201 [`SignedIn`] |
//! | `POST /v1/auth/login` | `{email \| username, password, device…}` | 200 [`SignedIn`] |
//! | `POST /v1/auth/refresh` | `{refresh_token}` | 200 [`TokenPair`](crate::auth::TokenPair) |
//! | `POST /v1/auth/logout` | `{refresh_token}` | 204 |
//! | `GET /v1/auth/sessions` | — | 200 [`SessionList`] |
//! | `DELETE /v1/auth/sessions/{session_id}` | — | 204 |
//!
//! `device…` are the optional `device_id`, `device_type` (`ios`, `android`, `mobile`,
//! `web`, `desktop`) and `platform` (free text, at most 64 characters), recorded on the
//! session.
//!
//! Errors: 400 `VALIDATION_ERROR` (each bad field in `details` — a value of the wrong JSON
//! type is "must be a string", and no error quotes a submitted value; `body` for malformed
//! JSON or a body that is not an object; a malformed `session_id`),
//! 401 `UNAUTHORIZED` (wrong credentials — the same answer for an unknown username or email
//! and a wrong password — a refresh token that is invalid, expired, already rotated or
//! signed out, or a missing or revoked access token on the sessions routes), 403
//! `ACCOUNT_SUSPENDED` (suspended account), 404 `NOT_FOUND` (a session that is not one of
//! the caller's live sessions), 409 `CONFLICT` (username or email taken, in any letter
//! case), 413 `PAYLOAD_TOO_LARGE`, 429 `RATE_LIMIT_EXCEEDED`.

use crate::app::App;
use crate::error::AppError;
use crate::fields::Fields;
use crate::http::{Reply, Req};
use crate::ids::FamilyId;
use crate::model::{Device, Registration};
use crate::service::sessions;
use crate::service::sign_in::{self, SignInName};
use crate::service::users::{self, RegisterInput};
use crate::validate::ValidationErrors;
use crate::views::{SessionList, SignedIn};

/// `POST /v1/auth/register`.
pub const REGISTER: &str = "POST /v1/auth/register";
/// `POST /v1/auth/login`.
pub const LOGIN: &str = "POST /v1/auth/login";
/// `POST /v1/auth/refresh`.
pub const REFRESH: &str = "POST /v1/auth/refresh";
/// `POST /v1/auth/logout`.
pub const LOGOUT: &str = "POST /v1/auth/logout";
/// `GET /v1/auth/sessions`.
pub const LIST_SESSIONS: &str = "GET /v1/auth/sessions";
/// `DELETE /v1/auth/sessions/{session_id}`.
pub const REVOKE_SESSION: &str = "DELETE /v1/auth/sessions/{session_id}";

/// Route keys served by this function.
pub const ROUTES: &[&str] = &[
    REGISTER,
    LOGIN,
    REFRESH,
    LOGOUT,
    LIST_SESSIONS,
    REVOKE_SESSION,
];

/// Dispatches one request of this function.
pub async fn route(app: &App, req: &Req) -> Result<Reply, AppError> {
    match req.route_key.as_str() {
        REGISTER => register(app, req).await,
        LOGIN => login(app, req).await,
        REFRESH => refresh(app, req).await,
        LOGOUT => logout(app, req).await,
        LIST_SESSIONS => list_sessions(app, req).await,
        REVOKE_SESSION => revoke_session(app, req).await,
        other => Err(AppError::not_found(&format!("route {other}"))),
    }
}

/// String field `name` of `body`: `None` when absent or `null`; a type error (which never
/// quotes the value: these bodies carry passwords and tokens) is recorded in `errs`.
fn string_field(body: &Fields, name: &str, errs: &mut ValidationErrors) -> Option<String> {
    errs.check(body.optional::<String>(name)).flatten()
}

/// A required string field: also "is required" when absent, `null` or blank.
fn required(body: &Fields, name: &str, errs: &mut ValidationErrors) -> String {
    let before = errs.fields().len();
    match string_field(body, name, errs) {
        Some(v) if !v.trim().is_empty() => v,
        _ => {
            if errs.fields().len() == before {
                errs.add(name, "is required");
            }
            String::new()
        }
    }
}

/// The optional device fields of a sign-in body, each bad one reported in `errs`.
fn device(body: &Fields, errs: &mut ValidationErrors) -> Device {
    let device_id = string_field(body, "device_id", errs);
    let device_type = string_field(body, "device_type", errs);
    let platform = string_field(body, "platform", errs);
    Device::validate(
        device_id.as_deref(),
        device_type.as_deref(),
        platform.as_deref(),
        errs,
    )
}

async fn register(app: &App, req: &Req) -> Result<Reply, AppError> {
    let body = req.fields()?;
    let mut errs = ValidationErrors::new();
    let input = RegisterInput {
        username: string_field(&body, "username", &mut errs).unwrap_or_default(),
        password: string_field(&body, "password", &mut errs).unwrap_or_default(),
        display_name: string_field(&body, "display_name", &mut errs),
        email: string_field(&body, "email", &mut errs),
        device: device(&body, &mut errs),
    };
    if !errs.fields().is_empty() {
        // Report the model's findings too, except for fields already refused for their type.
        if let Err(more) = Registration::validate(
            &input.username,
            input.display_name.as_deref(),
            input.email.as_deref(),
            &input.password,
        ) {
            let typed: Vec<String> = errs.fields().iter().map(|f| f.field.clone()).collect();
            for f in more.0 {
                if !typed.contains(&f.field) {
                    errs.0.push(f);
                }
            }
        }
        errs.finish()?;
    }
    let signed_in: SignedIn = users::register(app, input).await?;
    Ok(Reply::created(signed_in))
}

/// The sign-in name of a login body: `email` or `username`, exactly one of them (one sent
/// blank or `null` counts as sent, and is "is required").
fn sign_in_name(body: &Fields, errs: &mut ValidationErrors) -> Option<SignInName> {
    let before = errs.fields().len();
    let email = string_field(body, "email", errs);
    let username = string_field(body, "username", errs);
    if errs.fields().len() > before {
        return None;
    }
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    match (body.contains("email"), body.contains("username")) {
        (true, true) => errs.add("username", "give email or username, not both"),
        (true, false) => match given(email) {
            Some(e) => return Some(SignInName::Email(e)),
            None => errs.add("email", "is required"),
        },
        (false, true) => match given(username) {
            Some(u) => return Some(SignInName::Username(u)),
            None => errs.add("username", "is required"),
        },
        (false, false) => errs.add("email", "is required (or username)"),
    }
    None
}

async fn login(app: &App, req: &Req) -> Result<Reply, AppError> {
    let body = req.fields()?;
    let mut errs = ValidationErrors::new();
    let name = sign_in_name(&body, &mut errs);
    let password = required(&body, "password", &mut errs);
    let device = device(&body, &mut errs);
    errs.finish()?;
    let Some(name) = name else {
        return Err(AppError::internal("sign-in name missing after validation"));
    };
    let signed_in = sign_in::login(app, &name, password, &device).await?;
    Ok(Reply::ok(signed_in))
}

async fn refresh(app: &App, req: &Req) -> Result<Reply, AppError> {
    let token = refresh_token(req)?;
    Ok(Reply::ok(users::refresh(app, &token).await?))
}

async fn logout(app: &App, req: &Req) -> Result<Reply, AppError> {
    let token = refresh_token(req)?;
    users::logout(app, &token).await?;
    Ok(Reply::no_content())
}

async fn list_sessions(app: &App, req: &Req) -> Result<Reply, AppError> {
    let caller = req.caller()?;
    let sessions = sessions::list(app, &caller).await?;
    Ok(Reply::ok(SessionList { sessions }))
}

async fn revoke_session(app: &App, req: &Req) -> Result<Reply, AppError> {
    let caller = req.caller()?;
    let session: FamilyId = req.path("session_id")?;
    sessions::revoke(app, &caller, session).await?;
    Ok(Reply::no_content())
}

fn refresh_token(req: &Req) -> Result<String, AppError> {
    let body = req.fields()?;
    let mut errs = ValidationErrors::new();
    let token = required(&body, "refresh_token", &mut errs);
    errs.finish()?;
    Ok(token)
}
