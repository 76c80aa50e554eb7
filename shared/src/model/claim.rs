//! Idempotency claims: a client's key (REST `Idempotency-Key`, WebSocket `message_id` or
//! `client_message_id`) names one item of one author in one room for [`CLAIM_WINDOW`].
//!
//! A claim remembers a [`Fingerprint`] of what was asked, so a retry (same key, same request)
//! returns the original while the same key with other content is refused as a conflict rather
//! than acknowledged with an item the client did not send.

use std::time::Duration;

use aws_lc_rs::digest;

use crate::time::{Timestamp, epoch_seconds};

/// How long a client key stays bound to its item. Retries (a lost ack, a reconnect, an
/// enqueue failure) come within seconds or minutes; a day covers an offline outbox.
pub const CLAIM_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a key derived from a REST comment without `Idempotency-Key` stays bound: long
/// enough for a client's retry after a lost answer, short enough that saying the same thing
/// again later is a new comment.
pub const DERIVED_CLAIM_WINDOW: Duration = Duration::from_secs(30);

/// The key of a REST comment posted without `Idempotency-Key`: its content's fingerprint, so
/// a retry of the same post (same author, event, text and parent) within
/// [`DERIVED_CLAIM_WINDOW`] is one comment.
pub fn derived_key(fingerprint: &Fingerprint) -> crate::ids::ClientKey {
    format!("auto:{}", &fingerprint.as_str()[..40])
        .parse()
        .unwrap_or_else(|_| unreachable!("hex of a fixed length is a valid key"))
}

/// The error text of a store refusing a key that names another request.
pub const KEY_REUSED: &str = "idempotency_key_reused";

/// SHA-256 of the parts of a request that a retry repeats, hex-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of `parts`, each length-prefixed so that no two lists share one.
    pub fn of(parts: &[&str]) -> Self {
        let mut ctx = digest::Context::new(&digest::SHA256);
        for part in parts {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        let hex = ctx
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self(hex)
    }

    /// The hex text, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// When a claim made at `created_at` for `window` lapses, in epoch seconds (DynamoDB's TTL
/// form).
pub fn claim_expiry(created_at: Timestamp, window: Duration) -> i64 {
    epoch_seconds(created_at) + i64::try_from(window.as_secs()).unwrap_or(i64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_requests_apart() {
        assert_eq!(Fingerprint::of(&["a", "b"]), Fingerprint::of(&["a", "b"]));
        assert_ne!(Fingerprint::of(&["ab", ""]), Fingerprint::of(&["a", "b"]));
        assert_ne!(Fingerprint::of(&["a"]), Fingerprint::of(&["b"]));
        assert_eq!(Fingerprint::of(&[]).as_str().len(), 64);
    }
}
