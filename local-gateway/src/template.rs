//! What the local gateway needs of the deployment model ([`banter_deployment`], the one
//! reader of `template.yaml`): the [`Function`] behind each resource, and [`check`], which
//! refuses at start-up a template the gateway cannot serve exactly (every route or event
//! source without a local handler, every handler without its route) rather than serving it
//! with silent 404s.

use std::collections::{BTreeMap, BTreeSet};

use banter::functions::{Function, RestFunction};
pub use banter_deployment::{
    Cors, DEFAULT_FUNCTION_TIMEOUT, Deployment, EventSource, HttpRoute, Queue, TemplateError,
    default_path,
};

/// The local handler of the template's function `logical_id`.
pub fn handler_of(template: &Deployment, logical_id: &str) -> Option<Function> {
    template
        .function(logical_id)
        .and_then(|f| Function::from_binary(&f.binary))
}

/// Event types of functions that the gateway does not emulate (`Schedule`, …): worth a
/// warning at start-up.
pub fn unemulated(template: &Deployment) -> Vec<String> {
    let mut out = Vec::new();
    for f in template.functions.values() {
        for e in f.other_events() {
            out.push(format!(
                "function {} (binary {}): event {e} is not emulated locally",
                f.logical_id, f.binary
            ));
        }
    }
    out
}

/// Checks that the gateway can serve `template` exactly: every HTTP route, WebSocket route and
/// SQS event source maps to a function with a local handler of the right kind (and a REST
/// route to a route its module serves), and every handler has its routes: each route of
/// `banter::functions::RestFunction::ALL`, `$connect`, `$disconnect` and `$default`, and an SQS event
/// source for the fan-out. Returns every problem found.
pub fn check(template: &Deployment) -> Result<(), Vec<String>> {
    let mut errors: Vec<String> = template.problems.clone();
    check_http(template, &mut errors);
    check_websocket(template, &mut errors);
    check_sqs(template, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Describes a function for error messages.
fn describe(template: &Deployment, logical_id: &str) -> String {
    match template.function(logical_id) {
        Some(f) => format!("function {logical_id} (binary {})", f.binary),
        None => format!("{logical_id} (not a function of the template)"),
    }
}

fn check_http(t: &Deployment, errors: &mut Vec<String>) {
    if t.http_apis.len() > 1 {
        errors.push(format!(
            "the local gateway serves one HTTP API, the template has {}: {}",
            t.http_apis.len(),
            t.http_apis.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let mut seen = BTreeSet::new();
    // route key → the REST function serving it
    let mut served: BTreeMap<&str, RestFunction> = BTreeMap::new();
    for route in &t.http_routes {
        if !seen.insert(route.route_key.as_str()) {
            errors.push(format!("HTTP route {} is declared twice", route.route_key));
        }
        match handler_of(t, &route.function) {
            None => errors.push(format!(
                "HTTP route {} → {}: no local handler for it",
                route.route_key,
                describe(t, &route.function)
            )),
            Some(Function::Rest(rest)) => {
                if route.route_key == banter::http::unrouted::ROUTE_KEY
                    && rest != RestFunction::DEFAULT_ROUTE
                {
                    errors.push(format!(
                        "HTTP route {} → {}: only banter::functions::RestFunction::DEFAULT_ROUTE ({}) answers it",
                        route.route_key,
                        describe(t, &route.function),
                        RestFunction::DEFAULT_ROUTE.name()
                    ));
                } else if route.route_key == banter::http::unrouted::ROUTE_KEY
                    || rest.routes().contains(&route.route_key.as_str())
                {
                    served.insert(&route.route_key, rest);
                } else {
                    errors.push(format!(
                        "HTTP route {} → {}: banter::rest::{}::ROUTES does not list it, so \
                         the function would answer 404",
                        route.route_key,
                        describe(t, &route.function),
                        rest.name()
                    ));
                }
            }
            Some(other) => errors.push(format!(
                "HTTP route {} → {}: a {} handler, not a REST function",
                route.route_key,
                describe(t, &route.function),
                other.kind()
            )),
        }
    }
    for &rest in RestFunction::ALL {
        let name = rest.name();
        for key in rest.routes() {
            match served.get(key) {
                Some(f) if *f == rest => {}
                _ => errors.push(format!(
                    "handler route {key} of banter::rest::{name} has no route in the template \
                     (an HttpApi event of the function whose binary is {name})"
                )),
            }
        }
    }
}

fn check_websocket(t: &Deployment, errors: &mut Vec<String>) {
    let api = match t.websocket_apis.as_slice() {
        [] => {
            errors.push(
                "the template has no WebSocket API (AWS::ApiGatewayV2::Api with ProtocolType \
                 WEBSOCKET): $connect, $disconnect and $default have no route"
                    .into(),
            );
            return;
        }
        [one] => one,
        many => {
            errors.push(format!(
                "the local gateway serves one WebSocket API, the template has {}",
                many.len()
            ));
            return;
        }
    };
    if let Err(e) = crate::route_selection::RouteSelection::parse(&api.route_selection_expression) {
        errors.push(e);
    }
    let mut seen = BTreeSet::new();
    for route in &api.routes {
        if !seen.insert(route.route_key.as_str()) {
            errors.push(format!(
                "WebSocket route {} is declared twice",
                route.route_key
            ));
        }
        let Some(function) = &route.function else {
            // The reader already recorded why (no integration, or no function behind it).
            continue;
        };
        let wanted = Function::for_websocket_route(&route.route_key);
        match handler_of(t, function) {
            None => errors.push(format!(
                "WebSocket route {} → {}: no local handler for it",
                route.route_key,
                describe(t, function)
            )),
            Some(h) if h == wanted => {}
            Some(h) => errors.push(format!(
                "WebSocket route {} → {}: a {} handler, but this route needs the {} handler",
                route.route_key,
                describe(t, function),
                h.kind(),
                wanted.kind()
            )),
        }
    }
    for key in [
        banter::ws::CONNECT_ROUTE,
        banter::ws::DISCONNECT_ROUTE,
        banter::ws::DEFAULT_ROUTE,
    ] {
        if !api.routes.iter().any(|r| r.route_key == key) {
            errors.push(format!(
                "the WebSocket API {} has no {key} route",
                api.logical_id
            ));
        }
    }
}

fn check_sqs(t: &Deployment, errors: &mut Vec<String>) {
    let mut fanout_sources = 0;
    for source in &t.event_sources {
        let queue_ok = t.queues.contains_key(&source.queue);
        if !queue_ok {
            errors.push(format!(
                "SQS event source of {} reads {}, which is not an AWS::SQS::Queue of the \
                 template",
                describe(t, &source.function),
                source.queue
            ));
        }
        match handler_of(t, &source.function) {
            Some(Function::Fanout) => fanout_sources += 1,
            Some(h) => errors.push(format!(
                "SQS event source on {} → {}: a {} handler, not the fan-out",
                source.queue,
                describe(t, &source.function),
                h.kind()
            )),
            None => errors.push(format!(
                "SQS event source on {} → {}: no local handler for it",
                source.queue,
                describe(t, &source.function)
            )),
        }
        if !source.report_batch_item_failures {
            errors.push(format!(
                "SQS event source on {} → {}: FunctionResponseTypes lacks \
                 ReportBatchItemFailures, so the batchItemFailures the fan-out returns would \
                 be ignored and failed jobs deleted",
                source.queue,
                describe(t, &source.function)
            ));
        }
        if source.batch_size == 0 {
            errors.push(format!(
                "SQS event source on {}: BatchSize must be at least 1",
                source.queue
            ));
        }
    }
    if fanout_sources == 0 {
        errors.push(
            "the fan-out handler (binary fanout) has no SQS event source in the template".into(),
        );
    }
}
