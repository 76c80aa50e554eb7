//! REST routes of the `auth` function: registration, password sign-in, token refresh and
//! sign-out. None of them needs an access token. [`crate::http::serve`] rate-limits them per
//! client IP (refresh and sign-out per user when a valid access token is sent; 429 with
//! `Retry-After`), and failed sign-ins also count per account
//! ([`crate::service::login_throttle`]).
//!
//! | Route | Body | Success |
//! |---|---|---|
//! | `POST /v1/auth/register` | `{username, password, display_name?, email?}` | 201 [`SignedIn`] |
//! | `POST /v1/auth/login` | `{username, password}` | 200 [`SignedIn`] |
//! | `POST /v1/auth/refresh` | `{refresh_token}` | 200 [`TokenPair`](crate::auth::TokenPair) |
//! | `POST /v1/auth/logout` | `{refresh_token}` | 204 |
//!
//! Errors: 400 `VALIDATION_ERROR` (each bad field in `details` — a value of the wrong JSON
//! type is "must be a string", and no error quotes a submitted value; `body` for malformed
//! JSON or a body that is not an object),
//! 401 `UNAUTHORIZED` (wrong credentials — the same answer for an unknown username and a
//! wrong password — or a refresh token that is invalid, expired, already rotated or signed
//! out), 403 `FORBIDDEN` (suspended account), 409 `CONFLICT` (username taken, in any letter
//! case), 413 `PAYLOAD_TOO_LARGE`, 429 `RATE_LIMIT_EXCEEDED`.

use crate::app::App;
use crate::error::AppError;
use crate::fields::Fields;
use crate::http::{Reply, Req};
use crate::model::Registration;
use crate::service::users::{self, RegisterInput};
use crate::validate::ValidationErrors;
use crate::views::SignedIn;

/// `POST /v1/auth/register`.
pub const REGISTER: &str = "POST /v1/auth/register";
/// `POST /v1/auth/login`.
pub const LOGIN: &str = "POST /v1/auth/login";
/// `POST /v1/auth/refresh`.
pub const REFRESH: &str = "POST /v1/auth/refresh";
/// `POST /v1/auth/logout`.
pub const LOGOUT: &str = "POST /v1/auth/logout";

/// Route keys served by this function.
pub const ROUTES: &[&str] = &[REGISTER, LOGIN, REFRESH, LOGOUT];

/// Dispatches one request of this function.
pub async fn route(app: &App, req: &Req) -> Result<Reply, AppError> {
    match req.route_key.as_str() {
        REGISTER => register(app, req).await,
        LOGIN => login(app, req).await,
        REFRESH => refresh(app, req).await,
        LOGOUT => logout(app, req).await,
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

async fn register(app: &App, req: &Req) -> Result<Reply, AppError> {
    let body = req.fields()?;
    let mut errs = ValidationErrors::new();
    let input = RegisterInput {
        username: string_field(&body, "username", &mut errs).unwrap_or_default(),
        password: string_field(&body, "password", &mut errs).unwrap_or_default(),
        display_name: string_field(&body, "display_name", &mut errs),
        email: string_field(&body, "email", &mut errs),
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

async fn login(app: &App, req: &Req) -> Result<Reply, AppError> {
    let body = req.fields()?;
    let mut errs = ValidationErrors::new();
    let username = required(&body, "username", &mut errs);
    let password = required(&body, "password", &mut errs);
    errs.finish()?;
    let signed_in = users::login(app, &username, password).await?;
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

fn refresh_token(req: &Req) -> Result<String, AppError> {
    let body = req.fields()?;
    let mut errs = ValidationErrors::new();
    let token = required(&body, "refresh_token", &mut errs);
    errs.finish()?;
    Ok(token)
}
