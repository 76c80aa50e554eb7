//! The `ws-default` Lambda: the WebSocket API's `$default` route, i.e. every client frame. It
//! hands each frame to [`banter::ws::router::handle`], which answers the caller through the API
//! Gateway Management API. This file only wires adapters from configuration.
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

use std::sync::OnceLock;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use banter::app::App;
use banter::aws::AwsSettings;
use banter::poster::apigw::ApiGatewayPoster;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    banter::logging::init_json();

    let sdk = AwsSettings::default().load().await;
    let app = App::from_sdk(&sdk)?;
    let poster: OnceLock<ApiGatewayPoster> = OnceLock::new();
    if let Some(endpoint) = std::env::var("WEBSOCKET_MANAGEMENT_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty())
    {
        tracing::info!(%endpoint, "management endpoint from WEBSOCKET_MANAGEMENT_ENDPOINT");
        let _ = poster.set(ApiGatewayPoster::new(&sdk, endpoint));
    }

    let (app, sdk, poster) = (&app, &sdk, &poster);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            let poster = match poster.get() {
                Some(p) => p,
                None => {
                    let region = sdk.region().map(|r| r.as_ref());
                    let endpoint = banter::ws::management_endpoint(&event.payload, region)
                        .ok_or("no management endpoint: set WEBSOCKET_MANAGEMENT_ENDPOINT")?;
                    poster.get_or_init(|| {
                        tracing::info!(%endpoint, "management endpoint from the first event");
                        ApiGatewayPoster::new(sdk, endpoint)
                    })
                }
            };
            Ok::<ApiGatewayProxyResponse, Error>(
                banter::ws::router::handle(app, poster, event.payload).await,
            )
        },
    ))
    .await
}
