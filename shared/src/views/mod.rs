//! What clients see of each resource: one view type per resource, built by the same code for
//! REST responses, WebSocket broadcasts and WebSocket acks, so the two APIs can never
//! disagree about an item. Views hide what the caller may not see (deleted text, emails of
//! others, password hashes).

mod comment;
mod conversation;
mod event;
mod message;
mod session;
mod user;

pub use comment::CommentView;
pub use conversation::{ConversationView, LastMessageView, ParticipantView};
pub use event::{CommentSettingsView, EventCounts, EventView};
pub use message::{DeliveryStatus, EditedMessageView, Markers, MediaAttachmentView, MessageView};
pub use session::{SessionList, SessionView};
pub use user::{PrivateProfile, PublicProfile, SignedIn, UserSummary};
