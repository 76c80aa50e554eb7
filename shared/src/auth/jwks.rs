//! The JWKS document (RFC 7517) that publishes the EdDSA verification key; the
//! [`TokenVerifier`](super::TokenVerifier) built from such a document is in
//! [`jwks_verifier`](super::jwks_verifier).
//!
//! An HS256 configuration has no public key: its key set is empty.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// One public key in a JWKS document: `{"kty":"OKP","crv":"Ed25519","x":…,"kid":…,
/// "alg":"EdDSA","use":"sig"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// Key type: `OKP` (octet key pair).
    pub kty: String,
    /// Curve: `Ed25519`.
    pub crv: String,
    /// The raw public key, base64url without padding.
    pub x: String,
    /// Key id, matched against the `kid` of token headers.
    pub kid: String,
    /// The only algorithm the key may be used with: `EdDSA`.
    pub alg: String,
    /// Intended use: `sig`.
    #[serde(rename = "use")]
    pub key_use: String,
}

impl PublicJwk {
    /// The JWK of a raw Ed25519 public key.
    pub(crate) fn ed25519(public: &[u8], kid: &str) -> Self {
        Self {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            x: URL_SAFE_NO_PAD.encode(public),
            kid: kid.to_owned(),
            alg: "EdDSA".to_owned(),
            key_use: "sig".to_owned(),
        }
    }
}

/// A JWKS document: `{"keys":[…]}`. Serve it (e.g. at `/.well-known/jwks.json`) with
/// `serde_json`, or with [`JwkSet::to_json`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The public keys.
    pub keys: Vec<PublicJwk>,
}

impl JwkSet {
    /// The document as JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain strings cannot fail; fall back to an empty set regardless.
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"keys":[]}"#.to_owned())
    }
}
