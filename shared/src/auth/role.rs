//! Which token key a process holds, by what it does: only the auth function can sign, so a
//! leak of any other function's configuration cannot mint tokens.
//!
//! | role | variables it reads | may it hold the private key? |
//! |---|---|---|
//! | [`KeyRole::Sign`] | `BANTER_JWT_PRIVATE_KEY` (or, outside the deployment, `BANTER_JWT_SECRET`) | yes: it is the only one |
//! | [`KeyRole::Verify`] | `BANTER_JWT_PUBLIC_KEY` (Ed25519 SPKI PEM) | no: start-up fails |
//! | [`KeyRole::None`] | none | no: start-up fails |
//!
//! All roles read `BANTER_JWT_ISSUER` and `BANTER_JWT_AUDIENCE` (see [`super::keys`]).

use super::AuthError;
use super::keys::{
    AuthConfig, ENV_AUDIENCE, ENV_ISSUER, ENV_KID, ENV_PRIVATE_KEY, ENV_PUBLIC_KEY, ENV_SECRET,
    parse_ed25519_public_pem,
};
use super::tokens::{TokenIssuer, TokenVerifier};

/// Which token key a process holds (see the [module documentation](self) and
/// [`crate::functions::Function::key_role`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRole {
    /// Issues tokens: holds the private key.
    Sign,
    /// Checks access tokens with the public key only.
    Verify,
    /// Checks no token and holds no key.
    None,
}

impl KeyRole {
    /// The token issuer of a process in this role, from the variables `lookup` reads: a
    /// signing one for [`KeyRole::Sign`], one that only verifies (and fails to sign) for the
    /// others. Fails with [`AuthError::Config`] when the role's key is missing or invalid, and
    /// when a process that must not sign is given the private key or an HS256 secret.
    pub fn issuer_from_lookup(
        self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<TokenIssuer, AuthError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if self == KeyRole::Sign {
            return TokenIssuer::new(&AuthConfig::from_lookup(&lookup)?);
        }
        for var in [ENV_PRIVATE_KEY, ENV_SECRET] {
            if get(var).is_some() {
                return Err(AuthError::Config(format!(
                    "{var} is set, but this function must not hold a signing key (only the \
                     auth function signs); remove it"
                )));
            }
        }
        let issuer = get(ENV_ISSUER).map_or(AuthConfig::DEFAULT_ISSUER.to_owned(), |v| {
            v.trim().to_owned()
        });
        let audience = get(ENV_AUDIENCE).map_or(AuthConfig::DEFAULT_AUDIENCE.to_owned(), |v| {
            v.trim().to_owned()
        });
        let verifier = match self {
            KeyRole::Verify => {
                let pem = get(ENV_PUBLIC_KEY).ok_or_else(|| {
                    AuthError::Config(format!(
                        "{ENV_PUBLIC_KEY} is not set: this function verifies access tokens \
                         with the Ed25519 public key (SPKI PEM)"
                    ))
                })?;
                let raw = parse_ed25519_public_pem(&pem).map_err(|e| match e {
                    AuthError::Config(m) => AuthError::Config(format!("{ENV_PUBLIC_KEY}: {m}")),
                    other => other,
                })?;
                TokenVerifier::from_ed25519_public(&raw, get(ENV_KID), issuer, audience)?
            }
            _ => TokenVerifier::without_keys(issuer, audience)?,
        };
        Ok(TokenIssuer::verify_only(verifier))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::auth::SigningKey;
    use crate::ids::UserId;
    use crate::time;

    fn lookup(vars: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn a_verifier_checks_the_signers_tokens_but_cannot_sign() {
        let key = SigningKey::generate_ed25519(None).unwrap();
        let signer = KeyRole::Sign
            .issuer_from_lookup(lookup(&[(
                ENV_PRIVATE_KEY,
                key.ed25519_private_pem().unwrap(),
            )]))
            .unwrap();
        let verifier = KeyRole::Verify
            .issuer_from_lookup(lookup(&[(
                ENV_PUBLIC_KEY,
                key.ed25519_public_pem().unwrap(),
            )]))
            .unwrap();
        let user = UserId::new();
        let now = time::now();
        let (token, _) = signer
            .issue_access(user, crate::ids::FamilyId::new(), now)
            .unwrap();
        assert_eq!(verifier.verify_access_at(&token, now).unwrap().sub, user);
        assert!(matches!(
            verifier.issue_access(user, crate::ids::FamilyId::new(), now),
            Err(AuthError::Config(m)) if m.contains("only the auth function")
        ));
        // Another key's tokens do not verify.
        let other = SigningKey::generate_ed25519(None).unwrap();
        let stranger = KeyRole::Sign
            .issuer_from_lookup(lookup(&[(
                ENV_PRIVATE_KEY,
                other.ed25519_private_pem().unwrap(),
            )]))
            .unwrap();
        let (forged, _) = stranger
            .issue_access(user, crate::ids::FamilyId::new(), now)
            .unwrap();
        assert!(verifier.verify_access_at(&forged, now).is_err());
    }

    #[test]
    fn non_signers_refuse_signing_material_and_verifiers_need_the_public_key() {
        let key = SigningKey::generate_ed25519(None).unwrap();
        let private = key.ed25519_private_pem().unwrap();
        for role in [KeyRole::Verify, KeyRole::None] {
            for var in [ENV_PRIVATE_KEY, ENV_SECRET] {
                let err = role
                    .issuer_from_lookup(lookup(&[
                        (var, private.clone()),
                        (ENV_PUBLIC_KEY, key.ed25519_public_pem().unwrap()),
                    ]))
                    .unwrap_err();
                assert!(
                    matches!(&err, AuthError::Config(m) if m.contains(var) && !m.contains("BEGIN")),
                    "{role:?} {var}: {err:?}"
                );
            }
        }
        assert!(matches!(
            KeyRole::Verify.issuer_from_lookup(lookup(&[])),
            Err(AuthError::Config(m)) if m.contains(ENV_PUBLIC_KEY)
        ));
        // The private key where the public one belongs is refused too.
        assert!(matches!(
            KeyRole::Verify.issuer_from_lookup(lookup(&[(ENV_PUBLIC_KEY, private)])),
            Err(AuthError::Config(_))
        ));
        // A function without a role needs nothing, and accepts no token.
        let none = KeyRole::None.issuer_from_lookup(lookup(&[])).unwrap();
        let signer = crate::auth::TokenIssuer::new(&AuthConfig::new(key)).unwrap();
        let (token, _) = signer
            .issue_access(UserId::new(), crate::ids::FamilyId::new(), time::now())
            .unwrap();
        assert!(none.verify_access(&token).is_err());
    }
}
