//! Password sign-in, by username or by email.
//!
//! Both names resolve the same way (a claim item, then the profile: two reads either way),
//! and an unknown name verifies the password against a dummy hash, so it costs what a wrong
//! password costs and answers the same 401: neither the response nor its timing tells which
//! usernames or emails exist. Failed sign-ins count against the name that was typed
//! ([`login_throttle`]): an account's username and its email each have their own
//! allowance, so a lockout never tells that an email and a username belong together.

use crate::app::App;
use crate::auth::{verify_password, verify_password_dummy};
use crate::error::AppError;
use crate::model::{
    AccountStatus, Device, PasswordHash, User, normalize_email, normalize_username,
};
use crate::service::login_throttle;
use crate::service::users::blocking;
use crate::time::now;
use crate::views::{PrivateProfile, SignedIn};

/// Longest username that can exist (see [`crate::model::validate_username`]); longer
/// sign-in names are treated as unknown without a store lookup.
const MAX_USERNAME_CHARS: usize = 32;

/// Longest email that can be stored (see [`crate::model::validate_email`]).
const MAX_EMAIL_CHARS: usize = 254;

/// The name a user signs in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInName {
    /// A username, in any letter case.
    Username(String),
    /// An email address, in any letter case.
    Email(String),
}

impl SignInName {
    /// Whether an account could have this name at all; an implausible one is unknown
    /// without a lookup and counts against no one.
    fn plausible(&self) -> bool {
        match self {
            Self::Username(u) => u.trim().chars().count() <= MAX_USERNAME_CHARS,
            Self::Email(e) => e.trim().chars().count() <= MAX_EMAIL_CHARS,
        }
    }

    /// The key its failed sign-ins count under: the folded username as before, or
    /// `email:` and the folded email (no username holds `:` or `@`).
    fn throttle_subject(&self) -> String {
        match self {
            Self::Username(u) => normalize_username(u),
            Self::Email(e) => format!("email:{}", normalize_email(e)),
        }
    }

    async fn lookup(&self, app: &App) -> Result<Option<User>, AppError> {
        Ok(match self {
            Self::Username(u) => app.stores.users.get_user_by_username(u.trim()).await?,
            Self::Email(e) => app.stores.users.get_user_by_email(e).await?,
        })
    }
}

/// The 401 of every failed password sign-in, whatever the reason and the name used.
fn invalid_credentials() -> AppError {
    AppError::unauthorized("invalid credentials")
}

/// Signs in with a username or an email (any letter case) and a password, starting a
/// session on `device`. Unknown names and wrong passwords get the same 401 after the same
/// amount of hashing work, and count against the name's failed-sign-in limit (429 while it
/// is locked, before any password is checked); a suspended account (with the right
/// password) gets 403. Sessions beyond the user's cap are revoked, oldest first, and their
/// sockets closed.
pub async fn login(
    app: &App,
    name: &SignInName,
    password: String,
    device: &Device,
) -> Result<SignedIn, AppError> {
    let t = now();
    let plausible = name.plausible();
    let subject = name.throttle_subject();
    if plausible {
        login_throttle::check(app, &subject, t).await?;
    }
    let user = if plausible {
        name.lookup(app).await?
    } else {
        None
    };
    let verified = match &user {
        Some(u) => {
            let hash: PasswordHash = u.password_hash.clone();
            blocking(move || verify_password(&password, &hash)).await?
        }
        None => blocking(move || verify_password_dummy(&password)).await?,
    };
    let Some(user) = user.filter(|_| verified) else {
        tracing::info!("sign-in refused: invalid credentials");
        if plausible {
            login_throttle::record_failure(app, &subject, t).await?;
        }
        return Err(invalid_credentials());
    };
    if user.account_status == AccountStatus::Suspended {
        tracing::info!(user_id = %user.user_id, "sign-in refused: account suspended");
        return Err(AppError::account_suspended());
    }
    start_session(app, &user, device, t).await
}

/// Starts a session for `user` (whose credentials were checked) and closes the sockets of
/// the sessions it evicted.
pub(crate) async fn start_session(
    app: &App,
    user: &User,
    device: &Device,
    t: crate::time::Timestamp,
) -> Result<SignedIn, AppError> {
    let signed = app.sessions.sign_in(user.user_id, device, t).await?;
    for old in &signed.evicted {
        app.close_sockets(user.user_id, Some(*old)).await;
    }
    Ok(SignedIn {
        user: PrivateProfile::from(user),
        tokens: signed.tokens,
    })
}
