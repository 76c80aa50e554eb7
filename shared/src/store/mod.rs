//! Storage ports: one trait per store, each with an in-memory adapter ([`memory`]) and a
//! DynamoDB adapter ([`dynamodb`]). The conformance suite (`shared/tests/conformance`) runs
//! the same tests against both. Domain code sees only these traits.

pub mod dynamodb;
pub mod memory;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;

use crate::ids::{
    ClientKey, CommentId, ConnectionId, ConversationId, EventId, FamilyId, FileId, MessageId,
    TokenId, UserId,
};
use crate::model::{
    Ban, BucketRange, Comment, Connection, Conversation, Device, Event, EventStatus, LastMessage,
    LikeOutcome, MediaItem, Message, ModerationAction, ModerationRecord, NewComment, NewMessage,
    OnlineStatus, Participant, Presence, PresenceRecord, StreamSlice, Subscription, User,
    ViewerCount,
};
use crate::room::{Position, Room};
use crate::time::Timestamp;

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The item the call needs does not exist.
    #[error("not found")]
    NotFound,
    /// A conditional write lost: the item changed or the invariant would break.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The backend throttled the call; retry later.
    #[error("throttled")]
    Throttled,
    /// A cursor that this store did not issue, or that belongs elsewhere.
    #[error("invalid cursor")]
    InvalidCursor,
    /// Anything else from the backend. The text is for logs, never for clients.
    #[error("storage backend: {0}")]
    Backend(String),
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// An opaque page token issued by a store for a follow-up query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(pub String);

/// One page of a keyed listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, in the listing's order.
    pub items: Vec<T>,
    /// Token for the next page; `None` at the end.
    pub next: Option<Cursor>,
}

/// Which end of a room's stream a read starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Lowest position first.
    Oldest,
    /// Highest position first.
    Newest,
}

/// A read of a room's stream by position: items strictly between `after` and `before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Only items with a position greater than this.
    pub after: Option<Position>,
    /// Only items with a position less than this.
    pub before: Option<Position>,
    /// Which end to start from.
    pub order: Order,
    /// At most this many items (1..=1000).
    pub limit: usize,
}

impl Window {
    /// Everything after `p`, oldest first: the catch-up read.
    pub fn after(p: Position, limit: usize) -> Self {
        Self {
            after: Some(p),
            before: None,
            order: Order::Oldest,
            limit,
        }
    }

    /// The newest items, optionally before `p`: the history read.
    pub fn newest(before: Option<Position>, limit: usize) -> Self {
        Self {
            after: None,
            before,
            order: Order::Newest,
            limit,
        }
    }
}

/// Items of a [`Window`] read, with whether more lie beyond.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice<T> {
    /// The items, in the window's order.
    pub items: Vec<T>,
    /// Whether the window holds more items past the last one.
    pub has_more: bool,
}

impl<T> Default for Slice<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            has_more: false,
        }
    }
}

/// The result of an idempotent append.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended<T> {
    /// The stored item: the new one, or the original for a retry.
    pub item: T,
    /// `false` when the idempotency key matched an earlier append.
    pub created: bool,
}

/// Users, unique by case-folded username and by case-folded email (when they have one).
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Stores a new user; `Conflict("username_taken")` when the username is in use,
    /// `Conflict("email_taken")` when another account holds the email in any letter case.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    /// The user with `id`.
    async fn get_user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// The users with these ids that exist, in no particular order.
    async fn get_users(&self, ids: &[UserId]) -> StoreResult<Vec<User>>;
    /// The user whose username matches case-insensitively.
    async fn get_user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    /// The user whose email matches case-insensitively ([`crate::model::normalize_email`]).
    async fn get_user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// Replaces the profile if its stored `version` is `user.version - 1`
    /// (`Conflict("version")` otherwise). The username never changes. A changed email is
    /// claimed and the old one released in the same atomic write (`Conflict("email_taken")`
    /// when another account holds the new one).
    async fn update_user(&self, user: &User) -> StoreResult<()>;
    /// Users whose username or display name starts with `prefix` (case-insensitive),
    /// ordered by that name.
    async fn search_users(
        &self,
        prefix: &str,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<User>>;
}

/// A refresh-token family: one sign-in and the chain of tokens rotated from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFamily {
    /// The family.
    pub family_id: FamilyId,
    /// Its user.
    pub user_id: UserId,
    /// The one token of the family that may be used next.
    pub current_jti: TokenId,
    /// Set on logout or on reuse of a rotated token.
    pub revoked: bool,
    /// When the family ends (TTL).
    pub expires_at: Timestamp,
    /// The token the last rotation replaced: within the grace window it still gets the pair
    /// that rotation issued. `None` before the first rotation.
    pub previous_jti: Option<TokenId>,
    /// When `current_jti` was issued (sign-in or last rotation): the `iat` of its pair.
    pub issued_at: Timestamp,
    /// The `jti` of the access token issued with `current_jti`, so a replay can issue the
    /// very same pair.
    pub access_jti: TokenId,
    /// When the user signed in (the family was created).
    pub created_at: Timestamp,
    /// The device the user signed in on, as the client told.
    pub device: Device,
}

/// The tokens a rotation issues: the new current refresh token and its access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextTokens {
    /// The new refresh token's id.
    pub jti: TokenId,
    /// The new access token's id.
    pub access_jti: TokenId,
}

/// What happened to a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// It was current; `next` is current now.
    Rotated,
    /// It is the token the last rotation replaced, presented within the grace window (two
    /// tabs, or a retry after a lost response): nothing changed, and the caller answers
    /// with the pair that rotation issued, rebuilt from these.
    Replayed {
        /// The current refresh token's id.
        jti: TokenId,
        /// Its access token's id.
        access_jti: TokenId,
        /// When they were issued.
        issued_at: Timestamp,
    },
    /// It was rotated away before (and is not a replay within the grace window): a stolen
    /// copy. The family is now revoked.
    Reused,
    /// The family was revoked (logout or earlier reuse) or has expired.
    Revoked,
    /// No such family.
    Unknown,
}

/// Refresh-token families.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new family.
    async fn create_family(&self, family: &RefreshFamily) -> StoreResult<()>;
    /// Atomically replaces `presented` with `next` if `presented` is the family's current
    /// token ([`Rotation::Rotated`]); answers [`Rotation::Replayed`] without a change if it is
    /// the token the last rotation replaced and that rotation is less than `grace` old;
    /// revokes the family if it is any other older token ([`Rotation::Reused`]).
    async fn rotate(
        &self,
        family: FamilyId,
        presented: TokenId,
        next: NextTokens,
        now: Timestamp,
        grace: Duration,
    ) -> StoreResult<Rotation>;
    /// Revokes the family (logout). Idempotent.
    async fn revoke(&self, family: FamilyId) -> StoreResult<()>;
    /// The family, if stored.
    async fn get_family(&self, family: FamilyId) -> StoreResult<Option<RefreshFamily>>;
    /// The user's live families (neither revoked nor expired at `now`), oldest sign-in
    /// first, at most [`MAX_LISTED_FAMILIES`]: the user's sessions, for listing and for
    /// evicting the oldest beyond the cap.
    async fn list_user_families(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<Vec<RefreshFamily>>;
}

/// The most families [`SessionStore::list_user_families`] returns: more than a user can
/// hold at once ([`crate::auth::sessions::MAX_SESSIONS`]), so the cap sees them all.
pub const MAX_LISTED_FAMILIES: usize = 100;

/// Live events.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores a new event.
    async fn create_event(&self, event: &Event) -> StoreResult<()>;
    /// The event with `id`.
    async fn get_event(&self, id: EventId) -> StoreResult<Option<Event>>;
    /// Moves the event from `from` to `to` if its status is still `from`
    /// (`Conflict("status")` otherwise); returns the updated event.
    async fn set_status(
        &self,
        id: EventId,
        from: EventStatus,
        to: EventStatus,
        now: Timestamp,
    ) -> StoreResult<Event>;
    /// Replaces the event with `event` (its status excepted, which only
    /// [`EventStore::set_status`] moves) if it is unchanged since it was read with
    /// `updated_at` = `previous` (`Conflict("changed")` otherwise, `NotFound` when it is gone),
    /// and appends an `event_updated` entry of it to its stream in the same transaction.
    async fn update_event(&self, event: &Event, previous: Timestamp) -> StoreResult<()>;
    /// Stores `ban`, replacing the user's earlier one in that event.
    async fn put_ban(&self, ban: &Ban) -> StoreResult<()>;
    /// The user's ban or mute in the event, if one is in force.
    async fn get_ban(&self, event: EventId, user: UserId) -> StoreResult<Option<Ban>>;
    /// Lifts the user's ban or mute (idempotent).
    async fn delete_ban(&self, event: EventId, user: UserId) -> StoreResult<()>;
    /// The bans and mutes in force in the event, by user id, a page at a time.
    async fn list_bans(
        &self,
        event: EventId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Ban>>;
    /// Appends `record` to the event's moderation log.
    async fn record_moderation(&self, record: &ModerationRecord) -> StoreResult<()>;
    /// The event's moderation log, newest first, a page at a time.
    async fn moderation_log(
        &self,
        event: EventId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<ModerationRecord>>;
    /// Events with `status`, by start time, soonest first.
    async fn list_events(
        &self,
        status: EventStatus,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Event>>;
}

/// Comments, ordered by position within their event.
#[async_trait]
pub trait CommentStore: Send + Sync {
    /// Appends the comment at its event's next position, atomically with the parent's reply
    /// count. With a `client_key` already used by the same author, returns the original.
    /// `NotFound` when the parent does not exist in that event.
    async fn append_comment(&self, comment: NewComment) -> StoreResult<Appended<Comment>>;
    /// The comment an earlier append of the same request stored, if its claim (`client_key`
    /// of the same author) is live: how a refused retry is told it already succeeded. A live
    /// claim for another request is a `Conflict`.
    async fn claimed_comment(&self, comment: &NewComment) -> StoreResult<Option<Comment>>;
    /// The comment with `id`.
    async fn get_comment(&self, id: CommentId) -> StoreResult<Option<Comment>>;
    /// Comments of an event in a position window (replies included).
    async fn list_comments(&self, event: EventId, window: Window) -> StoreResult<Slice<Comment>>;
    /// Top-level comments of an event, most liked first.
    async fn list_popular(
        &self,
        event: EventId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Comment>>;
    /// The event's pending comments (waiting for a moderator), oldest first, a page at a
    /// time: the moderation queue.
    async fn list_pending(
        &self,
        event: EventId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Comment>>;
    /// Replies to `parent`, oldest first, after a position.
    async fn list_replies(
        &self,
        parent: CommentId,
        after: Option<Position>,
        limit: usize,
    ) -> StoreResult<Slice<Comment>>;
    /// Soft-deletes the comment (idempotent); returns it.
    async fn delete_comment(
        &self,
        id: CommentId,
        by: UserId,
        now: Timestamp,
    ) -> StoreResult<Comment>;
    /// Applies a moderator's action (its status, reason and moderator); returns the comment.
    async fn moderate_comment(
        &self,
        id: CommentId,
        action: ModerationAction,
        reason: Option<String>,
        by: UserId,
        now: Timestamp,
    ) -> StoreResult<Comment>;
    /// The highest position committed in the event's stream (0 when empty).
    async fn head(&self, event: EventId) -> StoreResult<Position>;
    /// How many comments the event has (deleted and pending ones included): kept on the
    /// head, moved in the transaction that appends each comment.
    async fn comment_count(&self, event: EventId) -> StoreResult<u64>;
}

/// Likes of comments: at most one per user per comment, with an exact count.
#[async_trait]
pub trait LikeStore: Send + Sync {
    /// Likes the comment if `user` does not like it, unlikes it otherwise, atomically with the
    /// comment's `like_count`. `NotFound` for an unknown comment.
    async fn toggle_like(&self, comment: CommentId, user: UserId) -> StoreResult<LikeOutcome>;
    /// Whether `user` likes the comment.
    async fn has_liked(&self, comment: CommentId, user: UserId) -> StoreResult<bool>;
}

/// Result of creating a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// A new conversation.
    New(Conversation),
    /// The direct conversation that already joins the same two users.
    Existing(Conversation),
}

/// Conversations and their participants.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Stores a conversation and its participants. For a direct conversation between a pair
    /// that already has one, stores nothing and returns the existing one.
    async fn create_conversation(
        &self,
        conversation: &Conversation,
        participants: &[Participant],
    ) -> StoreResult<Created>;
    /// The conversation with `id`.
    async fn get_conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>>;
    /// `user`'s participation in the conversation, if any (the membership check).
    async fn get_participant(
        &self,
        id: ConversationId,
        user: UserId,
    ) -> StoreResult<Option<Participant>>;
    /// Every participant of the conversation.
    async fn list_participants(&self, id: ConversationId) -> StoreResult<Vec<Participant>>;
    /// Adds participants (already present ones are left as they are) and records the added
    /// ones in the same write as a `system` message of `by` (`participants_added`); returns
    /// the added ones.
    async fn add_participants(
        &self,
        participants: &[Participant],
        by: UserId,
    ) -> StoreResult<Vec<Participant>>;
    /// Removes participants and records them in the same write as a `system` message of
    /// `by` (`participant_left` when `by` removed only themself, else
    /// `participants_removed`); returns the ids that were present.
    async fn remove_participants(
        &self,
        id: ConversationId,
        users: &[UserId],
        by: UserId,
    ) -> StoreResult<Vec<UserId>>;
    /// Sets a group's title and description (the caller validated them), recording the
    /// change, made by `by`, as a `system` message in the same write; returns the
    /// conversation as stored. `NotFound` when it does not exist.
    async fn update_conversation(
        &self,
        id: ConversationId,
        title: Option<String>,
        description: Option<String>,
        by: UserId,
    ) -> StoreResult<Conversation>;
    /// Makes the participant `user` the owner of the group (its owner `by` is leaving),
    /// recording it as a `system` message in the same write; returns the participant.
    /// `NotFound` when `user` is not a participant.
    async fn promote(
        &self,
        id: ConversationId,
        user: UserId,
        by: UserId,
    ) -> StoreResult<Participant>;
    /// A user's conversations with their participation, by last activity, most recent first.
    async fn list_user_conversations(
        &self,
        user: UserId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<(Conversation, Participant)>>;
    /// Records a new latest message: sets the conversation's last message and activity, and
    /// each participant's last activity when it is [`crate::model::ACTIVITY_STEP`] or more
    /// behind (see [`crate::model::activity_stale`]). Never moves activity backwards.
    async fn record_activity(&self, id: ConversationId, last: &LastMessage) -> StoreResult<()>;
    /// Advances a participant's read (or delivered) marker; never moves it backwards.
    /// Returns the participant after the update.
    async fn mark(
        &self,
        id: ConversationId,
        user: UserId,
        receipt: crate::model::Receipt,
        position: Position,
        message: MessageId,
    ) -> StoreResult<Participant>;
}

/// Messages, ordered by position within their conversation.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Appends the message at the conversation's next position. A retry with the same
    /// (conversation, sender, `client_message_id`) returns the original and stores nothing.
    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended<Message>>;
    /// The message with `id`.
    async fn get_message(&self, id: MessageId) -> StoreResult<Option<Message>>;
    /// The message a sender sent with `client_message_id` in a conversation.
    async fn get_by_client_id(
        &self,
        conversation: ConversationId,
        sender: UserId,
        client_message_id: &ClientKey,
    ) -> StoreResult<Option<Message>>;
    /// Messages of a conversation in a position window.
    async fn list_messages(
        &self,
        conversation: ConversationId,
        window: Window,
    ) -> StoreResult<Slice<Message>>;
    /// Stores an edited message if the stored version is `message.version - 1`
    /// (`Conflict("version")` otherwise).
    async fn update_message(&self, message: &Message) -> StoreResult<()>;
    /// The highest position committed in the conversation (0 when empty).
    async fn head(&self, conversation: ConversationId) -> StoreResult<Position>;
}

/// WebSocket connections and room subscriptions. Rows carry a TTL; expired rows are never
/// returned even before the backend deletes them.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Stores a connection.
    async fn put_connection(&self, connection: &Connection) -> StoreResult<()>;
    /// The live connection with `id`.
    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>>;
    /// Removes the connection and every subscription of it; returns the rooms it was in.
    /// Idempotent.
    async fn delete_connection(&self, id: &ConnectionId) -> StoreResult<Vec<Room>>;
    /// A user's live connections.
    async fn list_user_connections(&self, user: UserId) -> StoreResult<Vec<Connection>>;
    /// The live anonymous connections opened from `ip` (for its cap).
    async fn list_anonymous_connections(&self, ip: &str) -> StoreResult<Vec<Connection>>;
    /// Subscribes a connection to a room (idempotent).
    async fn subscribe(&self, subscription: &Subscription) -> StoreResult<()>;
    /// Unsubscribes (idempotent).
    async fn unsubscribe(&self, id: &ConnectionId, room: Room) -> StoreResult<()>;
    /// The rooms a connection is subscribed to.
    async fn list_connection_rooms(&self, id: &ConnectionId) -> StoreResult<Vec<Room>>;
    /// Live subscriptions of a room whose connection falls in `buckets`, page by page, in
    /// bucket order.
    async fn list_subscriptions(
        &self,
        room: Room,
        buckets: BucketRange,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Subscription>>;
}

/// The count of one rate-limit window after a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    /// Hits in the current window, this one included.
    pub count: u64,
    /// When the window ends.
    pub resets_at: Timestamp,
}

/// Fixed-window counters shared by every Lambda instance.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Counts a hit on `key` in the window of length `window` that holds `now`.
    async fn hit(&self, key: &str, window: Duration, now: Timestamp) -> StoreResult<WindowCount>;
    /// The hits on `key` in the window of length `window` that holds `now` (0 when none),
    /// without counting one: how a lockout is checked before any work is done.
    async fn peek(&self, key: &str, window: Duration, now: Timestamp) -> StoreResult<WindowCount>;
    /// Takes a turn on `key` at `now` if the last turn taken is at least `gap` old, and
    /// answers `None`; otherwise takes nothing and answers when the next turn opens. A
    /// minimum spacing between actions (slow mode), unlike a window count that allows a
    /// burst at a window's edge.
    async fn take_turn(
        &self,
        key: &str,
        gap: Duration,
        now: Timestamp,
    ) -> StoreResult<Option<Timestamp>>;
}

/// Presence and last activity of users. Presence rows expire with the latest connection of
/// their user (reads never return an expired one); activity rows never expire.
#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// Sets `user` online until at least `expires_at` (a later expiry already stored is
    /// kept), showing `status`, or, when `None`, the status they already show (`online` for
    /// a user who was offline); records the activity at `now`. Returns the live presence
    /// before the change (`None`: the user was offline).
    async fn set_presence(
        &self,
        user: UserId,
        status: Option<OnlineStatus>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<Option<Presence>>;
    /// One of `user`'s connections closed. With `remaining` (the latest expiry of their
    /// connections still open) the presence is cut to it and the user stays online;
    /// without, the presence is removed and `last_seen_at` set to `now`. Returns the live
    /// presence that ended (`None` when the user stays online or was not).
    async fn depart(
        &self,
        user: UserId,
        remaining: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreResult<Option<Presence>>;
    /// Records that `user` was active at `at`.
    async fn touch(&self, user: UserId, at: Timestamp) -> StoreResult<()>;
    /// The presence (live at `now`) and activity of each of `users` that has either.
    async fn get_presences(
        &self,
        users: &[UserId],
        now: Timestamp,
    ) -> StoreResult<HashMap<UserId, PresenceRecord>>;
}

/// Every store, behind its port.
#[derive(Clone)]
pub struct Stores {
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Refresh-token families.
    pub sessions: Arc<dyn SessionStore>,
    /// Events.
    pub events: Arc<dyn EventStore>,
    /// Comments.
    pub comments: Arc<dyn CommentStore>,
    /// Likes.
    pub likes: Arc<dyn LikeStore>,
    /// Conversations.
    pub conversations: Arc<dyn ConversationStore>,
    /// Messages.
    pub messages: Arc<dyn MessageStore>,
    /// Connections and subscriptions.
    pub connections: Arc<dyn ConnectionStore>,
    /// Rate-limit counters.
    pub rate_limits: Arc<dyn RateLimitStore>,
    /// Room streams and their delivery cursors.
    pub streams: Arc<dyn StreamStore>,
    /// Presence and last activity.
    pub presence: Arc<dyn PresenceStore>,
    /// Media items (uploads and their checks).
    pub media: Arc<dyn MediaStore>,
}

/// Media items: one per declared upload, read by id (`GetItem`), settled once.
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Records a new (pending) item; `Conflict("media_exists")` if its id is taken.
    async fn create_media(&self, item: &MediaItem) -> StoreResult<()>;
    /// The item with id `id`.
    async fn get_media(&self, id: FileId) -> StoreResult<Option<MediaItem>>;
    /// Replaces a pending item with its checked state (`ready` or `rejected`), only while it
    /// is still pending: `Conflict("media_settled")` once it was settled (a redelivered S3
    /// event), `NotFound` when there is no item.
    async fn settle_media(&self, item: &MediaItem) -> StoreResult<()>;
}

/// One delivering job's hold on a room's delivery cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliveryLease(pub uuid::Uuid);

impl DeliveryLease {
    /// A fresh lease id.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }
}

impl Default for DeliveryLease {
    fn default() -> Self {
        Self::new()
    }
}

/// What claiming a room's delivery gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Another job holds a live lease: it will deliver what this job wanted.
    Busy,
    /// This job delivers, from the position after `delivered`; `flush` when counts were
    /// asked for (the request is taken: flush them now).
    Claimed {
        /// Highest position delivered so far.
        delivered: Position,
        /// Whether counts must be flushed first.
        flush: bool,
    },
}

/// What releasing a room's delivery gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Released: nothing more was wanted.
    Released,
    /// Not released: more was wanted meanwhile; the lease is extended and the holder goes on
    /// (flushing counts first when `flush`).
    More {
        /// Whether counts were asked for.
        flush: bool,
    },
    /// The lease had expired and another job took the room.
    Lost,
}

/// Room streams: every change of a room is an entry at a gap-free position, appended by the
/// store that makes the change in the same transaction. This port reads them, turns
/// coalesced counts into entries, and keeps each room's delivery cursor
/// (`docs/data-model.md`, "Room streams").
#[async_trait]
pub trait StreamStore: Send + Sync {
    /// The room's committed head, then up to `limit` entries after `after`, oldest first,
    /// read strongly consistently; entries past [`crate::model::STREAM_RETENTION`] are left
    /// out (they expire oldest first, so what is left is a suffix).
    async fn read_stream(
        &self,
        room: Room,
        after: Position,
        limit: usize,
    ) -> StoreResult<StreamSlice>;
    /// The room's head (strongly consistent): the highest position reserved.
    async fn stream_head(&self, room: Room) -> StoreResult<Position>;
    /// Voids `position`, reserved longer than [`crate::model::RESERVATION_GRACE`] ago without
    /// its entry (its writer crashed or stalls), unless the entry is in by now; true when
    /// this call voided it.
    async fn void_position(&self, room: Room, position: Position) -> StoreResult<bool>;
    /// Appends one `comment_counts` entry per comment of `event` whose likes or replies
    /// changed since its last one; returns the highest position appended.
    async fn flush_counts(&self, event: EventId) -> StoreResult<Option<Position>>;
    /// The room's last recorded viewer count, if it was ever counted.
    async fn occupancy(&self, room: Room) -> StoreResult<Option<ViewerCount>>;
    /// Records `count`: when it differs from the last one recorded, appends an `occupancy`
    /// entry (returning its position); otherwise only notes when it was taken. A count older
    /// than the recorded one changes nothing.
    async fn record_occupancy(
        &self,
        room: Room,
        count: ViewerCount,
    ) -> StoreResult<Option<Position>>;
    /// Records that the room must be delivered up to `upto` (never lowers it) and, with
    /// `counts`, that its counts must be flushed.
    async fn want_delivery(
        &self,
        room: Room,
        upto: Option<Position>,
        counts: bool,
    ) -> StoreResult<()>;
    /// Takes the room's delivery for `lease` until `until`, unless another job holds a live
    /// lease.
    async fn claim_delivery(
        &self,
        room: Room,
        lease: DeliveryLease,
        until: Timestamp,
    ) -> StoreResult<Claim>;
    /// Records `delivered` and releases the room, unless more was wanted meanwhile (then the
    /// lease is extended to `until`); `force` releases all the same (the holder is out of
    /// time and has enqueued a job to go on).
    async fn release_delivery(
        &self,
        room: Room,
        lease: DeliveryLease,
        delivered: Position,
        until: Timestamp,
        force: bool,
    ) -> StoreResult<Release>;
}

/// Preview length of [`LastMessage::content`].
pub const PREVIEW_CHARS: usize = 200;

/// The list preview of a message.
pub fn last_message_of(m: &Message) -> LastMessage {
    LastMessage {
        message_id: m.message_id,
        sender_id: m.sender_id,
        content: m.content.as_str().chars().take(PREVIEW_CHARS).collect(),
        created_at: m.created_at,
        message_type: m.message_type,
        position: m.position,
    }
}
