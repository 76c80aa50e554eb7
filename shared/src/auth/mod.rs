//! Authentication: password hashing, access and refresh tokens.
//!
//! - [`password`]: argon2id hashing in PHC form, and a dummy verification that lets a login
//!   for an unknown user take as long as one for a known user.
//! - [`keys`]: the signing key ([`SigningKey`]: HS256 with a ≥ 32-byte secret, or an Ed25519
//!   key pair for EdDSA) and the [`AuthConfig`] read from the environment.
//! - [`tokens`]: short-lived access tokens and rotated refresh tokens (JWT), issued by
//!   [`TokenIssuer`] and checked by [`TokenVerifier`] with the algorithm pinned and `exp`,
//!   `iss`, `aud` and the token type checked.
//! - [`jwks`]: the public JWKS document of an EdDSA key, and a verifier built from one.
//! - [`role`]: which key a process holds ([`KeyRole`]): only the auth function signs, the
//!   functions that authenticate requests verify with the public key, the others hold none.
//! - [`sessions`]: sign-in, refresh-token rotation with reuse detection, and sign-out on top
//!   of the [`SessionStore`](crate::store::SessionStore) port.
//!
//! Neither a password nor a token ever appears in an error text or a log line.

pub mod jwks;
pub mod jwks_verifier;
pub mod keys;
pub mod password;
pub mod role;
pub mod sessions;
pub mod tokens;

pub use jwks::{JwkSet, PublicJwk};
pub use keys::{AuthConfig, SigningKey};
pub use password::{hash_password, verify_password, verify_password_dummy};
pub use role::KeyRole;
pub use sessions::{MAX_SESSIONS, Sessions, SignIn, TokenPair};
pub use tokens::{AccessClaims, RefreshClaims, TokenIssuer, TokenType, TokenVerifier};

use crate::store::StoreError;

/// Why an authentication step failed. The HTTP layer maps these to responses; the texts are
/// for logs and never contain a token, a password or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token's `exp` has passed.
    #[error("token expired")]
    Expired,
    /// The token is malformed, its signature or algorithm is wrong, or a claim does not match
    /// (issuer, audience, token type, missing claim). The reason is for logs only.
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    /// The refresh token's family was signed out, revoked after a reuse, expired, or is
    /// unknown: the client must sign in again.
    #[error("refresh token revoked")]
    Revoked,
    /// A refresh token that had already been rotated was presented again: a stolen copy is
    /// in use. Its whole family is now revoked.
    #[error("refresh token reused; session revoked")]
    Reused,
    /// The authentication configuration is unusable (missing or weak key, bad value).
    #[error("auth configuration: {0}")]
    Config(String),
    /// Hashing or signing failed inside the crypto library.
    #[error("crypto failure: {0}")]
    Crypto(&'static str),
    /// The session store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Installs the aws-lc-rs provider as `jsonwebtoken`'s process-wide crypto provider, unless a
/// provider is installed already. Called by every constructor that signs or verifies, so the
/// choice never depends on which `jsonwebtoken` features other crates enable.
pub(crate) fn ensure_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // `Err` means some provider is installed already, which is just as good.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    });
}
