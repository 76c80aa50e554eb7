//! `ConversationStore` over DynamoDB (table `conversations`; layout in `docs/data-model.md`).
//!
//! - conversation: `(CONV#<id>, CONV)`;
//! - participant: `(CONV#<id>, MEMBER#<user>)` with gsi1pk=`USER#<user>`,
//!   gsi1sk=`<sort_key(last_activity_at)>#<id>`;
//! - direct pair claim: `(DIRECT#<low>#<high>, CLAIM)` with `conversation_id`.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, PutRequest, ReturnValue, WriteRequest,
};
use futures::{StreamExt, TryStreamExt};

use super::comments::{
    MAX_ATTEMPTS, QuerySpec, av, backoff, build_error, get_item, is_retryable_reason, key_of,
    parse_s, query_up_to, tx_put,
};
use super::{
    Item, cancellation_reasons, decode_cursor, encode_cursor, from_item, key, s, sdk_error, to_item,
};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{
    Conversation, ConversationType, LastMessage, Participant, Receipt, direct_pair,
};
use crate::room::Position;
use crate::store::{ConversationStore, Created, Cursor, Page, StoreError, StoreResult};
use crate::time::{Timestamp, sort_key};

/// Most actions one `TransactWriteItems` may hold.
const MAX_TRANSACTION_ACTIONS: usize = 100;
/// Most puts one `BatchWriteItem` may hold.
const MAX_BATCH_WRITE: usize = 25;
/// Most keys one `BatchGetItem` may hold.
const MAX_BATCH_GET: usize = 100;
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
}

impl DynamoConversationStore {
    /// The store over `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// Writes items with `BatchWriteItem`, 25 at a time, retrying unprocessed items.
    async fn batch_put(&self, items: Vec<Item>) -> StoreResult<()> {
        for chunk in items.chunks(MAX_BATCH_WRITE) {
            let mut requests = chunk
                .iter()
                .map(|item| {
                    PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map(|put| WriteRequest::builder().put_request(put).build())
                        .map_err(build_error)
                })
                .collect::<StoreResult<Vec<_>>>()?;
            let mut attempt = 0;
            while !requests.is_empty() {
                if attempt >= MAX_ATTEMPTS {
                    return Err(StoreError::Throttled);
                }
                if attempt > 0 {
                    backoff(attempt).await;
                }
                attempt += 1;
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(self.table.clone(), requests)
                    .send()
                    .await
                    .map_err(|e| sdk_error(e, "batch_write"))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    /// The conversations with these ids that exist (`BatchGetItem`, strongly consistent).
    async fn get_many(
        &self,
        ids: &[ConversationId],
    ) -> StoreResult<HashMap<ConversationId, Conversation>> {
        let mut found = HashMap::new();
        let unique: Vec<ConversationId> = {
            let mut seen = HashSet::new();
            ids.iter().copied().filter(|id| seen.insert(*id)).collect()
        };
        for chunk in unique.chunks(MAX_BATCH_GET) {
            let mut keys: Vec<Item> = chunk.iter().map(|id| conv_key(*id)).collect();
            let mut attempt = 0;
            while !keys.is_empty() {
                if attempt >= MAX_ATTEMPTS {
                    return Err(StoreError::Throttled);
                }
                if attempt > 0 {
                    backoff(attempt).await;
                }
                attempt += 1;
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(build_error)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(self.table.clone(), request)
                    .send()
                    .await
                    .map_err(|e| sdk_error(e, "batch_get"))?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let c: Conversation = from_item(item)?;
                    found.insert(c.conversation_id, c);
                }
                keys = out
                    .unprocessed_keys
                    .and_then(|mut m| m.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
        }
        Ok(found)
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
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
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

    /// Puts one participant unless present; returns it when added.
    async fn add_one(&self, p: Participant) -> StoreResult<Option<Participant>> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(participant_to_item(&p)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(p)),
            Err(e) => match sdk_error(e, "participant") {
                StoreError::Conflict(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Deletes one participant row; returns the user when it was there.
    async fn remove_one(&self, id: ConversationId, user: UserId) -> StoreResult<Option<UserId>> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(member_key(id, user)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error(e, "participant"))?;
        Ok(out.attributes.filter(|a| !a.is_empty()).map(|_| user))
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
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(actions.clone()))
                .send()
                .await;
            let Err(err) = result else { break };
            let Some(reasons) = cancellation_reasons(&err) else {
                return Err(sdk_error(err, "create_conversation"));
            };
            let failed = |i: usize| {
                reasons
                    .get(i)
                    .and_then(|r| r.as_deref())
                    .is_some_and(|c| c == "ConditionalCheckFailed")
            };
            if let Some(claim) = claim.clone().filter(|_| failed(0)) {
                return Ok(Created::Existing(self.existing_direct(claim).await?));
            }
            if failed(conv_index) {
                return Err(StoreError::Conflict("exists"));
            }
            // A concurrent transaction on the same items (say, the same pair created twice at
            // once): try again; the loser then sees the winner's claim.
            attempt += 1;
            if attempt >= MAX_ATTEMPTS || !reasons.iter().flatten().all(|c| is_retryable_reason(c))
            {
                return Err(StoreError::Backend(format!(
                    "create conversation: transaction cancelled: {reasons:?}"
                )));
            }
            backoff(attempt).await;
        }
        self.batch_put(rest).await?;
        Ok(Created::New(conversation.clone()))
    }

    async fn get_conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        get_item(&self.client, &self.table, conv_key(id))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn get_participant(
        &self,
        id: ConversationId,
        user: UserId,
    ) -> StoreResult<Option<Participant>> {
        get_item(&self.client, &self.table, member_key(id, user))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn list_participants(&self, id: ConversationId) -> StoreResult<Vec<Participant>> {
        let items = query_up_to(
            &self.client,
            QuerySpec {
                table: &self.table,
                index: None,
                key_condition: "pk = :pk AND begins_with(sk, :member)",
                values: vec![(":pk", s(conv_pk(id))), (":member", s("MEMBER#"))],
                forward: true,
                consistent: true,
                start: None,
            },
            usize::MAX,
        )
        .await?;
        items.into_iter().map(from_item).collect()
    }

    /// Each participant is one conditional put (`attribute_not_exists(pk)`), so present ones
    /// stay as they are; `NotFound` when a participant's conversation does not exist.
    async fn add_participants(
        &self,
        participants: &[Participant],
    ) -> StoreResult<Vec<Participant>> {
        let conversations: HashSet<ConversationId> =
            participants.iter().map(|p| p.conversation_id).collect();
        for id in conversations {
            if get_item(&self.client, &self.table, conv_key(id))
                .await?
                .is_none()
            {
                return Err(StoreError::NotFound);
            }
        }
        let mut seen = HashSet::new();
        let unique: Vec<Participant> = participants
            .iter()
            .filter(|p| seen.insert((p.conversation_id, p.user_id)))
            .cloned()
            .collect();
        let added: Vec<Option<Participant>> = futures::stream::iter(unique)
            .map(|p| self.add_one(p))
            .buffered(PARALLEL_WRITES)
            .try_collect()
            .await?;
        Ok(added.into_iter().flatten().collect())
    }

    async fn remove_participants(
        &self,
        id: ConversationId,
        users: &[UserId],
    ) -> StoreResult<Vec<UserId>> {
        let mut seen = HashSet::new();
        let unique: Vec<UserId> = users.iter().copied().filter(|u| seen.insert(*u)).collect();
        let removed: Vec<Option<UserId>> = futures::stream::iter(unique)
            .map(|user| self.remove_one(id, user))
            .buffered(PARALLEL_WRITES)
            .try_collect()
            .await?;
        Ok(removed.into_iter().flatten().collect())
    }

    async fn list_user_conversations(
        &self,
        user: UserId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<(Conversation, Participant)>> {
        const KEYS: [&str; 4] = ["pk", "sk", "gsi1pk", "gsi1sk"];
        let limit = limit.clamp(1, MAX_PAGE);
        let gsi1pk = format!("USER#{user}");
        let start = cursor
            .map(|c| decode_cursor(c, &KEYS, &[("gsi1pk", gsi1pk.as_str())]))
            .transpose()?;
        let mut items = query_up_to(
            &self.client,
            QuerySpec {
                table: &self.table,
                index: Some("gsi1"),
                key_condition: "gsi1pk = :pk",
                values: vec![(":pk", s(gsi1pk.clone()))],
                forward: false,
                consistent: false,
                start,
            },
            limit + 1,
        )
        .await?;
        let next = if items.len() > limit {
            items.truncate(limit);
            match items.last() {
                Some(last) => Some(encode_cursor(&key_of(last, &KEYS)?)?),
                None => None,
            }
        } else {
            None
        };
        let participants: Vec<Participant> = items
            .into_iter()
            .map(from_item)
            .collect::<StoreResult<_>>()?;
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
    /// update per row).
    async fn record_activity(&self, id: ConversationId, last: &LastMessage) -> StoreResult<()> {
        self.advance_conversation(id, last).await?;
        let at = last.created_at;
        let stale: Vec<Participant> = self
            .list_participants(id)
            .await?
            .into_iter()
            .filter(|p| p.last_activity_at < at)
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
