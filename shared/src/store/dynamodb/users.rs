//! `UserStore` over DynamoDB (table `users`; layout in `docs/data-model.md`).
//!
//! Items: the profile (`USER#<id>` / `PROFILE`), the username claim
//! (`USERNAME#<lowercase username>` / `CLAIM`) and one search entry per searchable name
//! (`USER#<id>` / `SEARCH#username`, `SEARCH#display_name`) that `gsi1` indexes by
//! `SEARCH#<first char>` and `<lowercase term>#<user_id>`.
//!
//! This file also holds the paging, batch and transaction helpers the other adapters of this
//! directory written alongside it use (`query_page`, `query_all`, `batch_get`, `batch_write`,
//! `transact`).

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{KeysAndAttributes, Put, TransactWriteItem, WriteRequest};

use super::{
    Item, cancellation_reasons, decode_cursor, encode_cursor, from_item, get_s, key, s, sdk_error,
    to_item,
};
use crate::ids::UserId;
use crate::model::{User, normalize_username};
use crate::store::{Cursor, Page, StoreError, StoreResult, UserStore};

/// `UserStore` over the `users` table.
#[derive(Clone)]
pub struct DynamoUserStore {
    client: Client,
    table: String,
}

impl DynamoUserStore {
    /// The store over `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

/// Partition key of a user's profile and search entries.
fn user_pk(id: UserId) -> String {
    format!("USER#{id}")
}

/// Key of the username claim.
fn claim_key(username: &str) -> Item {
    key(
        format!("USERNAME#{}", normalize_username(username)),
        "CLAIM",
    )
}

/// The lowercase search term of a display name.
fn display_term(display_name: &str) -> String {
    display_name.trim().to_lowercase()
}

/// Which name a search entry indexes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SearchKind {
    Username,
    DisplayName,
}

impl SearchKind {
    fn sk(self) -> &'static str {
        match self {
            Self::Username => "SEARCH#username",
            Self::DisplayName => "SEARCH#display_name",
        }
    }
}

/// A search entry: the keys, `user_id`, and `username` (lowercase) so that a search can tell
/// whether a user found by display name is also found by username (and skip the duplicate).
/// `None` for an empty term, which is not searchable.
fn search_entry(user: &User, kind: SearchKind) -> Option<Item> {
    let username = normalize_username(&user.username);
    let term = match kind {
        SearchKind::Username => username.clone(),
        SearchKind::DisplayName => display_term(&user.display_name),
    };
    let first = term.chars().next()?;
    let mut item = key(user_pk(user.user_id), kind.sk());
    item.insert("gsi1pk".into(), s(format!("SEARCH#{first}")));
    item.insert("gsi1sk".into(), s(format!("{term}#{}", user.user_id)));
    item.insert("user_id".into(), s(user.user_id.to_string()));
    item.insert("username".into(), s(username));
    Some(item)
}

fn profile_item(user: &User) -> StoreResult<Item> {
    to_item(
        user,
        &[("pk", user_pk(user.user_id)), ("sk", "PROFILE".to_owned())],
    )
}

fn put(table: &str, item: Item, condition: Option<&str>) -> StoreResult<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .build()
        .map_err(|e| StoreError::Backend(format!("build put: {e}")))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

impl DynamoUserStore {
    async fn get_profile(&self, id: UserId) -> StoreResult<Option<User>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(id), "PROFILE")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(e, "get user"))?;
        out.item.map(from_item).transpose()
    }
}

#[async_trait]
impl UserStore for DynamoUserStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let mut claim = claim_key(&user.username);
        claim.insert("user_id".into(), s(user.user_id.to_string()));
        let mut actions = vec![
            put(
                &self.table,
                profile_item(user)?,
                Some("attribute_not_exists(pk)"),
            )?,
            put(&self.table, claim, Some("attribute_not_exists(pk)"))?,
        ];
        for kind in [SearchKind::Username, SearchKind::DisplayName] {
            if let Some(entry) = search_entry(user, kind) {
                actions.push(put(&self.table, entry, None)?);
            }
        }
        match transact(&self.client, actions, "create user").await? {
            // The claim (or, for a reused user id, the profile) exists.
            Err(_) => Err(StoreError::Conflict("username_taken")),
            Ok(()) => Ok(()),
        }
    }

    async fn get_user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.get_profile(id).await
    }

    async fn get_users(&self, ids: &[UserId]) -> StoreResult<Vec<User>> {
        let mut seen = HashSet::new();
        let keys: Vec<Item> = ids
            .iter()
            .filter(|id| seen.insert(**id))
            .map(|id| key(user_pk(*id), "PROFILE"))
            .collect();
        batch_get(&self.client, &self.table, keys, true, "get users")
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn get_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(claim_key(username)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(e, "get username claim"))?;
        let Some(claim) = out.item else {
            return Ok(None);
        };
        let id: UserId = get_s(&claim, "user_id")?
            .parse()
            .map_err(|e| StoreError::Backend(format!("username claim: {e}")))?;
        self.get_profile(id).await
    }

    /// Reads the stored profile (for its username and display name), then writes the new
    /// profile conditional on `version = user.version - 1`, rewriting the display-name search
    /// entry in the same transaction when the display name changed.
    async fn update_user(&self, user: &User) -> StoreResult<()> {
        let stored = self
            .get_profile(user.user_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let Some(prev) = user.version.checked_sub(1) else {
            return Err(StoreError::Conflict("version"));
        };
        if stored.version != prev {
            return Err(StoreError::Conflict("version"));
        }
        let updated = User {
            username: stored.username.clone(),
            ..user.clone()
        };
        let profile = Put::builder()
            .table_name(&self.table)
            .set_item(Some(profile_item(&updated)?))
            .condition_expression("attribute_exists(pk) AND version = :prev")
            .expression_attribute_values(":prev", super::n(prev))
            .build()
            .map_err(|e| StoreError::Backend(format!("build put: {e}")))?;
        let mut actions = vec![TransactWriteItem::builder().put(profile).build()];
        if display_term(&stored.display_name) != display_term(&updated.display_name) {
            match search_entry(&updated, SearchKind::DisplayName) {
                Some(entry) => actions.push(put(&self.table, entry, None)?),
                None => {
                    let delete = aws_sdk_dynamodb::types::Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(
                            user_pk(user.user_id),
                            SearchKind::DisplayName.sk(),
                        )))
                        .build()
                        .map_err(|e| StoreError::Backend(format!("build delete: {e}")))?;
                    actions.push(TransactWriteItem::builder().delete(delete).build());
                }
            }
        }
        match transact(&self.client, actions, "update user").await? {
            Err(_) => Err(StoreError::Conflict("version")),
            Ok(()) => Ok(()),
        }
    }

    /// Queries `gsi1` in the partition of the prefix's first character. A user whose
    /// username and display name both match is returned once, for its username: display-name
    /// entries of users whose username also matches are skipped, so no user appears on two
    /// pages. An empty prefix returns an empty page. The cursor is pinned to the prefix: one
    /// issued for another prefix is `InvalidCursor`.
    async fn search_users(
        &self,
        prefix: &str,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<User>> {
        let prefix = prefix.trim().to_lowercase();
        let Some(first) = prefix.chars().next() else {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        };
        let bucket = format!("SEARCH#{first}");
        let start = cursor
            .map(|c| decode_cursor(c, &["pk", "sk", "gsi1pk", "gsi1sk"], &[("gsi1pk", &bucket)]))
            .transpose()?;
        if let Some(start) = &start {
            let sk = start.get("gsi1sk").and_then(|v| v.as_s().ok());
            if !sk.is_some_and(|sk| sk.starts_with(&prefix)) {
                return Err(StoreError::InvalidCursor);
            }
        }
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk AND begins_with(gsi1sk, :prefix)")
            .expression_attribute_values(":pk", s(bucket))
            .expression_attribute_values(":prefix", s(prefix.clone()));
        let mut seen = HashSet::new();
        let (ids, next) = query_page(
            query,
            &["pk", "sk", "gsi1pk", "gsi1sk"],
            limit,
            start,
            "search users",
            |entry| {
                let kind = get_s(&entry, "sk")?;
                let username = get_s(&entry, "username")?;
                if kind == SearchKind::DisplayName.sk() && username.starts_with(&prefix) {
                    return Ok(None);
                }
                let id: UserId = get_s(&entry, "user_id")?
                    .parse()
                    .map_err(|e| StoreError::Backend(format!("search entry: {e}")))?;
                Ok(seen.insert(id).then_some(id))
            },
        )
        .await?;
        let keys = ids.iter().map(|id| key(user_pk(*id), "PROFILE")).collect();
        let mut found: HashMap<UserId, User> = HashMap::new();
        for item in batch_get(&self.client, &self.table, keys, false, "search users").await? {
            let user: User = from_item(item)?;
            found.insert(user.user_id, user);
        }
        Ok(Page {
            items: ids.iter().filter_map(|id| found.remove(id)).collect(),
            next: next.as_ref().map(encode_cursor).transpose()?,
        })
    }
}

// ----- Helpers shared by the adapters of this directory -------------------------------------

/// Most Query calls one page read makes before returning a short page (with a cursor) when
/// many rows are filtered out.
const MAX_QUERY_ROUNDS: usize = 8;

/// Most attempts at a batch or transaction before giving up as throttled.
const MAX_ATTEMPTS: u32 = 8;

/// Sleeps before retry `attempt` (1, 2, …): exponential backoff with jitter, capped.
pub(super) async fn backoff(attempt: u32) {
    let base = 20u64.saturating_mul(1 << attempt.min(6));
    let ms = base + fastrand::u64(0..=base);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

/// The attributes `attrs` of `item`: the key a cursor resumes after.
pub(super) fn key_of(item: &Item, attrs: &[&str]) -> StoreResult<Item> {
    attrs
        .iter()
        .map(|a| {
            item.get(*a)
                .map(|v| ((*a).to_owned(), v.clone()))
                .ok_or_else(|| StoreError::Backend(format!("item without key attribute {a}")))
        })
        .collect()
}

/// Reads one page of `query`: up to `limit` (at least 1) items that `accept` maps to `Some`,
/// starting after `start`. Returns them with the key to resume after when more rows may
/// follow (`key_attrs` are the attributes of such a key: the table's, plus the index's for an
/// index query). Reads one row past the page so that the last page ends without a cursor
/// when nothing follows it; gives up after a few Query calls, returning a short page with a
/// cursor, when many rows are filtered out.
pub(super) async fn query_page<T, F>(
    query: QueryFluentBuilder,
    key_attrs: &[&str],
    limit: usize,
    start: Option<Item>,
    what: &'static str,
    mut accept: F,
) -> StoreResult<(Vec<T>, Option<Item>)>
where
    F: FnMut(Item) -> StoreResult<Option<T>> + Send,
    T: Send,
{
    let limit = limit.max(1);
    let mut out = Vec::new();
    let mut start = start;
    for _ in 0..MAX_QUERY_ROUNDS {
        let want = i32::try_from(limit - out.len() + 1).unwrap_or(i32::MAX);
        let resp = query
            .clone()
            .limit(want)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| sdk_error(e, what))?;
        let mut last = None;
        for item in resp.items.unwrap_or_default() {
            if out.len() == limit {
                // A row follows the full page: resume after the page's last row.
                return Ok((out, last));
            }
            last = Some(key_of(&item, key_attrs)?);
            if let Some(t) = accept(item)? {
                out.push(t);
            }
        }
        match resp.last_evaluated_key.filter(|k| !k.is_empty()) {
            None => return Ok((out, None)),
            Some(lek) if out.len() == limit => return Ok((out, Some(lek))),
            Some(lek) => start = Some(lek),
        }
    }
    Ok((out, start))
}

/// Reads every row of `query`, following `LastEvaluatedKey`, keeping those `accept` maps to
/// `Some`.
pub(super) async fn query_all<T, F>(
    query: QueryFluentBuilder,
    what: &'static str,
    mut accept: F,
) -> StoreResult<Vec<T>>
where
    F: FnMut(Item) -> StoreResult<Option<T>> + Send,
    T: Send,
{
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let resp = query
            .clone()
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| sdk_error(e, what))?;
        for item in resp.items.unwrap_or_default() {
            if let Some(t) = accept(item)? {
                out.push(t);
            }
        }
        match resp.last_evaluated_key {
            Some(lek) if !lek.is_empty() => start = Some(lek),
            _ => return Ok(out),
        }
    }
}

/// Gets the items with `keys` (distinct) from `table` with `BatchGetItem`, 100 keys per call,
/// retrying unprocessed keys with backoff. Missing items are left out; the order is not kept.
pub(super) async fn batch_get(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
    consistent: bool,
    what: &'static str,
) -> StoreResult<Vec<Item>> {
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(100) {
        let mut pending = chunk.to_vec();
        let mut attempt = 0;
        while !pending.is_empty() {
            if attempt > 0 {
                if attempt >= MAX_ATTEMPTS {
                    return Err(StoreError::Throttled);
                }
                backoff(attempt).await;
            }
            attempt += 1;
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(consistent)
                .build()
                .map_err(|e| StoreError::Backend(format!("build batch get: {e}")))?;
            let resp = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| sdk_error(e, what))?;
            if let Some(mut responses) = resp.responses {
                out.extend(responses.remove(table).unwrap_or_default());
            }
            if let Some(mut unprocessed) = resp.unprocessed_keys {
                pending = unprocessed
                    .remove(table)
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
        }
    }
    Ok(out)
}

/// Applies `requests` to `table` with `BatchWriteItem`, 25 per call, retrying unprocessed
/// items with backoff. The requests must not touch one key twice within 25 of each other.
pub(super) async fn batch_write(
    client: &Client,
    table: &str,
    requests: Vec<WriteRequest>,
    what: &'static str,
) -> StoreResult<()> {
    for chunk in requests.chunks(25) {
        let mut pending = chunk.to_vec();
        let mut attempt = 0;
        while !pending.is_empty() {
            if attempt > 0 {
                if attempt >= MAX_ATTEMPTS {
                    return Err(StoreError::Throttled);
                }
                backoff(attempt).await;
            }
            attempt += 1;
            let resp = client
                .batch_write_item()
                .request_items(table, std::mem::take(&mut pending))
                .send()
                .await
                .map_err(|e| sdk_error(e, what))?;
            if let Some(mut unprocessed) = resp.unprocessed_items {
                pending = unprocessed.remove(table).unwrap_or_default();
            }
        }
    }
    Ok(())
}

/// Runs a `TransactWriteItems`, retrying when it is cancelled only by conflicts with other
/// transactions. `Ok(Err(reasons))` when a condition failed: `reasons[i]` is the failure
/// code of action `i` (`Some("ConditionalCheckFailed")`), `None` for actions that did not
/// fail.
pub(super) async fn transact(
    client: &Client,
    actions: Vec<TransactWriteItem>,
    what: &'static str,
) -> StoreResult<Result<(), Vec<Option<String>>>> {
    let mut attempt = 0;
    loop {
        if attempt > 0 {
            backoff(attempt).await;
        }
        attempt += 1;
        let err = match client
            .transact_write_items()
            .set_transact_items(Some(actions.clone()))
            .send()
            .await
        {
            Ok(_) => return Ok(Ok(())),
            Err(err) => err,
        };
        let Some(reasons) = cancellation_reasons(&err) else {
            return Err(sdk_error(err, what));
        };
        let code = |c: &str| reasons.iter().flatten().any(|r| r == c);
        if code("ConditionalCheckFailed") {
            return Ok(Err(reasons));
        }
        if code("ThrottlingError") || code("ProvisionedThroughputExceeded") {
            if attempt >= MAX_ATTEMPTS {
                return Err(StoreError::Throttled);
            }
            continue;
        }
        if code("TransactionConflict") && attempt < MAX_ATTEMPTS {
            continue;
        }
        return Err(sdk_error(err, what));
    }
}
