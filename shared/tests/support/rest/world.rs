//! [`World`]: an in-memory app and its fan-out queue, with the users and events a test needs.

use std::sync::Arc;

use banter::app::App;
use banter::config::{Config, RateRule};
use banter::ids::{EventId, UserId};
use banter::model::{EventStatus, ModerationLevel, User};
use banter::queue::memory::MemoryQueue;
use banter::time::now;
use banter_testkit::{events, queue, tokens, users};
use serde_json::{Value, json};

use super::call::Call;

/// A signed-in user of a test.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user's id.
    pub id: UserId,
    /// A valid access token of the user.
    pub token: String,
}

/// An in-memory app and its fan-out queue.
pub struct World {
    /// The app.
    pub app: App,
    /// Its queue.
    pub queue: Arc<MemoryQueue>,
    /// How far [`World::drain`] has read each room's stream.
    heard: queue::Heard,
}

/// Limits high enough that tests which post many items never hit them.
pub fn roomy_config() -> Config {
    Config {
        comment_rate: RateRule::per(10_000, 10),
        message_rate: RateRule::per(10_000, 10),
        rest_rate: RateRule::per(10_000, 60),
        ..Config::default()
    }
}

impl World {
    /// A world with [`roomy_config`].
    pub fn new() -> Self {
        Self::with_config(roomy_config())
    }

    /// A world with the default settings: the limits the API documents.
    pub fn with_defaults() -> Self {
        Self::with_config(Config::default())
    }

    /// A world with `config`.
    pub fn with_config(config: Config) -> Self {
        let (app, queue) = App::in_memory(config).expect("in-memory app");
        Self {
            app,
            queue,
            heard: queue::Heard::default(),
        }
    }

    /// This world with another app (over the same queue), e.g. one whose queue fails.
    pub fn with_app(self, app: App) -> Self {
        Self { app, ..self }
    }

    /// `id` signed in: a valid access token of theirs.
    pub fn actor(&self, id: UserId) -> Actor {
        Actor {
            id,
            token: tokens::token_for(&self.app, id),
        }
    }

    /// Stores a user named `name` with a fresh id and returns it signed in.
    pub async fn user(&self, name: &str) -> Actor {
        self.user_with_id(UserId::new(), name).await
    }

    /// Stores a user `id` named `name` and returns it signed in.
    pub async fn user_with_id(&self, id: UserId, name: &str) -> Actor {
        let user = User {
            user_id: id,
            ..users::user_named(name)
        };
        users::store_user(&self.app, &user).await;
        self.actor(id)
    }

    /// Stores an event `id` of `creator` with `status` and moderation `level`.
    pub async fn event_with(
        &self,
        id: EventId,
        creator: UserId,
        status: EventStatus,
        level: ModerationLevel,
    ) -> EventId {
        self.store(banter::model::Event {
            event_id: id,
            moderation_level: level,
            ..events::event_by(creator, status, now())
        })
        .await
    }

    /// Stores `event` as it is (see [`events::store_event`]), its stream so far heard.
    pub async fn store(&self, event: banter::model::Event) -> EventId {
        events::store_event(&self.app, &event).await;
        self.heard_so_far(banter::room::Room::Event(event.event_id))
            .await;
        event.event_id
    }

    /// A live, standard-moderation event of `creator`.
    pub async fn live_event(&self, creator: UserId) -> EventId {
        let id = events::seed_event(&self.app, creator, EventStatus::Live)
            .await
            .event_id;
        self.heard_so_far(banter::room::Room::Event(id)).await;
        id
    }

    /// Marks what `room`'s stream holds now (the event going live) as already heard: tests
    /// drain what their own requests changed.
    async fn heard_so_far(&self, room: banter::room::Room) {
        let head = self
            .app
            .stores
            .streams
            .stream_head(room)
            .await
            .expect("stream head");
        self.heard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(room, head);
    }

    /// A group of `owner` with `members`, created through `POST /conversations` as a client
    /// would (the messages and conversations tests start from one); the created body.
    pub async fn group(&self, owner: &Actor, members: &[&Actor]) -> Value {
        let ids: Vec<String> = members.iter().map(|m| m.id.to_string()).collect();
        Call::sample("http-conversations-create")
            .by(owner)
            .json(json!({"conversation_type": "group", "title": "Team", "participant_ids": ids}))
            .send(self)
            .await
            .expect(201)
            .body
    }

    /// Takes every job from the queue; returns what the rooms are told, one server message
    /// per change ([`queue::heard`]).
    pub async fn drain(&self) -> Vec<Value> {
        let jobs = queue::drain(&self.queue).await;
        queue::heard(&self.app, jobs, &self.heard).await
    }

    /// The `type` of every job in the queue (which is emptied).
    pub async fn drain_types(&self) -> Vec<String> {
        self.drain()
            .await
            .iter()
            .map(|p| p["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}
