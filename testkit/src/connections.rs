//! WebSocket connections and room subscriptions, as `$connect` and `subscribe` store them.

use banter::app::App;
use banter::ids::{ConnectionId, UserId};
use banter::model::{Connection, Subscription, Viewer, connection_expiry};
use banter::room::Room;
use banter::time::now;

/// Stores the connection `id` of `user`, opened now in a new session of theirs (frames are
/// served only while the connection's session is live).
pub async fn store_connection(app: &App, id: &ConnectionId, user: UserId) {
    let t = now();
    let pair = app
        .sessions
        .login_tokens(user, t)
        .await
        .expect("a session for the connection");
    let session = app
        .sessions
        .issuer()
        .verify_access(&pair.access_token)
        .expect("its access token")
        .sid;
    app.stores
        .connections
        .put_connection(&Connection {
            connection_id: id.clone(),
            viewer: Viewer::User {
                user_id: user,
                session_id: Some(session),
            },
            connected_at: t,
            expires_at: connection_expiry(t),
        })
        .await
        .expect("store the connection");
}

/// Subscribes the connection `id` of `user` to `room`.
pub async fn subscribe(app: &App, room: Room, id: &ConnectionId, user: UserId) {
    let t = now();
    app.stores
        .connections
        .subscribe(&Subscription {
            room,
            connection_id: id.clone(),
            user_id: Some(user),
            subscribed_at: t,
            expires_at: connection_expiry(t),
        })
        .await
        .expect("store the subscription");
}
