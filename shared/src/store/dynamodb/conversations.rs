//! `ConversationStore` over DynamoDB (table `conversations`; layout in `docs/data-model.md`).
//!
//! - conversation: `(CONV#<id>, CONV)`;
//! - participant: `(CONV#<id>, MEMBER#<user>)` with gsi1pk=`USER#<user>`,
//!   gsi1sk=`<sort_key(last_activity_at)>#<id>`;
//! - direct pair claim: `(DIRECT#<low>#<high>, CLAIM)` with `conversation_id`.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};
use futures::{StreamExt, TryStreamExt};

use super::append::{AppendActions, Counted, append_to_stream};
use super::item::{Item, av, from_item, key, parse_s, s, to_item};
use super::messages::message_puts;
use super::ops::{
    Gsi, GsiPartition, Retry, batch_get, batch_write, get_entity, get_item, gsi_page, put_request,
    query, query_all, sdk_error,
};
use super::streams::entry_put;
use super::txn::{
    MAX_TRANSACTION_ACTIONS, transact, tx_delete, tx_put, tx_update, tx_update_named,
};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{
    Change, Conversation, ConversationType, LastMessage, Message, Participant, ParticipantRole,
    Receipt, SystemEvent, activity_stale, direct_pair,
};
use crate::room::Position;
use crate::store::{ConversationStore, Created, Cursor, Page, StoreError, StoreResult};
use crate::time::{Timestamp, now, sort_key};

/// Parallel single-item writes per call (participant updates).
const PARALLEL_WRITES: usize = 8;
/// Largest page of a user's conversations.
const MAX_PAGE: usize = 100;

fn conv_pk(id: ConversationId) -> String {
    format!("CONV#{id}")
}

fn conv_key(id: ConversationId) -> Item {
    key(conv_pk(id), "CONV")
}

fn member_key(id: ConversationId, user: UserId) -> Item {
    key(conv_pk(id), format!("MEMBER#{user}"))
}

fn activity_sk(at: Timestamp, id: ConversationId) -> String {
    format!("{}#{id}", sort_key(at))
}

fn participant_to_item(p: &Participant) -> StoreResult<Item> {
    to_item(
        p,
        &[
            ("pk", conv_pk(p.conversation_id)),
            ("sk", format!("MEMBER#{}", p.user_id)),
            ("gsi1pk", format!("USER#{}", p.user_id)),
            ("gsi1sk", activity_sk(p.last_activity_at, p.conversation_id)),
        ],
    )
}

/// `ConversationStore` over the `conversations` table.
#[derive(Clone)]
pub struct DynamoConversationStore {
    client: Client,
    table: String,
    /// The `messages` table, where each conversation's stream lives.
    stream_table: Option<String>,
}

/// Participants per membership transaction: the head, the entry, the `system` message and
/// its pointer, and one row each stay within DynamoDB's 100 items.
const MEMBERS_PER_ENTRY: usize = 90;

impl DynamoConversationStore {
    /// The store over `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self {
            client,
            table,
            stream_table: None,
        }
    }

    /// Appends participant changes to the conversation streams in `messages` (required to
    /// add or remove participants).
    pub fn with_stream(mut self, messages: String) -> Self {
        self.stream_table = Some(messages);
        self
    }

    /// Writes `rows` (one conditional put or delete per user of `users`) with the `system`
    /// message naming them (its item, pointer and stream entry), in one transaction on the
    /// conversation's stream. When a row's condition fails (someone already added or
    /// removed), falls back to one transaction per user, so that the message names exactly
    /// the users changed.
    /// Returns the users changed.
    async fn change_members<F>(
        &self,
        id: ConversationId,
        users: &[UserId],
        by: UserId,
        adding: bool,
        row: F,
    ) -> StoreResult<Vec<UserId>>
    where
        F: Fn(UserId) -> StoreResult<TransactWriteItem>,
    {
        let Some(messages) = &self.stream_table else {
            return Err(StoreError::Backend(
                "conversation store without its stream table".into(),
            ));
        };
        let pk = format!("CONV#{id}");
        let event = |who: &[UserId]| {
            if adding {
                SystemEvent::ParticipantsAdded {
                    user_ids: who.to_vec(),
                }
            } else if who == [by] {
                SystemEvent::ParticipantLeft
            } else {
                SystemEvent::ParticipantsRemoved {
                    user_ids: who.to_vec(),
                }
            }
        };
        let attempt = |who: Vec<UserId>| {
            let pk = pk.clone();
            let event = event(&who);
            let row = &row;
            async move {
                append_to_stream(&self.client, messages, &pk, Counted::No, |p| {
                    let m = Message::system(id, by, event.clone(), p, now());
                    let mut actions = vec![entry_put(
                        messages,
                        &pk,
                        p,
                        m.created_at,
                        Change::MessageCreated { message: m.clone() },
                    )?];
                    actions.extend(message_puts(messages, &m)?);
                    let first_row = actions.len();
                    for u in &who {
                        actions.push(row(*u)?);
                    }
                    Ok(AppendActions {
                        idempotency: (first_row..actions.len()).collect(),
                        actions,
                        parent: None,
                    })
                })
                .await
            }
        };
        let mut changed = Vec::new();
        for chunk in users.chunks(MEMBERS_PER_ENTRY) {
            if attempt(chunk.to_vec()).await?.is_ok() {
                changed.extend_from_slice(chunk);
                continue;
            }
            for u in chunk {
                if attempt(vec![*u]).await?.is_ok() {
                    changed.push(*u);
                }
            }
        }
        Ok(changed)
    }

    /// Applies `change` (one conditional action on the conversations table, which fails
    /// when its item is missing) with the `system` message recording `event` of `by`, in one
    /// transaction on the conversation's stream. `NotFound` when the condition failed.
    async fn recorded(
        &self,
        id: ConversationId,
        by: UserId,
        event: SystemEvent,
        change: TransactWriteItem,
    ) -> StoreResult<()> {
        let Some(messages) = &self.stream_table else {
            return Err(StoreError::Backend(
                "conversation store without its stream table".into(),
            ));
        };
        let pk = conv_pk(id);
        let outcome = append_to_stream(&self.client, messages, &pk, Counted::No, |p| {
            let m = Message::system(id, by, event.clone(), p, now());
            let mut actions = vec![
                entry_put(
                    messages,
                    &pk,
                    p,
                    m.created_at,
                    Change::MessageCreated { message: m.clone() },
                )?,
                change.clone(),
            ];
            actions.extend(message_puts(messages, &m)?);
            Ok(AppendActions {
                idempotency: vec![1],
                actions,
                parent: None,
            })
        })
        .await?;
        outcome.map(|_| ()).map_err(|_| StoreError::NotFound)
    }

    /// The conversations with these ids that exist (`BatchGetItem`, strongly consistent).
    async fn get_many(
        &self,
        ids: &[ConversationId],
    ) -> StoreResult<HashMap<ConversationId, Conversation>> {
        let mut seen = HashSet::new();
        let keys: Vec<Item> = ids
            .iter()
            .filter(|id| seen.insert(**id))
            .map(|id| conv_key(*id))
            .collect();
        batch_get(&self.client, &self.table, keys, true, "batch_get")
            .await?
            .into_iter()
            .map(|item| {
                let c: Conversation = from_item(item)?;
                Ok((c.conversation_id, c))
            })
            .collect()
    }

    /// The conversation a direct pair claim points at.
    async fn existing_direct(&self, claim: Item) -> StoreResult<Conversation> {
        let item = get_item(&self.client, &self.table, claim)
            .await?
            .ok_or_else(|| StoreError::Backend("direct claim vanished".into()))?;
        let id: ConversationId = parse_s(&item, "conversation_id")?;
        self.get_conversation(id)
            .await?
            .ok_or_else(|| StoreError::Backend(format!("claimed conversation {id} is missing")))
    }

    /// Sets the conversation's `last_message` (if `last` is newer by position) and
    /// `updated_at` (if `last` is later): read, then write conditioned on the values read,
    /// retrying when another writer got there in between.
    async fn advance_conversation(
        &self,
        id: ConversationId,
        last: &LastMessage,
    ) -> StoreResult<()> {
        let retry = Retry::CONTENDED;
        for attempt in 0..retry.attempts {
            if attempt > 0 {
                retry.backoff(attempt).await;
            }
            let Some(item) = get_item(&self.client, &self.table, conv_key(id)).await? else {
                return Err(StoreError::NotFound);
            };
            let raw_updated = item.get("updated_at").cloned();
            let raw_last_id = match item.get("last_message") {
                Some(AttributeValue::M(m)) => m.get("message_id").cloned(),
                _ => None,
            };
            let c: Conversation = from_item(item)?;
            let newer = c
                .last_message
                .as_ref()
                .is_none_or(|m| m.position < last.position);
            let later = last.created_at > c.updated_at;
            if !newer && !later {
                return Ok(());
            }
            let mut sets = Vec::new();
            let mut req = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(conv_key(id)));
            if newer {
                sets.push("last_message = :lm");
                req = req.expression_attribute_values(":lm", av(last)?);
            }
            if later {
                sets.push("updated_at = :t");
                req = req.expression_attribute_values(":t", av(&last.created_at)?);
            }
            let mut conditions = vec!["attribute_exists(pk)"];
            if let Some(v) = raw_updated {
                conditions.push("updated_at = :old_t");
                req = req.expression_attribute_values(":old_t", v);
            }
            match raw_last_id {
                Some(v) => {
                    conditions.push("last_message.message_id = :old_m");
                    req = req.expression_attribute_values(":old_m", v);
                }
                None => conditions.push("attribute_not_exists(last_message)"),
            }
            let result = req
                .update_expression(format!("SET {}", sets.join(", ")))
                .condition_expression(conditions.join(" AND "))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(e) => match sdk_error(e, "activity") {
                    StoreError::Conflict(_) => continue,
                    other => return Err(other),
                },
            }
        }
        Err(StoreError::Throttled)
    }

    /// Moves one participant row's `last_activity_at` (and `gsi1sk`) forward to `at`; a row
    /// that is already later, or gone, is left alone.
    async fn advance_participant(&self, p: Participant, at: Timestamp) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(member_key(p.conversation_id, p.user_id)))
            .update_expression("SET last_activity_at = :t, gsi1sk = :sk")
            .condition_expression("attribute_exists(pk) AND gsi1sk < :sk")
            .expression_attribute_values(":t", av(&at)?)
            .expression_attribute_values(":sk", s(activity_sk(at, p.conversation_id)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match sdk_error(e, "activity") {
                StoreError::Conflict(_) => Ok(()),
                other => Err(other),
            },
        }
    }
}

#[async_trait]
impl ConversationStore for DynamoConversationStore {
    /// One `TransactWriteItems` holds the conversation (`attribute_not_exists`), for a direct
    /// conversation the pair claim (`attribute_not_exists`), and the participants. A
    /// transaction holds at most 100 actions, so participants that do not fit (groups of more
    /// than 98 or 99) are written afterwards with `BatchWriteItem`: that part is not atomic with
    /// the rest, and a crash in between leaves a conversation with only its first
    /// participants (the creator among them when listed first), which participant management
    /// can complete.
    async fn create_conversation(
        &self,
        conversation: &Conversation,
        participants: &[Participant],
    ) -> StoreResult<Created> {
        let id = conversation.conversation_id;
        let mut seen = HashSet::new();
        let participants: Vec<&Participant> = participants
            .iter()
            .filter(|p| seen.insert(p.user_id))
            .collect();
        let mut actions = Vec::new();
        let mut claim = None;
        if conversation.conversation_type == ConversationType::Direct {
            let [a, b] = participants.as_slice() else {
                return Err(StoreError::Conflict("direct_needs_two"));
            };
            let (low, high) = direct_pair(a.user_id, b.user_id);
            let claim_key = key(format!("DIRECT#{low}#{high}"), "CLAIM");
            let mut item = claim_key.clone();
            item.insert("conversation_id".to_owned(), s(id.to_string()));
            actions.push(tx_put(&self.table, item, Some("attribute_not_exists(pk)"))?);
            claim = Some(claim_key);
        }
        let conv_index = actions.len();
        actions.push(tx_put(
            &self.table,
            to_item(
                conversation,
                &[("pk", conv_pk(id)), ("sk", "CONV".to_owned())],
            )?,
            Some("attribute_not_exists(pk)"),
        )?);
        let mut rest = Vec::new();
        for p in participants {
            let item = participant_to_item(p)?;
            if actions.len() < MAX_TRANSACTION_ACTIONS {
                actions.push(tx_put(&self.table, item, None)?);
            } else {
                rest.push(item);
            }
        }
        // A concurrent transaction on the same items (say, the same pair created twice at
        // once) is retried; the loser then sees the winner's claim.
        if let Err(cancelled) = transact(&self.client, actions, "create_conversation").await? {
            if let Some(claim) = claim.filter(|_| cancelled.condition_failed(0)) {
                return Ok(Created::Existing(self.existing_direct(claim).await?));
            }
            if cancelled.condition_failed(conv_index) {
                return Err(StoreError::Conflict("exists"));
            }
            return Err(StoreError::Backend(format!(
                "create conversation: transaction cancelled: {cancelled}"
            )));
        }
        let rest = rest
            .into_iter()
            .map(put_request)
            .collect::<StoreResult<_>>()?;
        batch_write(&self.client, &self.table, rest, "batch_write").await?;
        Ok(Created::New(conversation.clone()))
    }

    async fn get_conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        get_entity(&self.client, &self.table, conv_key(id)).await
    }

    async fn get_participant(
        &self,
        id: ConversationId,
        user: UserId,
    ) -> StoreResult<Option<Participant>> {
        get_entity(&self.client, &self.table, member_key(id, user)).await
    }

    async fn list_participants(&self, id: ConversationId) -> StoreResult<Vec<Participant>> {
        let query = query(
            &self.client,
            &self.table,
            None,
            "pk = :pk AND begins_with(sk, :member)",
            vec![(":pk", s(conv_pk(id))), (":member", s("MEMBER#"))],
        )
        .scan_index_forward(true)
        .consistent_read(true);
        query_all(query, "list participants", |item| from_item(item).map(Some)).await
    }

    /// Each participant is one conditional put (`attribute_not_exists(pk)`), so present ones
    /// stay as they are, written with their `participants_changed` entry
    /// (`change_members`); `NotFound` when a participant's
    /// conversation does not exist.
    async fn add_participants(
        &self,
        participants: &[Participant],
        by: UserId,
    ) -> StoreResult<Vec<Participant>> {
        let mut by_conversation: HashMap<ConversationId, Vec<&Participant>> = HashMap::new();
        let mut seen = HashSet::new();
        for p in participants {
            if seen.insert((p.conversation_id, p.user_id)) {
                by_conversation
                    .entry(p.conversation_id)
                    .or_default()
                    .push(p);
            }
        }
        let mut added = Vec::new();
        for (id, ps) in by_conversation {
            if get_item(&self.client, &self.table, conv_key(id))
                .await?
                .is_none()
            {
                return Err(StoreError::NotFound);
            }
            let rows: HashMap<UserId, Item> = ps
                .iter()
                .map(|p| Ok((p.user_id, participant_to_item(p)?)))
                .collect::<StoreResult<_>>()?;
            let users: Vec<UserId> = ps.iter().map(|p| p.user_id).collect();
            let table = self.table.as_str();
            let changed = self
                .change_members(id, &users, by, true, |u| {
                    let item = rows.get(&u).cloned().unwrap_or_default();
                    tx_put(table, item, Some("attribute_not_exists(pk)"))
                })
                .await?;
            let changed: HashSet<UserId> = changed.into_iter().collect();
            added.extend(
                ps.into_iter()
                    .filter(|p| changed.contains(&p.user_id))
                    .cloned(),
            );
        }
        Ok(added)
    }

    async fn remove_participants(
        &self,
        id: ConversationId,
        users: &[UserId],
        by: UserId,
    ) -> StoreResult<Vec<UserId>> {
        let mut seen = HashSet::new();
        let unique: Vec<UserId> = users.iter().copied().filter(|u| seen.insert(*u)).collect();
        let table = self.table.as_str();
        self.change_members(id, &unique, by, false, |u| {
            tx_delete(table, member_key(id, u), Some("attribute_exists(pk)"))
        })
        .await
    }

    /// One `UpdateItem` of the title and description (never the latest message, which
    /// messages move concurrently) beside the `system` message, after a read of what changed.
    async fn update_conversation(
        &self,
        id: ConversationId,
        title: Option<String>,
        description: Option<String>,
        by: UserId,
    ) -> StoreResult<Conversation> {
        let before: Conversation = get_item(&self.client, &self.table, conv_key(id))
            .await?
            .map(from_item)
            .transpose()?
            .ok_or(StoreError::NotFound)?;
        let event = SystemEvent::updated(&before, &title, &description);
        let change = tx_update(
            &self.table,
            conv_key(id),
            "SET title = :t, description = :d",
            Some("attribute_exists(pk)"),
            vec![(":t", av(&title)?), (":d", av(&description)?)],
        )?;
        self.recorded(id, by, event, change).await?;
        Ok(Conversation {
            title,
            description,
            ..before
        })
    }

    async fn promote(
        &self,
        id: ConversationId,
        user: UserId,
        by: UserId,
    ) -> StoreResult<Participant> {
        let change = tx_update_named(
            &self.table,
            member_key(id, user),
            "SET #role = :owner",
            Some("attribute_exists(pk)"),
            &[("#role", "role")],
            vec![(":owner", av(&ParticipantRole::Owner)?)],
        )?;
        self.recorded(id, by, SystemEvent::OwnerChanged { user_id: user }, change)
            .await?;
        get_item(&self.client, &self.table, member_key(id, user))
            .await?
            .map(from_item)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    async fn list_user_conversations(
        &self,
        user: UserId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<(Conversation, Participant)>> {
        let limit = limit.clamp(1, MAX_PAGE);
        let partition = GsiPartition {
            gsi: Gsi::Gsi1,
            pk: &format!("USER#{user}"),
            forward: false,
        };
        let Page {
            items: participants,
            next,
        } = gsi_page(
            &self.client,
            &self.table,
            partition,
            limit,
            cursor,
            "list user conversations",
            |item| from_item::<Participant>(item).map(Some),
        )
        .await?;
        let ids: Vec<ConversationId> = participants.iter().map(|p| p.conversation_id).collect();
        let conversations = self.get_many(&ids).await?;
        let items = participants
            .into_iter()
            .filter_map(|p| {
                conversations
                    .get(&p.conversation_id)
                    .map(|c| (c.clone(), p))
            })
            .collect();
        Ok(Page { items, next })
    }

    /// The conversation's `last_message` moves only to a higher position and `updated_at`
    /// only to a later time (an optimistic read-then-conditional-write); each participant row's
    /// `last_activity_at`/`gsi1sk` moves only forward (`gsi1sk < :new`, one conditional
    /// update per row), and only for rows at least [`crate::model::ACTIVITY_STEP`] behind.
    async fn record_activity(&self, id: ConversationId, last: &LastMessage) -> StoreResult<()> {
        self.advance_conversation(id, last).await?;
        let at = last.created_at;
        let stale: Vec<Participant> = self
            .list_participants(id)
            .await?
            .into_iter()
            .filter(|p| activity_stale(p.last_activity_at, at))
            .collect();
        futures::stream::iter(stale)
            .map(|p| self.advance_participant(p, at))
            .buffer_unordered(PARALLEL_WRITES)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn mark(
        &self,
        id: ConversationId,
        user: UserId,
        receipt: Receipt,
        position: Position,
        message: MessageId,
    ) -> StoreResult<Participant> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(member_key(id, user)))
            .expression_attribute_values(":p", av(&position)?)
            .return_values(ReturnValue::AllNew);
        req = match receipt {
            Receipt::Read => req
                .update_expression("SET last_read_position = :p, last_read_message_id = :m")
                .condition_expression("attribute_exists(pk) AND last_read_position < :p")
                .expression_attribute_values(":m", s(message.to_string())),
            Receipt::Delivered => req
                .update_expression("SET last_delivered_position = :p")
                .condition_expression("attribute_exists(pk) AND last_delivered_position < :p"),
        };
        match req.send().await {
            Ok(out) => from_item(out.attributes.unwrap_or_default()),
            Err(e) => match sdk_error(e, "mark") {
                StoreError::Conflict(_) => {
                    match get_item(&self.client, &self.table, member_key(id, user)).await? {
                        Some(item) => from_item(item),
                        None => Err(StoreError::NotFound),
                    }
                }
                other => Err(other),
            },
        }
    }
}
