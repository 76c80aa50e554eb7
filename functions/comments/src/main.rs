//! The `comments` Lambda: API Gateway HTTP API (payload 2.0) routes:
//! - `POST /v1/events/{event_id}/comments`, `GET /v1/events/{event_id}/comments`,
//! - `GET /v1/comments/{comment_id}/replies`, `PUT /v1/comments/{comment_id}/like`,
//! - `DELETE /v1/comments/{comment_id}`, `POST /v1/comments/{comment_id}/moderation`,
//!
//! are served by [`banter::rest::comments::route`] through [`banter::http::serve`]
//! (authentication, rate limits, `X-Request-ID`, CORS and the error envelope). This file only
//! wires.
//!
//! Environment (see `banter::app::App::from_env`):
//! - the tables: `<NAME>_TABLE` variables, or `BANTER_TABLE_PREFIX`;
//! - `FANOUT_QUEUE_URL` (required): the fan-out SQS queue;
//! - `BANTER_JWT_*`: the token signing key, issuer and audience;
//! - `BANTER_*` settings (rate limits, moderators, admins, cursor secret, CORS origins);
//! - `AWS_REGION`, `AWS_ENDPOINT_URL`, … as the AWS SDK reads them; `RUST_LOG` (default
//!   `info`).

use banter::app::App;
use lambda_http::{Error, Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    banter::logging::init_json();

    let app = App::from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(banter::http::serve(app, req, banter::rest::comments::route).await)
    }))
    .await
}
