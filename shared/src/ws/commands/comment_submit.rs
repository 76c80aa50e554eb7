//! `comment_submit`: posts a comment to a live event; the frame's `message_id` is the
//! idempotency key.

use crate::error::AppError;
use crate::protocol::{Ack, ItemAck};
use crate::service::comments::{self, CommentInput};

use super::Caller;

/// Submits the comment and acks with its view (the REST one) and `created`.
pub(super) async fn run(c: &Caller<'_>, input: CommentInput) -> Result<Ack, AppError> {
    let submitted = comments::submit(c.app, c.user()?, input).await?;
    Ok(Ack::Comment(ItemAck {
        view: submitted.view,
        created: submitted.created,
    }))
}
