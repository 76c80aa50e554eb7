//! Each function as a Lambda process: the JSON logs, the adapters built once at init from the
//! environment, and every invocation handed to the function's handler. A function binary's
//! `main` is one call to [`Function::run`].
//!
//! Environment, by function:
//! - every function but `health` and `fanout`: the tables (`<NAME>_TABLE` variables, or
//!   `BANTER_TABLE_PREFIX`), `FANOUT_QUEUE_URL` (required), `BANTER_JWT_*` (issuer, audience
//!   and the key of [`Function::key_role`]: `BANTER_JWT_PRIVATE_KEY` on `auth` only,
//!   `BANTER_JWT_PUBLIC_KEY` on the functions that verify tokens, none on the others) and the `BANTER_*` settings ([`App::from_env`]);
//! - `health`: only the `BANTER_*` settings (an in-memory app: it touches no AWS service);
//! - `ws-default`: also `WEBSOCKET_MANAGEMENT_ENDPOINT`, else derived from the first event
//!   ([`DefaultRoute`]);
//! - `fanout`: `WEBSOCKET_MANAGEMENT_ENDPOINT` (required), `FANOUT_SHARD_QUEUE_URL` (else
//!   `FANOUT_QUEUE_URL`), the connections table, `BANTER_FANOUT_*`
//!   ([`crate::fanout::lambda::from_env`]);
//! - `media`: `MEDIA_BUCKET`, the messages table ([`crate::media::lambda`]); `MEDIA_BUCKET`
//!   on the functions that show messages signs their files' links;
//! - all: `AWS_REGION`, `AWS_ENDPOINT_URL`, … as the AWS SDK reads them; `RUST_LOG` (default
//!   `info`).

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::Request;
use lambda_runtime::{LambdaEvent, service_fn};

use super::{Function, RestFunction};
use crate::app::App;
use crate::config::Config;
use crate::ws::lambda::DefaultRoute;

/// What a function's `main` returns: the runtime's error type.
pub type Error = lambda_runtime::Error;

/// The event of a WebSocket route.
type WsEvent = LambdaEvent<ApiGatewayWebsocketProxyRequest>;

impl Function {
    /// Runs this function as a Lambda process until the runtime stops: builds its adapters
    /// from the environment once, then serves every invocation. See the
    /// [module documentation](self) for the variables each reads.
    pub async fn run(self) -> Result<(), Error> {
        crate::logging::init_json();
        match self {
            Self::Rest(rest) => rest.run().await,
            Self::WsConnect => run_ws_route(self, crate::ws::connect::handle).await,
            Self::WsDisconnect => run_ws_route(self, crate::ws::disconnect::handle).await,
            Self::WsDefault => {
                let route = DefaultRoute::from_env().await?;
                let route = &route;
                lambda_runtime::run(service_fn(move |event: WsEvent| async move {
                    Ok::<_, Error>(route.handle(event).await?)
                }))
                .await
            }
            Self::Media => {
                let processor = crate::media::lambda::from_env().await?;
                let processor = &processor;
                lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
                    crate::media::lambda::handle(processor, event.payload)
                        .await
                        .map_err(Error::from)
                }))
                .await
            }
            Self::Fanout => {
                let fanout = crate::fanout::lambda::from_env().await?;
                let fanout = &fanout;
                lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
                    Ok::<_, Error>(fanout.handle_lambda_event(event).await)
                }))
                .await
            }
        }
    }
}

/// Runs a WebSocket route whose handler needs only the [`App`] (`$connect`, `$disconnect`).
async fn run_ws_route<F>(function: Function, handle: F) -> Result<(), Error>
where
    F: AsyncFn(&App, ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse,
{
    let app = App::from_env(function.key_role()).await?;
    let (app, handle) = (&app, &handle);
    lambda_runtime::run(service_fn(move |event: WsEvent| async move {
        Ok::<ApiGatewayProxyResponse, Error>(handle(app, event.payload).await)
    }))
    .await
}

impl RestFunction {
    /// Runs this REST function as a Lambda process (API Gateway HTTP API, payload 2.0).
    async fn run(self) -> Result<(), Error> {
        let app = match self {
            // The health check answers from configuration alone: no AWS client to build.
            Self::Health => App::in_memory(Config::from_env()?)?.0,
            _ => App::from_env(Function::Rest(self).key_role()).await?,
        };
        let app = &app;
        lambda_http::run(service_fn(move |req: Request| async move {
            Ok::<_, Error>(self.serve(app, req).await)
        }))
        .await
    }
}
