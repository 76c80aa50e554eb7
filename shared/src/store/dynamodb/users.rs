//! `UserStore` over DynamoDB (table `users`; layout in `docs/data-model.md`).
//!
//! Items: the profile (`USER#<id>` / `PROFILE`), the username claim
//! (`USERNAME#<lowercase username>` / `CLAIM`), the email claim of a user with an email
//! (`EMAIL#<lowercase email>` / `CLAIM`) and one search entry per searchable name
//! (`USER#<id>` / `SEARCH#username`, `SEARCH#display_name`) that `gsi1` indexes by
//! `SEARCH#<first char>` and `<lowercase term>#<user_id>`.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::item::{
    Item, check_cursor, decode_cursor, from_item, get_s, key, n, page, parse_s, s, to_item,
};
use super::ops::{Gsi, batch_get, get_entity, get_item, query, query_page};
use super::txn::{transact, tx_delete, tx_delete_with, tx_put, tx_put_with};
use crate::ids::UserId;
use crate::model::{User, normalize_email, normalize_username};
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

/// Key of an email claim.
fn email_claim_key(email: &str) -> Item {
    key(format!("EMAIL#{}", normalize_email(email)), "CLAIM")
}

/// The email claim of `user`, naming it (`user_id`).
fn email_claim(email: &str, user: UserId) -> Item {
    let mut claim = email_claim_key(email);
    claim.insert("user_id".into(), s(user.to_string()));
    claim
}

/// Whether two stored emails are the same claim (both absent, or equal once folded).
fn same_email(a: Option<&str>, b: Option<&str>) -> bool {
    a.map(normalize_email) == b.map(normalize_email)
}

/// The condition under which a claim item may be written or removed by `user`: nobody else
/// holds it.
const OWN_OR_FREE: &str = "attribute_not_exists(pk) OR user_id = :me";

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
        // Action 2, when present: the email claim.
        if let Some(email) = &user.email {
            actions.push(tx_put(
                &self.table,
                email_claim(email, user.user_id),
                Some("attribute_not_exists(pk)"),
            )?);
        }
        for kind in [SearchKind::Username, SearchKind::DisplayName] {
            if let Some(entry) = search_entry(user, kind) {
                actions.push(tx_put(&self.table, entry, None)?);
            }
        }
        match transact(&self.client, actions, "create user").await? {
            // Only the email claim is held by someone else.
            Err(c) if user.email.is_some() && c.condition_failed(2) && !c.condition_failed(1) => {
                Err(StoreError::Conflict("email_taken"))
            }
            // The username claim (or, for a reused user id, the profile) exists.
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

    async fn get_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let Some(claim) = get_item(&self.client, &self.table, email_claim_key(email)).await? else {
            return Ok(None);
        };
        self.get_profile(parse_s(&claim, "user_id")?).await
    }

    /// Reads the stored profile (for its username, display name and email), then writes the
    /// new profile conditional on `version = user.version - 1`, in the same transaction
    /// rewriting the display-name search entry when the display name changed, and claiming
    /// the new email (unless another account holds it) and releasing the old one (only if
    /// it is this account's) when the email changed.
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
        // The index of the new email's claim, when the email changed to another one.
        let mut claim_at = None;
        if !same_email(stored.email.as_deref(), updated.email.as_deref()) {
            let me = || vec![(":me", s(user.user_id.to_string()))];
            if let Some(new) = &updated.email {
                claim_at = Some(actions.len());
                actions.push(tx_put_with(
                    &self.table,
                    email_claim(new, user.user_id),
                    Some(OWN_OR_FREE),
                    me(),
                )?);
            }
            if let Some(old) = &stored.email {
                actions.push(tx_delete_with(
                    &self.table,
                    email_claim_key(old),
                    Some(OWN_OR_FREE),
                    me(),
                )?);
            }
        }
        match transact(&self.client, actions, "update user").await? {
            Err(c) if claim_at.is_some_and(|i| c.condition_failed(i)) => {
                Err(StoreError::Conflict("email_taken"))
            }
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
