//! In-memory object store: the local stack's bucket. Its presigned URLs point at the local
//! gateway (the base URL it is given), which hands the requests back here
//! ([`MemoryObjects::accept_post`], [`MemoryObjects::serve_get`]): each is checked as S3
//! checks it (a policy signed by this store, not expired, the key, the `Content-Type` and the
//! size it allows; a GET URL signed by this store, not expired), so local uploads fail where
//! S3 would refuse them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::hmac;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::post_policy::hex;
use super::{Fetched, ObjectError, ObjectResult, ObjectStore, PresignedPost, UploadPolicy};
use crate::ids::ObjectKey;
use crate::time::{Timestamp, now};

/// The path (under the base URL) that accepts presigned POST forms.
pub const UPLOAD_PATH: &str = "/_objects";

/// The path prefix (under the base URL) that serves presigned GETs: `/_objects/<key>`.
pub const DOWNLOAD_PREFIX: &str = "/_objects/";

/// One stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Its bytes.
    pub body: Vec<u8>,
    /// Its `Content-Type`.
    pub content_type: String,
}

/// What this store's upload policies say (base64 JSON in the form's `policy` field).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Policy {
    key: ObjectKey,
    content_type: String,
    max_bytes: u64,
    expires_at: Timestamp,
}

/// An object store in memory. See the [module documentation](self).
#[derive(Debug)]
pub struct MemoryObjects {
    base_url: RwLock<String>,
    key: hmac::Key,
    objects: Mutex<HashMap<ObjectKey, StoredObject>>,
}

impl MemoryObjects {
    /// An empty store whose URLs start with `base_url` (`http://127.0.0.1:3000`), signing with
    /// a fresh random key.
    pub fn new(base_url: impl Into<String>) -> Self {
        let mut secret = [0u8; 32];
        // Without an OS random source the key is fixed: these URLs only ever reach the
        // local stack, which signs and checks them in the same process.
        let _ = getrandom::fill(&mut secret);
        Self {
            base_url: RwLock::new(base_url.into()),
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            objects: Mutex::new(HashMap::new()),
        }
    }

    /// Points later URLs at `base_url` (the local gateway, once it knows its port).
    pub fn set_base_url(&self, base_url: impl Into<String>) {
        *self
            .base_url
            .write()
            .unwrap_or_else(PoisonError::into_inner) = base_url.into();
    }

    fn base_url(&self) -> String {
        self.base_url
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .trim_end_matches('/')
            .to_owned()
    }

    fn objects(&self) -> MutexGuard<'_, HashMap<ObjectKey, StoredObject>> {
        // Every update is one insert or remove: a poisoned lock still holds a whole map.
        self.objects.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sign(&self, data: &str) -> String {
        hex(hmac::sign(&self.key, data.as_bytes()).as_ref())
    }

    fn verify(&self, data: &str, signature: &str) -> bool {
        let Some(bytes) = unhex(signature) else {
            return false;
        };
        hmac::verify(&self.key, data.as_bytes(), &bytes).is_ok()
    }

    /// Stores the file of a posted form if the form carries a policy this store signed that
    /// allows it at `at`: its `key` and `Content-Type` fields are the policy's, the file's
    /// size is within 1..=max. Returns the key it was stored under.
    pub fn accept_post(
        &self,
        fields: &BTreeMap<String, String>,
        file: Vec<u8>,
        at: Timestamp,
    ) -> ObjectResult<ObjectKey> {
        let field = |name: &'static str| {
            fields
                .get(name)
                .ok_or(ObjectError::Refused("a policy field is missing"))
        };
        let encoded = field("policy")?;
        if !self.verify(encoded, field("x-amz-signature")?) {
            return Err(ObjectError::Refused(
                "the policy's signature does not match",
            ));
        }
        let policy: Policy = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(ObjectError::Refused("the policy is unreadable"))?;
        if at > policy.expires_at {
            return Err(ObjectError::Refused("the policy has expired"));
        }
        if field("key")? != policy.key.as_str() {
            return Err(ObjectError::Refused("the key is not the policy's"));
        }
        if field("Content-Type")? != &policy.content_type {
            return Err(ObjectError::Refused("the Content-Type is not the policy's"));
        }
        let size = file.len() as u64;
        if size == 0 || size > policy.max_bytes {
            return Err(ObjectError::Refused(
                "the file's size is outside the policy's content-length-range",
            ));
        }
        self.objects().insert(
            policy.key.clone(),
            StoredObject {
                body: file,
                content_type: policy.content_type,
            },
        );
        Ok(policy.key)
    }

    /// The object a presigned GET URL names, if this store signed it and it has not expired
    /// at `at`: `key` is the path after [`DOWNLOAD_PREFIX`], `expires` and `signature` its
    /// query parameters.
    pub fn serve_get(
        &self,
        key: &str,
        expires: &str,
        signature: &str,
        at: Timestamp,
    ) -> ObjectResult<Option<StoredObject>> {
        if !self.verify(&format!("{key}\n{expires}"), signature) {
            return Err(ObjectError::Refused("the URL's signature does not match"));
        }
        let expires: i64 = expires
            .parse()
            .map_err(|_| ObjectError::Refused("the URL's expiry is unreadable"))?;
        if at.timestamp() > expires {
            return Err(ObjectError::Refused("the URL has expired"));
        }
        let key: ObjectKey = key
            .parse()
            .map_err(|_| ObjectError::Refused("not an object key"))?;
        Ok(self.objects().get(&key).cloned())
    }

    /// Every key stored, sorted (tests).
    pub fn keys(&self) -> Vec<ObjectKey> {
        let mut keys: Vec<ObjectKey> = self.objects().keys().cloned().collect();
        keys.sort();
        keys
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 == 1 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[async_trait]
impl ObjectStore for MemoryObjects {
    async fn put(&self, key: &ObjectKey, body: Vec<u8>, content_type: &str) -> ObjectResult<()> {
        self.objects().insert(
            key.clone(),
            StoredObject {
                body,
                content_type: content_type.to_owned(),
            },
        );
        Ok(())
    }

    async fn get(&self, key: &ObjectKey, max_bytes: u64) -> ObjectResult<Option<Fetched>> {
        Ok(self.objects().get(key).map(|o| {
            let keep = usize::try_from(max_bytes).unwrap_or(usize::MAX);
            Fetched {
                body: o.body.iter().take(keep).copied().collect(),
                size: o.body.len() as u64,
                content_type: Some(o.content_type.clone()),
            }
        }))
    }

    async fn delete(&self, key: &ObjectKey) -> ObjectResult<()> {
        self.objects().remove(key);
        Ok(())
    }

    async fn presign_post(&self, policy: &UploadPolicy) -> ObjectResult<PresignedPost> {
        let document = Policy {
            key: policy.key.clone(),
            content_type: policy.content_type.clone(),
            max_bytes: policy.max_bytes,
            expires_at: policy.expires_at,
        };
        let json =
            serde_json::to_vec(&document).map_err(|e| ObjectError::Backend(e.to_string()))?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(json);
        let fields = BTreeMap::from([
            ("key".to_owned(), policy.key.to_string()),
            ("Content-Type".to_owned(), policy.content_type.clone()),
            ("x-amz-signature".to_owned(), self.sign(&encoded)),
            ("policy".to_owned(), encoded),
        ]);
        Ok(PresignedPost {
            url: format!("{}{UPLOAD_PATH}", self.base_url()),
            fields,
        })
    }

    async fn presign_get(&self, key: &ObjectKey, expires_in: Duration) -> ObjectResult<String> {
        let secs = i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX / 2);
        let expires = now().timestamp().saturating_add(secs);
        let signature = self.sign(&format!("{key}\n{expires}"));
        Ok(format!(
            "{}{DOWNLOAD_PREFIX}{key}?expires={expires}&signature={signature}",
            self.base_url()
        ))
    }
}
