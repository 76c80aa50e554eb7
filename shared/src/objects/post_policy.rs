//! S3 presigned POST (browser-based upload) policies, signed with Signature Version 4. The AWS
//! SDK for Rust presigns requests but not POST forms, so Banter builds the policy document
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html>)
//! and signs it here: S3 then refuses any upload whose key, `Content-Type` or size the
//! policy does not allow.

use std::collections::BTreeMap;

use aws_lc_rs::hmac;
use base64::Engine;
use serde_json::json;

use super::{PresignedPost, UploadPolicy};
use crate::time::Timestamp;

/// The credentials and region a policy is signed for.
#[derive(Clone)]
pub struct SigningIdentity {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials (a Lambda role's): posted as
    /// `x-amz-security-token` and bound by the policy.
    pub session_token: Option<String>,
    /// The bucket's region.
    pub region: String,
}

impl std::fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningIdentity")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Lowercase hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

/// The SigV4 signing key of `secret` for S3 on `date` (`YYYYMMDD`) in `region`.
fn signing_key(secret: &str, date: &str, region: &str) -> Vec<u8> {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, b"s3");
    hmac_sha256(&k_service, b"aws4_request")
}

/// The form that uploads one object to `bucket` at `url` under `policy`, signed by `id` at
/// `now`: `key`, `Content-Type`, the `x-amz-*` fields, `policy` (base64 JSON holding the
/// bucket, key, `Content-Type`, `content-length-range` 1..=max and every `x-amz-*` field)
/// and `x-amz-signature`.
pub fn sign(
    bucket: &str,
    url: String,
    policy: &UploadPolicy,
    id: &SigningIdentity,
    now: Timestamp,
) -> PresignedPost {
    let date = now.format("%Y%m%d").to_string();
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let credential = format!("{}/{date}/{}/s3/aws4_request", id.access_key_id, id.region);
    let mut fields = BTreeMap::from([
        ("key".to_owned(), policy.key.to_string()),
        ("Content-Type".to_owned(), policy.content_type.clone()),
        ("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
        ("x-amz-credential".to_owned(), credential),
        ("x-amz-date".to_owned(), amz_date),
    ]);
    if let Some(token) = &id.session_token {
        fields.insert("x-amz-security-token".to_owned(), token.clone());
    }
    let mut conditions = vec![
        json!({ "bucket": bucket }),
        json!(["content-length-range", 1, policy.max_bytes]),
    ];
    conditions.extend(fields.iter().map(|(k, v)| json!({ k: v })));
    let document = json!({
        "expiration": policy.expires_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "conditions": conditions,
    });
    let encoded = base64::engine::general_purpose::STANDARD.encode(document.to_string());
    let signature = hex(&hmac_sha256(
        &signing_key(&id.secret_access_key, &date, &id.region),
        encoded.as_bytes(),
    ));
    fields.insert("policy".to_owned(), encoded);
    fields.insert("x-amz-signature".to_owned(), signature);
    PresignedPost { url, fields }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signing key of AWS's published SigV4 example
    /// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/signing-elements.html>, the
    /// `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY` secret on 20150830 in us-east-1 for IAM)
    /// checks the derivation; S3 only changes the service name.
    #[test]
    fn the_signing_key_derives_as_aws_documents() {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), b"20150830");
        let k_region = hmac_sha256(&k_date, b"us-east-1");
        let k_service = hmac_sha256(&k_region, b"iam");
        let key = hmac_sha256(&k_service, b"aws4_request");
        assert_eq!(
            hex(&key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn the_policy_binds_key_type_size_and_every_signed_field() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T18:00:00Z")
            .unwrap()
            .to_utc();
        let policy = UploadPolicy {
            key: "uploads/abc".parse().unwrap(),
            content_type: "image/png".into(),
            max_bytes: 1000,
            expires_at: now + chrono::Duration::minutes(10),
        };
        let id = SigningIdentity {
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: Some("token".into()),
            region: "eu-west-1".into(),
        };
        let post = sign("bucket", "https://b/".into(), &policy, &id, now);
        let doc: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(&post.fields["policy"])
                .unwrap(),
        )
        .unwrap();
        assert_eq!(doc["expiration"], "2026-12-02T18:10:00.000Z");
        let conditions = doc["conditions"].as_array().unwrap();
        assert!(conditions.contains(&json!(["content-length-range", 1, 1000])));
        for (k, v) in post
            .fields
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "policy" | "x-amz-signature"))
        {
            assert!(conditions.contains(&json!({ k: v })), "{k} is not bound");
        }
        assert_eq!(
            post.fields["x-amz-credential"],
            "AKID/20261202/eu-west-1/s3/aws4_request"
        );
        assert_eq!(post.fields["x-amz-security-token"], "token");
        let again = sign("bucket", "https://b/".into(), &policy, &id, now);
        assert_eq!(again, post, "signing is deterministic");
        let other = SigningIdentity {
            secret_access_key: "other".into(),
            ..id
        };
        assert_ne!(
            sign("bucket", "https://b/".into(), &policy, &other, now).fields["x-amz-signature"],
            post.fields["x-amz-signature"]
        );
    }
}
