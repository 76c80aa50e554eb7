//! Access and refresh tokens (JWT).
//!
//! Both kinds carry `sub` (the user), `iss`, `aud`, `iat`, `exp`, `jti` and `typ`
//! (`"access"` or `"refresh"`); refresh tokens also carry `fam`, their family, and access
//! tokens `sid`, the same family: the session they belong to. Verification:
//!
//! - accepts only the configured algorithm, read from the header before anything else, so
//!   `alg: none`, another HMAC size, or an HS256 token "signed" with a public key all fail;
//! - checks the signature with the key named by `kid` (EdDSA) or the secret (HS256);
//! - requires `sub`, `iss`, `aud`, `iat`, `exp`, `jti` and `typ`, with `iss` and `aud` equal to
//!   the configured values and `typ` equal to the expected kind (a refresh token is never an
//!   access token, nor the reverse);
//! - rejects a token whose `exp` is at or before `now` (with [`CLOCK_LEEWAY_SECS`] of leeway)
//!   or whose `iat` lies in the future.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::jwks::JwkSet;
use super::keys::AuthConfig;
use super::{AuthError, ensure_crypto_provider};
use crate::ids::{FamilyId, TokenId, UserId};
use crate::time::{self, Timestamp};

/// Clock skew tolerated when checking `exp` and `iat`, in seconds.
pub const CLOCK_LEEWAY_SECS: i64 = 5;

/// The kind of a token, its `typ` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// A short-lived token that authorizes API calls.
    Access,
    /// A long-lived, single-use token that obtains a new token pair.
    Refresh,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user.
    pub sub: UserId,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Unique token id.
    pub jti: TokenId,
    /// The session (refresh-token family) the token was issued in: signing out that session
    /// or suspending the user stops the token at once, since every authenticated request
    /// looks the session up ([`crate::app::App::authenticate`]).
    pub sid: FamilyId,
    /// Always [`TokenType::Access`] once verified.
    pub typ: TokenType,
}

/// The claims of a refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshClaims {
    /// The user.
    pub sub: UserId,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch: the end of the family, which rotation keeps.
    pub exp: i64,
    /// The token's id; the family's `current_jti` while it is the usable one.
    pub jti: TokenId,
    /// The refresh-token family (the sign-in) the token belongs to.
    pub fam: FamilyId,
    /// Always [`TokenType::Refresh`] once verified.
    pub typ: TokenType,
}

/// Claims common to both token kinds, for the checks [`TokenVerifier`] makes itself.
trait Claims: DeserializeOwned {
    fn typ(&self) -> TokenType;
    fn iat(&self) -> i64;
    fn exp(&self) -> i64;
}

impl Claims for AccessClaims {
    fn typ(&self) -> TokenType {
        self.typ
    }
    fn iat(&self) -> i64 {
        self.iat
    }
    fn exp(&self) -> i64 {
        self.exp
    }
}

impl Claims for RefreshClaims {
    fn typ(&self) -> TokenType {
        self.typ
    }
    fn iat(&self) -> i64 {
        self.iat
    }
    fn exp(&self) -> i64 {
        self.exp
    }
}

/// A verification key and the `kid` it answers to (`None`: tokens without `kid`).
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub(crate) kid: Option<String>,
    pub(crate) key: DecodingKey,
}

/// Checks tokens: built from the [`AuthConfig`] of the issuer ([`TokenVerifier::new`]) or,
/// for EdDSA, from a JWKS document ([`TokenVerifier::from_jwks_json`]).
#[derive(Clone)]
pub struct TokenVerifier {
    algorithm: Algorithm,
    keys: Vec<VerifyKey>,
    validation: Validation,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("algorithm", &self.algorithm)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// The verifier for tokens issued under `config`.
    pub fn new(config: &AuthConfig) -> Result<Self, AuthError> {
        config.validate()?;
        Self::from_parts(
            config.key.algorithm(),
            vec![VerifyKey {
                kid: config.key.kid().map(str::to_owned),
                key: config.key.decoding_key(),
            }],
            config.issuer.clone(),
            config.audience.clone(),
        )
    }

    /// A verifier of EdDSA tokens signed by the Ed25519 key whose raw 32-byte public key is
    /// `public`, named `kid` (default: its RFC 7638 thumbprint, as [`super::SigningKey`]
    /// names it). What a function that must not sign verifies with.
    pub fn from_ed25519_public(
        public: &[u8],
        kid: Option<String>,
        issuer: String,
        audience: String,
    ) -> Result<Self, AuthError> {
        if public.len() != 32 {
            return Err(AuthError::Config(
                "an Ed25519 public key is 32 bytes".into(),
            ));
        }
        let kid = kid
            .map(|k| k.trim().to_owned())
            .unwrap_or_else(|| super::keys::thumbprint(public));
        Self::from_parts(
            Algorithm::EdDSA,
            vec![VerifyKey {
                kid: Some(kid),
                key: DecodingKey::from_ed_der(public),
            }],
            issuer,
            audience,
        )
    }

    /// A verifier with no key: every token fails. For a function that checks no token.
    pub fn without_keys(issuer: String, audience: String) -> Result<Self, AuthError> {
        Self::from_parts(Algorithm::EdDSA, Vec::new(), issuer, audience)
    }

    /// A verifier that accepts `algorithm` only, with `keys`, `issuer` and `audience`.
    pub(crate) fn from_parts(
        algorithm: Algorithm,
        keys: Vec<VerifyKey>,
        issuer: String,
        audience: String,
    ) -> Result<Self, AuthError> {
        ensure_crypto_provider();
        if issuer.is_empty() || audience.is_empty() {
            return Err(AuthError::Config(
                "the token issuer and audience must not be empty".into(),
            ));
        }
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        // `exp` is checked against the caller's `now` in `decode`, not the library's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        Ok(Self {
            algorithm,
            keys,
            validation,
        })
    }

    /// The only algorithm this verifier accepts.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Verifies an access token now.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, AuthError> {
        self.verify_access_at(token, time::now())
    }

    /// Verifies an access token at `now`.
    pub fn verify_access_at(&self, token: &str, now: Timestamp) -> Result<AccessClaims, AuthError> {
        self.decode(token, TokenType::Access, Some(now))
    }

    /// Verifies a refresh token's signature and claims now (not whether it was rotated or
    /// revoked: that is the session store's job, see [`super::Sessions::refresh`]).
    pub fn verify_refresh(&self, token: &str) -> Result<RefreshClaims, AuthError> {
        self.verify_refresh_at(token, time::now())
    }

    /// As [`verify_refresh`](Self::verify_refresh), at `now`.
    pub fn verify_refresh_at(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<RefreshClaims, AuthError> {
        self.decode(token, TokenType::Refresh, Some(now))
    }

    /// Verifies a refresh token except for its expiry (for sign-out, which may present an
    /// expired token harmlessly).
    pub(crate) fn verify_refresh_ignoring_expiry(
        &self,
        token: &str,
    ) -> Result<RefreshClaims, AuthError> {
        self.decode(token, TokenType::Refresh, None)
    }

    fn decode<C: Claims>(
        &self,
        token: &str,
        expected: TokenType,
        now: Option<Timestamp>,
    ) -> Result<C, AuthError> {
        // Pin the algorithm before the library parses anything: `none`, another HMAC size or
        // a different family are refused here with a precise reason.
        let header = RawHeader::parse(token)?;
        if !matches!(header.alg.parse::<Algorithm>(), Ok(alg) if alg == self.algorithm) {
            return Err(AuthError::Invalid("algorithm"));
        }
        let key = self.key_for(header.kid.as_deref())?;
        let data = jsonwebtoken::decode::<C>(token, key, &self.validation).map_err(map_error)?;
        if data.header.alg != self.algorithm {
            return Err(AuthError::Invalid("algorithm"));
        }
        let claims = data.claims;
        if claims.typ() != expected {
            return Err(AuthError::Invalid("token type"));
        }
        if claims.exp() <= claims.iat() {
            return Err(AuthError::Invalid("claims"));
        }
        if let Some(now) = now {
            let now = now.timestamp();
            if claims.iat() > now.saturating_add(CLOCK_LEEWAY_SECS) {
                return Err(AuthError::Invalid("issued in the future"));
            }
            if claims.exp().saturating_add(CLOCK_LEEWAY_SECS) <= now {
                return Err(AuthError::Expired);
            }
        }
        Ok(claims)
    }

    /// The key for a token whose header names `kid`.
    fn key_for(&self, kid: Option<&str>) -> Result<&DecodingKey, AuthError> {
        if let Some(k) = self.keys.iter().find(|k| k.kid.as_deref() == kid) {
            return Ok(&k.key);
        }
        match (kid, self.keys.as_slice()) {
            // A token without `kid` against a single named key: that key.
            (None, [only]) => Ok(&only.key),
            (None, _) => Err(AuthError::Invalid("missing key id")),
            (Some(_), _) => Err(AuthError::Invalid("unknown key id")),
        }
    }
}

/// The header fields read before verification, straight from the JSON so that any `alg`
/// (including `none`) is seen.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

impl RawHeader {
    fn parse(token: &str) -> Result<Self, AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Invalid("malformed"));
        };
        let json = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| AuthError::Invalid("malformed"))?;
        serde_json::from_slice(&json).map_err(|_| AuthError::Invalid("malformed"))
    }
}

/// Maps a `jsonwebtoken` failure to an [`AuthError`] with a log-safe reason.
fn map_error(e: jsonwebtoken::errors::Error) -> AuthError {
    match e.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::InvalidSignature => AuthError::Invalid("signature"),
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm => AuthError::Invalid("algorithm"),
        ErrorKind::InvalidIssuer => AuthError::Invalid("issuer"),
        ErrorKind::InvalidAudience => AuthError::Invalid("audience"),
        ErrorKind::InvalidSubject => AuthError::Invalid("subject"),
        ErrorKind::MissingRequiredClaim(_) => AuthError::Invalid("missing claim"),
        ErrorKind::InvalidClaimFormat(_) => AuthError::Invalid("claims"),
        ErrorKind::ImmatureSignature => AuthError::Invalid("not yet valid"),
        ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => AuthError::Invalid("key"),
        // Bad base64, JSON, UTF-8, structure, or claims that do not deserialize.
        _ => AuthError::Invalid("malformed"),
    }
}

/// Issues tokens under an [`AuthConfig`], and verifies them.
#[derive(Clone)]
pub struct TokenIssuer {
    algorithm: Algorithm,
    kid: Option<String>,
    /// `None`: this process only verifies ([`TokenIssuer::verify_only`]).
    encoding: Option<EncodingKey>,
    issuer: String,
    audience: String,
    access_ttl: Duration,
    refresh_ttl: Duration,
    verifier: TokenVerifier,
    jwks: JwkSet,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// The issuer for `config` (validated first).
    pub fn new(config: &AuthConfig) -> Result<Self, AuthError> {
        let verifier = TokenVerifier::new(config)?;
        Ok(Self {
            algorithm: config.key.algorithm(),
            kid: config.key.kid().map(str::to_owned),
            encoding: Some(config.key.encoding_key()),
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            access_ttl: config.access_ttl,
            refresh_ttl: config.refresh_ttl,
            verifier,
            jwks: JwkSet {
                keys: config.key.public_jwk().into_iter().collect(),
            },
        })
    }

    /// An issuer that holds no signing key: it verifies with `verifier`, and every attempt to
    /// issue a token fails with [`AuthError::Config`]. What every function but `auth` runs
    /// with ([`super::KeyRole`]).
    pub fn verify_only(verifier: TokenVerifier) -> Self {
        let issuer = verifier
            .validation
            .iss
            .as_ref()
            .and_then(|set| set.iter().next().cloned())
            .unwrap_or_default();
        let audience = verifier
            .validation
            .aud
            .as_ref()
            .and_then(|set| set.iter().next().cloned())
            .unwrap_or_default();
        Self {
            algorithm: verifier.algorithm,
            kid: None,
            encoding: None,
            issuer,
            audience,
            access_ttl: Duration::seconds(AuthConfig::DEFAULT_ACCESS_TTL_SECS),
            refresh_ttl: Duration::seconds(AuthConfig::DEFAULT_REFRESH_TTL_SECS),
            verifier,
            jwks: JwkSet::default(),
        }
    }

    /// Whether this issuer can sign (it holds the private key).
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }

    /// Issues an access token for `user` in session `sid` at `now`; returns it with its
    /// lifetime in seconds (the `expires_in` of a token response). The token works only
    /// while that session is stored and live.
    pub fn issue_access(
        &self,
        user: UserId,
        sid: FamilyId,
        now: Timestamp,
    ) -> Result<(String, u64), AuthError> {
        let token = self.issue_access_with(user, sid, TokenId::new(), now)?;
        Ok((
            token,
            u64::try_from(self.access_ttl.num_seconds()).unwrap_or(0),
        ))
    }

    /// Issues the access token `jti` of `user` in session `sid`, issued at `iat`. Signing is
    /// deterministic (HS256 and Ed25519 alike), so the same arguments give the same token:
    /// how a refresh replayed within the grace window answers with the very pair it got
    /// first.
    pub fn issue_access_with(
        &self,
        user: UserId,
        sid: FamilyId,
        jti: TokenId,
        iat: Timestamp,
    ) -> Result<String, AuthError> {
        let iat = iat.timestamp();
        let claims = AccessClaims {
            sub: user,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat,
            exp: iat + self.access_ttl.num_seconds(),
            jti,
            sid,
            typ: TokenType::Access,
        };
        self.sign(&claims)
    }

    /// Issues the refresh token `jti` of `family` for `user` at `now`, expiring at `exp`
    /// (seconds since the epoch; the family's end).
    pub fn issue_refresh(
        &self,
        user: UserId,
        family: FamilyId,
        jti: TokenId,
        exp: i64,
        now: Timestamp,
    ) -> Result<String, AuthError> {
        let claims = RefreshClaims {
            sub: user,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now.timestamp(),
            exp,
            jti,
            fam: family,
            typ: TokenType::Refresh,
        };
        self.sign(&claims)
    }

    fn sign<T: Serialize>(&self, claims: &T) -> Result<String, AuthError> {
        let Some(encoding) = &self.encoding else {
            return Err(AuthError::Config(
                "this function holds no signing key: only the auth function issues tokens".into(),
            ));
        };
        let mut header = Header::new(self.algorithm);
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, claims, encoding)
            .map_err(|_| AuthError::Crypto("token signing"))
    }

    /// The verifier for this issuer's tokens.
    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    /// Verifies an access token now (see [`TokenVerifier::verify_access`]).
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, AuthError> {
        self.verifier.verify_access(token)
    }

    /// Verifies an access token at `now`.
    pub fn verify_access_at(&self, token: &str, now: Timestamp) -> Result<AccessClaims, AuthError> {
        self.verifier.verify_access_at(token, now)
    }

    /// Verifies a refresh token's signature and claims at `now`.
    pub fn verify_refresh_at(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<RefreshClaims, AuthError> {
        self.verifier.verify_refresh_at(token, now)
    }

    /// The public keys to publish: the EdDSA key, or none for HS256.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// Lifetime of access tokens.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// Lifetime of a refresh-token family.
    pub fn refresh_ttl(&self) -> Duration {
        self.refresh_ttl
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::auth::SigningKey;

    pub(crate) const SECRET: &[u8] = b"test-secret-that-is-at-least-32-bytes!!";

    pub(crate) fn hs256_config() -> AuthConfig {
        AuthConfig::new(SigningKey::hs256(SECRET).unwrap())
    }

    pub(crate) fn eddsa_config() -> AuthConfig {
        AuthConfig::new(SigningKey::generate_ed25519(Some("test-key".into())).unwrap())
    }

    /// The token with one character in the middle of its signature changed.
    pub(crate) fn tamper_signature(token: &str) -> String {
        let dot = token.rfind('.').unwrap();
        let mut bytes = token.as_bytes().to_vec();
        let i = dot + 1 + (bytes.len() - dot - 1) / 2;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    }

    /// The token with its payload JSON rewritten by `f` and the signature kept.
    fn rewrite_payload(token: &str, f: impl FnOnce(&mut serde_json::Value)) -> String {
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        f(&mut payload);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
        format!("{}.{}.{}", parts[0], payload, parts[2])
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn access_payload(now: Timestamp) -> serde_json::Value {
        serde_json::json!({
            "sub": UserId::new(), "iss": "banter", "aud": "banter-api",
            "iat": now.timestamp(), "exp": now.timestamp() + 600,
            "jti": TokenId::new(), "sid": FamilyId::new(), "typ": "access",
        })
    }

    #[test]
    fn access_round_trip_hs256() {
        let issuer = TokenIssuer::new(&hs256_config()).unwrap();
        let user = UserId::new();
        let now = time::now();
        let (token, expires_in) = issuer
            .issue_access(user, crate::ids::FamilyId::new(), now)
            .unwrap();
        assert_eq!(expires_in, 900);
        let claims = issuer.verify_access_at(&token, now).unwrap();
        assert_eq!(claims.sub, user);
        assert_eq!(claims.iss, "banter");
        assert_eq!(claims.aud, "banter-api");
        assert_eq!(claims.iat, now.timestamp());
        assert_eq!(claims.exp, now.timestamp() + 900);
        assert_eq!(claims.typ, TokenType::Access);
        // The real clock agrees.
        assert_eq!(issuer.verify_access(&token).unwrap().sub, user);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.kid, None);
    }

    #[test]
    fn access_round_trip_eddsa() {
        let issuer = TokenIssuer::new(&eddsa_config()).unwrap();
        let user = UserId::new();
        let now = time::now();
        let (token, _) = issuer
            .issue_access(user, crate::ids::FamilyId::new(), now)
            .unwrap();
        let claims = issuer.verify_access_at(&token, now).unwrap();
        assert_eq!(claims.sub, user);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some("test-key"));
        // Another key pair does not verify it.
        let other = TokenIssuer::new(&eddsa_config()).unwrap();
        assert_eq!(
            other.verify_access_at(&token, now),
            Err(AuthError::Invalid("signature"))
        );
    }

    #[test]
    fn expired_tokens_are_rejected() {
        for config in [hs256_config(), eddsa_config()] {
            let issuer = TokenIssuer::new(&config).unwrap();
            let now = time::now();
            let (token, _) = issuer
                .issue_access(UserId::new(), crate::ids::FamilyId::new(), now)
                .unwrap();
            // Valid until exp (and within the leeway), expired after.
            assert!(
                issuer
                    .verify_access_at(&token, now + Duration::seconds(899))
                    .is_ok()
            );
            assert_eq!(
                issuer.verify_access_at(&token, now + Duration::seconds(900 + CLOCK_LEEWAY_SECS)),
                Err(AuthError::Expired)
            );
            // Issued long ago, checked with the real clock.
            let (old, _) = issuer
                .issue_access(
                    UserId::new(),
                    crate::ids::FamilyId::new(),
                    now - Duration::hours(1),
                )
                .unwrap();
            assert_eq!(issuer.verify_access(&old), Err(AuthError::Expired));
        }
    }

    #[test]
    fn tokens_from_the_future_are_rejected() {
        let issuer = TokenIssuer::new(&hs256_config()).unwrap();
        let now = time::now();
        let (token, _) = issuer
            .issue_access(
                UserId::new(),
                crate::ids::FamilyId::new(),
                now + Duration::minutes(1),
            )
            .unwrap();
        assert_eq!(
            issuer.verify_access_at(&token, now),
            Err(AuthError::Invalid("issued in the future"))
        );
    }

    #[test]
    fn tampered_tokens_are_rejected() {
        for config in [hs256_config(), eddsa_config()] {
            let issuer = TokenIssuer::new(&config).unwrap();
            let now = time::now();
            let (token, _) = issuer
                .issue_access(UserId::new(), crate::ids::FamilyId::new(), now)
                .unwrap();
            let bad = tamper_signature(&token);
            assert_ne!(bad, token);
            assert!(matches!(
                issuer.verify_access_at(&bad, now),
                Err(AuthError::Invalid("signature" | "malformed"))
            ));
            // A different user in the payload, signature kept.
            let forged = rewrite_payload(&token, |p| p["sub"] = UserId::new().to_string().into());
            assert_eq!(
                issuer.verify_access_at(&forged, now),
                Err(AuthError::Invalid("signature"))
            );
            // A later expiry in the payload.
            let forged = rewrite_payload(&token, |p| p["exp"] = (now.timestamp() + 86400).into());
            assert_eq!(
                issuer.verify_access_at(&forged, now),
                Err(AuthError::Invalid("signature"))
            );
            // One byte of the encoded payload flipped.
            let mut bytes = token.clone().into_bytes();
            let i = token.find('.').unwrap() + 5;
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let flipped = String::from_utf8(bytes).unwrap();
            assert!(matches!(
                issuer.verify_access_at(&flipped, now),
                Err(AuthError::Invalid("signature" | "malformed"))
            ));
            // No signature at all, or not three parts.
            let (unsigned, _) = token.rsplit_once('.').unwrap();
            assert!(
                issuer
                    .verify_access_at(&format!("{unsigned}."), now)
                    .is_err()
            );
            assert_eq!(
                issuer.verify_access_at(unsigned, now),
                Err(AuthError::Invalid("malformed"))
            );
            assert_eq!(
                issuer.verify_access_at("", now),
                Err(AuthError::Invalid("malformed"))
            );
        }
    }

    #[test]
    fn alg_none_is_rejected() {
        let now = time::now();
        let payload = b64(&access_payload(now));
        for config in [hs256_config(), eddsa_config()] {
            let issuer = TokenIssuer::new(&config).unwrap();
            for header in [
                serde_json::json!({"alg": "none", "typ": "JWT"}),
                serde_json::json!({"alg": "None", "typ": "JWT"}),
                serde_json::json!({"alg": "NONE"}),
            ] {
                let token = format!("{}.{}.", b64(&header), payload);
                assert_eq!(
                    issuer.verify_access_at(&token, now),
                    Err(AuthError::Invalid("algorithm"))
                );
            }
            // Missing `alg`.
            let token = format!("{}.{}.", b64(&serde_json::json!({"typ": "JWT"})), payload);
            assert_eq!(
                issuer.verify_access_at(&token, now),
                Err(AuthError::Invalid("malformed"))
            );
        }
    }

    #[test]
    fn other_hmac_sizes_with_the_same_secret_are_rejected() {
        let issuer = TokenIssuer::new(&hs256_config()).unwrap();
        let now = time::now();
        let key = EncodingKey::from_secret(SECRET);
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let token =
                jsonwebtoken::encode(&Header::new(alg), &access_payload(now), &key).unwrap();
            assert_eq!(
                issuer.verify_access_at(&token, now),
                Err(AuthError::Invalid("algorithm"))
            );
        }
        // The same claims signed HS256 with the secret do verify: the test is meaningful.
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &access_payload(now), &key)
                .unwrap();
        assert!(issuer.verify_access_at(&token, now).is_ok());
    }

    #[test]
    fn hs256_token_is_rejected_when_eddsa_is_configured() {
        let config = eddsa_config();
        let issuer = TokenIssuer::new(&config).unwrap();
        let now = time::now();
        let public = URL_SAFE_NO_PAD.decode(&issuer.jwks().keys[0].x).unwrap();
        for secret in [SECRET.to_vec(), public] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("test-key".into());
            let token = jsonwebtoken::encode(
                &header,
                &access_payload(now),
                &EncodingKey::from_secret(&secret),
            )
            .unwrap();
            assert_eq!(
                issuer.verify_access_at(&token, now),
                Err(AuthError::Invalid("algorithm"))
            );
        }
        // And an EdDSA token is rejected when HS256 is configured.
        let hs = TokenIssuer::new(&hs256_config()).unwrap();
        let (token, _) = issuer
            .issue_access(UserId::new(), crate::ids::FamilyId::new(), now)
            .unwrap();
        assert_eq!(
            hs.verify_access_at(&token, now),
            Err(AuthError::Invalid("algorithm"))
        );
    }

    #[test]
    fn wrong_issuer_or_audience_is_rejected() {
        let now = time::now();
        let issuer = TokenIssuer::new(&hs256_config()).unwrap();
        let (token, _) = issuer
            .issue_access(UserId::new(), crate::ids::FamilyId::new(), now)
            .unwrap();

        let mut other = hs256_config();
        other.issuer = "someone-else".into();
        let other = TokenIssuer::new(&other).unwrap();
        assert_eq!(
            other.verify_access_at(&token, now),
            Err(AuthError::Invalid("issuer"))
        );
        let (theirs, _) = other
            .issue_access(UserId::new(), crate::ids::FamilyId::new(), now)
            .unwrap();
        assert_eq!(
            issuer.verify_access_at(&theirs, now),
            Err(AuthError::Invalid("issuer"))
        );

        let mut other = hs256_config();
        other.audience = "another-api".into();
        let other = TokenIssuer::new(&other).unwrap();
        assert_eq!(
            other.verify_access_at(&token, now),
            Err(AuthError::Invalid("audience"))
        );
        let (theirs, _) = other
            .issue_access(UserId::new(), crate::ids::FamilyId::new(), now)
            .unwrap();
        assert_eq!(
            issuer.verify_access_at(&theirs, now),
            Err(AuthError::Invalid("audience"))
        );
    }

    #[test]
    fn missing_claims_are_rejected() {
        let issuer = TokenIssuer::new(&hs256_config()).unwrap();
        let now = time::now();
        let key = EncodingKey::from_secret(SECRET);
        for claim in ["sub", "iss", "aud", "iat", "exp", "jti", "typ"] {
            let mut payload = access_payload(now);
            payload.as_object_mut().unwrap().remove(claim);
            let token =
                jsonwebtoken::encode(&Header::new(Algorithm::HS256), &payload, &key).unwrap();
            assert!(
                matches!(
                    issuer.verify_access_at(&token, now),
                    Err(AuthError::Invalid("missing claim" | "malformed"))
                ),
                "token without {claim} accepted"
            );
        }
        // An audience list holding ours is not the single audience Banter issues.
        let mut payload = access_payload(now);
        payload["aud"] = serde_json::json!(["banter-api", "x"]);
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &payload, &key).unwrap();
        assert!(issuer.verify_access_at(&token, now).is_err());
    }

    #[test]
    fn refresh_and_access_tokens_are_not_interchangeable() {
        for config in [hs256_config(), eddsa_config()] {
            let issuer = TokenIssuer::new(&config).unwrap();
            let now = time::now();
            let user = UserId::new();
            let exp = now.timestamp() + 3600;
            let refresh = issuer
                .issue_refresh(user, FamilyId::new(), TokenId::new(), exp, now)
                .unwrap();
            let (access, _) = issuer
                .issue_access(user, crate::ids::FamilyId::new(), now)
                .unwrap();
            // A refresh token has no `sid`: it does not even parse as an access token.
            assert!(matches!(
                issuer.verify_access_at(&refresh, now),
                Err(AuthError::Invalid("token type" | "malformed"))
            ));
            assert!(matches!(
                issuer.verify_refresh_at(&access, now),
                Err(AuthError::Invalid("token type" | "malformed"))
            ));
            assert_eq!(issuer.verify_refresh_at(&refresh, now).unwrap().sub, user);
        }
    }

    #[test]
    fn a_verifier_built_from_the_config_matches_the_issuer() {
        let config = eddsa_config();
        let issuer = TokenIssuer::new(&config).unwrap();
        let verifier = TokenVerifier::new(&config).unwrap();
        assert_eq!(verifier.algorithm(), Algorithm::EdDSA);
        let now = time::now();
        let (token, _) = issuer
            .issue_access(UserId::new(), crate::ids::FamilyId::new(), now)
            .unwrap();
        assert!(verifier.verify_access_at(&token, now).is_ok());
        // Neither the token nor key material shows up in errors or Debug output.
        let err = verifier
            .verify_access_at(&tamper_signature(&token), now)
            .unwrap_err();
        assert!(!err.to_string().contains(&token[..20]));
        assert!(!format!("{issuer:?}{verifier:?}").contains("BEGIN"));
    }
}
