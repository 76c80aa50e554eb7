//! The object-store conformance suite: one set of tests run against the in-memory store and
//! the S3 store on the moto server (`scripts/with-moto`; the S3 tests fail without it). The
//! presigned forms and URLs are followed over HTTP for S3 (as a browser would), and handed to
//! the memory store's own checks for the in-memory one (the local gateway's routes, tested
//! end to end in `local-gateway/tests/media.rs`, do exactly that).

mod support;

use std::sync::Arc;
use std::time::Duration;

use banter::ids::ObjectKey;
use banter::objects::memory::{DOWNLOAD_PREFIX, MemoryObjects};
use banter::objects::s3::S3Objects;
use banter::objects::{ObjectStore, PresignedPost, UploadPolicy};
use banter::time::now;

/// A store under test, with how its presigned requests reach it.
#[derive(Clone)]
enum Under {
    Memory(Arc<MemoryObjects>),
    S3(Arc<S3Objects>),
}

impl Under {
    fn store(&self) -> &dyn ObjectStore {
        match self {
            Self::Memory(m) => m.as_ref(),
            Self::S3(s) => s.as_ref(),
        }
    }

    /// Posts the form with `file`: whether the store took it.
    async fn upload(&self, post: &PresignedPost, file: &[u8], file_type: &str) -> bool {
        match self {
            Self::Memory(m) => m.accept_post(&post.fields, file.to_vec(), now()).is_ok(),
            Self::S3(_) => {
                let answer =
                    banter_testkit::http::post_form(&post.url, &post.fields, file, file_type).await;
                assert!(
                    answer.status < 300,
                    "{}: {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                );
                true
            }
        }
    }

    /// Follows a presigned GET: the body, if it answered 200.
    async fn download(&self, url: &str) -> Option<Vec<u8>> {
        match self {
            Self::Memory(m) => {
                let (path, query) = url.split_once('?')?;
                let key = &path[path.find(DOWNLOAD_PREFIX)? + DOWNLOAD_PREFIX.len()..];
                let param = |name: &str| {
                    query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                        .unwrap_or("")
                };
                m.serve_get(key, param("expires"), param("signature"), now())
                    .ok()
                    .flatten()
                    .map(|o| o.body)
            }
            Self::S3(_) => {
                let answer = banter_testkit::http::get(url).await;
                (answer.status == 200).then_some(answer.body)
            }
        }
    }
}

async fn memory() -> Under {
    Under::Memory(Arc::new(MemoryObjects::new("http://127.0.0.1:9")))
}

async fn s3() -> Under {
    let sdk = support::moto_settings().load().await;
    let bucket = support::unique_prefix("media").to_lowercase();
    let store = S3Objects::new(&sdk, bucket.clone());
    store
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create the bucket on moto");
    Under::S3(Arc::new(store))
}

macro_rules! object_tests {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $name() { super::$name(super::memory().await).await })*
        }
        mod s3 {
            $(#[tokio::test] async fn $name() { super::$name(super::s3().await).await })*
        }
    };
}

object_tests!(
    objects_are_put_read_within_a_bound_and_deleted,
    a_presigned_post_stores_the_policy_s_object,
    a_presigned_get_downloads_the_object,
);

fn key(name: &str) -> ObjectKey {
    format!("uploads/{name}-{}", uuid::Uuid::now_v7().simple())
        .parse()
        .unwrap()
}

async fn objects_are_put_read_within_a_bound_and_deleted(under: Under) {
    let store = under.store();
    let k = key("put");
    let body: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    store
        .put(&k, body.clone(), "application/zip")
        .await
        .unwrap();
    let whole = store.get(&k, 20_000).await.unwrap().unwrap();
    assert_eq!(
        (whole.body.as_slice(), whole.size),
        (body.as_slice(), 10_000)
    );
    assert_eq!(whole.content_type.as_deref(), Some("application/zip"));
    // A bounded read holds only the start, and still tells the whole size.
    let start = store.get(&k, 101).await.unwrap().unwrap();
    assert_eq!((start.body.as_slice(), start.size), (&body[..101], 10_000));
    store.delete(&k).await.unwrap();
    assert_eq!(store.get(&k, 10).await.unwrap(), None);
    store.delete(&k).await.unwrap();
    assert_eq!(store.get(&key("never"), 10).await.unwrap(), None);
}

async fn a_presigned_post_stores_the_policy_s_object(under: Under) {
    let k = key("post");
    let post = under
        .store()
        .presign_post(&UploadPolicy {
            key: k.clone(),
            content_type: "image/png".into(),
            max_bytes: 1000,
            expires_at: now() + chrono::Duration::minutes(5),
        })
        .await
        .unwrap();
    assert_eq!(post.fields["key"], k.as_str());
    assert_eq!(post.fields["Content-Type"], "image/png");
    assert!(post.fields.contains_key("policy"));
    let bytes = b"\x89PNG\r\n\x1a\n not really the rest of one".to_vec();
    assert!(under.upload(&post, &bytes, "image/png").await);
    let stored = under.store().get(&k, 1000).await.unwrap().unwrap();
    assert_eq!(stored.body, bytes);
    assert_eq!(stored.content_type.as_deref(), Some("image/png"));
}

async fn a_presigned_get_downloads_the_object(under: Under) {
    let k = key("get");
    under
        .store()
        .put(&k, b"hello, file".to_vec(), "text/plain")
        .await
        .unwrap();
    let url = under
        .store()
        .presign_get(&k, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(url.len() < 2048, "{url}");
    assert_eq!(
        under.download(&url).await.as_deref(),
        Some(&b"hello, file"[..])
    );
    // A URL for an object that is gone downloads nothing.
    under.store().delete(&k).await.unwrap();
    assert_eq!(under.download(&url).await, None);
}

/// What S3 refuses and moto lets through, the memory store refuses as S3 does.
#[tokio::test]
async fn the_memory_store_refuses_forms_outside_their_policy() {
    let store = MemoryObjects::new("http://127.0.0.1:9");
    let k = key("policy");
    let policy = UploadPolicy {
        key: k.clone(),
        content_type: "image/png".into(),
        max_bytes: 10,
        expires_at: now() + chrono::Duration::minutes(5),
    };
    let post = store.presign_post(&policy).await.unwrap();
    let with = |name: &str, value: &str| {
        let mut fields = post.fields.clone();
        fields.insert(name.into(), value.into());
        fields
    };
    let cases = [
        ("another key", with("key", "uploads/other"), 5),
        ("another type", with("Content-Type", "text/html"), 5),
        (
            "a forged signature",
            with("x-amz-signature", &"0".repeat(64)),
            5,
        ),
        ("a policy of its own", with("policy", "e30="), 5),
        ("too large", post.fields.clone(), 11),
        ("empty", post.fields.clone(), 0),
    ];
    for (case, fields, size) in cases {
        assert!(
            store.accept_post(&fields, vec![1; size], now()).is_err(),
            "{case} was accepted"
        );
    }
    let mut missing = post.fields.clone();
    missing.remove("policy");
    assert!(store.accept_post(&missing, vec![1; 5], now()).is_err());
    // Expired.
    assert!(
        store
            .accept_post(
                &post.fields,
                vec![1; 5],
                now() + chrono::Duration::minutes(6)
            )
            .is_err()
    );
    assert!(store.keys().is_empty());
    assert_eq!(
        store.accept_post(&post.fields, vec![1; 10], now()),
        Ok(k.clone())
    );
    // A download link works only as signed and until it expires.
    let url = store
        .presign_get(&k, Duration::from_secs(60))
        .await
        .unwrap();
    let query = url.split_once('?').unwrap().1;
    let expires = query
        .split('&')
        .next()
        .unwrap()
        .strip_prefix("expires=")
        .unwrap();
    let signature = query
        .split('&')
        .nth(1)
        .unwrap()
        .strip_prefix("signature=")
        .unwrap();
    assert!(
        store
            .serve_get(k.as_str(), expires, signature, now())
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .serve_get("uploads/other", expires, signature, now())
            .is_err()
    );
    assert!(
        store
            .serve_get(k.as_str(), "99999999999", signature, now())
            .is_err()
    );
    assert!(
        store
            .serve_get(
                k.as_str(),
                expires,
                signature,
                now() + chrono::Duration::minutes(2)
            )
            .is_err()
    );
}
