//! The SQS event source mapping of the fan-out function, as Lambda runs it: pollers receive
//! jobs from the queue (the in-memory queue or SQS) in batches of the template's `BatchSize`,
//! waiting up to `MaximumBatchingWindowInSeconds` to fill one, hand each batch to the fan-out
//! handler as an [`SqsEvent`] with the function's `Timeout` as its deadline, and then:
//!
//! - with `ReportBatchItemFailures`: delete every record **not** named in
//!   `batchItemFailures`; the named ones stay in the queue, come back after its visibility
//!   timeout with a higher `ApproximateReceiveCount`, and move to the dead-letter queue after
//!   `maxReceiveCount` receives (the queue's redrive policy);
//! - a failure id that is not in the batch fails the whole batch (as Lambda treats it);
//! - a handler still running at the timeout fails the whole batch (nothing is deleted).
//!
//! Each poller is one execution environment: it owns its [`Fanout`] (and with it its own
//! bound on posts in flight) and runs one invocation at a time, as Lambda does.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use banter::fanout::Fanout;
use banter::queue::{Queue, Received, encode_job};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use crate::stats::Invocations;
use banter::functions::Function;

/// Longest long-poll wait of one receive.
const LONG_POLL: Duration = Duration::from_secs(20);

/// Pause after a failed receive.
const RECEIVE_RETRY: Duration = Duration::from_secs(1);

/// One SQS event source mapping to the fan-out.
pub(crate) struct EventSource {
    pub(crate) queue: Arc<dyn Queue>,
    pub(crate) batch_size: usize,
    pub(crate) max_batching_window: Duration,
    pub(crate) timeout: Duration,
    pub(crate) report_batch_item_failures: bool,
    pub(crate) arn: String,
    pub(crate) function: String,
    pub(crate) invocations: Arc<Invocations>,
}

/// Starts one poller per execution environment in `environments`; they stop when `shutdown`
/// turns true.
pub(crate) fn spawn(
    source: Arc<EventSource>,
    environments: Vec<Fanout>,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    environments
        .into_iter()
        .map(|fanout| {
            let source = source.clone();
            let mut shutdown = shutdown.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = source.poll(&fanout) => {}
                    () = async { let _ = shutdown.wait_for(|s| *s).await; } => {}
                }
            })
        })
        .collect()
}

impl EventSource {
    async fn poll(&self, fanout: &Fanout) {
        loop {
            match self.next_batch().await {
                Ok(batch) if batch.is_empty() => {}
                Ok(batch) => self.invoke(fanout, batch).await,
                Err(e) => {
                    tracing::warn!(error = %e, "receiving fan-out jobs failed; retrying");
                    tokio::time::sleep(RECEIVE_RETRY).await;
                }
            }
        }
    }

    /// Receives one batch: up to `batch_size` records, waiting up to the batching window for
    /// more once the first has arrived.
    async fn next_batch(&self) -> Result<Vec<Received>, banter::queue::QueueError> {
        let first = self
            .queue
            .receive(self.batch_size.min(10), LONG_POLL)
            .await?;
        let mut batch = first;
        if batch.is_empty() || self.max_batching_window.is_zero() {
            return Ok(batch);
        }
        let until = Instant::now() + self.max_batching_window;
        while batch.len() < self.batch_size {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let more = self
                .queue
                .receive((self.batch_size - batch.len()).min(10), left)
                .await?;
            batch.extend(more);
        }
        Ok(batch)
    }

    /// The event Lambda would deliver for `batch`.
    fn event(&self, batch: &[Received]) -> Option<SqsEvent> {
        let records: Vec<Value> = batch
            .iter()
            .map(|r| {
                let body = encode_job(&r.job)
                    .or_else(|_| serde_json::to_string(&r.job))
                    .unwrap_or_default();
                json!({
                    "messageId": r.message_id,
                    "receiptHandle": r.receipt,
                    "body": body,
                    "attributes": {
                        "ApproximateReceiveCount": r.receive_count.to_string(),
                    },
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.arn,
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        match serde_json::from_value(json!({ "Records": records })) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::error!(error = %e, "the SQS event does not parse");
                None
            }
        }
    }

    async fn invoke(&self, fanout: &Fanout, batch: Vec<Received>) {
        let Some(event) = self.event(&batch) else {
            return;
        };
        let deadline = Instant::now() + self.timeout;
        let span = tracing::debug_span!("sqs", function = %self.function, records = batch.len());
        let outcome = self
            .invocations
            .timed(
                Function::Fanout,
                tokio::time::timeout(self.timeout, fanout.handle_sqs(event, deadline))
                    .instrument(span),
            )
            .await;
        let failed: HashSet<String> = match outcome {
            Err(_) => {
                tracing::error!(
                    function = %self.function,
                    records = batch.len(),
                    timeout_ms = self.timeout.as_millis() as u64,
                    "fan-out timed out: the whole batch returns after the visibility timeout"
                );
                return;
            }
            Ok(response) => response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect(),
        };
        let failed = if self.report_batch_item_failures {
            failed
        } else {
            HashSet::new()
        };
        if failed
            .iter()
            .any(|id| !batch.iter().any(|r| &r.message_id == id))
        {
            tracing::error!(
                ?failed,
                "batchItemFailures names a record that is not in the batch: the whole batch \
                 fails"
            );
            return;
        }
        if !failed.is_empty() {
            tracing::warn!(
                failed = failed.len(),
                records = batch.len(),
                "fan-out reported failed records: they return after the visibility timeout"
            );
        }
        let deletes = batch
            .iter()
            .filter(|r| !failed.contains(&r.message_id))
            .map(|r| self.queue.delete(&r.receipt));
        for result in futures::future::join_all(deletes).await {
            if let Err(e) = result {
                tracing::warn!(error = %e, "deleting a delivered fan-out job failed");
            }
        }
    }
}
