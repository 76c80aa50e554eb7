//! Users as clients see them: the public summary embedded in comments and events, the
//! profiles, and the answer to a sign-in.

use serde::{Deserialize, Serialize};

use crate::auth::TokenPair;
use crate::ids::UserId;
use crate::model::{AccountStatus, PresenceView, PrivacySettings, User};
use crate::time::Timestamp;

/// The public face of a user, as embedded in comments (`comment_broadcast.payload.user`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    /// The user's id.
    pub user_id: UserId,
    /// Unique handle.
    pub username: String,
    /// Name shown.
    pub display_name: String,
    /// Picture URL.
    pub avatar_url: Option<String>,
}

impl From<&User> for UserSummary {
    fn from(u: &User) -> Self {
        Self {
            user_id: u.user_id,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            avatar_url: u.avatar_url.clone(),
        }
    }
}

impl UserSummary {
    /// The summary shown for a user that no longer exists.
    pub fn deleted(user: UserId) -> Self {
        Self {
            user_id: user,
            username: "deleted".into(),
            display_name: "Deleted user".into(),
            avatar_url: None,
        }
    }
}

/// A user's own profile (`GET /v1/users/me`, sign-in responses): everything but the
/// password hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrivateProfile {
    /// The user's id.
    pub user_id: UserId,
    /// Unique handle.
    pub username: String,
    /// Name shown.
    pub display_name: String,
    /// Contact address (only ever shown to its owner).
    pub email: Option<String>,
    /// Picture URL.
    pub avatar_url: Option<String>,
    /// Short status line.
    pub status_message: Option<String>,
    /// Reputation earned in events.
    pub reputation_score: i64,
    /// `active` or `suspended`.
    pub account_status: AccountStatus,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When the profile last changed.
    pub updated_at: Timestamp,
    /// Last time the user was seen active.
    pub last_active_at: Option<Timestamp>,
    /// The user's privacy choices.
    pub privacy_settings: PrivacySettings,
}

impl From<&User> for PrivateProfile {
    fn from(u: &User) -> Self {
        Self {
            user_id: u.user_id,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            avatar_url: u.avatar_url.clone(),
            status_message: u.status_message.clone(),
            reputation_score: u.reputation_score,
            account_status: u.account_status,
            created_at: u.created_at,
            updated_at: u.updated_at,
            last_active_at: u.last_active_at,
            privacy_settings: u.privacy_settings,
        }
    }
}

/// A user as others see them (`GET /v1/users/{user_id}`, search): no email, no account
/// status, no password hash; presence and last activity only as their privacy settings
/// allow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicProfile {
    /// The user's id.
    pub user_id: UserId,
    /// Unique handle.
    pub username: String,
    /// Name shown.
    pub display_name: String,
    /// Picture URL.
    pub avatar_url: Option<String>,
    /// Short status line.
    pub status_message: Option<String>,
    /// Reputation earned in events.
    pub reputation_score: i64,
    /// When the account was created.
    pub created_at: Timestamp,
    /// Online, presence, last seen and last active (`null` when hidden).
    #[serde(flatten)]
    pub presence: PresenceView,
}

impl PublicProfile {
    /// The profile of `u`, who shows `presence`.
    pub fn new(u: &User, presence: PresenceView) -> Self {
        Self {
            user_id: u.user_id,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            avatar_url: u.avatar_url.clone(),
            status_message: u.status_message.clone(),
            reputation_score: u.reputation_score,
            created_at: u.created_at,
            presence,
        }
    }
}

/// The answer to a registration or a sign-in: the user's own profile and a token pair
/// (`access_token`, `refresh_token`, `token_type`, `expires_in`, flattened beside `user`).
/// Its `Debug` output hides the tokens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignedIn {
    /// The signed-in user.
    pub user: PrivateProfile,
    /// The session's tokens.
    #[serde(flatten)]
    pub tokens: TokenPair,
}
