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

#[tokio::main]
async fn main() -> Result<(), Error> {
    banter::logging::init_json();

    let (app, _queue) = App::in_memory(Config::from_env())?;
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(banter::http::serve(app, req, banter::rest::health::route).await)
    }))
    .await
}
