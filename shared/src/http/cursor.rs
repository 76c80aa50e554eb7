//! Opaque REST pagination cursors. A cursor is the store's page token sealed with an HMAC
//! over a scope (`comments:<event_id>:newest`), so a client can neither forge one nor reuse
//! one to read another room.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::AppError;

/// Seals `token` for `scope` with `secret`.
pub fn seal(secret: &[u8], scope: &str, token: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, &message(scope, token));
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(token),
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    )
}

/// Opens a cursor sealed for `scope`; a tampered, foreign or malformed cursor is a 400 on
/// field `cursor`.
pub fn open(secret: &[u8], scope: &str, cursor: &str) -> Result<String, AppError> {
    let bad = || AppError::field("cursor", "is not a valid cursor for this listing");
    let (token, tag) = cursor.split_once('.').ok_or_else(bad)?;
    let token = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
    let token = String::from_utf8(token).map_err(|_| bad())?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::verify(&key, &message(scope, &token), &tag).map_err(|_| bad())?;
    Ok(token)
}

fn message(scope: &str, token: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(scope.len() + token.len() + 1);
    m.extend_from_slice(scope.as_bytes());
    m.push(0);
    m.extend_from_slice(token.as_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip_and_scope_binding() {
        let c = seal(SECRET, "comments:a", "tok");
        assert_eq!(open(SECRET, "comments:a", &c).unwrap(), "tok");
        assert!(open(SECRET, "comments:b", &c).is_err());
        assert!(open(b"another-secret-another-secret-xx", "comments:a", &c).is_err());
    }

    #[test]
    fn tampering_is_rejected() {
        let c = seal(SECRET, "s", "tok");
        let forged = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode("other"),
            c.split_once('.').unwrap().1
        );
        assert!(open(SECRET, "s", &forged).is_err());
        assert!(open(SECRET, "s", "garbage").is_err());
        assert_eq!(
            open(SECRET, "s", "x.y").unwrap_err().details[0].field,
            "cursor"
        );
    }
}
