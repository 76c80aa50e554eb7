//! `$connect`: authenticates the handshake and stores the connection.
//!
//! - **Token**: an access token from the `Authorization: Bearer <token>` header or, since
//!   browsers cannot set headers on a WebSocket, from the `?token=` query parameter (the header
//!   wins when both are present). An expired, forged or refresh token, or one whose session
//!   was signed out, is answered 401, a suspended account's 403 (`ACCOUNT_SUSPENDED`), and
//!   nothing is stored. The connection remembers the token's session: every later frame
//!   checks it ([`App::check_connection`]).
//! - **No token**: an anonymous viewer, read-only: it may subscribe to events (with catch-up)
//!   and ping; every other frame is answered `UNAUTHORIZED`. At most
//!   [`Config::max_anonymous_connections_per_ip`](crate::config::Config::max_anonymous_connections_per_ip)
//!   live anonymous connections per source IP (429 past it). It costs what a signed-in
//!   connection costs: the same rows, and one connection read per frame (no session read).
//! - **Rooms at connect**: optional `?event_id=` and `?conversation_id=` subscribe the new
//!   connection with the same permission checks as a `subscribe` frame. A malformed id is
//!   answered 400, a conversation without a token 401, a room that does not exist or that the
//!   user may not read 404, an event at its `max_participants` 403 (`EVENT_FULL`), and in every
//!   such case nothing is stored. Connect-time subscriptions have **no catch-up**: the
//!   connection is not open until this handler returns, so nothing can be posted to it (API
//!   Gateway answers 410). Clients that need catch-up send `subscribe` with `since` once open.
//! - **Connections per user**: a user with
//!   [`Config::max_connections_per_user`](crate::config::Config::max_connections_per_user)
//!   live connections is answered 429 and nothing is stored.
//! - **Stored**: the connection with its user, `connected_at` and the TTL of
//!   [`connection_expiry`], then its subscriptions. If a subscription cannot be written the
//!   connection is removed again and the handshake fails with 500.
//! - **Subprotocol**: when the client offers `Sec-WebSocket-Protocol` values, the first one in
//!   [`SUBPROTOCOLS`] is echoed back (a browser fails a handshake whose offered protocols are
//!   not answered).
//!
//! Nothing is ever posted from here.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::http::HeaderMap;
use aws_lambda_events::http::header::{AUTHORIZATION, HeaderName};
use tracing::Instrument;

use crate::app::App;
use crate::error::{AppError, ErrorCode};
use crate::ids::{ConversationId, EventId, IdError, UserId};
use crate::model::{Connection, Subscription, Viewer, connection_expiry};
use crate::protocol::RoomRef;
use crate::room::Room;
use crate::service::rooms::{readable_room, within_capacity};
use crate::time::now;

/// WebSocket subprotocols the server speaks, in order of preference. `live-comments-v1` is the
/// name the live-comment design's client offers.
pub const SUBPROTOCOLS: &[&str] = &["banter.v1", "live-comments-v1"];

/// Query parameter carrying the access token.
pub const TOKEN_PARAM: &str = "token";

/// Handles `$connect`: 200 when the connection is stored; otherwise the error's status (400,
/// 401, 403, 404, 500) with the REST error body, and nothing stored.
pub async fn handle(
    app: &App,
    request: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let span = super::invocation_span(super::CONNECT_ROUTE, &request);
    async {
        match accept(app, &request).await {
            Ok((viewer, rooms)) => {
                let anonymous = viewer.user().is_none();
                tracing::info!(anonymous, rooms = rooms.len(), "connection accepted");
                let response = super::status(200);
                match subprotocol(&request.headers, &request.multi_value_headers) {
                    Some(p) => super::with_header(
                        response,
                        HeaderName::from_static("sec-websocket-protocol"),
                        p,
                    ),
                    None => response,
                }
            }
            Err(e) => {
                super::log_failure("connect", &e);
                super::error_response(&e, &request)
            }
        }
    }
    .instrument(span)
    .await
}

/// Authenticates (or admits an anonymous viewer), checks the requested rooms, stores the
/// connection and its subscriptions.
async fn accept(
    app: &App,
    request: &ApiGatewayWebsocketProxyRequest,
) -> Result<(Viewer, Vec<Room>), AppError> {
    let connection_id = super::connection_id(request)?;
    let viewer = match access_token(request) {
        None => anonymous(app, request).await?,
        Some(token) => {
            let auth = app.authenticate(Some(token)).await?;
            if auth.suspended {
                return Err(AppError::account_suspended());
            }
            tracing::Span::current().record("user_id", tracing::field::display(auth.user));
            within_connection_cap(app, auth.user).await?;
            Viewer::User {
                user_id: auth.user,
                session_id: Some(auth.session),
            }
        }
    };
    let mut rooms = Vec::new();
    for room in requested_rooms(request)? {
        let room = readable_room(app, viewer.user(), room).await?;
        within_capacity(app, viewer.user(), room).await?;
        rooms.push(room);
    }
    let connected_at = now();
    let connection = Connection {
        connection_id: connection_id.clone(),
        viewer: viewer.clone(),
        connected_at,
        expires_at: connection_expiry(connected_at),
    };
    app.stores.connections.put_connection(&connection).await?;
    if let Err(e) = subscribe_all(app, &connection, &rooms).await {
        if let Err(cleanup) = app
            .stores
            .connections
            .delete_connection(&connection_id)
            .await
        {
            tracing::warn!(error = %cleanup, "could not remove a half-made connection; its TTL will");
        }
        return Err(e);
    }
    // No viewer count is asked for here: its delivery could reach the connection before
    // API Gateway opens it (410, and the fan-out would remove it). The room's next count
    // includes it. The user's presence goes to the others (never to this connection).
    if let Err(e) = crate::service::presence::PresenceDesk::of(app)
        .connected(&connection)
        .await
    {
        tracing::warn!(error = %e, "could not record the user's presence");
    }
    Ok((viewer, rooms))
}

/// An anonymous viewer from the handshake's source IP, unless that IP already holds
/// [`Config::max_anonymous_connections_per_ip`](crate::config::Config::max_anonymous_connections_per_ip)
/// live anonymous connections (429; one Query of that IP's connections).
async fn anonymous(
    app: &App,
    request: &ApiGatewayWebsocketProxyRequest,
) -> Result<Viewer, AppError> {
    let ip = request
        .request_context
        .identity
        .source_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
        .unwrap_or("unknown")
        .to_owned();
    let cap = app.config.max_anonymous_connections_per_ip;
    let open = app
        .stores
        .connections
        .list_anonymous_connections(&ip)
        .await?;
    if open.len() >= cap {
        return Err(AppError::new(
            ErrorCode::RateLimited,
            format!(
                "this address already has {cap} open anonymous connections, the most allowed; \
                 sign in or close one"
            ),
        ));
    }
    Ok(Viewer::Anonymous { anonymous_ip: ip })
}

/// Refuses a handshake (429) when `user` already has
/// [`Config::max_connections_per_user`](crate::config::Config::max_connections_per_user) live
/// connections: one Query of the user's connections (expired rows are never counted).
async fn within_connection_cap(app: &App, user: UserId) -> Result<(), AppError> {
    let cap = app.config.max_connections_per_user;
    let open = app.stores.connections.list_user_connections(user).await?;
    if open.len() >= cap {
        return Err(AppError::new(
            ErrorCode::RateLimited,
            format!("this user already has {cap} open connections, the most allowed; close one"),
        ));
    }
    Ok(())
}

async fn subscribe_all(app: &App, connection: &Connection, rooms: &[Room]) -> Result<(), AppError> {
    for room in rooms {
        app.stores
            .connections
            .subscribe(&Subscription {
                room: *room,
                connection_id: connection.connection_id.clone(),
                user_id: connection.user_id(),
                subscribed_at: connection.connected_at,
                expires_at: connection.expires_at,
            })
            .await?;
    }
    Ok(())
}

/// The access token of the handshake: `Authorization: Bearer …`, else `?token=`.
fn access_token(request: &ApiGatewayWebsocketProxyRequest) -> Option<&str> {
    header(
        &request.headers,
        &request.multi_value_headers,
        &AUTHORIZATION,
    )
    .and_then(bearer)
    .or_else(|| query(request, TOKEN_PARAM))
}

/// The token of a `Bearer` authorization value (scheme case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A header from the single- or multi-value map (API Gateway fills both).
fn header<'a>(single: &'a HeaderMap, multi: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    single
        .get(name)
        .or_else(|| multi.get(name))
        .and_then(|v| v.to_str().ok())
}

/// A query parameter from the single- or multi-value map.
fn query<'a>(request: &'a ApiGatewayWebsocketProxyRequest, name: &str) -> Option<&'a str> {
    request
        .query_string_parameters
        .first(name)
        .or_else(|| request.multi_value_query_string_parameters.first(name))
}

/// The rooms named by `?event_id=` and `?conversation_id=` (400 when malformed).
fn requested_rooms(request: &ApiGatewayWebsocketProxyRequest) -> Result<Vec<RoomRef>, AppError> {
    let mut rooms = Vec::new();
    if let Some(id) = query(request, "event_id").filter(|s| !s.is_empty()) {
        let id: EventId = id
            .parse()
            .map_err(|e: IdError| AppError::field("event_id", e.to_string()))?;
        rooms.push(RoomRef::Event(id));
    }
    if let Some(id) = query(request, "conversation_id").filter(|s| !s.is_empty()) {
        let id: ConversationId = id
            .parse()
            .map_err(|e: IdError| AppError::field("conversation_id", e.to_string()))?;
        rooms.push(RoomRef::Conversation(id));
    }
    Ok(rooms)
}

/// The first of the client's offered subprotocols that the server speaks.
fn subprotocol(single: &HeaderMap, multi: &HeaderMap) -> Option<&'static str> {
    let offered = header(
        single,
        multi,
        &HeaderName::from_static("sec-websocket-protocol"),
    )?;
    offered
        .split(',')
        .map(str::trim)
        .find_map(|p| SUBPROTOCOLS.iter().copied().find(|s| *s == p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_parse() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
    }
}
