//! Typed identifiers. Entity ids are UUID v7 (time-ordered) newtypes; ids that come from
//! outside (API Gateway connection ids, client-chosen idempotency keys) are validated strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// An id string that failed to parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct IdError {
    /// Which kind of id was expected.
    pub kind: &'static str,
    /// What was wrong with it.
    pub reason: &'static str,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered (v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The smallest id (nil UUID): a lower bound for ordered ranges, never a real id.
            pub fn min() -> Self {
                Self(Uuid::nil())
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                let uuid = Uuid::try_parse(s)
                    .map_err(|_| IdError { kind: $kind, reason: "not a UUID" })?;
                if uuid.get_version_num() != 7 {
                    return Err(IdError { kind: $kind, reason: "not a version 7 UUID" });
                }
                Ok(Self(uuid))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_id!(
    /// Identifies a user.
    UserId, "user_id"
);
uuid_id!(
    /// Identifies a live event (a comment room).
    EventId, "event_id"
);
uuid_id!(
    /// Identifies a comment.
    CommentId, "comment_id"
);
uuid_id!(
    /// Identifies a conversation (a chat room).
    ConversationId, "conversation_id"
);
uuid_id!(
    /// Identifies a chat message.
    MessageId, "message_id"
);
uuid_id!(
    /// Identifies an uploaded media file (its `file_id`): it names the file's objects in the
    /// bucket and its media item.
    FileId, "file_id"
);
uuid_id!(
    /// Identifies a refresh-token family (one login session and its rotations).
    FamilyId, "family_id"
);
uuid_id!(
    /// Identifies one refresh token (its `jti`).
    TokenId, "jti"
);

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:expr, $allowed:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                if s.is_empty() {
                    return Err(IdError { kind: $kind, reason: "empty" });
                }
                if s.len() > $max {
                    return Err(IdError { kind: $kind, reason: "too long" });
                }
                let allowed: fn(char) -> bool = $allowed;
                if !s.chars().all(allowed) {
                    return Err(IdError { kind: $kind, reason: "contains characters that are not allowed" });
                }
                Ok(Self(s.to_owned()))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// An API Gateway WebSocket connection id (e.g. `L0SM9cOFvHcCIhw=`).
    ConnectionId,
    "connection_id",
    128,
    |c| c.is_ascii_alphanumeric() || matches!(c, '=' | '-' | '_' | '+' | '/' | '.')
);
string_id!(
    /// A client-chosen idempotency key (`client_message_id`, or a WebSocket `message_id`).
    ClientKey,
    "client_message_id",
    64,
    |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
);
string_id!(
    /// The key of an object in the media bucket (`uploads/<file_id>`): only characters that
    /// need no escaping in a URL path, so presigned URLs and policies carry it as is.
    ObjectKey,
    "object_key",
    512,
    |c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.')
);

impl ObjectKey {
    /// `<prefix><id><suffix>`: a key built from a file id, which has only allowed characters
    /// (callers pass constant prefixes and suffixes of allowed characters).
    pub fn from_uuid_path(prefix: &str, id: FileId, suffix: &str) -> Self {
        Self(format!("{prefix}{id}{suffix}"))
    }
}

impl ClientKey {
    /// The key of a message Banter writes itself (`system:<message_id>`, 43 characters):
    /// clients' keys are theirs alone, and no client can claim this one first, since the
    /// sender's claim is per sender and a system message's id is new.
    pub fn system(message: MessageId) -> Self {
        Self(format!("system:{message}"))
    }
}

string_id!(
    /// A client's id for the device a session was signed in on (e.g. an install UUID):
    /// recorded on the session so later pushes can be aimed at a device.
    DeviceId,
    "device_id",
    128,
    |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_ids_are_v7_and_round_trip() {
        let id = CommentId::new();
        assert_eq!(id.as_uuid().get_version_num(), 7);
        let parsed: CommentId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<CommentId>(&json).unwrap(), id);
    }

    #[test]
    fn uuid_ids_reject_garbage_and_other_versions() {
        assert_eq!("nope".parse::<UserId>().unwrap_err().reason, "not a UUID");
        let v4 = "0b5c5f5e-8a3b-4c8e-9a55-6f2d3f1e2a10";
        assert_eq!(
            v4.parse::<UserId>().unwrap_err().reason,
            "not a version 7 UUID"
        );
        assert!(serde_json::from_str::<EventId>("\"x\"").is_err());
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = MessageId::new();
        let b = MessageId::new();
        assert!(a < b);
    }

    #[test]
    fn string_ids_validate() {
        assert!("L0SM9cOFvHcCIhw=".parse::<ConnectionId>().is_ok());
        assert!("".parse::<ConnectionId>().is_err());
        assert!("a b".parse::<ConnectionId>().is_err());
        assert!("x".repeat(129).parse::<ConnectionId>().is_err());
        assert!("client-uuid_1.2:3".parse::<ClientKey>().is_ok());
        assert!("x".repeat(65).parse::<ClientKey>().is_err());
        assert!("é".parse::<ClientKey>().is_err());
    }
}
