//! The WebSocket API's routes: each route key of the template's WebSocket API with its
//! function's handler and timeout, and the route a client message goes to.

use std::collections::HashMap;
use std::time::Duration;

use banter::functions::Function;

use crate::route_selection::RouteSelection;
use crate::template::{self, Deployment};

/// A WebSocket route's handler and its function's timeout.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The handler of the route's function.
    pub(crate) handler: Function,
    /// The function's `Timeout`.
    pub(crate) timeout: Duration,
    /// The function's logical id, for logs.
    pub(crate) function: String,
}

/// The WebSocket routes of the template.
#[derive(Debug, Clone)]
pub(crate) struct WsRouting {
    selection: RouteSelection,
    /// Route key → target.
    pub(crate) routes: HashMap<String, Target>,
}

impl WsRouting {
    /// The routes of the template's WebSocket API.
    pub(crate) fn new(template: &Deployment) -> Result<Self, String> {
        let api = template
            .websocket_api()
            .ok_or("the template has no (single) WebSocket API")?;
        let selection = RouteSelection::parse(&api.route_selection_expression)?;
        let mut routes = HashMap::new();
        for r in &api.routes {
            let Some(function) = &r.function else {
                continue;
            };
            let Some(handler) = template::handler_of(template, function) else {
                continue;
            };
            let timeout = template
                .function(function)
                .map_or(template::DEFAULT_FUNCTION_TIMEOUT, |f| f.timeout);
            routes.insert(
                r.route_key.clone(),
                Target {
                    handler,
                    timeout,
                    function: function.clone(),
                },
            );
        }
        Ok(Self { selection, routes })
    }

    /// The route a client message goes to: the selected key if the template has it, else
    /// `$default` if it has that.
    pub(crate) fn route_for(&self, body: &str) -> Option<(String, &Target)> {
        if let Some(key) = self.selection.select(body)
            && !key.starts_with('$')
            && let Some(t) = self.routes.get(&key)
        {
            return Some((key, t));
        }
        self.routes
            .get(banter::ws::DEFAULT_ROUTE)
            .map(|t| (banter::ws::DEFAULT_ROUTE.to_owned(), t))
    }
}
