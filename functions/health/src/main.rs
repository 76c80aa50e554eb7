//! The `health` Lambda: `GET /v1/health`, served by [`banter::rest::health::route`] through
//! [`banter::http::serve`] (so it carries `X-Request-ID` and CORS headers like every route).
//!
//! It needs no AWS at all: no SDK configuration, no table, no queue, no signing key. The
//! app it serves with is the in-memory one, built from `BANTER_*` settings (CORS origins);
//! its random signing key only means bearer tokens are ignored here, which a health probe
//! does not send anyway. `RUST_LOG` (default `info`).

use banter::app::App;
use banter::config::Config;
use lambda_http::{Error, Request, service_fn};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .init();

    let (app, _queue) = App::in_memory(Config::from_env())?;
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(banter::http::serve(app, req, banter::rest::health::route).await)
    }))
    .await
}
