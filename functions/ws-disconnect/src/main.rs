//! The `ws-disconnect` Lambda: the WebSocket API's `$disconnect` route. It removes the
//! connection and every subscription of it, through [`banter::ws::disconnect::handle`]. This
//! file only wires adapters from configuration.
//!
//! Environment: what [`banter::app::App::from_env`] reads (the `*_TABLE` names or
//! `BANTER_TABLE_PREFIX`, `FANOUT_QUEUE_URL`, `BANTER_JWT_*`, `BANTER_*` settings), the AWS
//! SDK's variables, and `RUST_LOG` (default `info`).

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use banter::app::App;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    banter::logging::init_json();

    let app = App::from_env().await?;
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<ApiGatewayProxyResponse, Error>(
                banter::ws::disconnect::handle(app, event.payload).await,
            )
        },
    ))
    .await
}
