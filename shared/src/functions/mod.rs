//! The one list of Banter's Lambda functions: each function's binary name (the template's
//! `Metadata.BuildProperties.Binary`), what invokes it, the REST routes it serves and the
//! handler it hands its events to. The function binaries, the local gateway's handler map and
//! the tests that hold code and template together all read it from here.

mod run;

pub use run::Error;

use lambda_http::{Body, Request, Response};

use crate::app::App;
pub use crate::auth::KeyRole;
use crate::rest;

/// A Lambda function of Banter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    /// An HTTP API function: [`crate::http::serve`] with its module's `route`.
    Rest(RestFunction),
    /// `ws-connect`: the WebSocket `$connect` route ([`crate::ws::connect::handle`]).
    WsConnect,
    /// `ws-disconnect`: the WebSocket `$disconnect` route ([`crate::ws::disconnect::handle`]).
    WsDisconnect,
    /// `ws-default`: every client frame, the `$default` route ([`crate::ws::router::handle`]).
    WsDefault,
    /// `fanout`: the SQS fan-out ([`crate::fanout::Fanout`]).
    Fanout,
    /// `media`: the media bucket's object-created events ([`crate::media::lambda`]).
    Media,
}

impl Function {
    /// Every function, REST ones first.
    pub fn all() -> impl Iterator<Item = Function> {
        RestFunction::ALL.iter().copied().map(Self::Rest).chain([
            Self::WsConnect,
            Self::WsDisconnect,
            Self::WsDefault,
            Self::Fanout,
            Self::Media,
        ])
    }

    /// The binary's name (`Metadata.BuildProperties.Binary` in the template).
    pub fn binary(self) -> &'static str {
        match self {
            Self::Rest(f) => f.name(),
            Self::WsConnect => "ws-connect",
            Self::WsDisconnect => "ws-disconnect",
            Self::WsDefault => "ws-default",
            Self::Fanout => "fanout",
            Self::Media => "media",
        }
    }

    /// What it does with token keys: only `auth` signs (it holds the private key); the
    /// functions that authenticate a request verify with the public key; the others hold no
    /// key at all. `template.yaml` gives each exactly that (`shared/tests/template_functions.rs`)
    /// and [`crate::app::App::from_env`] refuses key material beyond its role.
    pub fn key_role(self) -> KeyRole {
        match self {
            Self::Rest(RestFunction::Auth) => KeyRole::Sign,
            Self::Rest(RestFunction::Health) => KeyRole::None,
            Self::Rest(_) | Self::WsConnect => KeyRole::Verify,
            Self::WsDisconnect | Self::WsDefault | Self::Fanout | Self::Media => KeyRole::None,
        }
    }

    /// The function whose binary is `binary`.
    pub fn from_binary(binary: &str) -> Option<Self> {
        Self::all().find(|f| f.binary() == binary)
    }

    /// A short description of what invokes it, for messages.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Rest(_) => "REST",
            Self::WsConnect => "ws-connect ($connect)",
            Self::WsDisconnect => "ws-disconnect ($disconnect)",
            Self::WsDefault => "ws-default (client frames)",
            Self::Fanout => "fan-out (SQS)",
            Self::Media => "media (S3 object-created events)",
        }
    }

    /// The WebSocket route it serves, if any.
    pub fn websocket_route(self) -> Option<&'static str> {
        match self {
            Self::WsConnect => Some(crate::ws::CONNECT_ROUTE),
            Self::WsDisconnect => Some(crate::ws::DISCONNECT_ROUTE),
            Self::WsDefault => Some(crate::ws::DEFAULT_ROUTE),
            Self::Rest(_) | Self::Fanout | Self::Media => None,
        }
    }

    /// The function that serves WebSocket route `key`: `$connect` and `$disconnect` have
    /// their own, every other key is a client frame for `ws-default`.
    pub fn for_websocket_route(key: &str) -> Self {
        match key {
            crate::ws::CONNECT_ROUTE => Self::WsConnect,
            crate::ws::DISCONNECT_ROUTE => Self::WsDisconnect,
            _ => Self::WsDefault,
        }
    }
}

/// Declares [`RestFunction`] from one list of `Variant => module, "doc"`: each variant's
/// name, routes and handler come from its `crate::rest` module, so a new REST function is one
/// line here.
macro_rules! rest_functions {
    ($($variant:ident => $module:ident, $doc:literal;)+) => {
        /// The REST functions, one per [`crate::rest`] module.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RestFunction {
            $(#[doc = $doc] $variant,)+
        }

        impl RestFunction {
            /// Every REST function.
            pub const ALL: &'static [RestFunction] = &[$(Self::$variant),+];

            /// The module and binary name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($module),)+
                }
            }

            /// The route keys its module serves (its `ROUTES`, exactly as in
            /// `template.yaml`).
            pub fn routes(self) -> &'static [&'static str] {
                match self {
                    $(Self::$variant => rest::$module::ROUTES,)+
                }
            }

            /// Serves one API Gateway HTTP API request: the whole of what the function does
            /// with an invocation (authentication, rate limits, `X-Request-ID`, CORS, the
            /// error envelope). The `$default` route (on [`Self::DEFAULT_ROUTE`]) answers
            /// what no declared route matches: 405 with `Allow`, or 404.
            pub async fn serve(self, app: &App, request: Request) -> Response<Body> {
                if is_default_route(&request) {
                    return crate::http::serve(app, request, unrouted).await;
                }
                match self {
                    $(Self::$variant => crate::http::serve(app, request, rest::$module::route).await,)+
                }
            }
        }
    };
}

rest_functions! {
    Auth => auth, "`auth`: register, login, refresh, logout.";
    Users => users, "`users`: profiles and search.";
    Events => events, "`events`: live events and their status.";
    Comments => comments, "`comments`: comments, replies, likes, moderation.";
    Conversations => conversations, "`conversations`: conversations and participants.";
    Messages => messages, "`messages`: message history, edits, reactions, receipts.";
    Uploads => uploads, "`uploads`: media uploads (presigned POSTs) and their checks.";
    Health => health, "`health`: the health check.";
}

impl RestFunction {
    /// The function the template gives the HTTP API's `$default` route
    /// ([`crate::http::unrouted`]): the health function, which needs no store or key.
    pub const DEFAULT_ROUTE: RestFunction = RestFunction::Health;
}

/// Whether API Gateway sent `request` to the `$default` route.
fn is_default_route(request: &Request) -> bool {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    matches!(
        request.request_context_ref(),
        Some(RequestContext::ApiGatewayV2(ctx))
            if ctx.route_key.as_deref() == Some(crate::http::unrouted::ROUTE_KEY)
    )
}

/// The `$default` route's handler: 405 (with `Allow`) for a declared path, else 404.
async fn unrouted(
    _: &App,
    req: &crate::http::Req,
) -> Result<crate::http::Reply, crate::error::AppError> {
    let routes: Vec<&'static str> = RestFunction::ALL
        .iter()
        .flat_map(|f| f.routes().iter().copied())
        .collect();
    Err(crate::http::unrouted::answer(
        &req.method,
        &req.raw_path,
        &routes,
    ))
}

/// Every REST function's name with its routes, for the checks that hold code, template and
/// documents together.
pub fn all_routes() -> Vec<(&'static str, &'static [&'static str])> {
    RestFunction::ALL
        .iter()
        .map(|f| (f.name(), f.routes()))
        .collect()
}

impl RestFunction {
    /// The REST function of module / binary `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_name_their_functions_both_ways() {
        for f in Function::all() {
            assert_eq!(Function::from_binary(f.binary()), Some(f));
        }
        for &f in RestFunction::ALL {
            assert_eq!(RestFunction::from_name(f.name()), Some(f));
            assert!(Function::all().any(|g| g == Function::Rest(f)));
        }
        let mut names: Vec<_> = Function::all().map(|f| f.binary()).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "two functions share a binary");
        assert_eq!(count, RestFunction::ALL.len() + 5);
    }

    #[test]
    fn websocket_routes_map_to_their_functions() {
        for f in [
            Function::WsConnect,
            Function::WsDisconnect,
            Function::WsDefault,
        ] {
            let route = f
                .websocket_route()
                .expect("a WebSocket function has a route");
            assert_eq!(Function::for_websocket_route(route), f);
        }
        assert_eq!(Function::for_websocket_route("custom"), Function::WsDefault);
    }

    #[test]
    fn every_rest_route_is_served_by_one_function() {
        let mut seen = std::collections::BTreeMap::new();
        for &f in RestFunction::ALL {
            assert!(!f.routes().is_empty(), "{} serves no route", f.name());
            for key in f.routes() {
                assert_eq!(seen.insert(*key, f), None, "{key} is served twice");
            }
        }
    }
}
