//! One handler per client message type. [`ClientMessage`] is the command: [`run`] looks the
//! caller up and hands each variant to its module's `run`, which calls the services the REST
//! API uses and returns the payload of the `ack`.

mod comment_submit;
mod presence_update;
mod receipt;
mod send_message;
mod subscribe;
mod typing;
mod unsubscribe;

use crate::app::App;
use crate::config::RateKind;
use crate::error::AppError;
use crate::ids::{ClientKey, UserId};
use crate::model::{Connection, Receipt};
use crate::protocol::{ClientMessage, ServerMessage};

use super::reply::Replier;

/// Who runs a command, and the way back to them.
struct Caller<'a> {
    app: &'a App,
    /// The connection as stored at `$connect` (its viewer and expiry).
    connection: Connection,
    /// Posts to the calling connection (catch-up frames go out before the ack).
    out: &'a Replier<'a>,
}

impl Caller<'_> {
    /// The signed-in user; `UNAUTHORIZED` for an anonymous viewer, whose connection is
    /// read-only.
    fn user(&self) -> Result<UserId, AppError> {
        self.connection.user_id().ok_or_else(|| {
            AppError::unauthorized(
                "anonymous connections are read-only (subscribe to events, ping); sign in and \
                 reconnect with a token to write",
            )
        })
    }

    /// Whose subscribe rate a frame counts against: the user's, or an anonymous
    /// connection's own.
    fn rate_subject(&self) -> String {
        match self.connection.user_id() {
            Some(user) => user.to_string(),
            None => format!("anonymous:{}", self.connection.connection_id),
        }
    }
}

/// Runs one message and returns the answer: `pong` for `ping`, which needs no user and no
/// store read (it is the keep-alive every client sends every 30 s), only a count against the
/// connection's control rate; otherwise the `ack` of what ran as the connection's user.
pub(crate) async fn run(
    app: &App,
    out: &Replier<'_>,
    key: &ClientKey,
    body: ClientMessage,
) -> Result<ServerMessage, AppError> {
    if matches!(body, ClientMessage::Ping) {
        app.rate_limit(RateKind::Control, out.connection().as_str())
            .await?;
        return Ok(ServerMessage::pong(key.as_str()));
    }
    let connection = app
        .stores
        .connections
        .get_connection(out.connection())
        .await?
        .ok_or_else(|| AppError::unauthorized("unknown or expired connection; reconnect"))?;
    if let Some(user) = connection.user_id() {
        tracing::Span::current().record("user_id", tracing::field::display(user));
    }
    app.check_connection(&connection).await?;
    if let Some(user) = connection.user_id() {
        crate::service::presence::active(app, user).await;
    }
    let c = Caller {
        app,
        connection,
        out,
    };
    let ack = match body {
        ClientMessage::Ping => return Ok(ServerMessage::pong(key.as_str())),
        ClientMessage::Subscribe { room, since } => subscribe::run(&c, room, since).await?,
        ClientMessage::Unsubscribe { room } => unsubscribe::run(&c, room).await?,
        ClientMessage::CommentSubmit {
            event_id,
            content,
            parent_comment_id,
            client_metadata,
        } => {
            let input = crate::service::comments::CommentInput {
                event_id,
                content,
                parent_comment_id,
                client_key: Some(key.clone()),
                client_metadata,
            };
            comment_submit::run(&c, input).await?
        }
        ClientMessage::SendMessage {
            conversation_id,
            content,
            client_message_id,
            reply_to_message_id,
            message_type,
            file_ids,
        } => {
            let input = crate::service::messages::MessageInput {
                conversation_id,
                content,
                client_message_id,
                reply_to_message_id,
                message_type,
                file_ids,
            };
            send_message::run(&c, input).await?
        }
        ClientMessage::TypingStart { conversation_id } => {
            typing::run(&c, conversation_id, true).await?
        }
        ClientMessage::TypingStop { conversation_id } => {
            typing::run(&c, conversation_id, false).await?
        }
        ClientMessage::PresenceUpdate { status } => presence_update::run(&c, status).await?,
        ClientMessage::MessageDelivered {
            conversation_id,
            message_id,
        } => receipt::run(&c, conversation_id, message_id, Receipt::Delivered).await?,
        ClientMessage::MessageRead {
            conversation_id,
            message_id,
        } => receipt::run(&c, conversation_id, message_id, Receipt::Read).await?,
    };
    Ok(ServerMessage::ack(key.as_str(), ack))
}
