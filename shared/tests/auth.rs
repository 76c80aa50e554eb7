//! Authentication through the public API only: configuration from variables, sign-in,
//! rotation, reuse detection, sign-out, and a second service that verifies access tokens
//! from the published JWKS document alone.

use std::collections::HashMap;
use std::sync::Arc;

use banter::auth::{
    AuthConfig, AuthError, Sessions, SigningKey, TokenIssuer, TokenVerifier, hash_password,
    verify_password, verify_password_dummy,
};
use banter::ids::UserId;
use banter::store::memory::sessions::MemorySessionStore;
use banter::time;

fn config_from(vars: &[(&str, &str)]) -> Result<AuthConfig, AuthError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    AuthConfig::from_lookup(|name| vars.get(name).cloned())
}

fn eddsa_config() -> AuthConfig {
    let pem = SigningKey::generate_ed25519(None)
        .expect("key")
        .ed25519_private_pem()
        .expect("pem");
    config_from(&[
        ("BANTER_JWT_PRIVATE_KEY", &pem),
        ("BANTER_JWT_KID", "main-2026"),
        ("BANTER_JWT_ISSUER", "https://banter.example"),
    ])
    .expect("config")
}

#[test]
fn password_login_path() {
    let hash = hash_password("s3cret-passphrase").expect("hash");
    assert!(hash.0.starts_with("$argon2id$"));
    assert!(!hash.0.contains("s3cret"));
    assert!(verify_password("s3cret-passphrase", &hash));
    assert!(!verify_password("s3cret-passphrasE", &hash));
    assert!(!verify_password_dummy("s3cret-passphrase"));
}

#[test]
fn config_requires_a_strong_key() {
    assert!(matches!(config_from(&[]), Err(AuthError::Config(_))));
    assert!(matches!(
        config_from(&[("BANTER_JWT_SECRET", "too-short-secret")]),
        Err(AuthError::Config(_))
    ));
    let config = config_from(&[("BANTER_JWT_SECRET", &"x".repeat(32))]).expect("config");
    assert_eq!(config.issuer, "banter");
    assert_eq!(config.audience, "banter-api");
}

#[tokio::test]
async fn sign_in_refresh_reuse_and_sign_out() {
    let config = eddsa_config();
    let sessions = Sessions::new(
        TokenIssuer::new(&config).expect("issuer"),
        Arc::new(MemorySessionStore::new()),
    );
    let user = UserId::new();
    let now = time::now();

    let first = sessions.login_tokens(user, now).await.expect("login");
    let json = serde_json::to_value(&first).expect("json");
    assert_eq!(json["token_type"], "bearer");
    assert_eq!(json["expires_in"], 900);

    let second = sessions
        .refresh(&first.refresh_token, now)
        .await
        .expect("refresh");
    assert_eq!(
        sessions
            .issuer()
            .verify_access_at(&second.access_token, now)
            .expect("access")
            .sub,
        user
    );
    // Within the grace window the rotated token gets the same pair again (two tabs).
    assert_eq!(
        sessions.refresh(&first.refresh_token, now).await.as_ref(),
        Ok(&second)
    );
    // Reusing it after the window kills the family, including the newest token.
    let later = now + chrono::Duration::seconds(banter::auth::sessions::REFRESH_GRACE_SECS + 1);
    assert_eq!(
        sessions.refresh(&first.refresh_token, later).await,
        Err(AuthError::Reused)
    );
    assert_eq!(
        sessions.refresh(&second.refresh_token, later).await,
        Err(AuthError::Revoked)
    );

    // A new sign-in, then sign-out.
    let third = sessions.login_tokens(user, now).await.expect("login");
    sessions.logout(&third.refresh_token).await.expect("logout");
    assert_eq!(
        sessions.refresh(&third.refresh_token, now).await,
        Err(AuthError::Revoked)
    );
    // Access tokens are stateless: they stay valid until they expire.
    assert!(
        sessions
            .issuer()
            .verify_access_at(&third.access_token, now)
            .is_ok()
    );
}

#[test]
fn another_service_verifies_with_the_jwks_document() {
    let config = eddsa_config();
    let issuer = TokenIssuer::new(&config).expect("issuer");
    let jwks = serde_json::to_string(issuer.jwks()).expect("jwks");
    let verifier = TokenVerifier::from_jwks_json(&jwks, "https://banter.example", "banter-api")
        .expect("verifier");

    let user = UserId::new();
    let now = time::now();
    let (token, _) = issuer
        .issue_access(user, banter::ids::FamilyId::new(), now)
        .expect("token");
    assert_eq!(
        verifier.verify_access_at(&token, now).expect("claims").sub,
        user
    );

    // A different key with the same kid does not pass.
    let impostor = TokenIssuer::new(&AuthConfig {
        key: SigningKey::generate_ed25519(Some("main-2026".into())).expect("key"),
        ..config.clone()
    })
    .expect("issuer");
    let (forged, _) = impostor
        .issue_access(user, banter::ids::FamilyId::new(), now)
        .expect("token");
    assert_eq!(
        verifier.verify_access_at(&forged, now),
        Err(AuthError::Invalid("signature"))
    );
    // Nor does a token for another issuer.
    let other = TokenVerifier::from_jwks_json(&jwks, "https://elsewhere.example", "banter-api")
        .expect("verifier");
    assert_eq!(
        other.verify_access_at(&token, now),
        Err(AuthError::Invalid("issuer"))
    );
}
