//! The `ws-default` Lambda: the WebSocket API's `$default` route, i.e. every client frame. It
//! hands each frame to [`banter::ws::router::handle`], which answers the caller through the API
//! Gateway Management API. This file only wires ([`banter::ws::lambda::DefaultRoute`]).
//!
//! Environment:
//! - `WEBSOCKET_MANAGEMENT_ENDPOINT` (optional): the management endpoint,
//!   `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`. When unset it is derived
//!   once from the first event ([`banter::ws::management_endpoint`]: `https://{domainName}/{stage}`,
//!   or the `execute-api` URL of `apiId` and the region behind a custom domain).
//! - what [`banter::app::App::from_env`] reads (the `*_TABLE` names or `BANTER_TABLE_PREFIX`,
//!   `FANOUT_QUEUE_URL`, `BANTER_JWT_*`, `BANTER_*` settings), the AWS SDK's variables, and
//!   `RUST_LOG` (default `info`).
//!
//! The function's role needs `execute-api:ManageConnections` on the API's `@connections`.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use banter::ws::lambda::DefaultRoute;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    banter::logging::init_json();
    let route = DefaultRoute::from_env().await?;
    let route = &route;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(route.handle(event).await?)
        },
    ))
    .await
}
