//! The fan-out's queues: opened on the configured backend (in memory, an SQS queue given, or
//! SQS queues created with the template's settings), and inspected through [`QueueHandle`].

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use banter::queue::memory::MemoryQueue;
use banter::queue::sqs::{SqsQueue, create_queue_with_dlq};
use banter::queue::{FanoutJob, Queue};

use crate::config::{QueueBackend, QueueOverrides};
use crate::start_error::{StartError, setup};
use crate::template;

/// Where the fan-out queue lives, for inspection.
#[derive(Debug, Clone)]
pub enum QueueHandle {
    /// The in-memory queue.
    Memory(Arc<MemoryQueue>),
    /// An SQS queue.
    Sqs {
        /// The SQS client.
        client: aws_sdk_sqs::Client,
        /// The fan-out queue.
        queue_url: String,
        /// Its dead-letter queue, when the gateway created it.
        dlq_url: Option<String>,
    },
}

/// Visibility timeout and `maxReceiveCount` in effect for one queue.
#[derive(Clone, Copy)]
pub(crate) struct QueueSettings {
    /// Visibility timeout of received jobs.
    pub(crate) visibility_timeout: Duration,
    /// Receives before a job is dead-lettered (`None`: never).
    pub(crate) max_receive_count: Option<u32>,
}

impl QueueSettings {
    /// The template's settings of `def` under the command line's `overrides`.
    pub(crate) fn of(def: &template::Queue, overrides: &QueueOverrides) -> Self {
        Self {
            visibility_timeout: overrides
                .visibility_timeout
                .unwrap_or(def.visibility_timeout),
            max_receive_count: overrides.max_receive_count.or(def.max_receive_count),
        }
    }
}

/// A queue opened on the configured backend.
pub(crate) struct OpenedQueue {
    /// The queue.
    pub(crate) queue: Arc<dyn Queue>,
    /// The queue, for inspection.
    pub(crate) handle: QueueHandle,
    /// Its ARN, as the event source's records carry it.
    pub(crate) arn: String,
}

/// Opens the queue `def` on `backend`: a new in-memory queue, the given SQS queue, or an SQS
/// queue (and its dead-letter queue) created with the template's settings.
pub(crate) async fn open_queue(
    backend: &QueueBackend,
    def: &template::Queue,
    settings: QueueSettings,
    sdk: Option<&SdkConfig>,
) -> Result<OpenedQueue, StartError> {
    match backend {
        QueueBackend::Memory => {
            let q = Arc::new(MemoryQueue::new(
                settings.visibility_timeout,
                settings.max_receive_count.unwrap_or(u32::MAX),
            ));
            Ok(OpenedQueue {
                queue: q.clone(),
                handle: QueueHandle::Memory(q),
                arn: format!(
                    "arn:aws:sqs:us-east-1:000000000000:banter-local-{}",
                    def.logical_id
                ),
            })
        }
        QueueBackend::Sqs {
            queue_url,
            queue_name,
        } => {
            let sdk = sdk.ok_or_else(|| StartError::Setup("no AWS configuration".into()))?;
            let client = aws_sdk_sqs::Client::new(sdk);
            let (url, dlq) = match queue_url {
                Some(url) => (url.clone(), None),
                None => {
                    let (q, d) = create_queue_with_dlq(
                        &client,
                        queue_name,
                        settings.max_receive_count.unwrap_or(5),
                        settings.visibility_timeout,
                    )
                    .await
                    .map_err(|e| setup("creating the SQS queue")(e.to_string()))?;
                    (q, Some(d))
                }
            };
            Ok(OpenedQueue {
                queue: Arc::new(SqsQueue::from_client(client.clone(), url.clone())),
                arn: queue_arn_of(&url),
                handle: QueueHandle::Sqs {
                    client,
                    queue_url: url,
                    dlq_url: dlq,
                },
            })
        }
    }
}

/// Jobs in the dead-letter queue behind `handle`.
pub(crate) async fn dead_letters_of(handle: &QueueHandle) -> Result<Vec<FanoutJob>, String> {
    match handle {
        QueueHandle::Memory(q) => Ok(q.dead_letters()),
        QueueHandle::Sqs {
            client, dlq_url, ..
        } => {
            let Some(dlq) = dlq_url else {
                return Err("the gateway did not create the dead-letter queue".into());
            };
            let out = client
                .receive_message()
                .queue_url(dlq)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
            Ok(out
                .messages()
                .iter()
                .filter_map(|m| serde_json::from_str(m.body()?).ok())
                .collect())
        }
    }
}

/// `arn:aws:sqs:<region>:<account>:<name>` of a queue URL `http(s)://host/<account>/<name>`.
fn queue_arn_of(url: &str) -> String {
    let mut parts = url.trim_end_matches('/').rsplit('/');
    let name = parts.next().unwrap_or("queue");
    let account = parts.next().unwrap_or("000000000000");
    format!("arn:aws:sqs:us-east-1:{account}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_arns_come_from_queue_urls() {
        assert_eq!(
            queue_arn_of("http://127.0.0.1:5000/123456789012/fan"),
            "arn:aws:sqs:us-east-1:123456789012:fan"
        );
    }
}
