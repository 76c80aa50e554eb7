//! The application context every handler receives: stores, the fan-out queue, sessions and
//! configuration, plus the few operations every route needs (authenticate, rate-limit,
//! broadcast to a room).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use crate::auth::{AuthConfig, KeyRole, SigningKey, sessions::Sessions, tokens::TokenIssuer};
use crate::aws::AwsSettings;
use crate::config::{Config, RateKind};
use crate::error::AppError;
use crate::ids::{ConnectionId, FamilyId, UserId};
use crate::model::{AccountStatus, Connection, Viewer};
use crate::protocol::ServerMessage;
use crate::queue::memory::MemoryQueue;
use crate::queue::sqs::SqsQueue;
use crate::queue::{FanoutJob, Queue, StreamWork};
use crate::room::Room;
use crate::store::Stores;
use crate::time::{Timestamp, now};
use crate::views::UserSummary;

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct App {
    /// The stores.
    pub stores: Stores,
    /// The fan-out queue.
    pub queue: Arc<dyn Queue>,
    /// Sign-in sessions and token issuing.
    pub sessions: Arc<Sessions>,
    /// Limits, moderators and other settings.
    pub config: Arc<Config>,
    /// Closes WebSocket connections ([`App::close_sockets`]) when sign-out or suspension
    /// ends them: the Management API of `WEBSOCKET_MANAGEMENT_ENDPOINT` in a deployed
    /// function that has it, whatever poster the local stack or a test sets. `None`: open
    /// sockets are only refused at their next frame ([`App::check_connection`]).
    pub closer: Option<Arc<dyn crate::poster::Poster>>,
    /// When this instance last wrote each user's activity.
    pub activity: Arc<crate::service::presence::ActivityClock>,
    /// The media bucket: S3 in a deployed function that has `MEDIA_BUCKET`, else in memory
    /// (the local stack points its URLs at its gateway).
    pub objects: Arc<dyn crate::objects::ObjectStore>,
}

/// An authenticated caller: the user, the session their token belongs to, and whether their
/// account is suspended (it may read, but every write answers 403 `ACCOUNT_SUSPENDED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authenticated {
    /// The user.
    pub user: UserId,
    /// The session (refresh-token family) of the token.
    pub session: FamilyId,
    /// The account is suspended.
    pub suspended: bool,
}

/// The state of a rate-limit window after a permitted request, for `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    /// Requests allowed per window.
    pub limit: u64,
    /// Requests left in this window.
    pub remaining: u64,
    /// When the window resets.
    pub resets_at: Timestamp,
}

impl App {
    /// An app over the given parts.
    pub fn new(
        stores: Stores,
        queue: Arc<dyn Queue>,
        auth: &AuthConfig,
        config: Config,
    ) -> Result<Self, AppError> {
        Ok(Self::with_issuer(
            stores,
            queue,
            TokenIssuer::new(auth)?,
            config,
        ))
    }

    /// An app whose sessions use `issuer` (a signing one, or one that only verifies).
    pub fn with_issuer(
        stores: Stores,
        queue: Arc<dyn Queue>,
        issuer: TokenIssuer,
        config: Config,
    ) -> Self {
        Self {
            sessions: Arc::new(Sessions::new(issuer, stores.sessions.clone())),
            stores,
            queue,
            config: Arc::new(config),
            closer: None,
            activity: Arc::default(),
            objects: Arc::new(crate::objects::memory::MemoryObjects::new(
                "http://127.0.0.1",
            )),
        }
    }

    /// The same app, with its media in `objects`.
    pub fn with_objects(mut self, objects: Arc<dyn crate::objects::ObjectStore>) -> Self {
        self.objects = objects;
        self
    }

    /// The same app, closing sockets through `closer`.
    pub fn with_closer(mut self, closer: Arc<dyn crate::poster::Poster>) -> Self {
        self.closer = Some(closer);
        self
    }

    /// An app entirely in memory (tests, the local stack, the health function), with a fresh
    /// random HS256 signing key. Returns the queue so the caller can run the fan-out from it.
    ///
    /// The key's 32 bytes come straight from the OS (`getrandom`): generating a key pair
    /// would seed the crypto library's random generator, which costs ≈85 ms of cold start
    /// in a function that never signs anything.
    pub fn in_memory(config: Config) -> Result<(Self, Arc<MemoryQueue>), AppError> {
        let queue = Arc::new(MemoryQueue::new(StdDuration::from_secs(30), 5));
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(AppError::internal)?;
        let auth = AuthConfig::new(SigningKey::hs256(secret)?);
        let app = Self::new(crate::store::memory::stores(), queue.clone(), &auth, config)?;
        Ok((app, queue))
    }

    /// The app of a deployed function: DynamoDB tables from `*_TABLE` variables, the queue
    /// at `FANOUT_QUEUE_URL`, the token key of its `role` from `BANTER_JWT_*`
    /// ([`KeyRole::issuer_from_lookup`]: the private key for the signer, the public key for a
    /// verifier, none otherwise), settings from `BANTER_*`.
    pub async fn from_env(role: KeyRole) -> Result<Self, AppError> {
        Self::from_sdk(&AwsSettings::default().load().await, role)
    }

    /// [`App::from_env`] with an SDK configuration the caller has loaded already (a function
    /// that builds other clients loads it once).
    pub fn from_sdk(sdk: &aws_config::SdkConfig, role: KeyRole) -> Result<Self, AppError> {
        let client = aws_sdk_dynamodb::Client::new(sdk);
        let stores = crate::store::dynamodb::stores(
            client,
            crate::store::dynamodb::tables::TableNames::from_env(),
        );
        let queue_url = std::env::var("FANOUT_QUEUE_URL")
            .map_err(|_| AppError::internal("FANOUT_QUEUE_URL is not set"))?;
        let queue = Arc::new(SqsQueue::new(sdk, queue_url));
        let config = Config::from_env().map_err(AppError::internal)?;
        let issuer = role.issuer_from_lookup(|name| std::env::var(name).ok())?;
        let mut app = Self::with_issuer(stores, queue, issuer, config);
        if let Some(bucket) = crate::env::optional(crate::env::process, "MEDIA_BUCKET") {
            app = app.with_objects(Arc::new(crate::objects::s3::S3Objects::new(sdk, bucket)));
        }
        Ok(
            match crate::env::optional(crate::env::process, "WEBSOCKET_MANAGEMENT_ENDPOINT") {
                Some(endpoint) => app.with_closer(Arc::new(
                    crate::poster::apigw::ApiGatewayPoster::new(sdk, endpoint),
                )),
                None => app,
            },
        )
    }

    /// Who an access token belongs to, checked against its session: missing, expired,
    /// forged or refresh tokens, and tokens whose session was signed out or revoked, fail
    /// with 401. The one place every REST request and WebSocket `$connect` is authenticated.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Authenticated, AppError> {
        let token = token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AppError::unauthorized("missing access token"))?;
        let claims = self.sessions.issuer().verify_access(token)?;
        self.check_session(claims.sub, claims.sid).await
    }

    /// Whether session `sid` of `user` is live, and whether the account is suspended: the
    /// session's item (`FAMILY#<sid>`) and the user's profile, read at once (two `GetItem`s
    /// in parallel, strongly consistent; no cache, so a sign-out or a suspension counts from
    /// the next request). 401 when the session is unknown, another user's, revoked or over.
    /// An account that no longer exists is left to the handlers, as before.
    pub async fn check_session(
        &self,
        user: UserId,
        sid: FamilyId,
    ) -> Result<Authenticated, AppError> {
        let (family, account) = futures::future::try_join(
            self.stores.sessions.get_family(sid),
            self.stores.users.get_user(user),
        )
        .await?;
        match family {
            Some(f) if f.user_id == user && !f.revoked => {}
            _ => return Err(AppError::unauthorized("session revoked")),
        }
        Ok(Authenticated {
            user,
            session: sid,
            suspended: account.is_some_and(|a| a.account_status == AccountStatus::Suspended),
        })
    }

    /// What every WebSocket frame (but `ping`) passes before it runs: the connection's
    /// session is still live ([`App::check_session`]; 401 once it was signed out or revoked)
    /// and its account is not suspended (403 `ACCOUNT_SUSPENDED`). A socket authorized at
    /// `$connect` is trusted for no longer than its session. An anonymous viewer has no
    /// session to check: its connection is read-only, and the commands refuse its writes.
    pub async fn check_connection(&self, connection: &Connection) -> Result<(), AppError> {
        let (user, sid) = match &connection.viewer {
            Viewer::Anonymous { .. } => return Ok(()),
            Viewer::User {
                user_id,
                session_id: Some(sid),
            } => (*user_id, *sid),
            Viewer::User {
                session_id: None, ..
            } => {
                return Err(AppError::unauthorized(
                    "session revoked; sign in and reconnect",
                ));
            }
        };
        let auth = self
            .check_session(user, sid)
            .await
            .map_err(|e| match e.code {
                crate::error::ErrorCode::Unauthorized => {
                    AppError::unauthorized("session revoked; sign in and reconnect")
                }
                _ => e,
            })?;
        if auth.suspended {
            return Err(AppError::account_suspended());
        }
        Ok(())
    }

    /// Closes the open WebSocket connections of `user` — all of them, or only those opened
    /// in `session` — through [`App::closer`] (`DeleteConnection`) and removes their rows.
    /// Best effort: a failure is logged, and the frame check ([`App::check_connection`])
    /// still refuses whatever stays open. Returns how many were closed.
    pub async fn close_sockets(&self, user: UserId, session: Option<FamilyId>) -> usize {
        let connections = match self.stores.connections.list_user_connections(user).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(user_id = %user, error = %e, "could not list connections to close");
                return 0;
            }
        };
        let mut closed = 0;
        for c in connections.iter().filter(|c| {
            session.is_none()
                || matches!(&c.viewer, Viewer::User { session_id, .. } if *session_id == session)
        }) {
            if let Some(closer) = &self.closer
                && let Err(e) = closer.disconnect(&c.connection_id).await
            {
                tracing::warn!(connection_id = %c.connection_id, error = %e, "could not close a connection");
                continue;
            }
            if let Err(e) = self
                .stores
                .connections
                .delete_connection(&c.connection_id)
                .await
            {
                tracing::warn!(connection_id = %c.connection_id, error = %e, "could not remove a closed connection");
            }
            closed += 1;
        }
        if closed > 0 {
            tracing::info!(user_id = %user, closed, "connections closed");
        }
        closed
    }

    /// Counts one `kind` action by `subject` (a user id or an IP) and fails with 429 once
    /// the window's limit is passed.
    pub async fn rate_limit(&self, kind: RateKind, subject: &str) -> Result<RateStatus, AppError> {
        let rule = self.config.rule(kind);
        let t = now();
        let key = format!("{}#{subject}", kind.key());
        let hit = self.stores.rate_limits.hit(&key, rule.window, t).await?;
        if hit.count > rule.limit {
            let wait = (hit.resets_at - t).num_seconds().max(1) as u64;
            return Err(AppError::rate_limited(wait));
        }
        Ok(RateStatus {
            limit: rule.limit,
            remaining: rule.limit - hit.count,
            resets_at: hit.resets_at,
        })
    }

    /// Enqueues `message` for every subscriber of `room` (but `exclude`).
    pub async fn broadcast(
        &self,
        room: Room,
        message: &ServerMessage,
        exclude: Option<ConnectionId>,
    ) -> Result<(), AppError> {
        self.broadcast_to(&[room], message, exclude).await
    }

    /// Enqueues `message` for every subscriber of each of `rooms` (but `exclude`), one job
    /// per room in one send. The only way anything reaches the fan-out queue.
    pub async fn broadcast_to(
        &self,
        rooms: &[Room],
        message: &ServerMessage,
        exclude: Option<ConnectionId>,
    ) -> Result<(), AppError> {
        let payload = serde_json::to_value(message).map_err(AppError::internal)?;
        let jobs: Vec<FanoutJob> = rooms
            .iter()
            .map(|room| FanoutJob {
                exclude: exclude.clone(),
                ..FanoutJob::new(*room, payload.clone())
            })
            .collect();
        self.queue.send(&jobs).await?;
        Ok(())
    }

    /// Enqueues the live delivery of `room`'s stream after a change was committed to it
    /// (`counts`: a like or a reply changed a comment's counts, to be flushed into the
    /// stream). The job delivers everything committed so far, so a lost enqueue delays the
    /// change until the room's next one, and catch-up has it in any case: a failed enqueue is
    /// logged, never an error of the request (the change is committed; an error would have the
    /// client send it again).
    pub async fn publish(&self, room: Room, counts: bool) {
        if let Err(e) = self
            .queue
            .send(&[FanoutJob::stream(room, StreamWork { counts })])
            .await
        {
            tracing::error!(room = %room, error = %e, "could not enqueue the room's delivery");
        }
    }

    /// An event's audience changed (a subscribe, unsubscribe or disconnect): asks its
    /// delivery for a viewer count, which it takes at most every
    /// [`OCCUPANCY_EVERY`](crate::model::OCCUPANCY_EVERY). Conversations have no count.
    pub async fn audience_moved(&self, room: Room) {
        if matches!(room, Room::Event(_)) {
            self.publish(room, true).await;
        }
    }

    /// The public summary of a user; a placeholder for a user that no longer exists.
    pub async fn user_summary(&self, user: UserId) -> Result<UserSummary, AppError> {
        Ok(match self.stores.users.get_user(user).await? {
            Some(u) => UserSummary::from(&u),
            None => UserSummary::deleted(user),
        })
    }

    /// Summaries of several users, in the order asked.
    pub async fn user_summaries(
        &self,
        users: &[UserId],
    ) -> Result<std::collections::HashMap<UserId, UserSummary>, AppError> {
        let mut out: std::collections::HashMap<UserId, UserSummary> = self
            .stores
            .users
            .get_users(users)
            .await?
            .iter()
            .map(|u| (u.user_id, UserSummary::from(u)))
            .collect();
        for id in users {
            out.entry(*id).or_insert_with(|| UserSummary::deleted(*id));
        }
        Ok(out)
    }

    /// Whether `user` moderates everything (a global moderator or admin).
    pub fn is_global_moderator(&self, user: UserId) -> bool {
        self.config.moderators.contains(&user) || self.config.admins.contains(&user)
    }

    /// Whether `user` is an admin.
    pub fn is_admin(&self, user: UserId) -> bool {
        self.config.admins.contains(&user)
    }
}
