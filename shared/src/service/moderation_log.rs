//! The moderation log of an event: every action of its moderators (comments approved,
//! blocked, flagged or deleted, users banned, muted or let back, moderators appointed or
//! dismissed, settings changed), listable by its moderators.

use crate::app::App;
use crate::error::AppError;
use crate::ids::{EventId, UserId};
use crate::model::ModerationRecord;
use crate::store::{Cursor, Page};

/// Records an action that took place. Written after the action: a failure is logged (the
/// action stands, and refusing it now would invite a retry of something done).
pub async fn record(app: &App, record: ModerationRecord) {
    if let Err(e) = app.stores.events.record_moderation(&record).await {
        tracing::error!(
            event_id = %record.event_id,
            action = ?record.action,
            error = %e,
            "could not record a moderation action"
        );
    }
}

/// The event's log, newest first, for one of its moderators (403 for anyone else).
pub async fn list(
    app: &App,
    user: UserId,
    id: EventId,
    limit: usize,
    cursor: Option<&Cursor>,
) -> Result<Page<ModerationRecord>, AppError> {
    let event = super::events::get(app, id).await?;
    if !super::comments::moderates(app, user, &event) {
        return Err(AppError::forbidden(
            "only the event's moderators may read its moderation log",
        ));
    }
    Ok(app.stores.events.moderation_log(id, limit, cursor).await?)
}
