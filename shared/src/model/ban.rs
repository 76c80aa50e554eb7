//! Bans and mutes: a moderator keeps a user from commenting on one event, for good (a ban)
//! or until a time (a mute).

use serde::{Deserialize, Serialize};

use crate::ids::{EventId, UserId};
use crate::time::Timestamp;

/// The longest mute, in seconds (30 days); longer is a ban.
pub const MAX_MUTE_SECONDS: u32 = 30 * 24 * 60 * 60;

/// One user kept from commenting on one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    /// The event.
    pub event_id: EventId,
    /// Who may not comment.
    pub user_id: UserId,
    /// Until when (a mute); `None` for a ban, which lasts until it is lifted.
    pub until: Option<Timestamp>,
    /// Why, as the moderator gave it.
    pub reason: Option<String>,
    /// The moderator.
    pub by: UserId,
    /// When.
    pub at: Timestamp,
}

impl Ban {
    /// Whether it still keeps the user out at `now`.
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.until.is_none_or(|until| until > now)
    }
}
