//! `UserStore` over DynamoDB (table `users`; layout in `docs/data-model.md`).
//!
//! Items: the profile (`USER#<id>` / `PROFILE`), the username claim
//! (`USERNAME#<lowercase username>` / `CLAIM`) and one search entry per searchable name
//! (`USER#<id>` / `SEARCH#username`, `SEARCH#display_name`) that `gsi1` indexes by
//! `SEARCH#<first char>` and `<lowercase term>#<user_id>`.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::item::{
    Item, check_cursor, decode_cursor, from_item, get_s, key, n, page, parse_s, s, to_item,
};
use super::ops::{Gsi, batch_get, get_entity, get_item, query, query_page};
use super::txn::{transact, tx_delete, tx_put, tx_put_with};
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

impl DynamoUserStore {
    async fn get_profile(&self, id: UserId) -> StoreResult<Option<User>> {
        get_entity(&self.client, &self.table, key(user_pk(id), "PROFILE")).await
    }
}

#[async_trait]
impl UserStore for DynamoUserStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let mut claim = claim_key(&user.username);
        claim.insert("user_id".into(), s(user.user_id.to_string()));
        let mut actions = vec![
            tx_put(
                &self.table,
                profile_item(user)?,
                Some("attribute_not_exists(pk)"),
            )?,
            tx_put(&self.table, claim, Some("attribute_not_exists(pk)"))?,
        ];
        for kind in [SearchKind::Username, SearchKind::DisplayName] {
            if let Some(entry) = search_entry(user, kind) {
                actions.push(tx_put(&self.table, entry, None)?);
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
        let Some(claim) = get_item(&self.client, &self.table, claim_key(username)).await? else {
            return Ok(None);
        };
        self.get_profile(parse_s(&claim, "user_id")?).await
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
        let mut actions = vec![tx_put_with(
            &self.table,
            profile_item(&updated)?,
            Some("attribute_exists(pk) AND version = :prev"),
            vec![(":prev", n(prev))],
        )?];
        if display_term(&stored.display_name) != display_term(&updated.display_name) {
            actions.push(match search_entry(&updated, SearchKind::DisplayName) {
                Some(entry) => tx_put(&self.table, entry, None)?,
                None => tx_delete(
                    &self.table,
                    key(user_pk(user.user_id), SearchKind::DisplayName.sk()),
                    None,
                )?,
            });
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
            .map(|c| decode_cursor(c, Gsi::Gsi1.key(), &[("gsi1pk", &bucket)]))
            .transpose()?;
        check_cursor(start.as_ref(), "gsi1sk", |sk| sk.starts_with(&prefix))?;
        let query = query(
            &self.client,
            &self.table,
            Some(Gsi::Gsi1.name()),
            "gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
            vec![(":pk", s(bucket)), (":prefix", s(prefix.clone()))],
        );
        let mut seen = HashSet::new();
        let (ids, next) = query_page(
            query,
            Gsi::Gsi1.key(),
            limit,
            start,
            "search users",
            |entry| {
                let kind = get_s(&entry, "sk")?;
                let username = get_s(&entry, "username")?;
                if kind == SearchKind::DisplayName.sk() && username.starts_with(&prefix) {
                    return Ok(None);
                }
                let id: UserId = parse_s(&entry, "user_id")?;
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
        page(ids.iter().filter_map(|id| found.remove(id)).collect(), next)
    }
}
