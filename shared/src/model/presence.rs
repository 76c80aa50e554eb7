//! Presence: whether a user is online, and how. A user is online while one of their
//! connections is open; the stored presence expires with the latest of those connections, so
//! no presence outlives them even when `$disconnect` never arrives.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::time::Timestamp;

/// How often, at most, a connection's activity is written to its user's `last_active_at`:
/// frames in between cost no write, so a chatty client costs one write per five minutes.
pub const ACTIVITY_EVERY: Duration = Duration::minutes(5);

/// The conversations a presence change is announced to: the user's most recently active
/// ones. A user in thousands of groups must not turn a status flip into thousands of
/// fan-outs; the chats they use are where their presence is looked at.
pub const PRESENCE_CONVERSATIONS: usize = 50;

/// What a user shows while online. `offline` is no state a client sets: it is what others
/// see when the user's last connection closed (see [`Shown`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnlineStatus {
    /// Connected (what a connection starts as).
    #[default]
    Online,
    /// Using the app.
    Active,
    /// Idle.
    Away,
}

/// A user's status as others are told it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shown {
    /// Online, active or away.
    Online,
    /// Using the app.
    Active,
    /// Idle.
    Away,
    /// No connection open (or the user hides their online status).
    Offline,
}

impl From<OnlineStatus> for Shown {
    fn from(s: OnlineStatus) -> Self {
        match s {
            OnlineStatus::Online => Self::Online,
            OnlineStatus::Active => Self::Active,
            OnlineStatus::Away => Self::Away,
        }
    }
}

/// A stored presence: the user is online until `expires_at` at the latest (the expiry of
/// their latest connection; the row's TTL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// The user.
    pub user_id: UserId,
    /// What they show.
    pub status: OnlineStatus,
    /// When it was last set.
    pub updated_at: Timestamp,
    /// When it ends unless a connection renews it.
    pub expires_at: Timestamp,
}

impl Presence {
    /// The presence after `user` is set online at `now` until at least `expires_at`, showing
    /// `status` (or what `previous`, if still live, shows): what both adapters store.
    pub fn next(
        previous: Option<Presence>,
        user: UserId,
        status: Option<OnlineStatus>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Presence {
        let live = previous.filter(|p| p.expires_at > now);
        Presence {
            user_id: user,
            status: status.or(live.map(|p| p.status)).unwrap_or_default(),
            updated_at: now,
            expires_at: live.map_or(expires_at, |p| p.expires_at.max(expires_at)),
        }
    }
}

/// When a user was last active and last online. Kept apart from the presence, which
/// expires: these outlive every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Activity {
    /// The last time a connection of the user sent something (to within
    /// [`ACTIVITY_EVERY`]).
    pub last_active_at: Option<Timestamp>,
    /// When the user's last connection closed.
    pub last_seen_at: Option<Timestamp>,
}

/// What is stored of one user's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PresenceRecord {
    /// Their presence while online (`None` once expired or cleared).
    pub online: Option<Presence>,
    /// Their last activity.
    pub activity: Activity,
}

/// What others may see of a user's presence, after the user's privacy settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PresenceView {
    /// Whether the user is online (always `false` when they hide their online status).
    pub is_online: bool,
    /// `online`, `active`, `away` or `offline`.
    pub presence: Shown,
    /// When the user was last online (now, while online); `None` when they hide it or were
    /// never seen.
    pub last_seen: Option<Timestamp>,
    /// When the user last did something; `None` when they hide their last seen.
    pub last_active_at: Option<Timestamp>,
}

impl PresenceView {
    /// How `user` (with `record`) appears to someone else at `now`.
    pub fn of(user: &super::User, record: &PresenceRecord, now: Timestamp) -> Self {
        let privacy = user.privacy_settings;
        let live = record
            .online
            .filter(|p| p.expires_at > now && privacy.show_online_status);
        let shown = |t: Option<Timestamp>| t.filter(|_| privacy.show_last_seen);
        let last_active_at = shown(record.activity.last_active_at.or(user.last_active_at));
        let last_seen = if live.is_some() {
            shown(Some(now))
        } else {
            shown(record.activity.last_seen_at).or(last_active_at)
        };
        Self {
            is_online: live.is_some(),
            presence: live.map_or(Shown::Offline, |p| p.status.into()),
            last_seen,
            last_active_at,
        }
    }

    /// How a user appears to themself: everything, whatever their settings.
    pub fn own(user: &super::User, record: &PresenceRecord, now: Timestamp) -> Self {
        let open = super::User {
            privacy_settings: super::PrivacySettings::default(),
            ..user.clone()
        };
        Self::of(&open, record, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PasswordHash, PrivacySettings, User};

    fn user(privacy: PrivacySettings) -> User {
        let t = crate::time::now();
        User {
            user_id: UserId::new(),
            username: "alice".into(),
            display_name: "Alice".into(),
            email: None,
            avatar_url: None,
            status_message: None,
            reputation_score: 0,
            account_status: Default::default(),
            password_hash: PasswordHash(String::new()),
            created_at: t,
            updated_at: t,
            last_active_at: Some(t - Duration::hours(1)),
            version: 1,
            privacy_settings: privacy,
        }
    }

    #[test]
    fn privacy_settings_hide_what_they_say() {
        let now = crate::time::now();
        let open = user(PrivacySettings::default());
        let p = Presence {
            user_id: open.user_id,
            status: OnlineStatus::Away,
            updated_at: now,
            expires_at: now + Duration::hours(2),
        };
        let seen = now - Duration::minutes(30);
        let online = PresenceRecord {
            online: Some(p),
            activity: Activity {
                last_active_at: Some(now - Duration::minutes(2)),
                last_seen_at: Some(seen),
            },
        };
        let v = PresenceView::of(&open, &online, now);
        assert!(v.is_online);
        assert_eq!(v.presence, Shown::Away);
        assert_eq!(v.last_seen, Some(now));
        assert_eq!(v.last_active_at, online.activity.last_active_at);
        // An expired presence is offline, last seen when the last connection closed.
        let expired = PresenceRecord {
            online: Some(Presence {
                expires_at: now - Duration::seconds(1),
                ..p
            }),
            ..online
        };
        let v = PresenceView::of(&open, &expired, now);
        assert!(!v.is_online);
        assert_eq!(v.presence, Shown::Offline);
        assert_eq!(v.last_seen, Some(seen));
        // Never seen online: last seen falls back to the last activity known.
        let v = PresenceView::of(&open, &PresenceRecord::default(), now);
        assert_eq!(v.last_seen, open.last_active_at);
        let hidden = user(PrivacySettings {
            show_online_status: false,
            show_last_seen: false,
            ..PrivacySettings::default()
        });
        let v = PresenceView::of(&hidden, &online, now);
        assert!(!v.is_online);
        assert_eq!(v.presence, Shown::Offline);
        assert_eq!(v.last_seen, None);
        assert_eq!(v.last_active_at, None);
        // The user themself sees it all.
        assert!(PresenceView::own(&hidden, &online, now).is_online);
        let no_last_seen = user(PrivacySettings {
            show_last_seen: false,
            ..PrivacySettings::default()
        });
        let v = PresenceView::of(&no_last_seen, &online, now);
        assert!(v.is_online);
        assert_eq!(v.last_seen, None);
    }
}
