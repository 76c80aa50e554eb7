//! The `fanout` Lambda: triggered by the fan-out SQS queue (event source mapping with
//! `ReportBatchItemFailures`), it hands each batch to [`banter::fanout::Fanout`] and returns
//! the records that did not finish as `batchItemFailures`. This file only wires adapters from
//! configuration.
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

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use banter::aws::AwsSettings;
use banter::fanout::{Fanout, FanoutConfig};
use banter::poster::apigw::ApiGatewayPoster;
use banter::queue::sqs::SqsQueue;
use banter::store::dynamodb::{stores, tables::TableNames};
use lambda_runtime::{Error, LambdaEvent, service_fn};

/// A required environment variable, or an error naming it.
fn required(name: &str, what: &str) -> Result<String, Error> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(format!("{name} is not set: it must hold {what}").into()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    banter::logging::init_json();

    let shard_queue_url = match std::env::var("FANOUT_SHARD_QUEUE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => required(
            "FANOUT_QUEUE_URL",
            "the fan-out SQS queue URL (when FANOUT_SHARD_QUEUE_URL is not set)",
        )?,
    };
    let endpoint = required(
        "WEBSOCKET_MANAGEMENT_ENDPOINT",
        "the WebSocket API management endpoint (https://{api-id}.execute-api.{region}.amazonaws.com/{stage})",
    )?;
    let config = FanoutConfig::from_env()?;

    let sdk = AwsSettings::default().load().await;
    let connections =
        stores(aws_sdk_dynamodb::Client::new(&sdk), TableNames::from_env()).connections;
    let fanout = Fanout::new(
        connections,
        Arc::new(ApiGatewayPoster::new(&sdk, endpoint)),
        Arc::new(SqsQueue::new(&sdk, shard_queue_url)),
        config,
    )?;
    tracing::info!(config = ?fanout.config(), "fanout ready");

    let fanout = &fanout;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(fanout.handle_lambda_event(event).await)
    }))
    .await
}
