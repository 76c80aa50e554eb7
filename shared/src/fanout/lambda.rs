//! The SQS/Lambda adapter of the fan-out: the `fanout` function's batches handed to the
//! delivery core ([`Fanout::deliver`]), and the function's wiring from its environment
//! ([`from_env`]).
//!
//! [`Fanout::handle_sqs`] processes the records of an SQS batch concurrently (bounded by
//! [`FanoutConfig::record_concurrency`], all sharing the one post bound) and returns
//! `batchItemFailures` naming exactly the records that did not finish (the event source
//! mapping needs `ReportBatchItemFailures`). A record fails when:
//!
//! - its job is unfinished (retryable posts left at the stop time or after `max_attempts`);
//! - reading the subscriptions or enqueueing shard jobs failed, or did not end in time;
//! - its body is missing or is not a [`FanoutJob`], its shard is not a valid bucket range,
//!   or its payload is over the 128 KiB frame limit. These can never succeed; they are
//!   logged at `error` level and still reported as failures rather than dropped, so the queue's redrive policy moves them to the
//!   dead-letter queue after `maxReceiveCount` receives, where they are kept for inspection
//!   and its alarm fires.
//!
//! One record's failure never fails another. SQS redelivers a failed record after its
//! visibility timeout and the job then posts again to *every* subscriber of its range, so
//! clients see duplicates in that case (they drop them: every payload carries its id and
//! position). In the normal path each subscriber receives each job exactly once.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use tokio::time::Instant;
use tracing::Instrument;

use super::{Fanout, FanoutConfig, FanoutConfigError, FanoutError};
use crate::aws::AwsSettings;
use crate::env::{self, MissingVar};
use crate::poster::apigw::ApiGatewayPoster;
use crate::queue::FanoutJob;
use crate::queue::sqs::SqsQueue;
use crate::store::dynamodb::{stores, tables::TableNames};

/// The `Instant` of a Lambda deadline given in milliseconds since the Unix epoch
/// (`lambda_runtime::Context::deadline`). A deadline in the past is now.
pub fn deadline_from_epoch_millis(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

impl Fanout {
    /// Handles the SQS batch of one Lambda invocation that must return by `deadline`, and
    /// returns the records that did not finish as `batchItemFailures` (see the
    /// [module documentation](self)). Never fails as a whole.
    pub async fn handle_sqs(&self, event: SqsEvent, deadline: Instant) -> SqsBatchResponse {
        let outcomes: Vec<Option<String>> = futures::stream::iter(event.records)
            .map(|record| self.handle_record(record, deadline))
            .buffered(self.config().record_concurrency)
            .collect()
            .await;
        let mut response = SqsBatchResponse::default();
        for failed in outcomes.into_iter().flatten() {
            response.add_failure(failed);
        }
        response
    }

    /// [`Fanout::handle_sqs`] with the deadline of the Lambda invocation.
    pub async fn handle_lambda_event(
        &self,
        event: lambda_runtime::LambdaEvent<SqsEvent>,
    ) -> SqsBatchResponse {
        let deadline = deadline_from_epoch_millis(event.context.deadline);
        self.handle_sqs(event.payload, deadline).await
    }

    /// Processes one record; returns its message id when it must be reported as failed.
    async fn handle_record(&self, record: SqsMessage, deadline: Instant) -> Option<String> {
        let Some(message_id) = record.message_id.clone() else {
            // Lambda always sets it; without it the record cannot be reported either way.
            tracing::error!("SQS record without a messageId; ignored");
            return None;
        };
        let receive_count = record
            .attributes
            .get("ApproximateReceiveCount")
            .map_or("", String::as_str);
        let span = tracing::info_span!("fanout.record", %message_id, receive_count);
        let ok = async {
            let job = match record
                .body
                .as_deref()
                .map(serde_json::from_str::<FanoutJob>)
            {
                Some(Ok(job)) => job,
                Some(Err(e)) => {
                    tracing::error!(
                        error = %e,
                        "record body is not a fan-out job; reported as failed so the redrive \
                         policy moves it to the dead-letter queue"
                    );
                    return false;
                }
                None => {
                    tracing::error!(
                        "record has no body; reported as failed so the redrive policy moves it \
                         to the dead-letter queue"
                    );
                    return false;
                }
            };
            match self.deliver(&job, deadline).await {
                Ok(report) => report.is_finished(),
                Err(e) => {
                    match e {
                        FanoutError::PayloadTooLarge { .. }
                        | FanoutError::Payload(_)
                        | FanoutError::InvalidShard { .. } => {
                            tracing::error!(
                                job_id = %job.job_id,
                                room = %job.room,
                                error = %e,
                                "fan-out job can never be delivered; reported as failed for \
                                 the dead-letter queue"
                            );
                        }
                        _ => tracing::warn!(
                            job_id = %job.job_id,
                            room = %job.room,
                            error = %e,
                            "fan-out job failed; SQS will redeliver it"
                        ),
                    }
                    false
                }
            }
        }
        .instrument(span)
        .await;
        (!ok).then_some(message_id)
    }
}

/// Why the `fanout` function could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FromEnvError {
    /// A required variable is missing.
    #[error(transparent)]
    Missing(#[from] MissingVar),
    /// A `BANTER_FANOUT_*` setting is out of range.
    #[error(transparent)]
    Config(#[from] FanoutConfigError),
}

/// What the `fanout` function reads from its environment, before any client is built.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Where shard jobs go: `FANOUT_SHARD_QUEUE_URL`, else `FANOUT_QUEUE_URL`.
    pub shard_queue_url: String,
    /// `WEBSOCKET_MANAGEMENT_ENDPOINT` (required).
    pub management_endpoint: String,
    /// `BANTER_FANOUT_*`.
    pub config: FanoutConfig,
}

impl Settings {
    /// Reads the settings through `lookup` (the process environment: [`env::process`]).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, FromEnvError> {
        let shard_queue_url = match env::optional(&lookup, "FANOUT_SHARD_QUEUE_URL") {
            Some(url) => url,
            None => env::required(
                &lookup,
                "FANOUT_QUEUE_URL",
                "the fan-out SQS queue URL (when FANOUT_SHARD_QUEUE_URL is not set)",
            )?,
        };
        let management_endpoint = env::required(
            &lookup,
            "WEBSOCKET_MANAGEMENT_ENDPOINT",
            "the WebSocket API management endpoint (https://{api-id}.execute-api.{region}.amazonaws.com/{stage})",
        )?;
        let config = FanoutConfig::from_lookup(&lookup)?;
        Ok(Self {
            shard_queue_url,
            management_endpoint,
            config,
        })
    }
}

/// The fan-out of the deployed `fanout` function: [`Settings`] from the process environment,
/// the connections table (`CONNECTIONS_TABLE`, or `<BANTER_TABLE_PREFIX>-connections`), the
/// conversations table for membership (`CONVERSATIONS_TABLE`), the comments and messages
/// tables for the room streams and the users table for their authors, the
/// Management API poster and the shard queue, with the AWS SDK's own variables.
pub async fn from_env() -> Result<Fanout, FromEnvError> {
    let settings = Settings::from_lookup(env::process)?;
    let sdk = AwsSettings::default().load().await;
    let stores = stores(aws_sdk_dynamodb::Client::new(&sdk), TableNames::from_env());
    let queue: Arc<dyn crate::queue::Queue> =
        Arc::new(SqsQueue::new(&sdk, settings.shard_queue_url));
    let fanout = Fanout::new(
        stores.connections.clone(),
        Arc::new(ApiGatewayPoster::new(&sdk, settings.management_endpoint)),
        queue.clone(),
        settings.config,
    )?
    .with_membership(stores.conversations.clone())
    .with_streams(stores.streams.clone(), stores.users.clone())
    .with_presence(crate::service::presence::PresenceDesk::new(&stores, queue));
    let fanout = match env::optional(env::process, "MEDIA_BUCKET") {
        Some(bucket) => {
            fanout.with_objects(Arc::new(crate::objects::s3::S3Objects::new(&sdk, bucket)))
        }
        None => fanout,
    };
    tracing::info!(config = ?fanout.config(), "fanout ready");
    Ok(fanout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_shard_queue_falls_back_to_the_fanout_queue() {
        let endpoint = ("WEBSOCKET_MANAGEMENT_ENDPOINT", "https://x/prod");
        let s = Settings::from_lookup(lookup(&[
            ("FANOUT_SHARD_QUEUE_URL", "shard"),
            ("FANOUT_QUEUE_URL", "main"),
            endpoint,
        ]))
        .unwrap();
        assert_eq!(s.shard_queue_url, "shard");
        assert_eq!(s.management_endpoint, "https://x/prod");
        let s = Settings::from_lookup(lookup(&[
            ("FANOUT_SHARD_QUEUE_URL", " "),
            ("FANOUT_QUEUE_URL", "main"),
            endpoint,
        ]))
        .unwrap();
        assert_eq!(s.shard_queue_url, "main");
    }

    #[test]
    fn missing_variables_are_named() {
        let err =
            Settings::from_lookup(lookup(&[("WEBSOCKET_MANAGEMENT_ENDPOINT", "e")])).unwrap_err();
        assert!(
            err.to_string().starts_with("FANOUT_QUEUE_URL is not set"),
            "{err}"
        );
        let err = Settings::from_lookup(lookup(&[("FANOUT_QUEUE_URL", "q")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("WEBSOCKET_MANAGEMENT_ENDPOINT is not set"),
            "{err}"
        );
    }
}
