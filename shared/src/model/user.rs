//! Users: the stored account and the rules its fields follow. What clients see of a user is
//! in [`crate::views`].

use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::time::Timestamp;
use crate::validate::{FieldError, ValidationErrors, optional_text, text};

/// An argon2 PHC string. Its `Debug` never shows the hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// Whether an account may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// May sign in and post.
    #[default]
    Active,
    /// Signed out everywhere and refused.
    Suspended,
}

/// Who may put a user into a group conversation. A group can hold 256 people and every one of
/// them hears each message, so joining one is the user's choice, not only its owner's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GroupInvitations {
    /// Any user may add them (the default, as in most messengers).
    #[default]
    Anyone,
    /// Nobody may: they join groups only by creating them.
    Nobody,
}

/// The user's privacy choices; stored on the profile, shown only to its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacySettings {
    /// Who may add the user to groups.
    #[serde(default)]
    pub group_invitations: GroupInvitations,
    /// Whether others see that the user is online (`is_online`, `presence_changed`).
    #[serde(default = "shown")]
    pub show_online_status: bool,
    /// Whether others see when the user was last online (`last_seen`, `last_active_at`).
    #[serde(default = "shown")]
    pub show_last_seen: bool,
}

/// Presence is shown unless the user hides it, as in most messengers.
fn shown() -> bool {
    true
}

impl Default for PrivacySettings {
    fn default() -> Self {
        Self {
            group_invitations: GroupInvitations::default(),
            show_online_status: true,
            show_last_seen: true,
        }
    }
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The user's id.
    pub user_id: UserId,
    /// Unique handle, as the user typed it; uniqueness ignores case.
    pub username: String,
    /// Name shown beside comments and messages.
    pub display_name: String,
    /// Contact address; shown only to its owner.
    pub email: Option<String>,
    /// Picture URL.
    pub avatar_url: Option<String>,
    /// Short status line ("Available").
    pub status_message: Option<String>,
    /// Reputation earned in events.
    pub reputation_score: i64,
    /// Whether the account may act.
    pub account_status: AccountStatus,
    /// The argon2 hash of the password; never the password.
    pub password_hash: PasswordHash,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When the profile last changed.
    pub updated_at: Timestamp,
    /// When the account was last used, as stored at registration; presence keeps
    /// the current one ([`super::Activity`]).
    pub last_active_at: Option<Timestamp>,
    /// Incremented on every update, for optimistic concurrency.
    pub version: u64,
    /// Privacy choices (absent on profiles stored before they existed: the defaults).
    #[serde(default)]
    pub privacy_settings: PrivacySettings,
}

/// Username rules: 3..=32 of `a-z A-Z 0-9 _ .`, starting with a letter or digit.
pub fn validate_username(raw: &str) -> Result<String, FieldError> {
    let name = text("username", raw, 3, 32)?;
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(FieldError::new(
            "username",
            "may hold only letters, digits, '_' and '.', and must start with a letter or digit",
        ));
    }
    Ok(name)
}

/// The case-folded form that uniqueness and search use.
pub fn normalize_username(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}

/// Display name rules: 1..=64 characters.
pub fn validate_display_name(raw: &str) -> Result<String, FieldError> {
    text("display_name", raw, 1, 64)
}

/// A plausible email address (the mail server has the last word).
pub fn validate_email(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(email) = optional_text("email", raw, 254)? else {
        return Ok(None);
    };
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && !email.contains(char::is_whitespace) =>
        {
            Ok(Some(email))
        }
        _ => Err(FieldError::new("email", "is not an email address")),
    }
}

/// An http(s) URL for an avatar.
pub fn validate_avatar_url(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(url) = optional_text("avatar_url", raw, 2048)? else {
        return Ok(None);
    };
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(Some(url))
    } else {
        Err(FieldError::new("avatar_url", "must be an http(s) URL"))
    }
}

/// Password rules: 8..=128 characters. The password itself is never stored or logged.
pub fn validate_password(raw: &str) -> Result<(), FieldError> {
    let n = raw.chars().count();
    if n < 8 {
        return Err(FieldError::new("password", "must be at least 8 characters"));
    }
    if n > 128 {
        return Err(FieldError::new(
            "password",
            "must be at most 128 characters",
        ));
    }
    Ok(())
}

/// What a client sends to register, validated field by field.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Validated username.
    pub username: String,
    /// Validated display name (defaults to the username).
    pub display_name: String,
    /// Validated email.
    pub email: Option<String>,
}

impl Registration {
    /// Validates every field and reports each failure.
    pub fn validate(
        username: &str,
        display_name: Option<&str>,
        email: Option<&str>,
        password: &str,
    ) -> Result<Self, ValidationErrors> {
        let mut errs = ValidationErrors::new();
        let username = errs.check(validate_username(username));
        let display_name = match display_name {
            Some(d) => errs.check(validate_display_name(d)),
            None => username.clone(),
        };
        let email = errs.check(validate_email(email));
        errs.check(validate_password(password));
        errs.finish()?;
        match (username, display_name, email) {
            (Some(username), Some(display_name), Some(email)) => Ok(Self {
                username,
                display_name,
                email,
            }),
            _ => Err(ValidationErrors::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_reports_every_bad_field() {
        let err = Registration::validate("a", Some(""), Some("nope"), "short").unwrap_err();
        let fields: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["username", "display_name", "email", "password"]);
    }

    #[test]
    fn registration_accepts_good_input() {
        let r = Registration::validate("Alice_1", None, Some("a@example.com"), "correct horse")
            .unwrap();
        assert_eq!(r.display_name, "Alice_1");
        assert_eq!(normalize_username(&r.username), "alice_1");
    }

    #[test]
    fn usernames_are_restricted() {
        assert!(validate_username("_x1").is_err());
        assert!(validate_username("bob smith").is_err());
        assert!(validate_username("bob.smith").is_ok());
    }

    #[test]
    fn password_hash_debug_is_redacted() {
        let h = PasswordHash("$argon2id$secret".into());
        assert!(!format!("{h:?}").contains("secret"));
    }
}
