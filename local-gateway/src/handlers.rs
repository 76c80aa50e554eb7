//! The local handler of each Lambda binary: what `functions/<name>/src/main.rs` hands its
//! events to, called here with the events the gateway builds. The binary name is the key the
//! template gives (`Metadata.BuildProperties.Binary`).

use banter::app::App;
use lambda_http::{Body, Request, Response};

/// What a function does with its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Handler {
    /// An HTTP API function: [`banter::http::serve`] with the module's `route`.
    Rest(RestFunction),
    /// `ws-connect`: [`banter::ws::connect::handle`].
    WsConnect,
    /// `ws-disconnect`: [`banter::ws::disconnect::handle`].
    WsDisconnect,
    /// `ws-default`: [`banter::ws::router::handle`] (every client frame).
    WsRouter,
    /// `fanout`: [`banter::fanout::Fanout::handle_sqs`].
    Fanout,
}

impl Handler {
    /// A short name for messages.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Rest(_) => "REST",
            Self::WsConnect => "ws-connect ($connect)",
            Self::WsDisconnect => "ws-disconnect ($disconnect)",
            Self::WsRouter => "ws-default (client frames)",
            Self::Fanout => "fan-out (SQS)",
        }
    }

    /// The function's binary name (`Metadata.BuildProperties.Binary`): the inverse of
    /// [`handler_for`].
    pub fn binary(self) -> &'static str {
        match self {
            Self::Rest(f) => f.name(),
            Self::WsConnect => "ws-connect",
            Self::WsDisconnect => "ws-disconnect",
            Self::WsRouter => "ws-default",
            Self::Fanout => "fanout",
        }
    }
}

/// The REST functions, one per `banter::rest` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RestFunction {
    /// `auth`
    Auth,
    /// `users`
    Users,
    /// `events`
    Events,
    /// `comments`
    Comments,
    /// `conversations`
    Conversations,
    /// `messages`
    Messages,
    /// `health`
    Health,
}

impl RestFunction {
    /// Every REST function.
    pub const ALL: [RestFunction; 7] = [
        Self::Auth,
        Self::Users,
        Self::Events,
        Self::Comments,
        Self::Conversations,
        Self::Messages,
        Self::Health,
    ];

    /// The module / binary name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Users => "users",
            Self::Events => "events",
            Self::Comments => "comments",
            Self::Conversations => "conversations",
            Self::Messages => "messages",
            Self::Health => "health",
        }
    }

    /// The function of module / binary `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The route keys the module serves (its `ROUTES`).
    pub fn routes(self) -> &'static [&'static str] {
        use banter::rest;
        match self {
            Self::Auth => rest::auth::ROUTES,
            Self::Users => rest::users::ROUTES,
            Self::Events => rest::events::ROUTES,
            Self::Comments => rest::comments::ROUTES,
            Self::Conversations => rest::conversations::ROUTES,
            Self::Messages => rest::messages::ROUTES,
            Self::Health => rest::health::ROUTES,
        }
    }

    /// Serves one API Gateway HTTP API request exactly as the function's `main` does.
    pub async fn serve(self, app: &App, request: Request) -> Response<Body> {
        use banter::http::serve;
        use banter::rest;
        match self {
            Self::Auth => serve(app, request, rest::auth::route).await,
            Self::Users => serve(app, request, rest::users::route).await,
            Self::Events => serve(app, request, rest::events::route).await,
            Self::Comments => serve(app, request, rest::comments::route).await,
            Self::Conversations => serve(app, request, rest::conversations::route).await,
            Self::Messages => serve(app, request, rest::messages::route).await,
            Self::Health => serve(app, request, rest::health::route).await,
        }
    }
}

/// The handler of the Lambda binary `binary` (as named in `functions/*/Cargo.toml`).
pub fn handler_for(binary: &str) -> Option<Handler> {
    match binary {
        "ws-connect" => Some(Handler::WsConnect),
        "ws-disconnect" => Some(Handler::WsDisconnect),
        "ws-default" => Some(Handler::WsRouter),
        "fanout" => Some(Handler::Fanout),
        other => RestFunction::from_name(other).map(Handler::Rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rest_module_has_a_dispatcher_with_its_routes() {
        for (name, routes) in banter::rest::all_routes() {
            let f = RestFunction::from_name(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(f.routes(), routes, "{name}");
            assert_eq!(handler_for(name), Some(Handler::Rest(f)));
        }
        for h in [
            Handler::WsConnect,
            Handler::WsDisconnect,
            Handler::WsRouter,
            Handler::Fanout,
            Handler::Rest(RestFunction::Comments),
        ] {
            assert_eq!(handler_for(h.binary()), Some(h));
        }
        assert_eq!(
            banter::rest::all_routes().len(),
            RestFunction::ALL.len(),
            "a dispatcher without a module"
        );
    }
}
