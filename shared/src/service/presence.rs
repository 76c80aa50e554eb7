//! Presence: a user is online while one of their connections is open. `$connect` sets them
//! online, `presence_update` sets what they show, `$disconnect` (or a connection the fan-out
//! finds gone) ends it when no other connection is left; each change that others can see is
//! announced as `presence_changed` to the user's most recently active conversations
//! ([`PRESENCE_CONVERSATIONS`]), never to event rooms: every viewer's presence sent to every
//! other viewer of a live event is quadratic in the audience, and nobody reads it there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::app::App;
use crate::config::RateKind;
use crate::error::AppError;
use crate::ids::{ConnectionId, UserId};
use crate::model::{ACTIVITY_EVERY, Connection, PRESENCE_CONVERSATIONS, PresenceView, Shown, User};
use crate::protocol::{PresenceStatus, broadcast};
use crate::queue::{FanoutJob, Queue};
use crate::room::Room;
use crate::store::{ConnectionStore, ConversationStore, PresenceStore, UserStore};
use crate::time::{Timestamp, now};
use crate::views::UserSummary;

/// What announcing presence needs: the WebSocket functions have it through [`App`], the
/// fan-out has it to end the presence of a connection it finds gone.
#[derive(Clone)]
pub struct PresenceDesk {
    users: Arc<dyn UserStore>,
    conversations: Arc<dyn ConversationStore>,
    connections: Arc<dyn ConnectionStore>,
    presence: Arc<dyn PresenceStore>,
    queue: Arc<dyn Queue>,
}

impl std::fmt::Debug for PresenceDesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresenceDesk").finish_non_exhaustive()
    }
}

impl PresenceDesk {
    /// The desk over these stores, announcing through `queue` (the fan-out queue).
    pub fn new(stores: &crate::store::Stores, queue: Arc<dyn Queue>) -> Self {
        Self {
            users: stores.users.clone(),
            conversations: stores.conversations.clone(),
            connections: stores.connections.clone(),
            presence: stores.presence.clone(),
            queue,
        }
    }

    /// The desk of `app`.
    pub fn of(app: &App) -> Self {
        Self::new(&app.stores, app.queue.clone())
    }

    /// Tells `user`'s recent conversations (but `except`) that they now show `status`,
    /// unless they hide their online status; `last_seen` is left out when they hide it.
    /// Returns the conversations told.
    async fn announce(
        &self,
        user: UserId,
        status: Shown,
        at: Timestamp,
        except: Option<ConnectionId>,
    ) -> Result<usize, AppError> {
        let Some(profile) = self.users.get_user(user).await? else {
            return Ok(0);
        };
        let privacy = profile.privacy_settings;
        if !privacy.show_online_status {
            return Ok(0);
        }
        let rooms: Vec<Room> = self
            .conversations
            .list_user_conversations(user, PRESENCE_CONVERSATIONS, None)
            .await?
            .items
            .iter()
            .map(|(c, _)| Room::Conversation(c.conversation_id))
            .collect();
        if rooms.is_empty() {
            return Ok(0);
        }
        let last_seen = privacy.show_last_seen.then_some(at);
        let message = broadcast::presence(user, status, last_seen);
        let payload = serde_json::to_value(&message).map_err(AppError::internal)?;
        let jobs: Vec<FanoutJob> = rooms
            .iter()
            .map(|room| FanoutJob {
                exclude: except.clone(),
                ..FanoutJob::new(*room, payload.clone())
            })
            .collect();
        self.queue.send(&jobs).await?;
        Ok(rooms.len())
    }

    /// A connection of `user` opened: they are online (as they were, or `online`); others
    /// are told when they were offline before.
    pub async fn connected(&self, connection: &Connection) -> Result<(), AppError> {
        let Some(user) = connection.user_id() else {
            return Ok(());
        };
        let t = now();
        let before = self
            .presence
            .set_presence(user, None, connection.expires_at, t)
            .await?;
        if before.is_none() {
            self.announce(
                user,
                Shown::Online,
                t,
                Some(connection.connection_id.clone()),
            )
            .await?;
        }
        Ok(())
    }

    /// A connection of `user` is gone (closed or found gone; its rows are deleted): when it
    /// was their last, they are offline and others are told, with when they were last seen.
    /// Returns whether they went offline.
    pub async fn departed(&self, user: UserId) -> Result<bool, AppError> {
        let t = now();
        let remaining = self
            .connections
            .list_user_connections(user)
            .await?
            .iter()
            .map(|c| c.expires_at)
            .max();
        let ended = self.presence.depart(user, remaining, t).await?;
        if ended.is_some() {
            self.announce(user, Shown::Offline, t, None).await?;
        }
        Ok(ended.is_some())
    }
}

/// Sets what `user` shows (`presence_update` on `connection`) and, when that changed, tells
/// their recent conversations (not back to this connection); returns how many were told.
/// Rate-limited like receipts.
pub async fn update(
    app: &App,
    user: UserId,
    connection: &Connection,
    status: PresenceStatus,
) -> Result<usize, AppError> {
    app.rate_limit(RateKind::Presence, &user.to_string())
        .await?;
    let shown = status.shown();
    let t = now();
    let before = app
        .stores
        .presence
        .set_presence(user, Some(shown), connection.expires_at, t)
        .await?;
    if before.is_some_and(|p| p.status == shown) {
        return Ok(0);
    }
    PresenceDesk::of(app)
        .announce(
            user,
            shown.into(),
            t,
            Some(connection.connection_id.clone()),
        )
        .await
}

/// The public summary and presence of each of `ids` as others see them now: one batch of
/// profiles and one of presences. A user that no longer exists gets a placeholder, offline.
pub async fn people(
    app: &App,
    ids: &[UserId],
) -> Result<HashMap<UserId, (UserSummary, PresenceView)>, AppError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let t = now();
    let users = app.stores.users.get_users(ids).await?;
    let records = app.stores.presence.get_presences(ids, t).await?;
    let mut out: HashMap<UserId, (UserSummary, PresenceView)> = users
        .iter()
        .map(|u| {
            let record = records.get(&u.user_id).copied().unwrap_or_default();
            (
                u.user_id,
                (UserSummary::from(u), PresenceView::of(u, &record, t)),
            )
        })
        .collect();
    for id in ids {
        out.entry(*id).or_insert_with(|| {
            (
                UserSummary::deleted(*id),
                PresenceView {
                    is_online: false,
                    presence: Shown::Offline,
                    last_seen: None,
                    last_active_at: None,
                },
            )
        });
    }
    Ok(out)
}

/// How `user` appears to others now (one read of their presence).
pub async fn view_of(app: &App, user: &User) -> Result<PresenceView, AppError> {
    let t = now();
    let records = app
        .stores
        .presence
        .get_presences(&[user.user_id], t)
        .await?;
    let record = records.get(&user.user_id).copied().unwrap_or_default();
    Ok(PresenceView::of(user, &record, t))
}

/// When each user's activity was last written by this instance: a frame writes
/// `last_active_at` only when [`ACTIVITY_EVERY`] has passed, so a chatty client costs one
/// write per period, not one per frame. Per instance, bounded.
#[derive(Debug, Default)]
pub struct ActivityClock {
    written: Mutex<HashMap<UserId, Timestamp>>,
}

/// Users an [`ActivityClock`] remembers before it starts over.
const CLOCK_USERS: usize = 10_000;

impl ActivityClock {
    /// Whether `user`'s activity at `at` is due to be written (and, if so, counts it as
    /// written).
    pub fn due(&self, user: UserId, at: Timestamp) -> bool {
        let mut g = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if g.get(&user).is_some_and(|last| at - *last < ACTIVITY_EVERY) {
            return false;
        }
        if g.len() >= CLOCK_USERS {
            g.clear();
        }
        g.insert(user, at);
        true
    }
}

/// Records that `user` sent a frame, at most once per [`ACTIVITY_EVERY`] per instance. A
/// failed write is logged: activity is a hint, never worth failing the frame for.
pub async fn active(app: &App, user: UserId) {
    let t = now();
    if !app.activity.due(user, t) {
        return;
    }
    if let Err(e) = app.stores.presence.touch(user, t).await {
        tracing::warn!(user_id = %user, error = %e, "could not record activity");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_is_written_once_per_period() {
        let clock = ActivityClock::default();
        let user = UserId::new();
        let t = now();
        assert!(clock.due(user, t));
        assert!(!clock.due(user, t + chrono::Duration::minutes(1)));
        assert!(clock.due(user, t + ACTIVITY_EVERY));
        assert!(clock.due(UserId::new(), t));
    }
}
