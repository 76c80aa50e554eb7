//! In-memory `UserStore`.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::cursor;
use crate::ids::UserId;
use crate::model::{User, normalize_email, normalize_username};
use crate::store::{Cursor, Page, StoreError, StoreResult, UserStore};

/// In-memory `UserStore`.
#[derive(Default)]
pub struct MemoryUserStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    users: HashMap<UserId, User>,
    by_name: HashMap<String, UserId>,
    /// Email claims: case-folded email → its account.
    by_email: HashMap<String, UserId>,
}

/// The claim key of a user's email, if they have one.
fn email_key(user: &User) -> Option<String> {
    user.email.as_deref().map(normalize_email)
}

impl MemoryUserStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Search keys of a user: `<lowercase term>#<user_id>` for username and display name.
fn search_keys(u: &User) -> [String; 2] {
    [
        format!("{}#{}", normalize_username(&u.username), u.user_id),
        format!("{}#{}", u.display_name.trim().to_lowercase(), u.user_id),
    ]
}

#[async_trait]
impl UserStore for MemoryUserStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let mut g = self.lock();
        let name = normalize_username(&user.username);
        if g.by_name.contains_key(&name) || g.users.contains_key(&user.user_id) {
            return Err(StoreError::Conflict("username_taken"));
        }
        let email = email_key(user);
        if email.as_ref().is_some_and(|e| g.by_email.contains_key(e)) {
            return Err(StoreError::Conflict("email_taken"));
        }
        if let Some(e) = email {
            g.by_email.insert(e, user.user_id);
        }
        g.by_name.insert(name, user.user_id);
        g.users.insert(user.user_id, user.clone());
        Ok(())
    }

    async fn get_user(&self, id: UserId) -> StoreResult<Option<User>> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn get_users(&self, ids: &[UserId]) -> StoreResult<Vec<User>> {
        let g = self.lock();
        let mut seen = std::collections::HashSet::new();
        Ok(ids
            .iter()
            .filter(|id| seen.insert(**id))
            .filter_map(|id| g.users.get(id).cloned())
            .collect())
    }

    async fn get_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let g = self.lock();
        Ok(g.by_name
            .get(&normalize_username(username))
            .and_then(|id| g.users.get(id))
            .cloned())
    }

    async fn get_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let g = self.lock();
        Ok(g.by_email
            .get(&normalize_email(email))
            .and_then(|id| g.users.get(id))
            .cloned())
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        let mut g = self.lock();
        let stored = g.users.get(&user.user_id).ok_or(StoreError::NotFound)?;
        if stored.version + 1 != user.version {
            return Err(StoreError::Conflict("version"));
        }
        let (old, new) = (email_key(stored), email_key(user));
        if old != new {
            if let Some(e) = &new
                && g.by_email
                    .get(e)
                    .is_some_and(|holder| *holder != user.user_id)
            {
                return Err(StoreError::Conflict("email_taken"));
            }
            if let Some(e) = old
                && g.by_email.get(&e) == Some(&user.user_id)
            {
                g.by_email.remove(&e);
            }
            if let Some(e) = new {
                g.by_email.insert(e, user.user_id);
            }
        }
        let stored = g.users.get_mut(&user.user_id).ok_or(StoreError::NotFound)?;
        let username = stored.username.clone();
        *stored = User {
            username,
            ..user.clone()
        };
        Ok(())
    }

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
        let after = cursor
            .map(|c| cursor::decode(c, "gsi1sk", &[("gsi1pk", &bucket)]))
            .transpose()?;
        let g = self.lock();
        // A user whose username and display name both match is listed once, at its username
        // entry, as in the DynamoDB adapter.
        let mut entries: Vec<(String, UserId)> = g
            .users
            .values()
            .flat_map(|u| {
                let [by_name, by_display] = search_keys(u);
                let name_matches = by_name.starts_with(&prefix);
                let display = (!name_matches).then_some(by_display);
                std::iter::once(by_name)
                    .chain(display)
                    .map(move |k| (k, u.user_id))
            })
            .filter(|(k, _)| k.starts_with(&prefix))
            .collect();
        entries.sort();
        let (ids, next) = cursor::page(&entries, after.as_deref(), limit);
        let items = ids
            .into_iter()
            .filter_map(|id| g.users.get(&id).cloned())
            .collect();
        Ok(Page {
            items,
            next: next.map(|k| cursor::encode(&[("gsi1pk", bucket.clone()), ("gsi1sk", k)])),
        })
    }
}
