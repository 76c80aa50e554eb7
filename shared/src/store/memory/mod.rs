//! In-memory store adapters: the embedded default of the local stack and the reference the
//! DynamoDB adapters are tested against. Each keeps the same invariants as its DynamoDB twin
//! (one lock per store stands in for conditional writes and transactions).

pub mod claims;
pub mod comments;
pub mod connections;
pub mod conversations;
pub mod cursor;
pub mod events;
pub mod media;
pub mod messages;
pub mod presence;
pub mod rate_limits;
pub mod sessions;
pub mod streams;
pub mod users;

use std::sync::Arc;

/// Every store, in memory, fresh and empty.
pub fn stores() -> super::Stores {
    let comment_state = comments::SharedComments::default();
    let streams = streams::SharedStreams::default();
    let messages = messages::SharedMessages::default();
    super::Stores {
        users: Arc::new(users::MemoryUserStore::default()),
        sessions: Arc::new(sessions::MemorySessionStore::new()),
        events: Arc::new(events::MemoryEventStore::new(streams.clone())),
        comments: Arc::new(comments::MemoryCommentStore::new(
            comment_state.clone(),
            streams.clone(),
        )),
        likes: Arc::new(comments::MemoryLikeStore::new(
            comment_state.clone(),
            streams.clone(),
        )),
        conversations: Arc::new(conversations::MemoryConversationStore::new(
            streams.clone(),
            messages.clone(),
        )),
        messages: Arc::new(messages::MemoryMessageStore::new(streams.clone(), messages)),
        streams: Arc::new(streams::MemoryStreamStore::new(streams, comment_state)),
        connections: Arc::new(connections::MemoryConnectionStore::default()),
        rate_limits: Arc::new(rate_limits::MemoryRateLimitStore::default()),
        presence: Arc::new(presence::MemoryPresenceStore::default()),
        media: Arc::new(media::MemoryMediaStore::default()),
    }
}
