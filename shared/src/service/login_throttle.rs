//! The per-account limit on failed sign-ins, besides the per-IP limit of the auth routes:
//! guesses spread over many IPs still count for the account they target, and users behind
//! one NAT keep their own allowance.
//!
//! Failures are counted per sign-in name as typed, folded (the lowercase username, or
//! `email:` and the lowercase email: see [`crate::service::sign_in`]), whether or not the
//! account exists, so the answer tells nothing about that, in two fixed windows: [`RateKind::LoginFailure`]
//! (default 5 per 15 minutes) and, as the backoff once short lockouts repeat,
//! [`RateKind::LoginFailureBackoff`] (20 per 24 hours). Once a window's count reaches its
//! limit, every sign-in of the account — right password or not — is answered 429 with
//! `Retry-After` and a `retry_after` detail until that window ends, before any password is
//! checked: a locked account confirms no guess.
//!
//! Anyone can lock an account this way for a while; that is the price of the limit, and the
//! account's existing sessions are not affected.

use crate::app::App;
use crate::config::RateKind;
use crate::error::AppError;
use crate::time::Timestamp;

/// The windows, shortest first.
const TIERS: [RateKind; 2] = [RateKind::LoginFailure, RateKind::LoginFailureBackoff];

/// `subject` is the folded sign-in name.
fn key(kind: RateKind, subject: &str) -> String {
    format!("{}#{subject}", kind.key())
}

/// Fails with 429 while `subject` (a folded sign-in name) is locked out at `now`.
pub async fn check(app: &App, subject: &str, now: Timestamp) -> Result<(), AppError> {
    let mut wait: Option<i64> = None;
    for kind in TIERS {
        let rule = app.config.rule(kind);
        let seen = app
            .stores
            .rate_limits
            .peek(&key(kind, subject), rule.window, now)
            .await?;
        if seen.count >= rule.limit {
            let secs = (seen.resets_at - now).num_seconds().max(1);
            wait = Some(wait.map_or(secs, |w| w.max(secs)));
        }
    }
    match wait {
        Some(secs) => {
            tracing::info!(
                retry_after = secs,
                "sign-in refused: account locked after failures"
            );
            Err(AppError::rate_limited_because(
                "too many failed sign-ins for this account; try again later",
                u64::try_from(secs).unwrap_or(1),
            ))
        }
        None => Ok(()),
    }
}

/// Counts one failed sign-in of `subject` (a folded sign-in name) at `now` in every window.
pub async fn record_failure(app: &App, subject: &str, now: Timestamp) -> Result<(), AppError> {
    for kind in TIERS {
        let rule = app.config.rule(kind);
        app.stores
            .rate_limits
            .hit(&key(kind, subject), rule.window, now)
            .await?;
    }
    Ok(())
}
