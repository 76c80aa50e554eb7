//! DynamoDB store adapters. Key layout and access patterns: `docs/data-model.md`.
//! Every access is a Get, BatchGet, Query or (transactional) conditional write: never a Scan.
//!
//! One module per store, plus the helpers they share: `item` (attributes, items, cursors),
//! `ops` (get, put, paged and full queries, batches, retry schedules) and `txn`
//! (transaction actions, cancellation reasons, retried transactions).

pub mod comments;
pub mod connections;
pub mod conversations;
pub mod events;
pub mod likes;
pub mod media;
pub mod messages;
pub mod presence;
pub mod rate_limits;
pub mod sessions;
pub mod streams;
pub mod tables;
pub mod users;

mod append;
mod claims;
mod item;
mod ops;
mod txn;

use aws_sdk_dynamodb::Client;

pub use item::{
    Item, decode_cursor, encode_cursor, from_item, get_n, get_s, is_expired, key, n, s, to_item,
    with_ttl,
};
pub use ops::sdk_error;
pub use txn::cancellation_reasons;

/// Every store over DynamoDB, sharing one client, on the tables `names`.
pub fn stores(client: Client, names: tables::TableNames) -> super::Stores {
    use std::sync::Arc;
    super::Stores {
        users: Arc::new(users::DynamoUserStore::new(
            client.clone(),
            names.users.clone(),
        )),
        sessions: Arc::new(sessions::DynamoSessionStore::new(
            client.clone(),
            names.users.clone(),
        )),
        events: Arc::new(
            events::DynamoEventStore::new(client.clone(), names.events.clone())
                .with_stream(names.comments.clone()),
        ),
        comments: Arc::new(comments::DynamoCommentStore::new(
            client.clone(),
            names.comments.clone(),
        )),
        likes: Arc::new(likes::DynamoLikeStore::new(
            client.clone(),
            names.comments.clone(),
        )),
        conversations: Arc::new(
            conversations::DynamoConversationStore::new(
                client.clone(),
                names.conversations.clone(),
            )
            .with_stream(names.messages.clone()),
        ),
        messages: Arc::new(messages::DynamoMessageStore::new(
            client.clone(),
            names.messages.clone(),
        )),
        connections: Arc::new(connections::DynamoConnectionStore::new(
            client.clone(),
            names.connections.clone(),
        )),
        rate_limits: Arc::new(rate_limits::DynamoRateLimitStore::new(
            client.clone(),
            names.rate_limits.clone(),
        )),
        streams: Arc::new(streams::DynamoStreamStore::new(
            client.clone(),
            names.comments.clone(),
            names.messages.clone(),
        )),
        presence: Arc::new(presence::DynamoPresenceStore::new(
            client.clone(),
            names.users.clone(),
        )),
        media: Arc::new(media::DynamoMediaStore::new(
            client.clone(),
            names.messages.clone(),
        )),
    }
}
