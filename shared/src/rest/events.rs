//! REST routes of the `events` function.
//!
//! | Route | Input | Auth | Success |
//! |---|---|---|---|
//! | `POST /v1/events` | [`EventCreate`] body | signed in | 201 [`EventView`] |
//! | `GET /v1/events/{event_id}` | — | public | 200 [`EventView`] |
//! | `GET /v1/events` | `status` (default `live`), `limit` (1..=100, default 20), `cursor` | public | 200 [`EventPage`] |
//! | `PUT /v1/events/{event_id}/status` | `{status}` | creator or admin | 200 [`EventView`] |
//! | `PATCH /v1/events/{event_id}` | [`PatchBody`] | a moderator of the event | 200 [`EventView`] |
//! | `GET /v1/events/{event_id}/moderators` | — | signed in | 200 `{moderators}` |
//! | `PUT /v1/events/{event_id}/moderators/{user_id}` | — | creator or admin | 200 `{moderators}` |
//! | `DELETE /v1/events/{event_id}/moderators/{user_id}` | — | creator or admin | 200 `{moderators}` |
//! | `GET /v1/events/{event_id}/bans` | `limit`, `cursor` | a moderator of the event | 200 `{bans, has_more, next_cursor}` |
//! | `POST /v1/events/{event_id}/bans` | `{user_id, duration_seconds?, reason?}` | a moderator of the event | 201 [`Ban`] |
//! | `DELETE /v1/events/{event_id}/bans/{user_id}` | — | a moderator of the event | 204 |
//! | `GET /v1/events/{event_id}/moderation-log` | `limit`, `cursor` | a moderator of the event | 200 `{records, has_more, next_cursor}` |
//!
//! **Reads are public**: live events are meant to be discovered and watched before signing
//! in, so the two `GET` routes answer anonymous callers. A caller that does send an
//! `Authorization` header must send a valid token, though: an expired or forged one is a
//! 401 on every route, so clients notice and refresh instead of silently reading as
//! anonymous.
//!
//! Status changes follow the lifecycle `scheduled → live → ended` and `scheduled | live →
//! cancelled`; anything else is a 409. A change is broadcast as `event_status_changed`
//! (`{event_id, status, previous_status}`) to the event's room.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::error::AppError;
use crate::http::{Reply, Req, cursor};
use crate::ids::{EventId, UserId};
use crate::model::words::validate_blocked_words;
use crate::model::{CommentSettings, EventStatus, EventType, ModerationLevel, NewEvent};
use crate::service::events;
use crate::store::{Cursor, Page};
use crate::time::{Timestamp, now};
use crate::validate::{FieldError, ValidationErrors};
use crate::views::EventView;

/// `POST /v1/events`.
pub const CREATE: &str = "POST /v1/events";
/// `GET /v1/events/{event_id}`.
pub const GET_EVENT: &str = "GET /v1/events/{event_id}";
/// `GET /v1/events`.
pub const LIST: &str = "GET /v1/events";
/// `PUT /v1/events/{event_id}/status`.
pub const SET_STATUS: &str = "PUT /v1/events/{event_id}/status";

/// `PATCH /v1/events/{event_id}`.
pub const PATCH_EVENT: &str = "PATCH /v1/events/{event_id}";
/// `GET /v1/events/{event_id}/moderators`.
pub const MODERATORS: &str = "GET /v1/events/{event_id}/moderators";
/// `PUT /v1/events/{event_id}/moderators/{user_id}`.
pub const APPOINT: &str = "PUT /v1/events/{event_id}/moderators/{user_id}";
/// `DELETE /v1/events/{event_id}/moderators/{user_id}`.
pub const DISMISS: &str = "DELETE /v1/events/{event_id}/moderators/{user_id}";

/// `GET /v1/events/{event_id}/bans`.
pub const BANS: &str = "GET /v1/events/{event_id}/bans";
/// `POST /v1/events/{event_id}/bans`.
pub const BAN: &str = "POST /v1/events/{event_id}/bans";
/// `DELETE /v1/events/{event_id}/bans/{user_id}`.
pub const UNBAN: &str = "DELETE /v1/events/{event_id}/bans/{user_id}";

/// `GET /v1/events/{event_id}/moderation-log`.
pub const MODERATION_LOG: &str = "GET /v1/events/{event_id}/moderation-log";

/// Route keys served by this function.
pub const ROUTES: &[&str] = &[
    CREATE,
    GET_EVENT,
    LIST,
    SET_STATUS,
    PATCH_EVENT,
    MODERATORS,
    APPOINT,
    DISMISS,
    BANS,
    BAN,
    UNBAN,
    MODERATION_LOG,
];

/// Default page size of a listing.
pub const DEFAULT_LIST_LIMIT: usize = 20;
/// Largest page size of a listing.
pub const MAX_LIST_LIMIT: usize = 100;
/// Longest slow mode, in seconds.
pub const MAX_SLOW_MODE_SECONDS: u32 = 3600;

/// Dispatches one request of this function.
pub async fn route(app: &App, req: &Req) -> Result<Reply, AppError> {
    match req.route_key.as_str() {
        CREATE => create(app, req).await,
        GET_EVENT => get_event(app, req).await,
        LIST => list(app, req).await,
        SET_STATUS => set_status(app, req).await,
        PATCH_EVENT => patch(app, req).await,
        MODERATORS => moderators(app, req).await,
        APPOINT => appoint(app, req).await,
        DISMISS => dismiss(app, req).await,
        BANS => bans(app, req).await,
        BAN => ban(app, req).await,
        UNBAN => unban(app, req).await,
        MODERATION_LOG => moderation_log(app, req).await,
        other => Err(AppError::not_found(&format!("route {other}"))),
    }
}

/// A page of events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventPage {
    /// Events with the asked status, soonest start first.
    pub events: Vec<EventView>,
    /// Whether another page may follow (`next_cursor` is set).
    pub has_more: bool,
    /// Pass as `cursor` with the same `status` for the next page.
    pub next_cursor: Option<String>,
}

/// Body of `POST /v1/events` (seed `EventCreate`). Enumerations and times are read as text
/// so that every bad field is reported together.
#[derive(Debug, Deserialize)]
pub struct EventCreate {
    /// 1..=255 characters.
    pub title: Option<String>,
    /// Up to 5000 characters.
    pub description: Option<String>,
    /// `sports`, `news`, `entertainment` or `gaming`.
    pub event_type: Option<String>,
    /// RFC 3339.
    pub start_time: Option<String>,
    /// RFC 3339, after `start_time`.
    pub end_time: Option<String>,
    /// At least 1 (`706.0` counts as `706`).
    #[serde(default, deserialize_with = "crate::integer::optional")]
    pub max_participants: Option<i64>,
    /// `strict`, `standard` (default) or `relaxed`.
    pub moderation_level: Option<String>,
    /// `{allow_replies (default true), slow_mode_seconds (0..=3600, default 0)}`.
    pub comment_settings: Option<CommentSettings>,
}

/// Parses a lowercase enumeration value through serde (`"sports"` → `EventType::Sports`).
fn parse_enum<T: for<'de> Deserialize<'de>>(
    field: &str,
    raw: &str,
    allowed: &str,
) -> Result<T, FieldError> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned()))
        .map_err(|_| FieldError::new(field, format!("must be {allowed}")))
}

/// Parses an RFC 3339 time (truncated to milliseconds, as stored).
fn parse_time(field: &str, raw: &str) -> Result<Timestamp, FieldError> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc).trunc_subsecs(3))
        .map_err(|_| {
            FieldError::new(
                field,
                "must be an RFC 3339 date-time (2026-11-20T19:00:00Z)",
            )
        })
}

/// Checks comment settings (slow mode at most [`MAX_SLOW_MODE_SECONDS`], blocked words
/// bounded), reporting into `errs`; returns them with the blocked words trimmed and deduplicated.
fn check_settings(errs: &mut ValidationErrors, mut settings: CommentSettings) -> CommentSettings {
    if settings.slow_mode_seconds > MAX_SLOW_MODE_SECONDS {
        errs.add(
            "comment_settings.slow_mode_seconds",
            format!("must be at most {MAX_SLOW_MODE_SECONDS}"),
        );
    }
    if let Some(words) = errs.check(validate_blocked_words(
        "comment_settings.blocked_words",
        &settings.blocked_words,
    )) {
        settings.blocked_words = words;
    }
    settings
}

impl EventCreate {
    /// Validates every field, reporting each failure.
    pub fn validate(self) -> Result<NewEvent, ValidationErrors> {
        let mut errs = ValidationErrors::new();
        let event_type = match self.event_type.as_deref() {
            None => {
                errs.add("event_type", "is required");
                None
            }
            Some(raw) => errs.check(parse_enum::<EventType>(
                "event_type",
                raw,
                "sports, news, entertainment or gaming",
            )),
        };
        let start_time = match self.start_time.as_deref() {
            None => {
                errs.add("start_time", "is required");
                None
            }
            Some(raw) => errs.check(parse_time("start_time", raw)),
        };
        let end_time = self
            .end_time
            .as_deref()
            .and_then(|raw| errs.check(parse_time("end_time", raw)));
        let moderation_level = match self.moderation_level.as_deref() {
            None => Some(ModerationLevel::default()),
            Some(raw) => errs.check(parse_enum::<ModerationLevel>(
                "moderation_level",
                raw,
                "strict, standard or relaxed",
            )),
        };
        let max_participants = match self.max_participants {
            None => Some(None),
            Some(n) if n < 1 => {
                errs.add("max_participants", "must be at least 1");
                None
            }
            Some(n) => match u32::try_from(n) {
                Ok(n) => Some(Some(n)),
                Err(_) => {
                    errs.add("max_participants", format!("must be at most {}", u32::MAX));
                    None
                }
            },
        };
        let comment_settings = check_settings(&mut errs, self.comment_settings.unwrap_or_default());
        // The model's checks (title, description, timing), run even when other fields
        // failed so that every error is reported at once. Placeholders stand in for fields
        // that failed to parse and cannot cause errors of their own.
        let model = NewEvent::validate(
            self.title.as_deref().unwrap_or_default(),
            self.description.as_deref(),
            event_type.unwrap_or(EventType::Sports),
            start_time.unwrap_or_else(now),
            start_time.and(end_time),
            max_participants.flatten(),
            moderation_level.unwrap_or_default(),
            comment_settings,
        );
        let model = match model {
            Ok(m) => Some(m),
            Err(e) => {
                errs.0.extend(e.0);
                None
            }
        };
        errs.finish()?;
        // Every check passed, so every value is present.
        match (model, event_type, start_time) {
            (Some(m), Some(_), Some(_)) => Ok(m),
            _ => Err(ValidationErrors::new()),
        }
    }
}

async fn create(app: &App, req: &Req) -> Result<Reply, AppError> {
    let me = req.user()?;
    let body: EventCreate = req.json()?;
    let input = body.validate()?;
    let event = events::create(app, me, input).await?;
    Ok(Reply::created(events::view(app, &event, Some(me)).await?))
}

async fn get_event(app: &App, req: &Req) -> Result<Reply, AppError> {
    let viewer = req.viewer()?;
    let id: EventId = req.path("event_id")?;
    let event = events::get(app, id).await?;
    Ok(Reply::ok(events::view(app, &event, viewer).await?))
}

/// The `status` query parameter (default `live`).
fn status_param(req: &Req) -> Result<EventStatus, AppError> {
    match req.query::<String>("status")? {
        None => Ok(EventStatus::Live),
        Some(raw) => Ok(raw.parse::<EventStatus>()?),
    }
}

async fn list(app: &App, req: &Req) -> Result<Reply, AppError> {
    let viewer = req.viewer()?;
    let status = status_param(req)?;
    let limit = req.limit(DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)?;
    let scope = format!("events:{}", status.as_str());
    let after = cursor_param(app, req, &scope)?;
    let page = events::list(app, status, limit, after.as_ref()).await?;
    let next_cursor = page
        .next
        .map(|c| cursor::seal(&app.config.cursor_secret, &scope, &c.0));
    Ok(Reply::ok(EventPage {
        events: events::views(app, &page.items, viewer).await?,
        has_more: next_cursor.is_some(),
        next_cursor,
    }))
}

/// Body of `PUT /v1/events/{event_id}/status`.
#[derive(Deserialize)]
struct StatusBody {
    status: Option<String>,
}

async fn set_status(app: &App, req: &Req) -> Result<Reply, AppError> {
    let me = req.user()?;
    let id: EventId = req.path("event_id")?;
    let body: StatusBody = req.json()?;
    let to: EventStatus = match body.status.as_deref() {
        None => return Err(AppError::field("status", "is required")),
        Some(raw) => raw.parse()?,
    };
    let event = events::change_status(app, me, id, to).await?;
    Ok(Reply::ok(events::view(app, &event, Some(me)).await?))
}

/// Body of `PATCH /v1/events/{event_id}`: each field present replaces the stored one;
/// `description` and `max_participants` may be `null` (cleared), the others may not.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default, deserialize_with = "super::patch::present")]
    title: Option<String>,
    #[serde(default, deserialize_with = "super::patch::nullable")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::patch::present")]
    moderation_level: Option<String>,
    #[serde(default, deserialize_with = "super::patch::nullable_integer")]
    max_participants: Option<Option<i64>>,
    #[serde(default, deserialize_with = "super::patch::present")]
    comment_settings: Option<SettingsPatch>,
}

/// `comment_settings` of a patch: the fields named change, the others stay.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsPatch {
    #[serde(default, deserialize_with = "super::patch::present")]
    allow_replies: Option<bool>,
    #[serde(default, deserialize_with = "super::patch::present_integer")]
    slow_mode_seconds: Option<u32>,
    #[serde(default, deserialize_with = "super::patch::present")]
    blocked_words: Option<Vec<String>>,
}

async fn patch(app: &App, req: &Req) -> Result<Reply, AppError> {
    let me = req.user()?;
    let id: EventId = req.path("event_id")?;
    let body: PatchBody = req.json()?;
    let current = events::get(app, id).await?;
    let mut errs = ValidationErrors::new();
    let moderation_level = body.moderation_level.as_deref().and_then(|raw| {
        errs.check(parse_enum::<ModerationLevel>(
            "moderation_level",
            raw,
            "strict, standard or relaxed",
        ))
    });
    let max_participants = match body.max_participants {
        None => None,
        Some(None) => Some(None),
        Some(Some(n)) if n < 1 => {
            errs.add("max_participants", "must be at least 1");
            None
        }
        Some(Some(n)) => match u32::try_from(n) {
            Ok(n) => Some(Some(n)),
            Err(_) => {
                errs.add("max_participants", format!("must be at most {}", u32::MAX));
                None
            }
        },
    };
    let comment_settings = body.comment_settings.map(|p| {
        let mut s = current.comment_settings.clone();
        if let Some(v) = p.allow_replies {
            s.allow_replies = v;
        }
        if let Some(v) = p.slow_mode_seconds {
            s.slow_mode_seconds = v;
        }
        if let Some(v) = p.blocked_words {
            s.blocked_words = v;
        }
        check_settings(&mut errs, s)
    });
    errs.finish()?;
    let patch = events::EventPatch {
        title: body.title,
        description: body.description,
        moderation_level,
        max_participants,
        comment_settings,
    };
    let event = events::update(app, me, id, patch).await?;
    Ok(Reply::ok(events::view(app, &event, Some(me)).await?))
}

/// `{moderators: [UserSummary]}` of the event.
async fn moderator_list(app: &App, id: EventId) -> Result<Reply, AppError> {
    Ok(Reply::ok(serde_json::json!({
        "moderators": events::moderators(app, id).await?,
    })))
}

async fn moderators(app: &App, req: &Req) -> Result<Reply, AppError> {
    req.user()?;
    let id: EventId = req.path("event_id")?;
    moderator_list(app, id).await
}

async fn appoint(app: &App, req: &Req) -> Result<Reply, AppError> {
    let me = req.user()?;
    let id: EventId = req.path("event_id")?;
    let user: UserId = req.path("user_id")?;
    events::appoint(app, me, id, user).await?;
    moderator_list(app, id).await
}

async fn dismiss(app: &App, req: &Req) -> Result<Reply, AppError> {
    let me = req.user()?;
    let id: EventId = req.path("event_id")?;
    let user: UserId = req.path("user_id")?;
    events::dismiss(app, me, id, user).await?;
    moderator_list(app, id).await
}

/// Body of `POST /v1/events/{event_id}/bans`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BanBody {
    user_id: Option<String>,
    #[serde(default, deserialize_with = "crate::integer::optional")]
    duration_seconds: Option<i64>,
    reason: Option<String>,
}

async fn ban(app: &App, req: &Req) -> Result<Reply, AppError> {
    let me = req.user()?;
    let id: EventId = req.path("event_id")?;
    let body: BanBody = req.json()?;
    let target: UserId = match body.user_id.as_deref() {
        None => return Err(AppError::field("user_id", "is required")),
        Some(raw) => raw
            .parse()
            .map_err(|e: crate::ids::IdError| AppError::field("user_id", e.to_string()))?,
    };
    let mute = match body.duration_seconds {
        None => None,
        Some(s) => Some(u32::try_from(s).map_err(|_| {
            AppError::field(
                "duration_seconds",
                format!("must be 1 to {}", crate::model::MAX_MUTE_SECONDS),
            )
        })?),
    };
    let ban = crate::service::bans::ban(app, me, id, target, mute, body.reason).await?;
    Ok(Reply::created(ban))
}

async fn unban(app: &App, req: &Req) -> Result<Reply, AppError> {
    let me = req.user()?;
    let id: EventId = req.path("event_id")?;
    let user: UserId = req.path("user_id")?;
    crate::service::bans::unban(app, me, id, user).await?;
    Ok(Reply::no_content())
}

/// The `cursor` query parameter of a listing sealed for `scope`, opened.
fn cursor_param(app: &App, req: &Req, scope: &str) -> Result<Option<Cursor>, AppError> {
    req.query::<String>("cursor")?
        .map(|c| cursor::open(&app.config.cursor_secret, scope, &c).map(Cursor))
        .transpose()
}

/// The body `{<items>: […], has_more, next_cursor}` of a page, its cursor sealed for `scope`.
fn page_body<T: Serialize>(app: &App, items: &str, page: Page<T>, scope: &str) -> Reply {
    let next_cursor = page
        .next
        .map(|c| cursor::seal(&app.config.cursor_secret, scope, &c.0));
    Reply::ok(serde_json::json!({
        items: page.items,
        "has_more": next_cursor.is_some(),
        "next_cursor": next_cursor,
    }))
}

async fn bans(app: &App, req: &Req) -> Result<Reply, AppError> {
    let me = req.user()?;
    let id: EventId = req.path("event_id")?;
    let limit = req.limit(DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)?;
    let scope = format!("bans:{id}");
    let after = cursor_param(app, req, &scope)?;
    let page = crate::service::bans::list(app, me, id, limit, after.as_ref()).await?;
    Ok(page_body(app, "bans", page, &scope))
}

async fn moderation_log(app: &App, req: &Req) -> Result<Reply, AppError> {
    let me = req.user()?;
    let id: EventId = req.path("event_id")?;
    let limit = req.limit(DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)?;
    let scope = format!("moderation-log:{id}");
    let after = cursor_param(app, req, &scope)?;
    let page = crate::service::moderation_log::list(app, me, id, limit, after.as_ref()).await?;
    Ok(page_body(app, "records", page, &scope))
}
