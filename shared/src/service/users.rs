//! User accounts: registration, token refresh and sign-out, profiles (password sign-in is
//! in [`crate::service::sign_in`]).
//!
//! Passwords are hashed and verified with argon2id on tokio's blocking pool (the work is
//! CPU-bound and takes tens of milliseconds). Passwords and tokens never reach a log line or
//! an error message; the input types' `Debug` output hides them. Usernames and emails are
//! unique in any letter case: the stores claim both atomically with the profile.

use crate::app::App;
use crate::auth::{TokenPair, hash_password};
use crate::error::AppError;
use crate::ids::UserId;
use crate::model::{
    AccountStatus, Device, GroupInvitations, Registration, User, validate_avatar_url,
    validate_display_name, validate_email,
};
use crate::store::StoreError;
use crate::time::now;
use crate::validate::{ValidationErrors, optional_text};
use crate::views::SignedIn;

/// Most characters of a status message.
pub const MAX_STATUS_MESSAGE_CHARS: usize = 140;

/// How many times a profile update is retried when a concurrent update won the race.
const UPDATE_ATTEMPTS: usize = 3;

/// What a client sends to register. `Debug` hides the password.
#[derive(Clone, Default)]
pub struct RegisterInput {
    /// Wanted username (unique, case-insensitively).
    pub username: String,
    /// Password, 8..=128 characters.
    pub password: String,
    /// Name shown; defaults to the username.
    pub display_name: Option<String>,
    /// Contact address, also a sign-in name (unique, case-insensitively).
    pub email: Option<String>,
    /// The device the first session is signed in on.
    pub device: Device,
}

impl std::fmt::Debug for RegisterInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterInput")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("display_name", &self.display_name)
            .field("email", &self.email)
            .field("device", &self.device)
            .finish()
    }
}

/// 403 for a suspended account.
fn suspended() -> AppError {
    AppError::account_suspended()
}

/// Runs CPU-heavy password work on the blocking pool. The failure text never includes the
/// task's panic message (which could, in principle, carry input).
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| AppError::internal("password hashing task failed"))
}

/// Registers a user and signs them in on `input.device`. Every invalid field is reported
/// (400); a username or an email taken by anyone, in any letter case, is a 409.
pub async fn register(app: &App, input: RegisterInput) -> Result<SignedIn, AppError> {
    let reg = Registration::validate(
        &input.username,
        input.display_name.as_deref(),
        input.email.as_deref(),
        &input.password,
    )?;
    // Cheap check first, so a taken name costs no hashing. `create_user` enforces it anyway.
    if app
        .stores
        .users
        .get_user_by_username(&reg.username)
        .await?
        .is_some()
    {
        return Err(username_taken());
    }
    if let Some(email) = &reg.email
        && app.stores.users.get_user_by_email(email).await?.is_some()
    {
        return Err(email_taken());
    }
    let password = input.password;
    let hash = blocking(move || hash_password(&password)).await??;
    let t = now();
    let user = User {
        user_id: UserId::new(),
        username: reg.username,
        display_name: reg.display_name,
        email: reg.email,
        avatar_url: None,
        status_message: None,
        reputation_score: 0,
        account_status: AccountStatus::Active,
        password_hash: hash,
        created_at: t,
        updated_at: t,
        last_active_at: Some(t),
        version: 1,
        privacy_settings: Default::default(),
    };
    match app.stores.users.create_user(&user).await {
        Ok(()) => {}
        Err(StoreError::Conflict("email_taken")) => return Err(email_taken()),
        Err(StoreError::Conflict(_)) => return Err(username_taken()),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(user_id = %user.user_id, "user registered");
    crate::service::sign_in::start_session(app, &user, &input.device, t).await
}

fn username_taken() -> AppError {
    AppError::conflict("the username is already taken")
}

/// 409 for an email another account holds. Registration and a profile change may say so:
/// whoever types the address is about to own it, and sign-in never tells.
fn email_taken() -> AppError {
    AppError::conflict("the email address is already in use")
}

/// Exchanges a refresh token for a new pair (rotation). A token that does not verify, was
/// rotated already (which also revokes its whole family), or whose session was signed out
/// is a 401; the session of a suspended or deleted account is revoked (403 / 401).
pub async fn refresh(app: &App, refresh_token: &str) -> Result<TokenPair, AppError> {
    let t = now();
    let claims = app.sessions.issuer().verify_refresh_at(refresh_token, t)?;
    match app.stores.users.get_user(claims.sub).await? {
        None => {
            app.sessions.logout(refresh_token).await?;
            Err(AppError::unauthorized("session revoked"))
        }
        Some(u) if u.account_status == AccountStatus::Suspended => {
            app.sessions.logout(refresh_token).await?;
            Err(suspended())
        }
        Some(_) => Ok(app.sessions.refresh(refresh_token, t).await?),
    }
}

/// Signs out the session of a refresh token and closes the WebSocket connections opened in
/// it ([`App::close_sockets`]). Idempotent; 401 for a token that does not verify.
pub async fn logout(app: &App, refresh_token: &str) -> Result<(), AppError> {
    let claims = app
        .sessions
        .issuer()
        .verifier()
        .verify_refresh_ignoring_expiry(refresh_token)?;
    app.sessions.logout(refresh_token).await?;
    // The session's sockets end with it.
    app.close_sockets(claims.sub, Some(claims.fam)).await;
    Ok(())
}

/// The user, or 404.
pub async fn get(app: &App, id: UserId) -> Result<User, AppError> {
    app.stores
        .users
        .get_user(id)
        .await?
        .ok_or_else(|| AppError::not_found("user"))
}

/// A signed-in user who may act: 403 when suspended, 401 when the account no longer
/// exists (its token outlived it).
pub async fn active(app: &App, id: UserId) -> Result<User, AppError> {
    match app.stores.users.get_user(id).await? {
        None => Err(AppError::unauthorized("the account no longer exists")),
        Some(u) if u.account_status == AccountStatus::Suspended => Err(suspended()),
        Some(u) => Ok(u),
    }
}

/// Suspends (`suspend`) or reinstates the account `target`, by `actor`: a global moderator
/// or an admin; a moderator cannot suspend an admin, and nobody their own account (409).
/// Idempotent. From the next request on, every write of a suspended account answers 403
/// `ACCOUNT_SUSPENDED` (the check is in the authentication, [`App::check_session`]), its
/// refresh tokens are refused and its sessions revoked as they are presented, and its open
/// sockets are closed at once ([`App::close_sockets`]; any left open are refused every
/// frame). Returns the account as stored.
pub async fn set_suspension(
    app: &App,
    actor: UserId,
    target: UserId,
    suspend: bool,
) -> Result<User, AppError> {
    if !app.is_global_moderator(actor) {
        return Err(AppError::forbidden(
            "only moderators and admins may suspend or reinstate accounts",
        ));
    }
    if actor == target {
        return Err(AppError::conflict("an account cannot suspend itself"));
    }
    if app.is_admin(target) && !app.is_admin(actor) {
        return Err(AppError::forbidden("only an admin may suspend an admin"));
    }
    let status = if suspend {
        AccountStatus::Suspended
    } else {
        AccountStatus::Active
    };
    for _ in 0..UPDATE_ATTEMPTS {
        let current = get(app, target).await?;
        if current.account_status == status {
            return Ok(current);
        }
        let mut next = current.clone();
        next.account_status = status;
        next.version = current.version + 1;
        next.updated_at = now().max(current.updated_at);
        match app.stores.users.update_user(&next).await {
            Ok(()) => {
                tracing::info!(
                    actor = %actor,
                    user_id = %target,
                    suspended = suspend,
                    "account suspension changed"
                );
                if suspend {
                    app.close_sockets(target, None).await;
                }
                return Ok(next);
            }
            Err(StoreError::Conflict(_)) => {
                tracing::info!(user_id = %target, "account changed concurrently; retrying");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::conflict(
        "the account is being changed concurrently; retry",
    ))
}

/// A partial profile update as sent: `None` leaves a field alone; `Some(None)` (JSON
/// `null`) clears an optional field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfilePatch {
    /// New display name (`null` is refused: it cannot be removed).
    pub display_name: Option<Option<String>>,
    /// New avatar URL, or `null` / `""` to remove it.
    pub avatar_url: Option<Option<String>>,
    /// New status message, or `null` / `""` to remove it.
    pub status_message: Option<Option<String>>,
    /// New email, or `null` / `""` to remove it.
    pub email: Option<Option<String>>,
    /// Privacy choices to change; the ones not named stay as they are.
    pub privacy: PrivacyPatch,
}

/// A partial change of [`crate::model::PrivacySettings`]: `None` leaves a choice alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrivacyPatch {
    /// Who may add the user to groups.
    pub group_invitations: Option<GroupInvitations>,
    /// Whether others see that the user is online.
    pub show_online_status: Option<bool>,
    /// Whether others see when the user was last online.
    pub show_last_seen: Option<bool>,
}

/// A validated [`ProfilePatch`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileChanges {
    display_name: Option<String>,
    avatar_url: Option<Option<String>>,
    status_message: Option<Option<String>>,
    email: Option<Option<String>>,
    privacy: PrivacyPatch,
}

impl ProfilePatch {
    /// Validates every present field, reporting each failure.
    pub fn validate(&self) -> Result<ProfileChanges, ValidationErrors> {
        let mut errs = ValidationErrors::new();
        let display_name = self
            .display_name
            .as_ref()
            .and_then(|d| errs.check(validate_display_name(d.as_deref().unwrap_or_default())));
        let avatar_url = self
            .avatar_url
            .as_ref()
            .and_then(|v| errs.check(validate_avatar_url(v.as_deref())));
        let status_message = self.status_message.as_ref().and_then(|v| {
            errs.check(optional_text(
                "status_message",
                v.as_deref(),
                MAX_STATUS_MESSAGE_CHARS,
            ))
        });
        let email = self
            .email
            .as_ref()
            .and_then(|v| errs.check(validate_email(v.as_deref())));
        errs.finish()?;
        Ok(ProfileChanges {
            display_name,
            avatar_url,
            status_message,
            email,
            privacy: self.privacy,
        })
    }
}

impl ProfileChanges {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// `user` with these changes; `None` when they change nothing.
    fn apply(&self, user: &User) -> Option<User> {
        let mut next = user.clone();
        if let Some(d) = &self.display_name {
            next.display_name.clone_from(d);
        }
        if let Some(v) = &self.avatar_url {
            next.avatar_url.clone_from(v);
        }
        if let Some(v) = &self.status_message {
            next.status_message.clone_from(v);
        }
        if let Some(v) = &self.email {
            next.email.clone_from(v);
        }
        if let Some(v) = self.privacy.group_invitations {
            next.privacy_settings.group_invitations = v;
        }
        if let Some(v) = self.privacy.show_online_status {
            next.privacy_settings.show_online_status = v;
        }
        if let Some(v) = self.privacy.show_last_seen {
            next.privacy_settings.show_last_seen = v;
        }
        (next != *user).then_some(next)
    }
}

/// Applies `changes` to the user's profile with optimistic concurrency: reads, changes,
/// writes if the stored version is still the one read, and retries a few times when a
/// concurrent update won (then 409). A new email another account holds (in any letter case)
/// is a 409. Returns the profile as stored.
pub async fn update_profile(
    app: &App,
    id: UserId,
    changes: &ProfileChanges,
) -> Result<User, AppError> {
    for _ in 0..UPDATE_ATTEMPTS {
        let current = active(app, id).await?;
        let Some(mut next) = changes.apply(&current) else {
            return Ok(current);
        };
        next.version = current.version + 1;
        next.updated_at = now().max(current.updated_at);
        match app.stores.users.update_user(&next).await {
            Ok(()) => return Ok(next),
            Err(StoreError::Conflict("email_taken")) => return Err(email_taken()),
            Err(StoreError::Conflict(_)) => {
                tracing::info!(user_id = %id, "profile changed concurrently; retrying");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::conflict(
        "the profile is being changed concurrently; retry",
    ))
}
