//! Entries → the typed items a `stream_batch` carries.

use std::collections::HashMap;

use crate::ids::UserId;
use crate::model::{Change, Comment, ModerationAction, ModerationStatus, StreamEntry};
use crate::protocol::{
    EventUpdated, OccupancyPayload, ParticipantsChanged, ServerPayload, StreamItem, broadcast,
};
use crate::store::{StoreResult, UserStore};
use crate::views::{CommentView, UserSummary};

/// The authors whose summaries the entries' comment views need.
fn authors(entries: &[StreamEntry]) -> Vec<UserId> {
    let mut ids: Vec<UserId> = entries
        .iter()
        .filter_map(|e| match &e.change {
            Change::CommentCreated { comment } | Change::CommentModerated { comment, .. } => {
                Some(comment.user_id)
            }
            _ => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// What clients are told of each entry, in position order: none for a change nobody may see
/// (a pending comment, its counts), one item mostly, two for the approval of a pending
/// comment (the action, then the comment) and for a membership change (`participants_changed`,
/// then its `system` message). Reads the authors' summaries in one batch.
///
/// Messages' file links are signed from `objects` for this rendering (left out without it).
pub async fn render(
    users: &dyn UserStore,
    objects: Option<&dyn crate::objects::ObjectStore>,
    entries: &[StreamEntry],
) -> StoreResult<Vec<StreamItem>> {
    let ids = authors(entries);
    let mut summaries: HashMap<UserId, UserSummary> = if ids.is_empty() {
        HashMap::new()
    } else {
        users
            .get_users(&ids)
            .await?
            .iter()
            .map(|u| (u.user_id, UserSummary::from(u)))
            .collect()
    };
    for id in ids {
        summaries
            .entry(id)
            .or_insert_with(|| UserSummary::deleted(id));
    }
    let view = |c: &Comment| {
        let author = summaries
            .get(&c.user_id)
            .cloned()
            .unwrap_or_else(|| UserSummary::deleted(c.user_id));
        CommentView::new(c, author)
    };
    let mut items = Vec::with_capacity(entries.len());
    for e in entries {
        let mut push = |payload: ServerPayload| {
            items.push(StreamItem {
                position: e.position,
                payload,
            });
        };
        match &e.change {
            Change::CommentCreated { comment } => {
                if comment.moderation_status != ModerationStatus::Pending {
                    push(broadcast::comment(&view(comment)).payload);
                }
            }
            Change::CommentDeleted { comment } => {
                if comment.moderation_status != ModerationStatus::Pending {
                    push(broadcast::comment_deleted(comment).payload);
                }
            }
            Change::CommentModerated {
                comment,
                action,
                was_pending,
            } => {
                let moderator = comment.moderated_by.unwrap_or(comment.user_id);
                push(
                    broadcast::moderation(
                        comment,
                        *action,
                        comment.moderation_reason.as_deref(),
                        moderator,
                    )
                    .payload,
                );
                if *was_pending && *action == ModerationAction::Approve {
                    push(broadcast::comment(&view(comment)).payload);
                }
            }
            Change::CommentCounts {
                comment_id,
                event_id,
                comment_position,
                like_count,
                reply_count,
                pending,
            } => {
                if !pending {
                    push(broadcast::counts(
                        *comment_id,
                        *event_id,
                        *comment_position,
                        *like_count,
                        *reply_count,
                    ));
                }
            }
            Change::EventStatus { event_id, from, to } => {
                push(broadcast::event_status(*event_id, *from, *to).payload);
            }
            Change::MessageCreated { message } => {
                // A membership change recorded as a `system` message: first the change
                // (clients update their participant lists), then the line of history.
                if let Some((added, removed)) = message
                    .system
                    .as_ref()
                    .and_then(|e| e.membership(message.sender_id))
                {
                    push(ServerPayload::ParticipantsChanged(ParticipantsChanged {
                        conversation_id: message.conversation_id,
                        added,
                        removed,
                        changed_by: message.sender_id,
                    }));
                }
                push(broadcast::new_message(message).payload);
            }
            Change::MessageUpdated { message } => {
                push(broadcast::message_updated(message).payload);
            }
            Change::ParticipantsChanged {
                conversation_id,
                added,
                removed,
                by,
            } => push(ServerPayload::ParticipantsChanged(ParticipantsChanged {
                conversation_id: *conversation_id,
                added: added.clone(),
                removed: removed.clone(),
                changed_by: *by,
            })),
            Change::Occupancy {
                event_id,
                viewers,
                exact,
            } => {
                push(ServerPayload::Occupancy(OccupancyPayload {
                    event_id: *event_id,
                    viewers: *viewers,
                    exact: *exact,
                }));
            }
            Change::EventUpdated { event } => {
                push(ServerPayload::EventUpdated(EventUpdated::of(event)));
            }
            Change::Void => {}
        }
    }
    if let Some(objects) = objects {
        for item in &mut items {
            if let ServerPayload::NewMessage(m) | ServerPayload::MessageUpdated(m) =
                &mut item.payload
            {
                crate::media::attach::sign_links(objects, &mut m.message).await;
            }
        }
    }
    Ok(items)
}
