//! `--seed`: demo data so a newcomer can try Banter at once: the users `demo` and `friend`
//! (password [`DEMO_PASSWORD`]), a live event created by `demo` with a first comment, and the
//! direct conversation of `demo` and `friend` with a first message. Seeding again (with
//! persistent storage) signs in and reuses what exists.

use banter::app::App;
use banter::error::AppError;
use banter::ids::{ConversationId, EventId, UserId};
use banter::model::{ConversationType, EventStatus};
use banter::rest::events::EventCreate;
use banter::service::comments::{self, CommentInput};
use banter::service::conversations::{self, ConversationInput};
use banter::service::events;
use banter::service::messages::{self, MessageInput};
use banter::service::users::{self, RegisterInput};
use banter::views::SignedIn;

/// Password of both demo users.
pub const DEMO_PASSWORD: &str = "banter-demo";

/// Title of the demo event.
pub const DEMO_EVENT_TITLE: &str = "Banter demo: the local final";

/// What `--seed` created (or found).
#[derive(Clone)]
pub struct Seeded {
    /// `demo`'s id.
    pub user_id: UserId,
    /// `demo`'s username.
    pub username: String,
    /// The other user's username.
    pub friend_username: String,
    /// An access token of `demo` (valid for the configured access-token lifetime).
    pub access_token: String,
    /// The live event.
    pub event_id: EventId,
    /// The conversation of `demo` and `friend`.
    pub conversation_id: ConversationId,
}

impl std::fmt::Debug for Seeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seeded")
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .field("event_id", &self.event_id)
            .field("conversation_id", &self.conversation_id)
            .finish_non_exhaustive()
    }
}

/// Registers `username`, or signs in when it exists.
async fn user(app: &App, username: &str, display_name: &str) -> Result<SignedIn, AppError> {
    let input = RegisterInput {
        username: username.to_owned(),
        password: DEMO_PASSWORD.to_owned(),
        display_name: Some(display_name.to_owned()),
        email: None,
        device: Default::default(),
    };
    match users::register(app, input).await {
        Ok(s) => Ok(s),
        Err(e) if e.code == banter::error::ErrorCode::Conflict => {
            let name = banter::service::sign_in::SignInName::Username(username.to_owned());
            banter::service::sign_in::login(
                app,
                &name,
                DEMO_PASSWORD.to_owned(),
                &Default::default(),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

/// Creates a live event titled `title` by `creator` (who moderates it): what benchmarks and
/// tests need to subscribe clients to.
pub async fn live_event(app: &App, creator: UserId, title: &str) -> Result<EventId, AppError> {
    create_live(app, creator, title, None).await
}

/// A live event by `creator`, starting now.
async fn create_live(
    app: &App,
    creator: UserId,
    title: &str,
    description: Option<&str>,
) -> Result<EventId, AppError> {
    let input = EventCreate {
        title: Some(title.into()),
        description: description.map(str::to_owned),
        event_type: Some("sports".into()),
        start_time: Some(banter::time::now().to_rfc3339()),
        end_time: None,
        max_participants: None,
        moderation_level: None,
        comment_settings: None,
    }
    .validate()
    .map_err(AppError::from)?;
    let event = events::create(app, creator, input).await?;
    events::change_status(app, creator, event.event_id, EventStatus::Live).await?;
    Ok(event.event_id)
}

/// Creates (or finds) the demo data.
pub async fn seed(app: &App) -> Result<Seeded, AppError> {
    let demo = user(app, "demo", "Demo User").await?;
    let friend = user(app, "friend", "A Friend").await?;
    let me = demo.user.user_id;

    let live = events::list(app, EventStatus::Live, 100, None).await?;
    let existing = live
        .items
        .iter()
        .find(|e| e.title == DEMO_EVENT_TITLE && e.created_by == me)
        .map(|e| e.event_id);
    let event_id = match existing {
        Some(id) => id,
        None => {
            let event_id = create_live(
                app,
                me,
                DEMO_EVENT_TITLE,
                Some(
                    "A live event seeded by banter-local --seed: post a comment and watch it \
                     arrive on every open tab.",
                ),
            )
            .await?;
            comments::submit(
                app,
                friend.user.user_id,
                CommentInput {
                    event_id,
                    content: "Welcome to Banter! Comments here reach every subscriber live.".into(),
                    parent_comment_id: None,
                    client_key: None,
                    client_metadata: None,
                },
            )
            .await?;
            event_id
        }
    };

    let conversation = conversations::create(
        app,
        me,
        ConversationInput {
            conversation_type: ConversationType::Direct,
            title: None,
            description: None,
            participant_ids: vec![friend.user.user_id],
        },
    )
    .await?;
    let conversation_id = conversation.view.conversation_id;
    if conversation.created {
        let key = "seed-welcome"
            .parse()
            .map_err(|e: banter::ids::IdError| AppError::internal(e.to_string()))?;
        messages::send(
            app,
            friend.user.user_id,
            MessageInput {
                conversation_id,
                content: "Hi demo! Say something back over the WebSocket.".into(),
                client_message_id: key,
                reply_to_message_id: None,
                message_type: Default::default(),
                file_ids: Vec::new(),
            },
        )
        .await?;
    }
    Ok(Seeded {
        user_id: me,
        username: demo.user.username,
        friend_username: friend.user.username,
        access_token: demo.tokens.access_token,
        event_id,
        conversation_id,
    })
}
