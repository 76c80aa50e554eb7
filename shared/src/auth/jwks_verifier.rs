//! A [`TokenVerifier`] built from a JWKS document (RFC 7517, [`super::jwks`]), so that another
//! service can check Banter's access tokens without holding any secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, KeyAlgorithm, PublicKeyUse};

use super::AuthError;
use super::tokens::{TokenVerifier, VerifyKey};

impl TokenVerifier {
    /// A verifier for EdDSA tokens whose keys come from a JWKS document, checking `iss`
    /// against `issuer` and `aud` against `audience`.
    ///
    /// Only Ed25519 keys (`kty` `OKP`, `crv` `Ed25519`) whose `alg` is `EdDSA` or absent and
    /// whose `use` is `sig` or absent are taken; other keys are ignored. Tokens are verified
    /// with the EdDSA algorithm only, with the key named by the token's `kid` (a token without
    /// `kid` is accepted only when the set holds a single key). Fails with
    /// [`AuthError::Config`] when the document is not JSON or holds no usable key.
    pub fn from_jwks_json(
        jwks: &str,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, AuthError> {
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(jwks)
            .map_err(|_| AuthError::Config("the JWKS document is not valid JSON".into()))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let AlgorithmParameters::OctetKeyPair(okp) = &jwk.algorithm else {
                continue;
            };
            if okp.curve != EllipticCurve::Ed25519 {
                continue;
            }
            if !matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::EdDSA)) {
                continue;
            }
            if !matches!(
                jwk.common.public_key_use,
                None | Some(PublicKeyUse::Signature)
            ) {
                continue;
            }
            match URL_SAFE_NO_PAD.decode(&okp.x) {
                Ok(raw) if raw.len() == 32 => keys.push(VerifyKey {
                    kid: jwk.common.key_id.clone(),
                    key: jsonwebtoken::DecodingKey::from_ed_der(&raw),
                }),
                _ => continue,
            }
        }
        if keys.is_empty() {
            return Err(AuthError::Config(
                "the JWKS document holds no Ed25519 signing key".into(),
            ));
        }
        TokenVerifier::from_parts(Algorithm::EdDSA, keys, issuer.into(), audience.into())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::auth::tokens::tests::{hs256_config, tamper_signature};
    use crate::auth::{AuthConfig, SigningKey, TokenIssuer};
    use crate::ids::UserId;
    use crate::time;

    fn eddsa_issuer(kid: &str) -> TokenIssuer {
        let key = SigningKey::generate_ed25519(Some(kid.into())).unwrap();
        TokenIssuer::new(&AuthConfig::new(key)).unwrap()
    }

    #[test]
    fn jwks_document_has_the_expected_shape() {
        let issuer = eddsa_issuer("k1");
        let doc: serde_json::Value = serde_json::from_str(&issuer.jwks().to_json()).unwrap();
        let keys = doc["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        let k = &keys[0];
        assert_eq!(k["kty"], "OKP");
        assert_eq!(k["crv"], "Ed25519");
        assert_eq!(k["alg"], "EdDSA");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["kid"], "k1");
        let x = URL_SAFE_NO_PAD.decode(k["x"].as_str().unwrap()).unwrap();
        assert_eq!(x.len(), 32);
        // No private parameter is published.
        assert!(k.get("d").is_none());
        assert_eq!(k.as_object().unwrap().len(), 6);
    }

    #[test]
    fn hs256_publishes_no_keys() {
        let issuer = TokenIssuer::new(&hs256_config()).unwrap();
        assert!(issuer.jwks().keys.is_empty());
        assert_eq!(issuer.jwks().to_json(), r#"{"keys":[]}"#);
    }

    #[test]
    fn verifier_from_jwks_checks_tokens() {
        let issuer = eddsa_issuer("k1");
        let user = UserId::new();
        let now = time::now();
        let (token, _) = issuer
            .issue_access(user, crate::ids::FamilyId::new(), now)
            .unwrap();
        let verifier =
            TokenVerifier::from_jwks_json(&issuer.jwks().to_json(), "banter", "banter-api")
                .unwrap();
        let claims = verifier.verify_access_at(&token, now).unwrap();
        assert_eq!(claims.sub, user);

        // Tampered, wrong audience and expired tokens fail there too.
        assert!(matches!(
            verifier.verify_access_at(&tamper_signature(&token), now),
            Err(AuthError::Invalid(_))
        ));
        let other_aud =
            TokenVerifier::from_jwks_json(&issuer.jwks().to_json(), "banter", "other").unwrap();
        assert_eq!(
            other_aud.verify_access_at(&token, now),
            Err(AuthError::Invalid("audience"))
        );
        assert_eq!(
            verifier.verify_access_at(&token, now + Duration::hours(1)),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn verifier_from_jwks_picks_the_key_by_kid() {
        let a = eddsa_issuer("a");
        let b = eddsa_issuer("b");
        let c = eddsa_issuer("c");
        let mut set = a.jwks().clone();
        set.keys.extend(b.jwks().keys.iter().cloned());
        let verifier =
            TokenVerifier::from_jwks_json(&set.to_json(), "banter", "banter-api").unwrap();
        let now = time::now();
        for issuer in [&a, &b] {
            let (token, _) = issuer
                .issue_access(UserId::new(), crate::ids::FamilyId::new(), now)
                .unwrap();
            assert!(verifier.verify_access_at(&token, now).is_ok());
        }
        // A key the set does not hold.
        let (token, _) = c
            .issue_access(UserId::new(), crate::ids::FamilyId::new(), now)
            .unwrap();
        assert_eq!(
            verifier.verify_access_at(&token, now),
            Err(AuthError::Invalid("unknown key id"))
        );
    }

    #[test]
    fn verifier_from_jwks_rejects_an_hs256_token_signed_with_the_public_key() {
        // The classic confusion attack: sign HS256 with the published public key as secret.
        let issuer = eddsa_issuer("k1");
        let jwks = issuer.jwks().to_json();
        let x = URL_SAFE_NO_PAD.decode(&issuer.jwks().keys[0].x).unwrap();
        let now = time::now();
        let claims = serde_json::json!({
            "sub": UserId::new(), "iss": "banter", "aud": "banter-api",
            "iat": now.timestamp(), "exp": now.timestamp() + 600,
            "jti": crate::ids::TokenId::new(), "sid": crate::ids::FamilyId::new(), "typ": "access",
        });
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let verifier = TokenVerifier::from_jwks_json(&jwks, "banter", "banter-api").unwrap();
        for secret in [x.clone(), issuer.jwks().keys[0].x.clone().into_bytes()] {
            let forged = jsonwebtoken::encode(
                &header,
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(&secret),
            )
            .unwrap();
            assert_eq!(
                verifier.verify_access_at(&forged, now),
                Err(AuthError::Invalid("algorithm"))
            );
        }
    }

    #[test]
    fn jwks_without_usable_keys_is_rejected() {
        assert!(matches!(
            TokenVerifier::from_jwks_json("nope", "i", "a"),
            Err(AuthError::Config(_))
        ));
        assert!(matches!(
            TokenVerifier::from_jwks_json(r#"{"keys":[]}"#, "i", "a"),
            Err(AuthError::Config(_))
        ));
        // A symmetric key in a JWKS is never trusted.
        let oct = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0","alg":"HS256"}]}"#;
        assert!(matches!(
            TokenVerifier::from_jwks_json(oct, "i", "a"),
            Err(AuthError::Config(_))
        ));
    }
}
