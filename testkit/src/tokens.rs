//! Tokens signed with an app's key, as its sign-in would issue them.

use banter::app::App;
use banter::config::Config;
use banter::ids::UserId;
use banter::time::{Timestamp, now};

/// A valid access token of `user`.
pub fn token_for(app: &App, user: UserId) -> String {
    token_issued_at(app, user, now())
}

/// An access token of `user` issued at `at` (an hour ago makes an expired one), in a new
/// session of its own: access tokens work only while their session is live.
///
/// Synchronous for the convenience of the many callers: the sign-in runs with
/// `futures::executor::block_on`, which suits the in-memory stores (they never wait on I/O).
/// With DynamoDB stores use `app.sessions.login_tokens(..).await` instead.
pub fn token_issued_at(app: &App, user: UserId, at: Timestamp) -> String {
    futures::executor::block_on(app.sessions.login_tokens(user, at))
        .expect("sign in for an access token")
        .access_token
}

/// The refresh token of a new sign-in of `user` (a session family of its own).
pub async fn refresh_token_for(app: &App, user: UserId) -> String {
    app.sessions
        .login_tokens(user, now())
        .await
        .expect("issue a refresh token")
        .refresh_token
}

/// An access token of `user` that is well formed and current but signed by another
/// deployment's key: every app under test must refuse it.
pub fn forged_token_for(user: UserId) -> String {
    let (elsewhere, _) = App::in_memory(Config::default()).expect("another in-memory app");
    token_for(&elsewhere, user)
}
