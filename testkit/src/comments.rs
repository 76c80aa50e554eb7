//! Comments, stored approved.

use banter::app::App;
use banter::ids::{CommentId, EventId, UserId};
use banter::model::{Content, ModerationStatus, NewComment};
use banter::time::now;

/// Stores an approved top-level comment `id` of `user` on `event` saying `text`.
pub async fn store_comment(app: &App, id: CommentId, event: EventId, user: UserId, text: &str) {
    app.stores
        .comments
        .append_comment(NewComment {
            comment_id: id,
            event_id: event,
            user_id: user,
            content: Content::parse("content", text).expect("valid comment text"),
            parent_comment_id: None,
            client_key: None,
            claim_window: banter::model::CLAIM_WINDOW,
            moderation_status: ModerationStatus::Approved,
            client_metadata: None,
            created_at: now(),
        })
        .await
        .expect("store the comment");
}
