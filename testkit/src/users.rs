//! Users, stored without hashing a password.

use banter::app::App;
use banter::model::{AccountStatus, PasswordHash, User};
use banter::time::now;

/// The password hash of fixture users: shaped like argon2's, verifies no password, and costs
/// no hashing (which is slow in debug builds).
pub const UNUSABLE_HASH: &str = "$argon2id$not-a-real-hash";

/// An active user named `username` with a fresh id, not stored: display name
/// `"<username> display"`, email `"<username>@example.com"`, password hash [`UNUSABLE_HASH`].
pub fn user_named(username: &str) -> User {
    let t = now();
    User {
        user_id: banter::ids::UserId::new(),
        username: username.to_owned(),
        display_name: format!("{username} display"),
        email: Some(format!("{username}@example.com")),
        avatar_url: None,
        status_message: None,
        reputation_score: 0,
        account_status: AccountStatus::Active,
        password_hash: PasswordHash(UNUSABLE_HASH.into()),
        created_at: t,
        updated_at: t,
        last_active_at: None,
        version: 1,
        privacy_settings: Default::default(),
    }
}

/// Stores `user`.
pub async fn store_user(app: &App, user: &User) {
    app.stores
        .users
        .create_user(user)
        .await
        .unwrap_or_else(|e| panic!("store the user {}: {e}", user.username));
}

/// Stores a user named `username` (see [`user_named`]) and returns it with a valid access
/// token.
pub async fn seed_user(app: &App, username: &str) -> (User, String) {
    let user = user_named(username);
    store_user(app, &user).await;
    let token = crate::tokens::token_for(app, user.user_id);
    (user, token)
}
