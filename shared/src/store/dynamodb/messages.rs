//! `MessageStore` over DynamoDB (table `messages`; layout in `docs/data-model.md`).
//!
//! - stream head: `(CONV#<id>, HEAD)` with `seq`;
//! - message: `(CONV#<id>, POS#<position:020>)`;
//! - pointer: `(MSG#<message_id>, REF)` with `conversation_id`, `position`;
//! - idempotency claim: `(CLIENT#<conversation>#<sender>#<client_message_id>, MESSAGE)` with
//!   `message_id`, `fingerprint` and `ttl_epoch` (see [`super::claims`]).
//!
//! Appends use the same one-transaction position allocation as comments
//! ([`super::comments::append_to_stream`]).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::append::{AppendActions, AppendRefused, Counted, append_to_stream};
use super::claims::{claim_put, claimed_id};
use super::comments::{pos_sk, query_window, read_head};
use super::item::{Item, get_n, is_expired, key, n, parse_s, s, to_item};
use super::ops::{get_entity, get_item};
use super::streams::entry_put;
use super::txn::{tx_put, tx_put_with};
use crate::ids::{ClientKey, ConversationId, MessageId, UserId};
use crate::model::{CLAIM_WINDOW, Change, Message, NewMessage};
use crate::room::Position;
use crate::store::{Appended, MessageStore, Slice, StoreError, StoreResult, Window};
use crate::time::now;

fn conv_pk(id: ConversationId) -> String {
    format!("CONV#{id}")
}

fn pointer_key(id: MessageId) -> Item {
    key(format!("MSG#{id}"), "REF")
}

fn claim_key(conversation: ConversationId, sender: UserId, client_message_id: &ClientKey) -> Item {
    key(
        format!("CLIENT#{conversation}#{sender}#{client_message_id}"),
        "MESSAGE",
    )
}

fn message_to_item(m: &Message) -> StoreResult<Item> {
    to_item(
        m,
        &[
            ("pk", conv_pk(m.conversation_id)),
            ("sk", pos_sk(m.position)),
        ],
    )
}

/// The puts that store message `m` (its item and its id pointer, both new): what a
/// conversation change adds to its transaction to record itself as a `system` message.
pub(super) fn message_puts(table: &str, m: &Message) -> StoreResult<Vec<TransactWriteItem>> {
    Ok(vec![
        tx_put(table, message_to_item(m)?, Some("attribute_not_exists(pk)"))?,
        tx_put(
            table,
            HashMap::from([
                ("pk".to_owned(), s(format!("MSG#{}", m.message_id))),
                ("sk".to_owned(), s("REF")),
                (
                    "conversation_id".to_owned(),
                    s(m.conversation_id.to_string()),
                ),
                ("position".to_owned(), n(m.position.0)),
            ]),
            Some("attribute_not_exists(pk)"),
        )?,
    ])
}

/// `MessageStore` over the `messages` table.
#[derive(Clone)]
pub struct DynamoMessageStore {
    client: Client,
    table: String,
}

impl DynamoMessageStore {
    /// The store over `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// The message an earlier append with the same claim (or the same message id) stored.
    async fn original(&self, m: &NewMessage) -> StoreResult<Message> {
        let claim = claim_key(m.conversation_id, m.sender_id, &m.client_message_id);
        let claim = get_item(&self.client, &self.table, claim).await?;
        let id = claimed_id(claim, "message_id", &m.fingerprint(), m.created_at)?
            .unwrap_or(m.message_id);
        self.get_message(id)
            .await?
            .ok_or_else(|| StoreError::Backend(format!("claimed message {id} is missing")))
    }
}

#[async_trait]
impl MessageStore for DynamoMessageStore {
    /// `reply_to_message_id` is stored as given: checking that it names a message of the same
    /// conversation is the caller's job (as in the in-memory adapter).
    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended<Message>> {
        let table = self.table.as_str();
        let stream = conv_pk(message.conversation_id);
        let outcome = append_to_stream(&self.client, table, &stream, Counted::No, |p| {
            let m = message.clone().into_message(p);
            let claim = claim_put(
                table,
                claim_key(m.conversation_id, m.sender_id, &m.client_message_id),
                "message_id",
                m.message_id.to_string(),
                &message.fingerprint(),
                m.created_at,
                CLAIM_WINDOW,
            )?;
            let actions = vec![
                tx_put(
                    table,
                    message_to_item(&m)?,
                    Some("attribute_not_exists(pk)"),
                )?,
                tx_put(
                    table,
                    HashMap::from([
                        ("pk".to_owned(), s(format!("MSG#{}", m.message_id))),
                        ("sk".to_owned(), s("REF")),
                        (
                            "conversation_id".to_owned(),
                            s(m.conversation_id.to_string()),
                        ),
                        ("position".to_owned(), n(p.0)),
                    ]),
                    Some("attribute_not_exists(pk)"),
                )?,
                claim,
                entry_put(
                    table,
                    &stream,
                    p,
                    m.created_at,
                    Change::MessageCreated { message: m.clone() },
                )?,
            ];
            Ok(AppendActions {
                actions,
                idempotency: vec![1, 2],
                parent: None,
            })
        })
        .await?;
        match outcome {
            Ok(p) => Ok(Appended {
                item: message.into_message(p),
                created: true,
            }),
            Err(AppendRefused::AlreadyDone) => Ok(Appended {
                item: self.original(&message).await?,
                created: false,
            }),
            Err(AppendRefused::ParentMissing) => Err(StoreError::NotFound),
        }
    }

    async fn get_message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let Some(pointer) = get_item(&self.client, &self.table, pointer_key(id)).await? else {
            return Ok(None);
        };
        let conversation: ConversationId = parse_s(&pointer, "conversation_id")?;
        let position = Position(get_n(&pointer, "position")?);
        let item_key = key(conv_pk(conversation), pos_sk(position));
        get_entity(&self.client, &self.table, item_key).await
    }

    async fn get_by_client_id(
        &self,
        conversation: ConversationId,
        sender: UserId,
        client_message_id: &ClientKey,
    ) -> StoreResult<Option<Message>> {
        let claim = claim_key(conversation, sender, client_message_id);
        match get_item(&self.client, &self.table, claim).await? {
            Some(item) if !is_expired(&item, now()) => {
                self.get_message(parse_s(&item, "message_id")?).await
            }
            _ => Ok(None),
        }
    }

    async fn list_messages(
        &self,
        conversation: ConversationId,
        window: Window,
    ) -> StoreResult<Slice<Message>> {
        let (items, has_more) =
            query_window(&self.client, &self.table, &conv_pk(conversation), window).await?;
        Ok(Slice { items, has_more })
    }

    /// Replaces the item at the message's position if it still holds this message at version
    /// `message.version - 1`; `Conflict("version")` otherwise, `NotFound` for an unknown message.
    /// One transaction on the conversation's stream: the message `IF version = :prev` and
    /// its `message_updated` entry.
    async fn update_message(&self, message: &Message) -> StoreResult<()> {
        let Some(previous) = message.version.checked_sub(1) else {
            return Err(StoreError::Conflict("version"));
        };
        let table = self.table.as_str();
        let stream = conv_pk(message.conversation_id);
        let outcome = append_to_stream(&self.client, table, &stream, Counted::No, |p| {
            Ok(AppendActions {
                actions: vec![
                    tx_put_with(
                        table,
                        message_to_item(message)?,
                        Some("message_id = :id AND version = :prev"),
                        vec![
                            (":id", s(message.message_id.to_string())),
                            (":prev", n(previous)),
                        ],
                    )?,
                    entry_put(
                        table,
                        &stream,
                        p,
                        message.updated_at,
                        Change::MessageUpdated {
                            message: message.clone(),
                        },
                    )?,
                ],
                idempotency: Vec::new(),
                parent: Some(0),
            })
        })
        .await?;
        match outcome {
            Ok(_) => Ok(()),
            Err(_) => {
                match get_item(&self.client, &self.table, pointer_key(message.message_id)).await? {
                    Some(_) => Err(StoreError::Conflict("version")),
                    None => Err(StoreError::NotFound),
                }
            }
        }
    }

    async fn head(&self, conversation: ConversationId) -> StoreResult<Position> {
        read_head(&self.client, &self.table, &conv_pk(conversation))
            .await
            .map(Position)
    }
}
