//! Conversations: create (a direct conversation exists once per pair of users), list a user's
//! conversations by last activity, and add or remove the participants of a group.
//!
//! Only participants see a conversation: everyone else gets 404, the same answer as for a
//! conversation that does not exist (see [`super::messages::participant`]).

use std::collections::{HashMap, HashSet};

use futures::future::try_join_all;

use crate::app::App;
use crate::error::AppError;
use crate::ids::{ConversationId, UserId};
use crate::model::{
    Conversation, ConversationType, GroupInvitations, MAX_PARTICIPANTS, Participant,
    ParticipantRole,
};
use crate::room::Room;
use crate::store::{Created, Cursor, Page};
use crate::time::now;
use crate::validate::{FieldError, ValidationErrors, optional_text, text};
use crate::views::{ConversationView, LastMessageView, ParticipantView};

/// Longest group title.
pub const MAX_TITLE_CHARS: usize = 100;

/// Longest group description.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// What a client asks to create.
#[derive(Debug, Clone)]
pub struct ConversationInput {
    /// Direct or group.
    pub conversation_type: ConversationType,
    /// Group title (required for groups; must be empty for direct conversations).
    pub title: Option<String>,
    /// Group description (groups only).
    pub description: Option<String>,
    /// The other participants; the creator is added automatically (and ignored if listed).
    pub participant_ids: Vec<UserId>,
}

/// A conversation and whether this call created it.
#[derive(Debug, Clone)]
pub struct CreatedConversation {
    /// The conversation as its creator sees it.
    pub view: ConversationView,
    /// `false` when a direct conversation between the same two users already existed.
    pub created: bool,
}

/// Deduplicates `ids` (keeping the first occurrence), drops `except`, and fails naming each
/// id (as `field[i]`) that is not a known user. Returns each kept id with its position in
/// `ids` and the user's group-invitation choice.
async fn known_users(
    app: &App,
    field: &str,
    ids: &[UserId],
    except: Option<UserId>,
) -> Result<Vec<Invitee>, AppError> {
    let mut seen = HashSet::new();
    let wanted: Vec<(usize, UserId)> = ids
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, id)| Some(*id) != except && seen.insert(*id))
        .collect();
    let just_ids: Vec<UserId> = wanted.iter().map(|(_, id)| *id).collect();
    let found: HashMap<UserId, GroupInvitations> = app
        .stores
        .users
        .get_users(&just_ids)
        .await?
        .iter()
        .map(|u| (u.user_id, u.privacy_settings.group_invitations))
        .collect();
    let unknown: Vec<FieldError> = wanted
        .iter()
        .filter(|(_, id)| !found.contains_key(id))
        .map(|(i, id)| FieldError::new(format!("{field}[{i}]"), format!("no such user {id}")))
        .collect();
    if !unknown.is_empty() {
        return Err(ValidationErrors(unknown).into());
    }
    Ok(wanted
        .into_iter()
        .filter_map(|(index, user_id)| {
            found.get(&user_id).map(|&invitations| Invitee {
                index,
                user_id,
                invitations,
            })
        })
        .collect())
}

/// A user named to join a conversation.
#[derive(Debug, Clone, Copy)]
struct Invitee {
    /// Where the request named them (for `field[index]` in errors).
    index: usize,
    user_id: UserId,
    /// Whether they let others add them to groups.
    invitations: GroupInvitations,
}

/// Fails with 403 naming (as `field[i]`) each invitee whose privacy settings say nobody may
/// add them to a group: joining a group is their choice.
fn check_consent<'a>(
    field: &str,
    invitees: impl IntoIterator<Item = &'a Invitee>,
) -> Result<(), AppError> {
    let refused: Vec<FieldError> = invitees
        .into_iter()
        .filter(|i| i.invitations == GroupInvitations::Nobody)
        .map(|i| {
            FieldError::new(
                format!("{field}[{}]", i.index),
                format!("{} does not accept group invitations", i.user_id),
            )
        })
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(AppError {
        details: refused,
        ..AppError::forbidden("some of these users do not let others add them to groups")
    })
}

/// Fails unless `ids` holds 1..=[`MAX_PARTICIPANTS`] entries.
fn check_count(field: &str, ids: &[UserId]) -> Result<(), AppError> {
    if ids.is_empty() {
        return Err(AppError::field(field, "must name at least one user"));
    }
    if ids.len() > MAX_PARTICIPANTS {
        return Err(AppError::field(
            field,
            format!("must name at most {MAX_PARTICIPANTS} users"),
        ));
    }
    Ok(())
}

/// Creates a conversation of `user` with the given participants. A direct conversation needs
/// exactly one other user and is never created twice for the same pair: asking again returns
/// the existing one with `created: false`. A group needs a title and holds at most
/// [`MAX_PARTICIPANTS`] users, its creator (its owner) included. Unknown participant ids fail
/// with 400 naming each.
pub async fn create(
    app: &App,
    user: UserId,
    input: ConversationInput,
) -> Result<CreatedConversation, AppError> {
    check_count("participant_ids", &input.participant_ids)?;
    let (title, description) = match input.conversation_type {
        ConversationType::Direct => {
            let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
            let mut errs = ValidationErrors::new();
            if given(&input.title) {
                errs.add("title", "must be empty for a direct conversation");
            }
            if given(&input.description) {
                errs.add("description", "must be empty for a direct conversation");
            }
            errs.finish()?;
            (None, None)
        }
        ConversationType::Group => {
            let mut errs = ValidationErrors::new();
            let title = errs.check(text(
                "title",
                input.title.as_deref().unwrap_or_default(),
                1,
                MAX_TITLE_CHARS,
            ));
            let description = errs.check(optional_text(
                "description",
                input.description.as_deref(),
                MAX_DESCRIPTION_CHARS,
            ));
            errs.finish()?;
            (title, description.flatten())
        }
    };
    let invitees = known_users(app, "participant_ids", &input.participant_ids, Some(user)).await?;
    let others: Vec<UserId> = invitees.iter().map(|i| i.user_id).collect();
    match input.conversation_type {
        ConversationType::Direct if others.len() != 1 => {
            return Err(AppError::field(
                "participant_ids",
                "a direct conversation needs exactly one other user",
            ));
        }
        ConversationType::Group if others.is_empty() => {
            return Err(AppError::field(
                "participant_ids",
                "must name at least one other user",
            ));
        }
        ConversationType::Group if others.len() + 1 > MAX_PARTICIPANTS => {
            return Err(AppError::field(
                "participant_ids",
                format!(
                    "a group holds at most {MAX_PARTICIPANTS} participants, its creator included"
                ),
            ));
        }
        ConversationType::Group => check_consent("participant_ids", &invitees)?,
        ConversationType::Direct => {}
    }
    let t = now();
    let conversation = Conversation {
        conversation_id: ConversationId::new(),
        conversation_type: input.conversation_type,
        title,
        description,
        created_by: user,
        created_at: t,
        updated_at: t,
        last_message: None,
    };
    let id = conversation.conversation_id;
    let participants: Vec<Participant> = std::iter::once((user, ParticipantRole::Owner))
        .chain(others.iter().map(|u| (*u, ParticipantRole::Member)))
        .map(|(u, role)| Participant::joining(id, u, role, t))
        .collect();
    let (conversation, created) = match app
        .stores
        .conversations
        .create_conversation(&conversation, &participants)
        .await?
    {
        Created::New(c) => (c, true),
        Created::Existing(c) => (c, false),
    };
    let me = super::messages::participant(app, conversation.conversation_id, user).await?;
    let view = views(app, vec![(conversation, me)])
        .await?
        .pop()
        .ok_or_else(|| AppError::internal("conversation view missing"))?;
    Ok(CreatedConversation { view, created })
}

/// `user`'s conversations, most recently active first, with their participants, latest
/// message and unread count.
pub async fn list(
    app: &App,
    user: UserId,
    limit: usize,
    cursor: Option<&Cursor>,
) -> Result<Page<ConversationView>, AppError> {
    let page = app
        .stores
        .conversations
        .list_user_conversations(user, limit, cursor)
        .await?;
    let mut items = page.items;
    // Participant rows lag by up to ACTIVITY_STEP; the conversations themselves do not.
    items.sort_by_key(|(c, p)| {
        std::cmp::Reverse(
            c.last_message
                .as_ref()
                .map_or(p.last_activity_at, |m| m.created_at.max(p.last_activity_at)),
        )
    });
    Ok(Page {
        items: views(app, items).await?,
        next: page.next,
    })
}

/// Views of conversations, each seen by the participant it is paired with. Reads the
/// participants and latest message of every conversation concurrently, then every user
/// summary in one batch.
pub async fn views(
    app: &App,
    rows: Vec<(Conversation, Participant)>,
) -> Result<Vec<ConversationView>, AppError> {
    let participants = try_join_all(rows.iter().map(|(c, _)| {
        app.stores
            .conversations
            .list_participants(c.conversation_id)
    }))
    .await?;
    let latest = try_join_all(rows.iter().map(|(c, _)| async move {
        match &c.last_message {
            Some(last) => app.stores.messages.get_message(last.message_id).await,
            None => Ok(None),
        }
    }))
    .await?;
    let mut ids: Vec<UserId> = participants.iter().flatten().map(|p| p.user_id).collect();
    ids.sort();
    ids.dedup();
    let users = super::presence::people(app, &ids).await?;
    Ok(rows
        .into_iter()
        .zip(participants)
        .zip(latest)
        .map(|(((c, me), members), latest)| {
            let last_message = match (latest, &c.last_message) {
                (Some(m), _) => Some(LastMessageView::from(&m)),
                (None, Some(l)) => Some(LastMessageView {
                    message_id: l.message_id,
                    sender_id: l.sender_id,
                    content: l.content.clone(),
                    message_type: l.message_type,
                    position: l.position,
                    created_at: l.created_at,
                    is_deleted: false,
                }),
                (None, None) => None,
            };
            let unread_count = last_message
                .as_ref()
                .map_or(0, |l| l.position.0.saturating_sub(me.last_read_position.0));
            ConversationView {
                conversation_id: c.conversation_id,
                conversation_type: c.conversation_type,
                title: c.title,
                description: c.description,
                created_by: c.created_by,
                created_at: c.created_at,
                updated_at: c.updated_at,
                participants: members
                    .iter()
                    .filter_map(|p| {
                        users
                            .get(&p.user_id)
                            .map(|(u, presence)| ParticipantView::new(p, u, *presence))
                    })
                    .collect(),
                last_message,
                unread_count,
                last_read_message_id: me.last_read_message_id,
            }
        })
        .collect())
}

/// The group `user` takes part in, with their participation; 404 for non-participants, 409
/// for a direct conversation (its participants never change).
async fn group(
    app: &App,
    user: UserId,
    id: ConversationId,
) -> Result<(Conversation, Participant), AppError> {
    let me = super::messages::participant(app, id, user).await?;
    let conversation = app
        .stores
        .conversations
        .get_conversation(id)
        .await?
        .ok_or_else(|| AppError::not_found("conversation"))?;
    if conversation.conversation_type != ConversationType::Group {
        return Err(AppError::conflict(
            "the participants of a direct conversation cannot change",
        ));
    }
    Ok((conversation, me))
}

/// Adds users to a group (its owner only). Users already in it are left as they are; returns
/// the added ones. Fails with 400 naming unknown users, or when the group would exceed
/// [`MAX_PARTICIPANTS`].
pub async fn add_participants(
    app: &App,
    user: UserId,
    id: ConversationId,
    user_ids: &[UserId],
) -> Result<Vec<ParticipantView>, AppError> {
    check_count("user_ids", user_ids)?;
    let (_, me) = group(app, user, id).await?;
    if me.role != ParticipantRole::Owner {
        return Err(AppError::forbidden(
            "only the owner of a group may add participants",
        ));
    }
    let wanted = known_users(app, "user_ids", user_ids, None).await?;
    let current: HashSet<UserId> = app
        .stores
        .conversations
        .list_participants(id)
        .await?
        .iter()
        .map(|p| p.user_id)
        .collect();
    let newcomers: Vec<&Invitee> = wanted
        .iter()
        .filter(|i| !current.contains(&i.user_id))
        .collect();
    check_consent("user_ids", newcomers.iter().copied())?;
    let t = now();
    let joining: Vec<Participant> = newcomers
        .iter()
        .map(|i| Participant::joining(id, i.user_id, ParticipantRole::Member, t))
        .collect();
    if current.len() + joining.len() > MAX_PARTICIPANTS {
        return Err(AppError::field(
            "user_ids",
            format!("a group holds at most {MAX_PARTICIPANTS} participants"),
        ));
    }
    if joining.is_empty() {
        return Ok(Vec::new());
    }
    let added = app
        .stores
        .conversations
        .add_participants(&joining, user)
        .await?;
    if !added.is_empty() {
        app.publish(Room::Conversation(id), false).await;
    }
    let ids: Vec<UserId> = added.iter().map(|p| p.user_id).collect();
    let users = super::presence::people(app, &ids).await?;
    Ok(added
        .iter()
        .filter_map(|p| {
            users
                .get(&p.user_id)
                .map(|(u, presence)| ParticipantView::new(p, u, *presence))
        })
        .collect())
}

/// Removes users from a group: its owner removes anyone else; any other participant may
/// remove only themself (leave). The owner cannot remove themself (409): they leave with [`leave`], which hands the group over. Returns the ids that were
/// participants. Removed users' WebSocket connections are unsubscribed from the room, so they
/// stop receiving its messages at once.
pub async fn remove_participants(
    app: &App,
    user: UserId,
    id: ConversationId,
    user_ids: &[UserId],
) -> Result<Vec<UserId>, AppError> {
    check_count("user_ids", user_ids)?;
    let (_, me) = group(app, user, id).await?;
    let mut seen = HashSet::new();
    let wanted: Vec<UserId> = user_ids
        .iter()
        .copied()
        .filter(|u| seen.insert(*u))
        .collect();
    let is_owner = me.role == ParticipantRole::Owner;
    if is_owner && wanted.contains(&user) {
        return Err(AppError::conflict(
            "the owner of a group leaves it with POST /v1/conversations/{conversation_id}/leave, \
             which hands it over first",
        ));
    }
    if !is_owner && wanted != [user] {
        return Err(AppError::forbidden(
            "only the owner of a group may remove other participants",
        ));
    }
    remove(app, id, &wanted, user).await
}

/// Removes `users` from the group (`by` made the change, recorded as its `system` message),
/// unsubscribes their connections from the room and delivers the change; returns who was
/// there.
async fn remove(
    app: &App,
    id: ConversationId,
    users: &[UserId],
    by: UserId,
) -> Result<Vec<UserId>, AppError> {
    let removed = app
        .stores
        .conversations
        .remove_participants(id, users, by)
        .await?;
    try_join_all(removed.iter().map(|u| async move {
        for connection in app.stores.connections.list_user_connections(*u).await? {
            app.stores
                .connections
                .unsubscribe(&connection.connection_id, Room::Conversation(id))
                .await?;
        }
        Ok::<(), AppError>(())
    }))
    .await?;
    if !removed.is_empty() {
        app.publish(Room::Conversation(id), false).await;
    }
    Ok(removed)
}

/// The conversation `user` takes part in, as they see it: participants with their markers
/// and presence, the latest message, the caller's unread count. 404 for everyone else.
pub async fn get(
    app: &App,
    user: UserId,
    id: ConversationId,
) -> Result<ConversationView, AppError> {
    let me = super::messages::participant(app, id, user).await?;
    let conversation = app
        .stores
        .conversations
        .get_conversation(id)
        .await?
        .ok_or_else(|| AppError::not_found("conversation"))?;
    views(app, vec![(conversation, me)])
        .await?
        .pop()
        .ok_or_else(|| AppError::internal("conversation view missing"))
}

/// A change of a group's title or description: `Some(None)` clears the description (a
/// title cannot be cleared).
#[derive(Debug, Clone, Default)]
pub struct ConversationPatch {
    /// New title.
    pub title: Option<String>,
    /// New description, or `Some(None)` to remove it.
    pub description: Option<Option<String>>,
}

/// Changes a group's title or description (its owner only: 403 for other participants, 409
/// for a direct conversation), recorded in its history as a `system` message and broadcast
/// live. A change to what is already there writes nothing. Returns the conversation as the
/// owner sees it.
pub async fn update(
    app: &App,
    user: UserId,
    id: ConversationId,
    patch: ConversationPatch,
) -> Result<ConversationView, AppError> {
    let mut errs = ValidationErrors::new();
    let title = patch
        .title
        .as_deref()
        .and_then(|t| errs.check(text("title", t, 1, MAX_TITLE_CHARS)));
    let description = patch.description.as_ref().and_then(|d| {
        errs.check(optional_text(
            "description",
            d.as_deref(),
            MAX_DESCRIPTION_CHARS,
        ))
    });
    errs.finish()?;
    if patch.title.is_none() && patch.description.is_none() {
        return Err(AppError::field(
            "body",
            "name at least one of title and description",
        ));
    }
    let (conversation, me) = group(app, user, id).await?;
    if me.role != ParticipantRole::Owner {
        return Err(AppError::forbidden(
            "only the owner of a group may change its title or description",
        ));
    }
    let next_title = title.or_else(|| conversation.title.clone());
    let next_description = description.unwrap_or_else(|| conversation.description.clone());
    if next_title != conversation.title || next_description != conversation.description {
        app.stores
            .conversations
            .update_conversation(id, next_title, next_description, user)
            .await?;
        app.publish(Room::Conversation(id), false).await;
    }
    get(app, user, id).await
}

/// `user` leaves the group. The owner hands it over first to the participant who joined
/// earliest (both recorded in its history); the last participant leaves it empty. A direct
/// conversation cannot be left (409): its participants never change.
pub async fn leave(app: &App, user: UserId, id: ConversationId) -> Result<(), AppError> {
    let (_, me) = group(app, user, id).await?;
    if me.role == ParticipantRole::Owner {
        let heir = app
            .stores
            .conversations
            .list_participants(id)
            .await?
            .into_iter()
            .filter(|p| p.user_id != user)
            .min_by_key(|p| (p.role != ParticipantRole::Owner, p.joined_at, p.user_id));
        if let Some(heir) = heir.filter(|h| h.role != ParticipantRole::Owner) {
            app.stores
                .conversations
                .promote(id, heir.user_id, user)
                .await?;
        }
    }
    remove(app, id, &[user], user).await?;
    Ok(())
}
