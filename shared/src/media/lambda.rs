//! The `media` function: S3 object-created events of the bucket's `uploads/` prefix, each
//! object checked by [`MediaProcessor::process`]. A failure (the table or the bucket
//! unavailable) fails the invocation, so Lambda retries the event; objects already settled are
//! skipped on the retry.
//!
//! Environment: `MEDIA_BUCKET`, `MESSAGES_TABLE` (or `BANTER_TABLE_PREFIX`), and the AWS
//! SDK's own variables.

use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;

use super::process::{MediaProcessor, Outcome, ProcessError};
use crate::aws::AwsSettings;
use crate::objects::s3::S3Objects;
use crate::store::dynamodb::media::DynamoMediaStore;
use crate::store::dynamodb::tables::TableNames;

/// The processor of a deployed function, from its environment.
pub async fn from_env() -> Result<MediaProcessor, crate::functions::Error> {
    let sdk = AwsSettings::default().load().await;
    let bucket = std::env::var("MEDIA_BUCKET").map_err(|_| "MEDIA_BUCKET is not set")?;
    Ok(MediaProcessor {
        media: Arc::new(DynamoMediaStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            TableNames::from_env().messages,
        )),
        objects: Arc::new(S3Objects::new(&sdk, bucket)),
    })
}

/// What an invocation did: the function's response (S3 ignores it; logs and tests read it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Objects accepted (their items `ready`).
    pub ready: usize,
    /// Objects rejected and deleted.
    pub rejected: usize,
    /// Objects with nothing to do (settled already, not an upload, no item).
    pub skipped: usize,
}

impl Summary {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Ready(_) => self.ready += 1,
            Outcome::Rejected(_) => self.rejected += 1,
            Outcome::Skipped(_) => self.skipped += 1,
        }
    }
}

/// Processes every object of `event`, in order; the first failure is returned after the
/// others were tried.
pub async fn handle(processor: &MediaProcessor, event: S3Event) -> Result<Summary, ProcessError> {
    let mut summary = Summary::default();
    let mut failure = None;
    for record in event.records {
        let Some(key) = record.s3.object.key else {
            continue;
        };
        match processor.process(&key).await {
            Ok(outcome) => summary.add(&outcome),
            Err(e) => {
                tracing::error!(key, error = %e, "upload not processed");
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}
