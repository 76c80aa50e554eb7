//! SQS queue: the fan-out queue on Amazon SQS (a standard queue with a redrive policy to a
//! dead-letter queue), or on moto in tests.
//!
//! Job bodies are the JSON of [`FanoutJob`] ([`encode_job`]). A received body that does not
//! parse as a job is **skipped**: it is logged with `tracing::warn!`, left undeleted and not
//! returned, so it comes back after each visibility timeout until the queue's redrive policy
//! moves it to the dead-letter queue, where it can be inspected. Failing the whole receive
//! instead would hold back the valid jobs of the same batch; deleting it would lose the
//! evidence.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};

use super::{FanoutJob, Queue, QueueError, Received, encode_job};

/// Most entries in one `SendMessageBatch` and most messages one `ReceiveMessage` returns.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// Most bytes of message bodies in one `SendMessageBatch` (SQS limits the sum of a batch's
/// messages to 256 KiB).
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Longest long-poll wait SQS accepts, in seconds.
const MAX_WAIT_SECONDS: i32 = 20;

/// Pause before the one retry of the entries a batch send reported as failed.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

fn backend(context: &str, e: impl std::error::Error) -> QueueError {
    QueueError::Backend(format!("{context}: {}", DisplayErrorContext(e)))
}

/// The fan-out queue on SQS.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: LazyClient,
    queue_url: String,
}

/// The SQS client, built on first use: functions that never enqueue (sign-in, `$connect`)
/// get an app with a queue all the same, and should not pay for its client at cold start.
#[derive(Debug, Clone)]
enum LazyClient {
    /// A client the caller built.
    Ready(Client),
    /// Built from this configuration when first needed.
    Later(Box<SdkConfig>, std::sync::OnceLock<Client>),
}

impl SqsQueue {
    /// A queue at `queue_url`, with a client built from the shared SDK configuration (its
    /// endpoint override, if any, is used: moto in tests).
    pub fn new(sdk: &SdkConfig, queue_url: impl Into<String>) -> Self {
        Self {
            client: LazyClient::Later(Box::new(sdk.clone()), std::sync::OnceLock::new()),
            queue_url: queue_url.into(),
        }
    }

    /// A queue at `queue_url` over an existing client.
    pub fn from_client(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client: LazyClient::Ready(client),
            queue_url: queue_url.into(),
        }
    }

    /// The queue's URL.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// The SQS client.
    pub fn client(&self) -> &Client {
        match &self.client {
            LazyClient::Ready(client) => client,
            LazyClient::Later(sdk, cell) => cell.get_or_init(|| Client::new(sdk)),
        }
    }

    /// Sends one batch (≤ 10 bodies, ≤ 256 KiB), retrying the entries SQS reports as failed
    /// once unless the failure is the sender's fault.
    async fn send_batch(&self, bodies: &[String]) -> Result<(), QueueError> {
        let mut pending: Vec<usize> = (0..bodies.len()).collect();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let entries = pending
                .iter()
                .map(|&i| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&bodies[i])
                        .build()
                        .map_err(|e| backend("send batch entry", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client()
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| backend("SendMessageBatch", e))?;
            let failed = out.failed();
            if failed.is_empty() {
                return Ok(());
            }
            let describe = || {
                failed
                    .iter()
                    .map(|f| {
                        format!(
                            "entry {}: {} {}",
                            f.id(),
                            f.code(),
                            f.message().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            if attempt >= 2 || failed.iter().any(|f| f.sender_fault()) {
                return Err(QueueError::Backend(format!(
                    "SendMessageBatch: {} of {} jobs not sent: {}",
                    failed.len(),
                    bodies.len(),
                    describe()
                )));
            }
            tracing::warn!(failed = %describe(), "SendMessageBatch: retrying failed entries");
            pending = failed
                .iter()
                .filter_map(|f| f.id().parse::<usize>().ok())
                .filter(|&i| i < bodies.len())
                .collect();
            if pending.len() != failed.len() {
                return Err(QueueError::Backend(format!(
                    "SendMessageBatch: unknown failed entry ids: {}",
                    describe()
                )));
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}

/// Groups bodies into consecutive batches of at most [`MAX_BATCH_ENTRIES`] entries and
/// [`MAX_BATCH_BYTES`] bytes (a single body is at most `MAX_JOB_BYTES`, so always fits).
fn batches(bodies: &[String]) -> Vec<&[String]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, body) in bodies.iter().enumerate() {
        if i > start && (i - start == MAX_BATCH_ENTRIES || bytes + body.len() > MAX_BATCH_BYTES) {
            out.push(&bodies[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += body.len();
    }
    if start < bodies.len() {
        out.push(&bodies[start..]);
    }
    out
}

/// `WaitTimeSeconds` for a wait: rounded up to whole seconds, at most 20.
fn wait_seconds(wait: Duration) -> i32 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    i32::try_from(secs).map_or(MAX_WAIT_SECONDS, |s| s.min(MAX_WAIT_SECONDS))
}

#[async_trait]
impl Queue for SqsQueue {
    /// Validates and encodes every job first (so an oversize job, [`QueueError::TooLarge`],
    /// sends nothing), then sends them with `SendMessageBatch` in batches of up to 10. Entries
    /// SQS reports as failed are retried once; what still fails is an error. Batches already
    /// sent stay sent, so a caller that retries a failed `send` may enqueue some jobs twice
    /// (fan-out delivery is at-least-once anyway; clients drop positions they already have).
    async fn send(&self, jobs: &[FanoutJob]) -> Result<(), QueueError> {
        let bodies = jobs.iter().map(encode_job).collect::<Result<Vec<_>, _>>()?;
        for batch in batches(&bodies) {
            self.send_batch(batch).await?;
        }
        Ok(())
    }

    /// `ReceiveMessage` for up to `max` jobs (at most 10), long-polling for `wait` rounded up
    /// to whole seconds (at most 20 s). `receive_count` is SQS's `ApproximateReceiveCount`
    /// (1 if SQS leaves it out). Bodies that are not jobs are skipped (see the module
    /// documentation).
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let max = i32::try_from(max.min(MAX_BATCH_ENTRIES)).unwrap_or(1);
        let out = self
            .client()
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max)
            .wait_time_seconds(wait_seconds(wait))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| backend("ReceiveMessage", e))?;
        let mut received = Vec::with_capacity(out.messages().len());
        for m in out.messages() {
            let message_id = m.message_id().unwrap_or_default().to_owned();
            let Some(receipt) = m.receipt_handle() else {
                tracing::warn!(%message_id, "SQS message without a receipt handle; skipped");
                continue;
            };
            let receive_count = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|c| c.parse::<u32>().ok())
                .unwrap_or(1);
            let body = m.body().unwrap_or_default();
            match serde_json::from_str::<FanoutJob>(body) {
                Ok(job) => received.push(Received {
                    message_id,
                    receipt: receipt.to_owned(),
                    receive_count,
                    job,
                }),
                Err(e) => tracing::warn!(
                    %message_id,
                    receive_count,
                    error = %e,
                    "SQS message body is not a fan-out job; skipped (the redrive policy will \
                     move it to the dead-letter queue)"
                ),
            }
        }
        Ok(received)
    }

    /// `DeleteMessage` with the receipt handle.
    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client()
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| backend("DeleteMessage", e))?;
        Ok(())
    }
}

/// Creates the standard queue `name` with the dead-letter queue `<name>-dlq` and a redrive
/// policy moving a job there after `max_receive_count` receives, for tests and the local
/// stack (deployed stacks get their queues from `template.yaml`). The visibility timeout is
/// rounded up to whole seconds. Returns `(queue_url, dlq_url)`. Creating a queue that exists
/// with the same attributes returns the existing one.
pub async fn create_queue_with_dlq(
    client: &Client,
    name: &str,
    max_receive_count: u32,
    visibility_timeout: Duration,
) -> Result<(String, String), QueueError> {
    let dlq_name = format!("{name}-dlq");
    let dlq_url = client
        .create_queue()
        .queue_name(&dlq_name)
        .send()
        .await
        .map_err(|e| backend("CreateQueue (dead-letter queue)", e))?
        .queue_url()
        .ok_or_else(|| QueueError::Backend("CreateQueue returned no URL".into()))?
        .to_owned();
    let attrs = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| backend("GetQueueAttributes (dead-letter queue)", e))?;
    let dlq_arn = attrs
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .ok_or_else(|| QueueError::Backend("dead-letter queue has no ARN".into()))?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": max_receive_count.max(1),
    });
    let visibility_secs =
        visibility_timeout.as_secs() + u64::from(visibility_timeout.subsec_nanos() > 0);
    let queue_url = client
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_secs.to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(|e| backend("CreateQueue", e))?
        .queue_url()
        .ok_or_else(|| QueueError::Backend("CreateQueue returned no URL".into()))?
        .to_owned();
    Ok((queue_url, dlq_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_count_and_size() {
        let small: Vec<String> = (0..25).map(|i| format!("job{i}")).collect();
        let b = batches(&small);
        assert_eq!(
            b.iter().map(|b| b.len()).collect::<Vec<_>>(),
            vec![10, 10, 5]
        );
        let big = "x".repeat(100 * 1024);
        let mixed = vec![big.clone(), big.clone(), big.clone(), "y".into()];
        let b = batches(&mixed);
        assert_eq!(b.iter().map(|b| b.len()).collect::<Vec<_>>(), vec![2, 2]);
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn wait_rounds_up_and_caps() {
        assert_eq!(wait_seconds(Duration::ZERO), 0);
        assert_eq!(wait_seconds(Duration::from_millis(200)), 1);
        assert_eq!(wait_seconds(Duration::from_secs(2)), 2);
        assert_eq!(wait_seconds(Duration::from_secs(60)), 20);
    }
}
