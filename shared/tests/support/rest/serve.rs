//! Serving a [`Call`] through [`banter::http::serve`], as a function's Lambda handler does.

use banter::app::App;
use banter::error::AppError;
use banter::http::{Reply, Req};
use banter::rest;

use super::call::Call;
use super::resp::Resp;

/// Serves `call` with the route function `route` (of one function's module).
pub async fn send<F>(app: &App, call: &Call, route: F) -> Resp
where
    F: AsyncFnOnce(&App, &Req) -> Result<Reply, AppError>,
{
    Resp::read(&banter::http::serve(app, call.request(), route).await)
}

/// Serves `call` with the route function of the function whose `ROUTES` list its route key.
pub async fn serve(app: &App, call: &Call) -> Resp {
    let key = call.route_key();
    let function = banter::functions::all_routes()
        .into_iter()
        .find(|(_, routes)| routes.contains(&key.as_str()))
        .map(|(function, _)| function)
        .unwrap_or_else(|| panic!("no function serves {key}"));
    match function {
        "auth" => send(app, call, rest::auth::route).await,
        "users" => send(app, call, rest::users::route).await,
        "events" => send(app, call, rest::events::route).await,
        "comments" => send(app, call, rest::comments::route).await,
        "conversations" => send(app, call, rest::conversations::route).await,
        "messages" => send(app, call, rest::messages::route).await,
        "health" => send(app, call, rest::health::route).await,
        "uploads" => send(app, call, rest::uploads::route).await,
        other => panic!("the harness does not know the function {other}"),
    }
}
