//! The `fanout` Lambda: triggered by the fan-out SQS queue (event source mapping with
//! `ReportBatchItemFailures`), it hands each batch to [`banter::fanout::Fanout`] and returns
//! the records that did not finish as `batchItemFailures`. This file only wires
//! ([`banter::fanout::lambda::from_env`]).
//!
//! Environment:
//! - `FANOUT_SHARD_QUEUE_URL`: the shard queue, where shard jobs of large rooms go (its event
//!   source hands them over one per invocation); else `FANOUT_QUEUE_URL`, the fan-out queue.
//! - `WEBSOCKET_MANAGEMENT_ENDPOINT` (required): the WebSocket API's management endpoint,
//!   `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`.
//! - the connections table: `CONNECTIONS_TABLE`, or `<BANTER_TABLE_PREFIX>-connections`.
//! - tuning: `BANTER_FANOUT_*` (see `banter::fanout::FanoutConfig`).
//! - `AWS_ENDPOINT_URL`, `AWS_REGION`, … as the AWS SDK reads them; `RUST_LOG` (default
//!   `info`).

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    banter::logging::init_json();
    let fanout = banter::fanout::lambda::from_env().await?;
    let fanout = &fanout;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(fanout.handle_lambda_event(event).await)
    }))
    .await
}
