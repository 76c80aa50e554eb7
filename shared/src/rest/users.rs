//! REST routes of the `users` function. Every route needs a signed-in user (401 otherwise).
//!
//! | Route | Input | Success |
//! |---|---|---|
//! | `GET /v1/users/me` | — | 200 [`PrivateProfile`] |
//! | `PATCH /v1/users/me` | `{display_name?, avatar_url?, status_message?, email?}` | 200 [`PrivateProfile`] |
//! | `GET /v1/users/{user_id}` | — | 200 [`PublicProfile`] (no email) |
//! | `GET /v1/users/search` | `q` (1..=64 characters), `limit` (1..=50, default 20), `cursor` | 200 [`UserPage`] |
//!
//! `PATCH` semantics: an absent field stays as it is; `null` or `""` removes `avatar_url`,
//! `status_message` or `email`; `display_name` cannot be removed. Unknown fields (including
//! `username`, which never changes) are refused with 400. Suspended accounts get 403.
//!
//! Search matches a prefix of the username or the display name, case-insensitively, ordered
//! by the matched name. `next_cursor` is sealed to the (lowercased) query: it is refused
//! (400, field `cursor`) with another `q`.

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::error::AppError;
use crate::http::{Reply, Req, cursor};
use crate::ids::UserId;
use crate::model::GroupInvitations;
use crate::service::users::{self, PrivacyPatch, ProfilePatch};
use crate::store::Cursor;
use crate::validate::text;
use crate::views::{PrivateProfile, PublicProfile};

/// `GET /v1/users/me`.
pub const GET_ME: &str = "GET /v1/users/me";
/// `PATCH /v1/users/me`.
pub const PATCH_ME: &str = "PATCH /v1/users/me";
/// `GET /v1/users/{user_id}`.
pub const GET_USER: &str = "GET /v1/users/{user_id}";
/// `GET /v1/users/search`.
pub const SEARCH: &str = "GET /v1/users/search";

/// `POST /v1/users/{user_id}/suspension`: suspend an account (moderators and admins).
pub const SUSPEND: &str = "POST /v1/users/{user_id}/suspension";
/// `DELETE /v1/users/{user_id}/suspension`: reinstate a suspended account.
pub const REINSTATE: &str = "DELETE /v1/users/{user_id}/suspension";

/// Route keys served by this function.
pub const ROUTES: &[&str] = &[GET_ME, PATCH_ME, GET_USER, SEARCH, SUSPEND, REINSTATE];

/// Default page size of a search.
pub const DEFAULT_SEARCH_LIMIT: usize = 20;
/// Largest page size of a search.
pub const MAX_SEARCH_LIMIT: usize = 50;
/// Longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 64;

/// Dispatches one request of this function.
pub async fn route(app: &App, req: &Req) -> Result<Reply, AppError> {
    match req.route_key.as_str() {
        GET_ME => get_me(app, req).await,
        PATCH_ME => patch_me(app, req).await,
        GET_USER => get_user(app, req).await,
        SEARCH => search(app, req).await,
        SUSPEND => set_suspension(app, req, true).await,
        REINSTATE => set_suspension(app, req, false).await,
        other => Err(AppError::not_found(&format!("route {other}"))),
    }
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserPage {
    /// Matching users.
    pub users: Vec<PublicProfile>,
    /// Whether another page may follow (`next_cursor` is set).
    pub has_more: bool,
    /// Pass as `cursor` with the same `q` for the next page.
    pub next_cursor: Option<String>,
}

/// The answer of a suspension or reinstatement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuspensionView {
    /// The account.
    pub user_id: UserId,
    /// `suspended` or `active`.
    pub account_status: crate::model::AccountStatus,
}

async fn set_suspension(app: &App, req: &Req, suspend: bool) -> Result<Reply, AppError> {
    let actor = req.user()?;
    let target: UserId = req.path("user_id")?;
    let user = users::set_suspension(app, actor, target, suspend).await?;
    Ok(Reply::ok(SuspensionView {
        user_id: user.user_id,
        account_status: user.account_status,
    }))
}

async fn get_me(app: &App, req: &Req) -> Result<Reply, AppError> {
    let me = req.user()?;
    let user = users::get(app, me).await?;
    Ok(Reply::ok(PrivateProfile::from(&user)))
}

/// Body of `PATCH /v1/users/me`; `Some(None)` is an explicit `null`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "super::patch::nullable")]
    display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::patch::nullable")]
    avatar_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::patch::nullable")]
    status_message: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::patch::nullable")]
    email: Option<Option<String>>,
    #[serde(default)]
    privacy_settings: PrivacyBody,
}

/// `privacy_settings` of `PATCH /v1/users/me`: the choices named change, the others stay.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PrivacyBody {
    #[serde(default, deserialize_with = "super::patch::present")]
    group_invitations: Option<GroupInvitations>,
    #[serde(default, deserialize_with = "super::patch::present")]
    show_online_status: Option<bool>,
    #[serde(default, deserialize_with = "super::patch::present")]
    show_last_seen: Option<bool>,
}

async fn patch_me(app: &App, req: &Req) -> Result<Reply, AppError> {
    let me = req.user()?;
    let body: PatchBody = req.json()?;
    let changes = ProfilePatch {
        display_name: body.display_name,
        avatar_url: body.avatar_url,
        status_message: body.status_message,
        email: body.email,
        privacy: PrivacyPatch {
            group_invitations: body.privacy_settings.group_invitations,
            show_online_status: body.privacy_settings.show_online_status,
            show_last_seen: body.privacy_settings.show_last_seen,
        },
    }
    .validate()?;
    let user = users::update_profile(app, me, &changes).await?;
    Ok(Reply::ok(PrivateProfile::from(&user)))
}

async fn get_user(app: &App, req: &Req) -> Result<Reply, AppError> {
    req.user()?;
    let id: UserId = req.path("user_id")?;
    let user = users::get(app, id).await?;
    let presence = crate::service::presence::view_of(app, &user).await?;
    Ok(Reply::ok(PublicProfile::new(&user, presence)))
}

/// The cursor scope of a search for `q` (already trimmed and lowercased).
fn search_scope(q: &str) -> String {
    format!("users:search:{q}")
}

async fn search(app: &App, req: &Req) -> Result<Reply, AppError> {
    req.user()?;
    let raw = req.query.get("q").map(String::as_str).unwrap_or_default();
    let q = text("q", raw, 1, MAX_QUERY_CHARS)?.to_lowercase();
    let limit = req.limit(DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT)?;
    let scope = search_scope(&q);
    let after = req
        .query::<String>("cursor")?
        .map(|c| cursor::open(&app.config.cursor_secret, &scope, &c).map(Cursor))
        .transpose()?;
    let page = app
        .stores
        .users
        .search_users(&q, limit, after.as_ref())
        .await?;
    let next_cursor = page
        .next
        .map(|c| cursor::seal(&app.config.cursor_secret, &scope, &c.0));
    let ids: Vec<UserId> = page.items.iter().map(|u| u.user_id).collect();
    let people = crate::service::presence::people(app, &ids).await?;
    Ok(Reply::ok(UserPage {
        users: page
            .items
            .iter()
            .filter_map(|u| {
                people
                    .get(&u.user_id)
                    .map(|(_, p)| PublicProfile::new(u, *p))
            })
            .collect(),
        has_more: next_cursor.is_some(),
        next_cursor,
    }))
}
