//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane), stored as a
//! PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) with a random 16-byte salt.
//!
//! Hashing and verifying are deliberately slow (tens of milliseconds in release builds) and
//! CPU-bound: async callers should run them on `tokio::task::spawn_blocking`.
//!
//! A login for an unknown username must cost the same as one for a known user, or response
//! times reveal which usernames exist: call [`verify_password_dummy`] in that case.

use argon2::password_hash::{
    PasswordHash as PhcHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};

use super::AuthError;
use crate::model::PasswordHash;

/// Salt length in bytes.
const SALT_LEN: usize = 16;

/// A well-formed argon2id PHC string with the same parameters as [`hash_password`] whose
/// output is random bytes, so no known password matches it. [`verify_password_dummy`]
/// verifies against it.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Ym9ndXMtc2FsdC1iYW50ZXI$\
                          uB8MFkZGKsBAQyHpc1dr5X+dl0SJ8YyTeZFTd5iHg5M";

/// The hasher: argon2id, version 0x13, default (OWASP) cost parameters.
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Hashes `password` with argon2id and a fresh random salt.
///
/// The plaintext is neither stored nor logged; only the PHC string is returned.
pub fn hash_password(password: &str) -> Result<PasswordHash, AuthError> {
    let mut salt = [0u8; SALT_LEN];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| AuthError::Crypto("random salt"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| AuthError::Crypto("salt encoding"))?;
    let hash = hasher()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|_| AuthError::Crypto("password hashing"))?;
    Ok(PasswordHash(hash.to_string()))
}

/// Whether `password` matches `hash`. A hash that is not a valid argon2 PHC string never
/// matches. The comparison is constant-time.
pub fn verify_password(password: &str, hash: &PasswordHash) -> bool {
    let Ok(parsed) = PhcHash::new(&hash.0) else {
        return false;
    };
    hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Spends the time of one [`verify_password`] and returns `false`: call it when the username
/// of a login is unknown, so that timing does not tell unknown users from wrong passwords.
pub fn verify_password_dummy(password: &str) -> bool {
    let dummy = PasswordHash(DUMMY_HASH.to_owned());
    // Always `false`, even for a password that happened to match the dummy.
    std::hint::black_box(verify_password(password, &dummy));
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_phc_argon2id_without_plaintext_and_verifies() {
        let password = "correct horse battery staple";
        let hash = hash_password(password).expect("hash");
        assert!(
            hash.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.0
        );
        assert!(!hash.0.contains(password));
        assert!(!hash.0.contains("horse"));
        assert!(verify_password(password, &hash));
        assert!(!verify_password("correct horse battery stapl", &hash));
        assert!(!verify_password("", &hash));
        // Debug output of the stored hash is redacted.
        assert!(!format!("{hash:?}").contains("argon2"));
    }

    #[test]
    fn same_password_gets_different_salts() {
        let a = hash_password("hunter2hunter2").expect("hash");
        let b = hash_password("hunter2hunter2").expect("hash");
        assert_ne!(a.0, b.0);
    }

    #[test]
    fn garbage_hash_never_verifies() {
        assert!(!verify_password("x", &PasswordHash(String::new())));
        assert!(!verify_password(
            "x",
            &PasswordHash("$argon2id$nonsense".into())
        ));
        assert!(!verify_password("x", &PasswordHash("x".into())));
    }

    #[test]
    fn dummy_hash_has_the_real_parameters_and_never_matches() {
        let parsed = PhcHash::new(DUMMY_HASH).expect("dummy hash parses");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        let params = Params::try_from(&parsed).expect("params");
        let default = Params::default();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (default.m_cost(), default.t_cost(), default.p_cost())
        );
        assert!(!verify_password_dummy("anything"));
    }
}
