//! Rooms (what clients subscribe to) and positions (the order of items in a room).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{ConversationId, EventId, IdError};

/// The place of a comment in its event, or of a message in its conversation: 1, 2, 3, …
/// without gaps. Positions commit in order, so "everything after P" is a stable question
/// (see `docs/data-model.md`, "Ordering and catch-up").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Position(pub u64);

impl Position {
    /// Before the first item of any room.
    pub const ZERO: Position = Position(0);

    /// The position after this one.
    pub fn next(self) -> Position {
        Position(self.0 + 1)
    }

    /// Fixed-width decimal form, so that string order is numeric order in sort keys.
    pub fn key(self) -> String {
        format!("{:020}", self.0)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Something clients subscribe to: the comments of a live event or the messages of a
/// conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Room {
    /// The comment stream of a live event.
    Event(EventId),
    /// The message stream of a conversation.
    Conversation(ConversationId),
}

impl fmt::Display for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Room::Event(id) => write!(f, "event:{id}"),
            Room::Conversation(id) => write!(f, "conversation:{id}"),
        }
    }
}

impl FromStr for Room {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        match s.split_once(':') {
            Some(("event", id)) => Ok(Room::Event(id.parse()?)),
            Some(("conversation", id)) => Ok(Room::Conversation(id.parse()?)),
            _ => Err(IdError {
                kind: "room",
                reason: "expected event:<id> or conversation:<id>",
            }),
        }
    }
}

impl Serialize for Room {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Room {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_round_trips_as_string() {
        let r = Room::Event(EventId::new());
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.starts_with("\"event:"));
        assert_eq!(serde_json::from_str::<Room>(&s).unwrap(), r);
        let c = Room::Conversation(ConversationId::new());
        assert_eq!(c.to_string().parse::<Room>().unwrap(), c);
        assert!("chat:1".parse::<Room>().is_err());
    }

    #[test]
    fn position_keys_sort_numerically() {
        assert!(Position(9).key() < Position(10).key());
        assert_eq!(Position(1).next(), Position(2));
    }
}
