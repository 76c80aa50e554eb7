//! Banter's operations, shared by the WebSocket and REST handlers: each validates, checks
//! permissions and limits, changes the stores, and enqueues the fan-out of what changed.

pub mod bans;
pub mod comments;
pub mod conversations;
pub mod events;
pub mod login_throttle;
pub mod messages;
pub mod moderation_log;
pub mod presence;
pub mod rooms;
pub mod sessions;
pub mod sign_in;
pub mod users;
