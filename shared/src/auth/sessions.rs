//! Sign-in sessions: token pairs, refresh-token rotation with reuse detection, and sign-out,
//! on top of the [`SessionStore`] port.
//!
//! A sign-in creates a refresh-token *family* whose current token is the only one that may be
//! used next. Each refresh atomically replaces it with a new token of the same family and
//! returns a new pair. Presenting a token that was already rotated away means two parties
//! hold the chain (a stolen copy): the store revokes the whole family, so the thief's and
//! the victim's latest tokens both stop working and the user must sign in again. The family
//! ends `refresh_ttl` after the sign-in; rotation does not extend it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::AuthError;
use super::tokens::TokenIssuer;

/// How long, in seconds, the refresh token a rotation replaced still answers with the pair
/// that rotation issued: two tabs refreshing at once, or a retry after a lost response, get
/// the same new pair instead of revoking the session. Presented later, it is a reuse.
pub const REFRESH_GRACE_SECS: i64 = 30;

/// The most sessions a user holds at once: a sign-in beyond it revokes the oldest ones, so a
/// script signing in over and over cannot grow the user's session list (and its index)
/// without bound.
pub const MAX_SESSIONS: usize = 20;

use crate::ids::{FamilyId, TokenId, UserId};
use crate::model::Device;
use crate::store::{NextTokens, RefreshFamily, Rotation, SessionStore};
use crate::time::Timestamp;

/// What a sign-in gives: the first token pair of a new session, its id, and the user's
/// oldest sessions it revoked to stay within [`MAX_SESSIONS`] (whose sockets the caller
/// closes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// The token pair.
    pub tokens: TokenPair,
    /// The new session.
    pub session: FamilyId,
    /// Sessions revoked to make room, oldest first.
    pub evicted: Vec<FamilyId>,
}

/// The token response of a sign-in or a refresh. Its `Debug` output hides the tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    /// The access token (a JWT) for `Authorization: Bearer`.
    pub access_token: String,
    /// The single-use refresh token (a JWT).
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Always `"bearer"`.
    pub token_type: String,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .finish()
    }
}

/// Issues, rotates and revokes sessions.
#[derive(Clone)]
pub struct Sessions {
    issuer: TokenIssuer,
    store: Arc<dyn SessionStore>,
    grace: chrono::Duration,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions signed by `issuer` and recorded in `store`.
    pub fn new(issuer: TokenIssuer, store: Arc<dyn SessionStore>) -> Self {
        Self {
            issuer,
            store,
            grace: chrono::Duration::seconds(REFRESH_GRACE_SECS),
        }
    }

    /// The same sessions with another grace window (tests; zero turns replays off).
    pub fn with_grace(mut self, grace: chrono::Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The token issuer (and, through it, the access-token verifier).
    pub fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// Starts a session for `user` with no device fields: [`Sessions::sign_in`]'s tokens.
    pub async fn login_tokens(&self, user: UserId, now: Timestamp) -> Result<TokenPair, AuthError> {
        Ok(self.sign_in(user, &Device::default(), now).await?.tokens)
    }

    /// Starts a session for `user` on `device` (after the password was checked): stores a
    /// new family, revokes the user's oldest sessions beyond [`MAX_SESSIONS`], and returns
    /// the first token pair.
    pub async fn sign_in(
        &self,
        user: UserId,
        device: &Device,
        now: Timestamp,
    ) -> Result<SignIn, AuthError> {
        let family_id = FamilyId::new();
        let jti = TokenId::new();
        let access_jti = TokenId::new();
        let exp = now.timestamp() + self.issuer.refresh_ttl().num_seconds();
        let expires_at = chrono::DateTime::from_timestamp(exp, 0).ok_or_else(|| {
            AuthError::Config("the refresh-token lifetime is out of range".into())
        })?;
        self.store
            .create_family(&RefreshFamily {
                family_id,
                user_id: user,
                current_jti: jti,
                revoked: false,
                expires_at,
                previous_jti: None,
                issued_at: now,
                access_jti,
                created_at: now,
                device: device.clone(),
            })
            .await?;
        tracing::info!(user_id = %user, family_id = %family_id, "session started");
        let tokens = self.pair(user, family_id, jti, access_jti, exp, now, now)?;
        let evicted = self.evict_beyond_cap(user, family_id, now).await?;
        Ok(SignIn {
            tokens,
            session: family_id,
            evicted,
        })
    }

    /// Revokes the user's oldest live sessions (never `keep`, the one just started) until
    /// at most [`MAX_SESSIONS`] are left; returns them.
    async fn evict_beyond_cap(
        &self,
        user: UserId,
        keep: FamilyId,
        now: Timestamp,
    ) -> Result<Vec<FamilyId>, AuthError> {
        let live = self.store.list_user_families(user, now).await?;
        // The index may not show the new session yet: it counts all the same.
        let others: Vec<FamilyId> = live
            .iter()
            .map(|f| f.family_id)
            .filter(|id| *id != keep)
            .collect();
        let excess = (others.len() + 1).saturating_sub(MAX_SESSIONS);
        let evicted: Vec<FamilyId> = others.into_iter().take(excess).collect();
        for id in &evicted {
            self.store.revoke(*id).await?;
            tracing::info!(user_id = %user, family_id = %id, "oldest session revoked: too many sessions");
        }
        Ok(evicted)
    }

    /// The user's live sessions, most recent sign-in first.
    pub async fn list(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<RefreshFamily>, AuthError> {
        let mut live = self.store.list_user_families(user, now).await?;
        live.reverse();
        Ok(live)
    }

    /// Revokes session `family` if it is a live session of `user` (true); false when it is
    /// unknown, another user's, or already over: the caller answers 404 without telling
    /// which. Its refresh token stops working at once, and its access tokens from the next
    /// request on ([`crate::app::App::check_session`]).
    pub async fn revoke_own(
        &self,
        user: UserId,
        family: FamilyId,
        now: Timestamp,
    ) -> Result<bool, AuthError> {
        match self.store.get_family(family).await? {
            Some(f) if f.user_id == user && !f.revoked && f.expires_at > now => {
                self.store.revoke(family).await?;
                tracing::info!(user_id = %user, family_id = %family, "session revoked by its user");
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Exchanges a refresh token for a new pair of the same family. Fails with
    /// [`AuthError::Expired`] or [`AuthError::Invalid`] for a token that does not verify,
    /// [`AuthError::Reused`] for a token that was already rotated (the family is revoked
    /// from then on), and [`AuthError::Revoked`] for a signed-out, revoked, expired or unknown
    /// family.
    ///
    /// The caller should also refuse users who may no longer sign in (e.g. suspended): the
    /// token's `sub` is available beforehand from
    /// [`TokenIssuer::verify_refresh_at`](super::TokenIssuer::verify_refresh_at).
    pub async fn refresh(
        &self,
        refresh_token: &str,
        now: Timestamp,
    ) -> Result<TokenPair, AuthError> {
        let claims = self.issuer.verify_refresh_at(refresh_token, now)?;
        let next = NextTokens {
            jti: TokenId::new(),
            access_jti: TokenId::new(),
        };
        match self
            .store
            .rotate(claims.fam, claims.jti, next, now, self.grace)
            .await?
        {
            Rotation::Rotated => self.pair(
                claims.sub,
                claims.fam,
                next.jti,
                next.access_jti,
                claims.exp,
                now,
                now,
            ),
            Rotation::Replayed {
                jti,
                access_jti,
                issued_at,
            } => {
                tracing::info!(
                    user_id = %claims.sub,
                    family_id = %claims.fam,
                    "refresh replayed within the grace window; same pair"
                );
                self.pair(
                    claims.sub, claims.fam, jti, access_jti, claims.exp, issued_at, now,
                )
            }
            Rotation::Reused => {
                tracing::warn!(
                    user_id = %claims.sub,
                    family_id = %claims.fam,
                    "rotated refresh token presented again; session family revoked"
                );
                Err(AuthError::Reused)
            }
            Rotation::Revoked | Rotation::Unknown => Err(AuthError::Revoked),
        }
    }

    /// Signs out the session of `refresh_token` by revoking its family. Idempotent; an
    /// expired (but genuine) token is accepted too. Fails only for a token that does not
    /// verify, or a store failure.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), AuthError> {
        let claims = self
            .issuer
            .verifier()
            .verify_refresh_ignoring_expiry(refresh_token)?;
        self.store.revoke(claims.fam).await?;
        tracing::info!(user_id = %claims.sub, family_id = %claims.fam, "session ended");
        Ok(())
    }

    /// The pair of refresh token `jti` and access token `access_jti` issued at `issued_at`
    /// (deterministic: the same arguments give the same strings); `expires_in` counts from
    /// `now`.
    #[allow(clippy::too_many_arguments)]
    fn pair(
        &self,
        user: UserId,
        family: FamilyId,
        jti: TokenId,
        access_jti: TokenId,
        exp: i64,
        issued_at: Timestamp,
        now: Timestamp,
    ) -> Result<TokenPair, AuthError> {
        let access_token = self
            .issuer
            .issue_access_with(user, family, access_jti, issued_at)?;
        let refresh_token = self
            .issuer
            .issue_refresh(user, family, jti, exp, issued_at)?;
        let left = (issued_at + self.issuer.access_ttl() - now).num_seconds();
        let expires_in = u64::try_from(left).unwrap_or(0);
        Ok(TokenPair {
            access_token,
            refresh_token,
            expires_in,
            token_type: "bearer".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::auth::tokens::tests::{eddsa_config, hs256_config};
    use crate::auth::{AuthConfig, TokenType};
    use crate::store::memory::sessions::MemorySessionStore;
    use crate::time;

    fn sessions_with(config: AuthConfig) -> (Sessions, Arc<MemorySessionStore>) {
        let store = Arc::new(MemorySessionStore::new());
        let sessions = Sessions::new(TokenIssuer::new(&config).unwrap(), store.clone());
        (sessions, store)
    }

    fn sessions() -> (Sessions, Arc<MemorySessionStore>) {
        sessions_with(hs256_config())
    }

    #[tokio::test]
    async fn login_issues_a_pair_and_stores_the_family() {
        let (sessions, store) = sessions();
        let user = UserId::new();
        let now = time::now();
        let pair = sessions.login_tokens(user, now).await.unwrap();
        assert_eq!(pair.token_type, "bearer");
        assert_eq!(pair.expires_in, 900);
        let access = sessions
            .issuer()
            .verify_access_at(&pair.access_token, now)
            .unwrap();
        assert_eq!(access.sub, user);
        let refresh = sessions
            .issuer()
            .verify_refresh_at(&pair.refresh_token, now)
            .unwrap();
        assert_eq!(refresh.sub, user);
        assert_eq!(refresh.typ, TokenType::Refresh);
        assert_eq!(refresh.exp, now.timestamp() + 30 * 24 * 3600);
        let family = store.get_family(refresh.fam).await.unwrap().unwrap();
        assert_eq!(family.user_id, user);
        assert_eq!(family.current_jti, refresh.jti);
        assert!(!family.revoked);
        assert_eq!(family.expires_at.timestamp(), refresh.exp);
        // Tokens stay out of Debug output.
        assert!(!format!("{pair:?}").contains(&pair.access_token[..16]));
    }

    #[tokio::test]
    async fn refresh_rotates_within_the_family() {
        for config in [hs256_config(), eddsa_config()] {
            let (sessions, store) = sessions_with(config);
            let user = UserId::new();
            let now = time::now();
            let first = sessions.login_tokens(user, now).await.unwrap();
            let later = now + Duration::minutes(20);
            let second = sessions.refresh(&first.refresh_token, later).await.unwrap();
            let third = sessions
                .refresh(&second.refresh_token, later)
                .await
                .unwrap();

            let c1 = sessions
                .issuer()
                .verify_refresh_at(&first.refresh_token, now)
                .unwrap();
            let c2 = sessions
                .issuer()
                .verify_refresh_at(&second.refresh_token, later)
                .unwrap();
            let c3 = sessions
                .issuer()
                .verify_refresh_at(&third.refresh_token, later)
                .unwrap();
            assert_eq!(c1.fam, c2.fam);
            assert_eq!(c2.fam, c3.fam);
            assert_ne!(c1.jti, c2.jti);
            assert_ne!(c2.jti, c3.jti);
            // Rotation keeps the family's end.
            assert_eq!(c3.exp, c1.exp);
            assert_eq!(
                store.get_family(c1.fam).await.unwrap().unwrap().current_jti,
                c3.jti
            );
            let access = sessions
                .issuer()
                .verify_access_at(&third.access_token, later)
                .unwrap();
            assert_eq!(access.sub, user);
            assert_eq!(access.iat, later.timestamp());
        }
    }

    #[tokio::test]
    async fn reuse_of_a_rotated_token_revokes_the_family() {
        let (sessions, store) = sessions();
        let now = time::now();
        let first = sessions.login_tokens(UserId::new(), now).await.unwrap();
        let second = sessions.refresh(&first.refresh_token, now).await.unwrap();
        // The first token again, after the grace window: a stolen copy.
        let later = now + Duration::seconds(REFRESH_GRACE_SECS + 1);
        assert_eq!(
            sessions.refresh(&first.refresh_token, later).await,
            Err(AuthError::Reused)
        );
        let fam = sessions
            .issuer()
            .verify_refresh_at(&second.refresh_token, now)
            .unwrap()
            .fam;
        assert!(store.get_family(fam).await.unwrap().unwrap().revoked);
        // Even the newest token of the family is dead now.
        assert_eq!(
            sessions.refresh(&second.refresh_token, later).await,
            Err(AuthError::Revoked)
        );
        // Another sign-in of the same user is unaffected.
        let other = sessions.login_tokens(UserId::new(), now).await.unwrap();
        assert!(sessions.refresh(&other.refresh_token, now).await.is_ok());
    }

    #[tokio::test]
    async fn logout_revokes_and_is_idempotent() {
        let (sessions, _) = sessions();
        let now = time::now();
        let pair = sessions.login_tokens(UserId::new(), now).await.unwrap();
        sessions.logout(&pair.refresh_token).await.unwrap();
        sessions.logout(&pair.refresh_token).await.unwrap();
        assert_eq!(
            sessions.refresh(&pair.refresh_token, now).await,
            Err(AuthError::Revoked)
        );
        // A token that does not verify signs nothing out.
        assert!(matches!(
            sessions.logout("not.a.token").await,
            Err(AuthError::Invalid(_))
        ));
        // An access token is not a refresh token.
        let other = sessions.login_tokens(UserId::new(), now).await.unwrap();
        assert_eq!(
            sessions.logout(&other.access_token).await,
            Err(AuthError::Invalid("malformed"))
        );
        assert!(sessions.refresh(&other.refresh_token, now).await.is_ok());
    }

    #[tokio::test]
    async fn refresh_rejects_expired_invalid_access_and_unknown_tokens() {
        let (sessions, _) = sessions();
        let now = time::now();
        let pair = sessions.login_tokens(UserId::new(), now).await.unwrap();
        assert_eq!(
            sessions
                .refresh(&pair.refresh_token, now + Duration::days(31))
                .await,
            Err(AuthError::Expired)
        );
        assert!(matches!(
            sessions.refresh(&pair.access_token, now).await,
            Err(AuthError::Invalid(_))
        ));
        // Validly signed, but for a family the store never saw.
        let stray = sessions
            .issuer()
            .issue_refresh(
                UserId::new(),
                FamilyId::new(),
                TokenId::new(),
                now.timestamp() + 3600,
                now,
            )
            .unwrap();
        assert_eq!(sessions.refresh(&stray, now).await, Err(AuthError::Revoked));
        // The same token from another deployment's key.
        let (foreign, _) = sessions_with(hs256_config_with_other_secret());
        let theirs = foreign.login_tokens(UserId::new(), now).await.unwrap();
        assert_eq!(
            sessions.refresh(&theirs.refresh_token, now).await,
            Err(AuthError::Invalid("signature"))
        );
    }

    fn hs256_config_with_other_secret() -> AuthConfig {
        AuthConfig::new(crate::auth::SigningKey::hs256([7u8; 32]).unwrap())
    }

    #[tokio::test]
    async fn two_tabs_refreshing_one_token_at_once_get_the_same_pair() {
        for config in [hs256_config(), eddsa_config()] {
            let (sessions, store) = sessions_with(config);
            let now = time::now();
            let pair = sessions.login_tokens(UserId::new(), now).await.unwrap();
            let mut tasks = Vec::new();
            for _ in 0..8 {
                let sessions = sessions.clone();
                let token = pair.refresh_token.clone();
                tasks.push(tokio::spawn(
                    async move { sessions.refresh(&token, now).await },
                ));
            }
            let mut pairs = Vec::new();
            for task in tasks {
                pairs.push(task.await.unwrap().expect("every tab is refreshed"));
            }
            assert!(pairs.iter().all(|p| *p == pairs[0]), "not one pair");
            assert_ne!(pairs[0].refresh_token, pair.refresh_token);
            let fam = sessions
                .issuer()
                .verify_refresh_at(&pairs[0].refresh_token, now)
                .unwrap()
                .fam;
            assert!(!store.get_family(fam).await.unwrap().unwrap().revoked);
            // The new pair goes on rotating as usual.
            assert!(sessions.refresh(&pairs[0].refresh_token, now).await.is_ok());
        }
    }

    #[tokio::test]
    async fn a_retry_within_the_grace_window_gets_the_same_pair_and_reuse_after_it_revokes() {
        let (sessions, store) = sessions();
        let now = time::now();
        let first = sessions.login_tokens(UserId::new(), now).await.unwrap();
        let second = sessions.refresh(&first.refresh_token, now).await.unwrap();
        // The response was lost: the client retries within the window.
        let within = now + Duration::seconds(REFRESH_GRACE_SECS - 1);
        let retry = sessions
            .refresh(&first.refresh_token, within)
            .await
            .unwrap();
        assert_eq!(retry.access_token, second.access_token);
        assert_eq!(retry.refresh_token, second.refresh_token);
        // After the window the old token is a stolen copy again.
        let after = now + Duration::seconds(REFRESH_GRACE_SECS + 1);
        assert_eq!(
            sessions.refresh(&first.refresh_token, after).await,
            Err(AuthError::Reused)
        );
        let fam = sessions
            .issuer()
            .verify_refresh_at(&second.refresh_token, now)
            .unwrap()
            .fam;
        assert!(store.get_family(fam).await.unwrap().unwrap().revoked);
        assert_eq!(
            sessions.refresh(&second.refresh_token, after).await,
            Err(AuthError::Revoked)
        );
    }

    #[tokio::test]
    async fn only_the_token_just_rotated_is_replayed() {
        let (sessions, _) = sessions();
        let now = time::now();
        let first = sessions.login_tokens(UserId::new(), now).await.unwrap();
        let second = sessions.refresh(&first.refresh_token, now).await.unwrap();
        let _third = sessions.refresh(&second.refresh_token, now).await.unwrap();
        // Two rotations back, even within the window: reuse.
        assert_eq!(
            sessions.refresh(&first.refresh_token, now).await,
            Err(AuthError::Reused)
        );
    }
}
