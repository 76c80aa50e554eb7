//! The S3 object store (`aws-sdk-s3`): the media bucket of a deployed stack, or a bucket on
//! moto in tests. With an endpoint override (moto, a local S3) it addresses the bucket
//! path-style (`{endpoint}/{bucket}/{key}`), since a local endpoint has no per-bucket host
//! names; on AWS it uses the virtual-hosted style S3 prefers.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::ProvideCredentials;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;

use super::post_policy::{SigningIdentity, sign};
use super::{Fetched, ObjectError, ObjectResult, ObjectStore, PresignedPost, UploadPolicy};
use crate::ids::ObjectKey;
use crate::time::now;

/// The media bucket on S3.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
    sdk: SdkConfig,
    bucket: String,
}

fn backend(e: impl std::error::Error) -> ObjectError {
    ObjectError::Backend(DisplayErrorContext(e).to_string())
}

impl S3Objects {
    /// The bucket `bucket` with the endpoint, region and credentials of `sdk` (see
    /// [`crate::aws::AwsSettings`]); path-style addressing when `sdk` has an endpoint
    /// override.
    pub fn new(sdk: &SdkConfig, bucket: impl Into<String>) -> Self {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        Self {
            client: Client::from_conf(config),
            sdk: sdk.clone(),
            bucket: bucket.into(),
        }
    }

    /// The client, for tests that create the bucket.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Where forms are posted: the bucket's URL.
    fn post_url(&self, region: &str) -> String {
        match self.sdk.endpoint_url() {
            Some(endpoint) => format!("{}/{}", endpoint.trim_end_matches('/'), self.bucket),
            None => format!("https://{}.s3.{region}.amazonaws.com/", self.bucket),
        }
    }
}

#[async_trait]
impl ObjectStore for S3Objects {
    async fn put(&self, key: &ObjectKey, body: Vec<u8>, content_type: &str) -> ObjectResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get(&self, key: &ObjectKey, max_bytes: u64) -> ObjectResult<Option<Fetched>> {
        let head = match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(head) => head,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(None),
            Err(e) => return Err(backend(e)),
        };
        let size = u64::try_from(head.content_length().unwrap_or(0)).unwrap_or(0);
        let content_type = head.content_type().map(str::to_owned);
        let wanted = size.min(max_bytes);
        if wanted == 0 {
            return Ok(Some(Fetched {
                body: Vec::new(),
                size,
                content_type,
            }));
        }
        let object = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .range(format!("bytes=0-{}", wanted - 1))
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(backend(e)),
        };
        let mut body = object.body.collect().await.map_err(backend)?.to_vec();
        body.truncate(usize::try_from(wanted).unwrap_or(usize::MAX));
        Ok(Some(Fetched {
            body,
            size,
            content_type,
        }))
    }

    async fn delete(&self, key: &ObjectKey) -> ObjectResult<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn presign_post(&self, policy: &UploadPolicy) -> ObjectResult<PresignedPost> {
        let provider = self
            .sdk
            .credentials_provider()
            .ok_or_else(|| ObjectError::Backend("no credentials provider".into()))?;
        let credentials = provider.provide_credentials().await.map_err(backend)?;
        let region = self
            .sdk
            .region()
            .map(|r| r.as_ref().to_owned())
            .ok_or_else(|| ObjectError::Backend("no region".into()))?;
        let id = SigningIdentity {
            access_key_id: credentials.access_key_id().to_owned(),
            secret_access_key: credentials.secret_access_key().to_owned(),
            session_token: credentials.session_token().map(str::to_owned),
            region: region.clone(),
        };
        Ok(sign(
            &self.bucket,
            self.post_url(&region),
            policy,
            &id,
            now(),
        ))
    }

    async fn presign_get(&self, key: &ObjectKey, expires_in: Duration) -> ObjectResult<String> {
        let config = PresigningConfig::expires_in(expires_in).map_err(backend)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .presigned(config)
            .await
            .map_err(backend)?;
        Ok(request.uri().to_owned())
    }
}
