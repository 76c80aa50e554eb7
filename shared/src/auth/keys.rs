//! The token signing key and the authentication configuration.
//!
//! Two kinds of key are supported:
//! - **HS256** with a shared secret of at least 32 bytes: simple, but every verifier holds the
//!   secret and there is no public key to publish.
//! - **EdDSA (Ed25519)** with a key pair: only the issuer holds the private key; anyone can
//!   verify with the public key published as a JWKS document ([`super::jwks`]).
//!
//! [`AuthConfig::from_env`] reads the configuration from these variables:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `BANTER_JWT_SECRET` | HS256 secret (its UTF-8 bytes, at least 32) | — |
//! | `BANTER_JWT_PRIVATE_KEY` | Ed25519 private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`); `\n` escapes are accepted | — |
//! | `BANTER_JWT_KID` | key id of the Ed25519 key | its RFC 7638 JWK thumbprint |
//! | `BANTER_JWT_ISSUER` | `iss` of issued tokens, required when verifying | `banter` |
//! | `BANTER_JWT_AUDIENCE` | `aud` of issued tokens, required when verifying | `banter-api` |
//! | `BANTER_JWT_ACCESS_TTL_SECS` | access-token lifetime | 900 (15 min) |
//! | `BANTER_JWT_REFRESH_TTL_SECS` | refresh-token (session) lifetime | 2 592 000 (30 days) |
//!
//! Exactly one of `BANTER_JWT_SECRET` and `BANTER_JWT_PRIVATE_KEY` must be set; empty values
//! count as unset.

use std::fmt;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Duration;
use jsonwebtoken::Algorithm;

use super::AuthError;
use super::jwks::PublicJwk;

/// Minimum HS256 secret length in bytes (RFC 7518 §3.2: at least the hash output size).
pub const MIN_HS256_SECRET_LEN: usize = 32;
/// Maximum length of a key id.
const MAX_KID_LEN: usize = 128;

/// Env var: the HS256 secret.
pub const ENV_SECRET: &str = "BANTER_JWT_SECRET";
/// Env var: the Ed25519 private key (PKCS#8 PEM).
pub const ENV_PRIVATE_KEY: &str = "BANTER_JWT_PRIVATE_KEY";
/// Env var: the Ed25519 public key (SPKI PEM, `-----BEGIN PUBLIC KEY-----`), for a process
/// that only verifies tokens; `\n` escapes are accepted.
pub const ENV_PUBLIC_KEY: &str = "BANTER_JWT_PUBLIC_KEY";
/// Env var: the key id of the Ed25519 key.
pub const ENV_KID: &str = "BANTER_JWT_KID";
/// Env var: the token issuer.
pub const ENV_ISSUER: &str = "BANTER_JWT_ISSUER";
/// Env var: the token audience.
pub const ENV_AUDIENCE: &str = "BANTER_JWT_AUDIENCE";
/// Env var: access-token lifetime in seconds.
pub const ENV_ACCESS_TTL: &str = "BANTER_JWT_ACCESS_TTL_SECS";
/// Env var: refresh-token lifetime in seconds.
pub const ENV_REFRESH_TTL: &str = "BANTER_JWT_REFRESH_TTL_SECS";

/// The key that signs tokens. Construct it with [`SigningKey::hs256`],
/// [`SigningKey::ed25519_pem`], [`SigningKey::ed25519_pkcs8_der`] or
/// [`SigningKey::generate_ed25519`], which check it; its `Debug` output never shows key
/// material.
#[derive(Clone)]
pub struct SigningKey(Material);

#[derive(Clone)]
enum Material {
    Hs256 {
        secret: Vec<u8>,
    },
    EdDsa {
        /// PKCS#8 (v1 or v2) DER of the private key.
        pkcs8: Vec<u8>,
        /// The raw 32-byte public key.
        public: Vec<u8>,
        kid: String,
    },
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Material::Hs256 { .. } => f.write_str("SigningKey::Hs256(<redacted>)"),
            Material::EdDsa { kid, .. } => write!(f, "SigningKey::EdDsa(kid={kid:?}, <redacted>)"),
        }
    }
}

impl SigningKey {
    /// An HS256 key. Fails with [`AuthError::Config`] when the secret is shorter than
    /// [`MIN_HS256_SECRET_LEN`] bytes.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, AuthError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_HS256_SECRET_LEN {
            return Err(AuthError::Config(format!(
                "the HS256 secret must be at least {MIN_HS256_SECRET_LEN} bytes long \
                 (got {} bytes); generate one with `openssl rand -base64 48`",
                secret.len()
            )));
        }
        Ok(Self(Material::Hs256 {
            secret: secret.to_vec(),
        }))
    }

    /// An Ed25519 key from its PKCS#8 DER encoding (v1 or v2). `kid` defaults to the key's
    /// RFC 7638 thumbprint.
    pub fn ed25519_pkcs8_der(pkcs8: &[u8], kid: Option<String>) -> Result<Self, AuthError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| {
            AuthError::Config("the private key is not a valid Ed25519 PKCS#8 key".into())
        })?;
        let public = pair.public_key().as_ref().to_vec();
        let kid = match kid {
            Some(kid) => {
                let kid = kid.trim().to_owned();
                if kid.is_empty() || kid.len() > MAX_KID_LEN {
                    return Err(AuthError::Config(format!(
                        "the key id must be 1 to {MAX_KID_LEN} characters long"
                    )));
                }
                kid
            }
            None => thumbprint(&public),
        };
        Ok(Self(Material::EdDsa {
            pkcs8: pkcs8.to_vec(),
            public,
            kid,
        }))
    }

    /// An Ed25519 key from a PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`, as written
    /// by `openssl genpkey -algorithm ed25519`). `kid` defaults to the key's thumbprint.
    pub fn ed25519_pem(pem: &str, kid: Option<String>) -> Result<Self, AuthError> {
        let encoding = jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).map_err(|_| {
            AuthError::Config("the private key is not an Ed25519 PKCS#8 PEM document".into())
        })?;
        Self::ed25519_pkcs8_der(encoding.as_bytes(), kid)
    }

    /// A fresh random Ed25519 key, for development and tests. `kid` defaults to its
    /// thumbprint.
    pub fn generate_ed25519(kid: Option<String>) -> Result<Self, AuthError> {
        let pair =
            Ed25519KeyPair::generate().map_err(|_| AuthError::Crypto("Ed25519 key generation"))?;
        let pkcs8 = pair
            .to_pkcs8v1()
            .map_err(|_| AuthError::Crypto("Ed25519 key encoding"))?;
        Self::ed25519_pkcs8_der(pkcs8.as_ref(), kid)
    }

    /// The private key as a PKCS#8 PEM document (for an EdDSA key; `None` for HS256), e.g. to
    /// store a generated key in `BANTER_JWT_PRIVATE_KEY`. This is secret material: never log
    /// it.
    pub fn ed25519_private_pem(&self) -> Option<String> {
        match &self.0 {
            Material::Hs256 { .. } => None,
            Material::EdDsa { pkcs8, .. } => {
                let b64 = STANDARD.encode(pkcs8);
                let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
                for line in b64.as_bytes().chunks(64) {
                    pem.push_str(&String::from_utf8_lossy(line));
                    pem.push('\n');
                }
                pem.push_str("-----END PRIVATE KEY-----\n");
                Some(pem)
            }
        }
    }

    /// The public key as an SPKI PEM document (`-----BEGIN PUBLIC KEY-----`, as
    /// `openssl pkey -pubout` writes it) for an EdDSA key; `None` for HS256. This is what the
    /// functions that only verify get (`BANTER_JWT_PUBLIC_KEY`).
    pub fn ed25519_public_pem(&self) -> Option<String> {
        match &self.0 {
            Material::Hs256 { .. } => None,
            Material::EdDsa { public, .. } => {
                let mut der = ED25519_SPKI_PREFIX.to_vec();
                der.extend_from_slice(public);
                Some(format!(
                    "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                    STANDARD.encode(der)
                ))
            }
        }
    }

    /// The JWS algorithm this key signs with; verification accepts only this one.
    pub fn algorithm(&self) -> Algorithm {
        match &self.0 {
            Material::Hs256 { .. } => Algorithm::HS256,
            Material::EdDsa { .. } => Algorithm::EdDSA,
        }
    }

    /// The key id put in token headers (`None` for HS256).
    pub fn kid(&self) -> Option<&str> {
        match &self.0 {
            Material::Hs256 { .. } => None,
            Material::EdDsa { kid, .. } => Some(kid),
        }
    }

    /// The public key as a JWK (`None` for HS256, which has no public key).
    pub fn public_jwk(&self) -> Option<PublicJwk> {
        match &self.0 {
            Material::Hs256 { .. } => None,
            Material::EdDsa { public, kid, .. } => Some(PublicJwk::ed25519(public, kid)),
        }
    }

    /// The `jsonwebtoken` signing key.
    pub(crate) fn encoding_key(&self) -> jsonwebtoken::EncodingKey {
        match &self.0 {
            Material::Hs256 { secret } => jsonwebtoken::EncodingKey::from_secret(secret),
            Material::EdDsa { pkcs8, .. } => jsonwebtoken::EncodingKey::from_ed_der(pkcs8),
        }
    }

    /// The `jsonwebtoken` verification key.
    pub(crate) fn decoding_key(&self) -> jsonwebtoken::DecodingKey {
        match &self.0 {
            Material::Hs256 { secret } => jsonwebtoken::DecodingKey::from_secret(secret),
            // For Ed25519 `from_ed_der` takes the raw 32-byte public key.
            Material::EdDsa { public, .. } => jsonwebtoken::DecodingKey::from_ed_der(public),
        }
    }
}

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32-byte key follows.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The raw 32-byte key of an Ed25519 public key in SPKI PEM form (`\n` escapes accepted).
/// Fails with [`AuthError::Config`] for anything else, a private key included.
pub fn parse_ed25519_public_pem(pem: &str) -> Result<Vec<u8>, AuthError> {
    let pem = if pem.contains('\n') {
        pem.to_owned()
    } else {
        pem.replace("\\n", "\n")
    };
    let bad = || AuthError::Config("not an Ed25519 public key in SPKI PEM form".into());
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|rest| rest.strip_suffix("-----END PUBLIC KEY-----"))
        .ok_or_else(bad)?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(b64).map_err(|_| bad())?;
    match der.strip_prefix(&ED25519_SPKI_PREFIX[..]) {
        Some(raw) if raw.len() == 32 => Ok(raw.to_vec()),
        _ => Err(bad()),
    }
}

/// The RFC 7638 thumbprint of an Ed25519 public key: base64url(SHA-256 of the canonical JWK).
pub(crate) fn thumbprint(public: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// How tokens are issued and checked.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `iss` of issued tokens; verification requires exactly this value.
    pub issuer: String,
    /// `aud` of issued tokens; verification requires exactly this value.
    pub audience: String,
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of a refresh-token family (a sign-in): rotation does not extend it.
    pub refresh_ttl: Duration,
    /// The signing key.
    pub key: SigningKey,
}

impl AuthConfig {
    /// Default `iss`.
    pub const DEFAULT_ISSUER: &'static str = "banter";
    /// Default `aud`.
    pub const DEFAULT_AUDIENCE: &'static str = "banter-api";
    /// Default access-token lifetime: 15 minutes.
    pub const DEFAULT_ACCESS_TTL_SECS: i64 = 15 * 60;
    /// Default refresh-token lifetime: 30 days.
    pub const DEFAULT_REFRESH_TTL_SECS: i64 = 30 * 24 * 60 * 60;

    /// A configuration with `key` and the default issuer, audience and lifetimes.
    pub fn new(key: SigningKey) -> Self {
        Self {
            issuer: Self::DEFAULT_ISSUER.to_owned(),
            audience: Self::DEFAULT_AUDIENCE.to_owned(),
            access_ttl: Duration::seconds(Self::DEFAULT_ACCESS_TTL_SECS),
            refresh_ttl: Duration::seconds(Self::DEFAULT_REFRESH_TTL_SECS),
            key,
        }
    }

    /// Reads the configuration from the process environment (variables in the
    /// [module documentation](self)). Fails when no key, or both keys, are configured, or a
    /// value is invalid.
    pub fn from_env() -> Result<Self, AuthError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup` (for tests and
    /// other configuration sources).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AuthError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let key = match (get(ENV_SECRET), get(ENV_PRIVATE_KEY)) {
            (Some(_), Some(_)) => {
                return Err(AuthError::Config(format!(
                    "both {ENV_SECRET} and {ENV_PRIVATE_KEY} are set; set only one"
                )));
            }
            (None, None) => {
                return Err(AuthError::Config(format!(
                    "no token signing key configured: set {ENV_PRIVATE_KEY} (Ed25519 PKCS#8 \
                     PEM, preferred) or {ENV_SECRET} (HS256, at least \
                     {MIN_HS256_SECRET_LEN} bytes)"
                )));
            }
            (Some(secret), None) => SigningKey::hs256(secret.as_bytes()).map_err(|e| match e {
                AuthError::Config(m) => AuthError::Config(format!("{ENV_SECRET}: {m}")),
                other => other,
            })?,
            (None, Some(pem)) => {
                // Environment files often carry the PEM on one line with `\n` escapes.
                let pem = if pem.contains('\n') {
                    pem
                } else {
                    pem.replace("\\n", "\n")
                };
                SigningKey::ed25519_pem(&pem, get(ENV_KID)).map_err(|e| match e {
                    AuthError::Config(m) => AuthError::Config(format!("{ENV_PRIVATE_KEY}: {m}")),
                    other => other,
                })?
            }
        };
        let mut config = Self::new(key);
        if let Some(issuer) = get(ENV_ISSUER) {
            config.issuer = issuer.trim().to_owned();
        }
        if let Some(audience) = get(ENV_AUDIENCE) {
            config.audience = audience.trim().to_owned();
        }
        if let Some(secs) = get(ENV_ACCESS_TTL) {
            config.access_ttl = parse_secs(ENV_ACCESS_TTL, &secs)?;
        }
        if let Some(secs) = get(ENV_REFRESH_TTL) {
            config.refresh_ttl = parse_secs(ENV_REFRESH_TTL, &secs)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks the values: non-empty issuer and audience, positive lifetimes, and access
    /// tokens that do not outlive refresh tokens.
    pub fn validate(&self) -> Result<(), AuthError> {
        if self.issuer.trim().is_empty() {
            return Err(AuthError::Config(
                "the token issuer must not be empty".into(),
            ));
        }
        if self.audience.trim().is_empty() {
            return Err(AuthError::Config(
                "the token audience must not be empty".into(),
            ));
        }
        if self.access_ttl <= Duration::zero() || self.refresh_ttl <= Duration::zero() {
            return Err(AuthError::Config("token lifetimes must be positive".into()));
        }
        if self.access_ttl > self.refresh_ttl {
            return Err(AuthError::Config(
                "the access-token lifetime must not exceed the refresh-token lifetime".into(),
            ));
        }
        Ok(())
    }
}

/// Parses a positive number of seconds from the variable `name`.
fn parse_secs(name: &str, value: &str) -> Result<Duration, AuthError> {
    match value.trim().parse::<i64>() {
        // Ten years at most keeps every timestamp arithmetic far from overflow.
        Ok(secs) if secs > 0 && secs <= 10 * 366 * 24 * 60 * 60 => Ok(Duration::seconds(secs)),
        _ => Err(AuthError::Config(format!(
            "{name} must be a positive whole number of seconds (at most ten years)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn short_hs256_secret_is_rejected() {
        let err = SigningKey::hs256(&SECRET[..31]).unwrap_err();
        let AuthError::Config(msg) = err else {
            panic!("expected a config error, got {err:?}");
        };
        assert!(msg.contains("at least 32 bytes"), "{msg}");
        assert!(
            !msg.contains(&SECRET[..31]),
            "the secret leaked into: {msg}"
        );
        assert!(SigningKey::hs256("").is_err());
        assert_eq!(
            SigningKey::hs256(SECRET).unwrap().algorithm(),
            Algorithm::HS256
        );
    }

    #[test]
    fn debug_never_shows_key_material() {
        let hs = SigningKey::hs256(SECRET).unwrap();
        assert!(!format!("{hs:?}").contains("0123"));
        let config = AuthConfig::new(hs);
        assert!(!format!("{config:?}").contains("0123"));
        let ed = SigningKey::generate_ed25519(Some("k1".into())).unwrap();
        let pem = ed.ed25519_private_pem().unwrap();
        let body: String = pem.lines().nth(1).unwrap().chars().take(20).collect();
        assert!(!format!("{ed:?}").contains(&body));
    }

    #[test]
    fn ed25519_pem_round_trips_and_kid_defaults_to_thumbprint() {
        let key = SigningKey::generate_ed25519(None).unwrap();
        let pem = key.ed25519_private_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let again = SigningKey::ed25519_pem(&pem, None).unwrap();
        assert_eq!(again.kid(), key.kid());
        assert_eq!(again.public_jwk(), key.public_jwk());
        // 43 characters: base64url of 32 bytes.
        assert_eq!(key.kid().unwrap().len(), 43);
        let named = SigningKey::ed25519_pem(&pem, Some("2026-01".into())).unwrap();
        assert_eq!(named.kid(), Some("2026-01"));
        assert_eq!(named.algorithm(), Algorithm::EdDSA);
    }

    #[test]
    fn public_pem_round_trips_and_refuses_private_keys() {
        let key = SigningKey::generate_ed25519(None).unwrap();
        let public = key.ed25519_public_pem().unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let raw = parse_ed25519_public_pem(&public).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.encode(&raw), key.public_jwk().unwrap().x);
        // One line with `\n` escapes, as environment files carry it.
        assert_eq!(
            parse_ed25519_public_pem(&public.replace('\n', "\\n")).unwrap(),
            raw
        );
        let private = key.ed25519_private_pem().unwrap();
        assert!(matches!(
            parse_ed25519_public_pem(&private),
            Err(AuthError::Config(_))
        ));
        assert!(parse_ed25519_public_pem("nope").is_err());
        assert_eq!(
            SigningKey::hs256(SECRET).unwrap().ed25519_public_pem(),
            None
        );
    }

    #[test]
    fn thumbprint_matches_rfc8037_example() {
        // RFC 8037 appendix A.3: the thumbprint of the example Ed25519 public key.
        let public = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        assert_eq!(
            thumbprint(&public),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn garbage_private_keys_are_config_errors() {
        assert!(matches!(
            SigningKey::ed25519_pem("not a pem", None),
            Err(AuthError::Config(_))
        ));
        assert!(matches!(
            SigningKey::ed25519_pkcs8_der(&[1, 2, 3], None),
            Err(AuthError::Config(_))
        ));
        let key = SigningKey::generate_ed25519(None).unwrap();
        let pem = key.ed25519_private_pem().unwrap();
        assert!(matches!(
            SigningKey::ed25519_pem(&pem, Some("  ".into())),
            Err(AuthError::Config(_))
        ));
    }

    #[test]
    fn from_env_reads_hs256_with_defaults() {
        let config = AuthConfig::from_lookup(lookup(&[(ENV_SECRET, SECRET)])).unwrap();
        assert_eq!(config.key.algorithm(), Algorithm::HS256);
        assert_eq!(config.issuer, "banter");
        assert_eq!(config.audience, "banter-api");
        assert_eq!(config.access_ttl, Duration::minutes(15));
        assert_eq!(config.refresh_ttl, Duration::days(30));
    }

    #[test]
    fn from_env_reads_eddsa_with_escaped_newlines_and_overrides() {
        let pem = SigningKey::generate_ed25519(None)
            .unwrap()
            .ed25519_private_pem()
            .unwrap()
            .replace('\n', "\\n");
        let config = AuthConfig::from_lookup(lookup(&[
            (ENV_PRIVATE_KEY, &pem),
            (ENV_KID, "k-2026"),
            (ENV_ISSUER, "https://auth.example"),
            (ENV_AUDIENCE, "chat"),
            (ENV_ACCESS_TTL, "300"),
            (ENV_REFRESH_TTL, "86400"),
            (ENV_SECRET, ""),
        ]))
        .unwrap();
        assert_eq!(config.key.algorithm(), Algorithm::EdDSA);
        assert_eq!(config.key.kid(), Some("k-2026"));
        assert_eq!(config.issuer, "https://auth.example");
        assert_eq!(config.audience, "chat");
        assert_eq!(config.access_ttl, Duration::minutes(5));
        assert_eq!(config.refresh_ttl, Duration::days(1));
    }

    #[test]
    fn from_env_rejects_missing_double_and_bad_values() {
        let none = AuthConfig::from_lookup(lookup(&[])).unwrap_err();
        assert!(matches!(&none, AuthError::Config(m) if m.contains(ENV_PRIVATE_KEY)));
        let pem = SigningKey::generate_ed25519(None)
            .unwrap()
            .ed25519_private_pem()
            .unwrap();
        assert!(matches!(
            AuthConfig::from_lookup(lookup(&[(ENV_SECRET, SECRET), (ENV_PRIVATE_KEY, &pem)])),
            Err(AuthError::Config(m)) if m.contains("only one")
        ));
        assert!(matches!(
            AuthConfig::from_lookup(lookup(&[(ENV_SECRET, "short")])),
            Err(AuthError::Config(m)) if m.contains(ENV_SECRET) && !m.contains("short")
        ));
        assert!(matches!(
            AuthConfig::from_lookup(lookup(&[(ENV_SECRET, SECRET), (ENV_ACCESS_TTL, "-1")])),
            Err(AuthError::Config(_))
        ));
        assert!(matches!(
            AuthConfig::from_lookup(lookup(&[
                (ENV_SECRET, SECRET),
                (ENV_ACCESS_TTL, "7200"),
                (ENV_REFRESH_TTL, "3600"),
            ])),
            Err(AuthError::Config(_))
        ));
    }
}
