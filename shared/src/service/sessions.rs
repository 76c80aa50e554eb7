//! A user's own sessions: listing them and revoking one (signing a device out from
//! another). Sign-in, refresh and sign-out are in [`crate::service::users`] and
//! [`crate::service::sign_in`]; the session logic itself in [`crate::auth::sessions`].

use crate::app::{App, Authenticated};
use crate::error::AppError;
use crate::ids::FamilyId;
use crate::time::now;
use crate::views::SessionView;

/// The caller's live sessions, most recent sign-in first, the one of the calling token
/// marked `current`.
pub async fn list(app: &App, caller: &Authenticated) -> Result<Vec<SessionView>, AppError> {
    let mut sessions = app.sessions.list(caller.user, now()).await?;
    // The index behind the listing may lag a sign-in: the calling session is live (its token
    // was just checked against it), so it is shown even before the index has it.
    if !sessions.iter().any(|f| f.family_id == caller.session)
        && let Some(f) = app.stores.sessions.get_family(caller.session).await?
        && f.user_id == caller.user
        && !f.revoked
    {
        sessions.insert(0, f);
    }
    Ok(sessions
        .iter()
        .map(|f| SessionView::of(f, caller.session))
        .collect())
}

/// Revokes the caller's session `session`: its refresh token is refused from now on, its
/// access tokens from the next request, and its sockets are closed. 404 when it is not a
/// live session of the caller (unknown, another user's, or over already): the answer does
/// not tell which.
pub async fn revoke(app: &App, caller: &Authenticated, session: FamilyId) -> Result<(), AppError> {
    if !app.sessions.revoke_own(caller.user, session, now()).await? {
        return Err(AppError::not_found("session"));
    }
    app.close_sockets(caller.user, Some(session)).await;
    Ok(())
}
