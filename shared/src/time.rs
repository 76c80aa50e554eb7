//! Timestamps: UTC, millisecond precision, RFC 3339 on the wire.

use chrono::{DateTime, SubsecRound, Utc};

/// A point in time, UTC.
pub type Timestamp = DateTime<Utc>;

/// Now, truncated to milliseconds so that stored and returned values compare equal.
pub fn now() -> Timestamp {
    Utc::now().trunc_subsecs(3)
}

/// Fixed-width, sortable form for sort keys (`2026-11-20T23:13:39.123Z`).
pub fn sort_key(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Seconds since the Unix epoch, the form DynamoDB's TTL reads.
pub fn epoch_seconds(t: Timestamp) -> i64 {
    t.timestamp()
}
