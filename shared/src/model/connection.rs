//! WebSocket connections and their room subscriptions.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::ids::{ConnectionId, FamilyId, UserId};
use crate::room::Room;
use crate::time::Timestamp;

/// API Gateway closes every WebSocket connection after two hours.
pub const MAX_CONNECTION_DURATION: Duration = Duration::hours(2);

/// When a connection row made at `connected_at` expires: the two-hour limit plus a margin.
pub fn connection_expiry(connected_at: Timestamp) -> Timestamp {
    connected_at + MAX_CONNECTION_DURATION + Duration::minutes(5)
}

/// Who holds a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Viewer {
    /// A signed-in user.
    User {
        /// The user.
        user_id: UserId,
        /// The session whose access token opened the connection: every frame checks that
        /// session, and signing it out closes the connection. `None` only on rows stored
        /// before sessions were recorded (they are treated as revoked).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<FamilyId>,
    },
    /// Someone watching without signing in: read-only (events and `ping`), and counted
    /// against the cap of anonymous connections of their IP.
    Anonymous {
        /// The client IP API Gateway reported at `$connect`.
        anonymous_ip: String,
    },
}

impl Viewer {
    /// The signed-in user, `None` for an anonymous viewer.
    pub fn user(&self) -> Option<UserId> {
        match self {
            Self::User { user_id, .. } => Some(*user_id),
            Self::Anonymous { .. } => None,
        }
    }
}

/// A live WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// API Gateway's id for it.
    pub connection_id: ConnectionId,
    /// Who is connected.
    #[serde(flatten)]
    pub viewer: Viewer,
    /// When it opened.
    pub connected_at: Timestamp,
    /// When the row stops counting (TTL).
    pub expires_at: Timestamp,
}

impl Connection {
    /// The signed-in user, `None` for an anonymous viewer.
    pub fn user_id(&self) -> Option<UserId> {
        self.viewer.user()
    }
}

/// A connection's subscription to a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The room.
    pub room: Room,
    /// The subscribed connection.
    pub connection_id: ConnectionId,
    /// Its user; `None` for an anonymous viewer (who may subscribe to events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// When it subscribed.
    pub subscribed_at: Timestamp,
    /// When the row stops counting (TTL); the connection's expiry.
    pub expires_at: Timestamp,
}

/// Number of buckets a room's subscriptions are spread over, for sharded fan-out.
pub const BUCKETS: u16 = 4096;

/// The bucket of a connection: a stable hash (FNV-1a) of its id, `0..BUCKETS`.
pub fn bucket_of(connection_id: &ConnectionId) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for b in connection_id.as_str().bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h % u32::from(BUCKETS)) as u16
}

/// A half-open range of buckets `start..end`: what one fan-out shard covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BucketRange {
    /// First bucket, inclusive.
    pub start: u16,
    /// Last bucket, exclusive; at most [`BUCKETS`].
    pub end: u16,
}

impl BucketRange {
    /// Every bucket.
    pub const ALL: BucketRange = BucketRange {
        start: 0,
        end: BUCKETS,
    };

    /// The range `start..end`, or `None` when empty or out of bounds.
    pub fn new(start: u16, end: u16) -> Option<Self> {
        (start < end && end <= BUCKETS).then_some(Self { start, end })
    }

    /// Whether `bucket` lies in the range.
    pub fn contains(&self, bucket: u16) -> bool {
        self.start <= bucket && bucket < self.end
    }

    /// Splits the range into at most `parts` contiguous, non-empty, covering ranges.
    pub fn split(&self, parts: u16) -> Vec<BucketRange> {
        let width = self.end - self.start;
        let parts = parts.clamp(1, width);
        (0..parts)
            .map(|i| {
                let s = self.start + (u32::from(width) * u32::from(i) / u32::from(parts)) as u16;
                let e =
                    self.start + (u32::from(width) * u32::from(i + 1) / u32::from(parts)) as u16;
                BucketRange { start: s, end: e }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_the_range_without_gaps() {
        let parts = BucketRange::ALL.split(7);
        assert_eq!(parts.len(), 7);
        assert_eq!(parts[0].start, 0);
        assert_eq!(parts[6].end, BUCKETS);
        for w in parts.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        assert_eq!(BucketRange::new(3, 5).unwrap().split(10).len(), 2);
        assert!(BucketRange::new(5, 5).is_none());
    }

    #[test]
    fn buckets_spread_connections() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..1000 {
            let id: ConnectionId = format!("conn{i}=").parse().unwrap();
            let b = bucket_of(&id);
            assert!(b < BUCKETS);
            seen.insert(b);
        }
        assert!(seen.len() > 800, "only {} distinct buckets", seen.len());
    }
}
