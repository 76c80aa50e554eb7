//! Reading `template.yaml`: the one parser of the SAM template that the local gateway (and any
//! test) uses to learn the HTTP API routes, the WebSocket API's routes and integrations, the
//! SQS event sources with their queue settings, and which function serves each.
//!
//! The template is CloudFormation YAML with short-form tags (`!Ref`, `!GetAtt`, `!Sub`, …).
//! [`Template::parse`] rewrites every tag to its long form (`{"Fn::GetAtt": …}`) and then reads:
//!
//! - **Functions**: every `AWS::Serverless::Function`, with its binary
//!   (`Metadata.BuildProperties.Binary`, else the last component of `CodeUri`) and its
//!   `Timeout` (else `Globals.Function.Timeout`, else 3 s).
//! - **HTTP routes**: the function's `HttpApi` events (`Method` + `Path`; no properties means
//!   the `$default` route), and `AWS::ApiGatewayV2::Route`s of an `HTTP` API.
//! - **CORS**: `CorsConfiguration` of the HTTP API (`AWS::Serverless::HttpApi`, an `HTTP`
//!   `AWS::ApiGatewayV2::Api`, or `Globals.HttpApi`).
//! - **WebSocket API**: the `AWS::ApiGatewayV2::Api` with `ProtocolType: WEBSOCKET`, its
//!   `RouteSelectionExpression`, its `AWS::ApiGatewayV2::Route`s (`RouteKey`, `Target` →
//!   integration) and `AWS::ApiGatewayV2::Integration`s (`IntegrationUri` → function), and the
//!   `StageName` of its `AWS::ApiGatewayV2::Stage`.
//! - **SQS event sources**: `SQS` events of functions (and `AWS::Lambda::EventSourceMapping`
//!   resources) with `BatchSize`, `MaximumBatchingWindowInSeconds`, `FunctionResponseTypes`,
//!   and the `AWS::SQS::Queue`s they read with `VisibilityTimeout` and `RedrivePolicy`.
//!
//! References are followed through `Ref`, `Fn::GetAtt`, `Fn::Sub` (`${Name}`, `${Name.Arn}`)
//! and `Fn::Join`; scalar settings may be literals or `!Ref` a parameter with a `Default`.
//! Whatever cannot be understood is recorded in [`Template::problems`], and [`check`] reports
//! it together with every route or event source that has no local handler and every handler
//! without a route: a template the gateway cannot serve exactly is refused at start-up, never
//! served with silent 404s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml_ng::{Mapping, Value};

use crate::handlers::{Handler, RestFunction, handler_for};

/// Lambda's default function timeout (SAM's default when neither the function nor `Globals`
/// sets `Timeout`).
pub const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(3);

/// SQS's default visibility timeout.
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);

/// The default `BatchSize` of an SQS event source.
pub const DEFAULT_BATCH_SIZE: usize = 10;

/// The route selection expression API Gateway uses when the template sets none.
pub const DEFAULT_ROUTE_SELECTION: &str = "$request.body.action";

/// Values the pseudo parameters resolve to locally.
const PSEUDO_PARAMETERS: &[(&str, &str)] = &[
    ("AWS::Region", "us-east-1"),
    ("AWS::AccountId", "000000000000"),
    ("AWS::StackName", "banter-local"),
    ("AWS::Partition", "aws"),
    ("AWS::URLSuffix", "amazonaws.com"),
];

/// `template.yaml` at the root of the repository this crate was built from.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("template.yaml")
}

/// Why a template could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The template's path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not YAML, or not a mapping at the top.
    #[error("template is not valid YAML: {0}")]
    Yaml(String),
}

/// A Lambda function of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Logical id (`CommentsFunction`).
    pub logical_id: String,
    /// The Rust binary it runs (`comments`).
    pub binary: String,
    /// Its timeout.
    pub timeout: Duration,
    /// Event types it has that the gateway does not emulate (`Schedule`, …), by event name.
    pub other_events: Vec<String>,
    /// Its environment variables (`Globals.Function` merged with its own) whose value is a
    /// `!Ref` to a queue of the template: variable name → queue logical id
    /// (`FANOUT_QUEUE_URL` → `FanoutQueue`).
    pub queue_variables: BTreeMap<String, String>,
}

/// One route of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// The route key as API Gateway writes it: `GET /v1/events/{event_id}`, `ANY /x`, or
    /// `$default`.
    pub route_key: String,
    /// Upper-case method, or `None` for `ANY` (and for `$default`).
    pub method: Option<String>,
    /// The path pattern (`/v1/events/{event_id}`); empty for `$default`.
    pub path: String,
    /// Logical id of the function serving it.
    pub function: String,
}

/// CORS settings of the HTTP API (`CorsConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cors {
    /// `AllowOrigins` (`*` for any).
    pub allow_origins: Vec<String>,
    /// `AllowMethods` (`*` for any).
    pub allow_methods: Vec<String>,
    /// `AllowHeaders` (`*` for any).
    pub allow_headers: Vec<String>,
    /// `ExposeHeaders`.
    pub expose_headers: Vec<String>,
    /// `MaxAge`, seconds.
    pub max_age: Option<u64>,
    /// `AllowCredentials`.
    pub allow_credentials: bool,
}

/// One route of the WebSocket API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsRoute {
    /// `$connect`, `$disconnect`, `$default` or a custom key.
    pub route_key: String,
    /// Logical id of the integration it targets.
    pub integration: Option<String>,
    /// Logical id of the function behind that integration.
    pub function: Option<String>,
}

/// The WebSocket API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketApi {
    /// Logical id of the `AWS::ApiGatewayV2::Api`.
    pub logical_id: String,
    /// `RouteSelectionExpression`.
    pub route_selection_expression: String,
    /// Its routes.
    pub routes: Vec<WsRoute>,
    /// The `StageName` of its stage, when it resolves to a constant.
    pub stage: Option<String>,
}

/// An SQS queue of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDef {
    /// Logical id.
    pub logical_id: String,
    /// `VisibilityTimeout`.
    pub visibility_timeout: Duration,
    /// `RedrivePolicy.maxReceiveCount`, when it has a redrive policy.
    pub max_receive_count: Option<u32>,
    /// Logical id of the `RedrivePolicy.deadLetterTargetArn` queue.
    pub dead_letter_queue: Option<String>,
}

/// An SQS event source mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsEventSource {
    /// Logical id of the function it invokes.
    pub function: String,
    /// Logical id of the queue it reads.
    pub queue: String,
    /// `BatchSize`.
    pub batch_size: usize,
    /// `MaximumBatchingWindowInSeconds`.
    pub max_batching_window: Duration,
    /// Whether `FunctionResponseTypes` holds `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
    /// `Enabled` (default true).
    pub enabled: bool,
}

/// What the gateway needs from `template.yaml`. See the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    /// Functions by logical id.
    pub functions: BTreeMap<String, Function>,
    /// HTTP API routes, in template order.
    pub http_routes: Vec<HttpRoute>,
    /// Logical ids of the HTTP APIs the routes belong to (`ServerlessHttpApi` for SAM's
    /// implicit one).
    pub http_apis: BTreeSet<String>,
    /// The HTTP API's CORS settings.
    pub http_cors: Option<Cors>,
    /// WebSocket APIs (the gateway serves exactly one).
    pub websocket_apis: Vec<WebSocketApi>,
    /// SQS queues by logical id.
    pub queues: BTreeMap<String, QueueDef>,
    /// SQS event source mappings.
    pub event_sources: Vec<SqsEventSource>,
    /// What could not be understood; [`check`] reports each.
    pub problems: Vec<String>,
}

/// Logical id SAM gives the implicit HTTP API of `HttpApi` events without `ApiId`.
pub const IMPLICIT_HTTP_API: &str = "ServerlessHttpApi";

impl Template {
    /// Reads and parses the template at `path`.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses template text. Only malformed YAML is an error here; everything else the
    /// gateway cannot use is collected in [`Template::problems`].
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let raw: Value =
            serde_yaml_ng::from_str(text).map_err(|e| TemplateError::Yaml(e.to_string()))?;
        let doc = long_form(&raw);
        if !doc.is_mapping() {
            return Err(TemplateError::Yaml("the top level is not a mapping".into()));
        }
        Ok(Reader::new(&doc).read())
    }

    /// The WebSocket API, when the template has exactly one.
    pub fn websocket_api(&self) -> Option<&WebSocketApi> {
        match self.websocket_apis.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// The function `logical_id`.
    pub fn function(&self, logical_id: &str) -> Option<&Function> {
        self.functions.get(logical_id)
    }

    /// The local handler of the function `logical_id`.
    pub fn handler_of(&self, logical_id: &str) -> Option<Handler> {
        self.function(logical_id)
            .and_then(|f| handler_for(&f.binary))
    }

    /// Functions that have a local handler but no events the gateway emulates, or that have
    /// event types it does not emulate: worth a warning at start-up.
    pub fn unemulated(&self) -> Vec<String> {
        let mut out = Vec::new();
        for f in self.functions.values() {
            for e in &f.other_events {
                out.push(format!(
                    "function {} (binary {}): event {e} is not emulated locally",
                    f.logical_id, f.binary
                ));
            }
        }
        out
    }
}

/// Checks that the gateway can serve `template` exactly: every HTTP route, WebSocket route and
/// SQS event source maps to a function with a local handler of the right kind (and a REST
/// route to a route its module serves), and every handler has its routes: each route of
/// `banter::rest::all_routes()`, `$connect`, `$disconnect` and `$default`, and an SQS event
/// source for the fan-out. Returns every problem found.
pub fn check(template: &Template) -> Result<(), Vec<String>> {
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
fn describe(template: &Template, logical_id: &str) -> String {
    match template.function(logical_id) {
        Some(f) => format!("function {logical_id} (binary {})", f.binary),
        None => format!("{logical_id} (not a function of the template)"),
    }
}

fn check_http(t: &Template, errors: &mut Vec<String>) {
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
        match t.handler_of(&route.function) {
            None => errors.push(format!(
                "HTTP route {} → {}: no local handler for it",
                route.route_key,
                describe(t, &route.function)
            )),
            Some(Handler::Rest(rest)) => {
                if rest.routes().contains(&route.route_key.as_str()) {
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
    for (name, routes) in banter::rest::all_routes() {
        let Some(rest) = RestFunction::from_name(name) else {
            errors.push(format!(
                "banter::rest::{name} has no dispatcher in banter-local (handlers.rs)"
            ));
            continue;
        };
        for key in routes {
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

fn check_websocket(t: &Template, errors: &mut Vec<String>) {
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
    if let Err(e) = crate::websocket::RouteSelection::parse(&api.route_selection_expression) {
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
        let wanted = match route.route_key.as_str() {
            banter::ws::CONNECT_ROUTE => Handler::WsConnect,
            banter::ws::DISCONNECT_ROUTE => Handler::WsDisconnect,
            _ => Handler::WsRouter,
        };
        match t.handler_of(function) {
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

fn check_sqs(t: &Template, errors: &mut Vec<String>) {
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
        match t.handler_of(&source.function) {
            Some(Handler::Fanout) => fanout_sources += 1,
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

/// Rewrites short-form intrinsics as their long form, recursively: `!Ref X` → `{Ref: X}`,
/// `!Condition X` → `{Condition: X}`, `!GetAtt A.B` → `{"Fn::GetAtt": "A.B"}`, and so on for
/// every other `!Name`.
pub fn long_form(v: &Value) -> Value {
    match v {
        Value::Tagged(t) => {
            let name = t.tag.to_string();
            let name = name.trim_start_matches('!');
            let key = match name {
                "Ref" | "Condition" => name.to_owned(),
                other => format!("Fn::{other}"),
            };
            let mut m = Mapping::new();
            m.insert(Value::String(key), long_form(&t.value));
            Value::Mapping(m)
        }
        Value::Sequence(s) => Value::Sequence(s.iter().map(long_form).collect()),
        Value::Mapping(m) => Value::Mapping(
            m.iter()
                .map(|(k, v)| (long_form(k), long_form(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every logical id `v` refers to through `Ref`, `Fn::GetAtt` or `Fn::Sub`, anywhere inside.
pub fn references(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect_refs(v, &mut out);
    out
}

fn collect_refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, inner) in m {
                match (k.as_str(), inner) {
                    (Some("Ref"), Value::String(name)) => {
                        out.insert(name.clone());
                    }
                    (Some("Fn::GetAtt"), Value::String(s)) => {
                        if let Some(id) = s.split('.').next() {
                            out.insert(id.to_owned());
                        }
                    }
                    (Some("Fn::GetAtt"), Value::Sequence(parts)) => {
                        if let Some(Value::String(id)) = parts.first() {
                            out.insert(id.clone());
                        }
                    }
                    (Some("Fn::Sub"), Value::String(s)) => {
                        for var in sub_variables(s) {
                            out.insert(var.split('.').next().unwrap_or_default().to_owned());
                        }
                    }
                    (Some("Fn::Sub"), Value::Sequence(parts)) => {
                        let local: BTreeSet<String> = match parts.get(1) {
                            Some(Value::Mapping(vars)) => vars
                                .keys()
                                .filter_map(|k| k.as_str().map(str::to_owned))
                                .collect(),
                            _ => BTreeSet::new(),
                        };
                        if let Some(Value::String(s)) = parts.first() {
                            for var in sub_variables(s) {
                                let id = var.split('.').next().unwrap_or_default();
                                if !local.contains(id) {
                                    out.insert(id.to_owned());
                                }
                            }
                        }
                        if let Some(vars) = parts.get(1) {
                            collect_refs(vars, out);
                        }
                    }
                    _ => collect_refs(inner, out),
                }
            }
        }
        Value::Sequence(s) => s.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// The `${…}` variables of a `Fn::Sub` string (not the `${!Literal}` escapes).
fn sub_variables(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let var = after[..end].trim();
        if !var.starts_with('!') && !var.is_empty() {
            out.push(var);
        }
        rest = &after[end + 1..];
    }
    out
}

/// Reads the long-form document.
struct Reader<'a> {
    doc: &'a Value,
    resources: &'a Mapping,
    parameters: BTreeMap<String, Value>,
    out: Template,
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_mapping().and_then(|m| m.get(key))
}

fn path<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(v, |v, k| get(v, k))
}

static EMPTY: std::sync::LazyLock<Mapping> = std::sync::LazyLock::new(Mapping::new);

impl<'a> Reader<'a> {
    fn new(doc: &'a Value) -> Self {
        let resources = get(doc, "Resources")
            .and_then(Value::as_mapping)
            .unwrap_or(&EMPTY);
        let parameters = get(doc, "Parameters")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), get(v, "Default")?.clone())))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            doc,
            resources,
            parameters,
            out: Template::default(),
        }
    }

    fn problem(&mut self, p: String) {
        self.out.problems.push(p);
    }

    /// Resources of `kind`, as (logical id, properties).
    fn resources_of(&self, kind: &str) -> Vec<(String, &'a Value)> {
        self.resources
            .iter()
            .filter(|(_, r)| get(r, "Type").and_then(Value::as_str) == Some(kind))
            .filter_map(|(k, r)| Some((k.as_str()?.to_owned(), r)))
            .collect()
    }

    fn resource_type(&self, id: &str) -> Option<&'a str> {
        self.resources
            .get(id)
            .and_then(|r| get(r, "Type"))
            .and_then(Value::as_str)
    }

    /// A scalar setting: a literal, a `Ref` to a parameter with a default or a pseudo
    /// parameter, or a `Fn::Sub` of those.
    fn scalar(&self, v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Mapping(m) if m.len() == 1 => {
                if let Some(Value::String(name)) = m.get("Ref") {
                    return self.resolve_name(name);
                }
                if let Some(Value::String(s)) = m.get("Fn::Sub") {
                    let mut text = s.clone();
                    for var in sub_variables(s) {
                        let value = self.resolve_name(var)?;
                        text = text.replace(&format!("${{{var}}}"), &value);
                    }
                    return Some(text);
                }
                None
            }
            _ => None,
        }
    }

    fn resolve_name(&self, name: &str) -> Option<String> {
        if let Some((_, v)) = PSEUDO_PARAMETERS.iter().find(|(k, _)| *k == name) {
            return Some((*v).to_owned());
        }
        self.parameters.get(name).and_then(|d| self.scalar(d))
    }

    fn number(&self, v: Option<&Value>) -> Option<Result<u64, String>> {
        let v = v?;
        Some(match self.scalar(v) {
            Some(s) => s
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("{s:?} is not a whole number")),
            None => Err("does not resolve to a constant".into()),
        })
    }

    /// A list of strings: a sequence of scalars, or a scalar (comma-separated).
    fn strings(&self, v: &Value) -> Vec<String> {
        match v {
            Value::Sequence(items) => items.iter().filter_map(|x| self.scalar(x)).collect(),
            other => self
                .scalar(other)
                .map(|s| {
                    s.split(',')
                        .map(|x| x.trim().to_owned())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The one reference in `v` to a resource of `kind`.
    fn reference_to(&self, v: &Value, kinds: &[&str]) -> Result<String, String> {
        let ids: Vec<String> = references(v)
            .into_iter()
            .filter(|id| self.resource_type(id).is_some_and(|t| kinds.contains(&t)))
            .collect();
        match ids.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(format!("refers to no {}", kinds.join(" / "))),
            many => Err(format!("refers to several: {}", many.join(", "))),
        }
    }

    fn read(mut self) -> Template {
        self.read_functions();
        self.read_queues();
        self.read_apis();
        self.read_event_source_mappings();
        self.out
    }

    fn read_functions(&mut self) {
        let global_timeout = path(self.doc, &["Globals", "Function", "Timeout"]);
        for (id, resource) in self.resources_of("AWS::Serverless::Function") {
            let props = get(resource, "Properties");
            let binary = path(resource, &["Metadata", "BuildProperties", "Binary"])
                .and_then(|v| self.scalar(v))
                .or_else(|| {
                    props
                        .and_then(|p| get(p, "CodeUri"))
                        .and_then(|v| self.scalar(v))
                        .and_then(|uri| {
                            uri.trim_end_matches('/')
                                .rsplit('/')
                                .next()
                                .map(str::to_owned)
                        })
                });
            let Some(binary) = binary.filter(|b| !b.is_empty()) else {
                self.problem(format!(
                    "function {id}: no Metadata.BuildProperties.Binary (nor CodeUri) names its \
                     binary"
                ));
                continue;
            };
            let timeout_value = props.and_then(|p| get(p, "Timeout")).or(global_timeout);
            let timeout = match self.number(timeout_value) {
                None => DEFAULT_FUNCTION_TIMEOUT,
                Some(Ok(secs)) => Duration::from_secs(secs),
                Some(Err(e)) => {
                    self.problem(format!("function {id}: Timeout {e}"));
                    DEFAULT_FUNCTION_TIMEOUT
                }
            };
            let mut queue_variables = BTreeMap::new();
            let global_env = path(
                self.doc,
                &["Globals", "Function", "Environment", "Variables"],
            );
            let own_env = props.and_then(|p| path(p, &["Environment", "Variables"]));
            for env in [global_env, own_env].into_iter().flatten() {
                for (name, value) in env.as_mapping().into_iter().flatten() {
                    let (Some(name), Ok(queue)) = (
                        name.as_str(),
                        self.reference_to(value, &["AWS::SQS::Queue"]),
                    ) else {
                        continue;
                    };
                    queue_variables.insert(name.to_owned(), queue);
                }
            }
            let mut function = Function {
                logical_id: id.clone(),
                binary,
                timeout,
                other_events: Vec::new(),
                queue_variables,
            };
            let events = props
                .and_then(|p| get(p, "Events"))
                .and_then(Value::as_mapping)
                .cloned()
                .unwrap_or_default();
            for (name, event) in &events {
                let name = name.as_str().unwrap_or("?").to_owned();
                let kind = get(event, "Type").and_then(Value::as_str).unwrap_or("");
                let eprops = get(event, "Properties");
                match kind {
                    "HttpApi" => self.read_http_event(&id, &name, eprops),
                    "SQS" => self.read_sqs_event(&id, &name, eprops),
                    other => function.other_events.push(format!("{name} ({other})")),
                }
            }
            self.out.functions.insert(id, function);
        }
    }

    fn read_http_event(&mut self, function: &str, name: &str, props: Option<&Value>) {
        let method = props
            .and_then(|p| get(p, "Method"))
            .and_then(|v| self.scalar(v));
        let route_path = props
            .and_then(|p| get(p, "Path"))
            .and_then(|v| self.scalar(v));
        if let Some(version) = props
            .and_then(|p| get(p, "PayloadFormatVersion"))
            .and_then(|v| self.scalar(v))
            && version != "2.0"
        {
            self.problem(format!(
                "function {function}, event {name}: PayloadFormatVersion {version} (the \
                 handlers take payload format 2.0)"
            ));
        }
        let api = match props.and_then(|p| get(p, "ApiId")) {
            None => IMPLICIT_HTTP_API.to_owned(),
            Some(v) => match self.reference_to(v, &["AWS::Serverless::HttpApi"]) {
                Ok(id) => id,
                Err(e) => {
                    self.problem(format!("function {function}, event {name}: ApiId {e}"));
                    return;
                }
            },
        };
        self.out.http_apis.insert(api);
        let route = match (method, route_path) {
            (None, None) => HttpRoute {
                route_key: "$default".into(),
                method: None,
                path: String::new(),
                function: function.to_owned(),
            },
            (Some(m), Some(p)) => http_route(&m, &p, function),
            _ => {
                self.problem(format!(
                    "function {function}, event {name}: an HttpApi event needs both Method and \
                     Path (or neither, for $default)"
                ));
                return;
            }
        };
        self.out.http_routes.push(route);
    }

    fn read_sqs_event(&mut self, function: &str, name: &str, props: Option<&Value>) {
        let Some(props) = props else {
            self.problem(format!(
                "function {function}, event {name}: an SQS event needs Properties.Queue"
            ));
            return;
        };
        let queue = match get(props, "Queue").map(|q| self.reference_to(q, &["AWS::SQS::Queue"])) {
            Some(Ok(q)) => q,
            Some(Err(e)) => {
                self.problem(format!(
                    "function {function}, event {name}: Queue {e} of the template"
                ));
                return;
            }
            None => {
                self.problem(format!(
                    "function {function}, event {name}: an SQS event needs Properties.Queue"
                ));
                return;
            }
        };
        self.push_event_source(function, name, queue, props);
    }

    fn push_event_source(&mut self, function: &str, name: &str, queue: String, props: &Value) {
        let batch_size = match self.number(get(props, "BatchSize")) {
            None => DEFAULT_BATCH_SIZE,
            Some(Ok(n)) => usize::try_from(n).unwrap_or(usize::MAX),
            Some(Err(e)) => {
                self.problem(format!("function {function}, event {name}: BatchSize {e}"));
                DEFAULT_BATCH_SIZE
            }
        };
        let window = match self.number(get(props, "MaximumBatchingWindowInSeconds")) {
            None => Duration::ZERO,
            Some(Ok(n)) => Duration::from_secs(n),
            Some(Err(e)) => {
                self.problem(format!(
                    "function {function}, event {name}: MaximumBatchingWindowInSeconds {e}"
                ));
                Duration::ZERO
            }
        };
        let report = get(props, "FunctionResponseTypes")
            .map(|v| self.strings(v))
            .unwrap_or_default()
            .iter()
            .any(|t| t == "ReportBatchItemFailures");
        let enabled = get(props, "Enabled")
            .and_then(|v| self.scalar(v))
            .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
        self.out.event_sources.push(SqsEventSource {
            function: function.to_owned(),
            queue,
            batch_size,
            max_batching_window: window,
            report_batch_item_failures: report,
            enabled,
        });
    }

    fn read_event_source_mappings(&mut self) {
        for (id, resource) in self.resources_of("AWS::Lambda::EventSourceMapping") {
            let Some(props) = get(resource, "Properties") else {
                continue;
            };
            let queue =
                get(props, "EventSourceArn").map(|v| self.reference_to(v, &["AWS::SQS::Queue"]));
            let Some(Ok(queue)) = queue else {
                self.problem(format!(
                    "event source mapping {id}: EventSourceArn is not a queue of the template; \
                     only SQS event sources are emulated"
                ));
                continue;
            };
            match get(props, "FunctionName")
                .map(|v| self.reference_to(v, &["AWS::Serverless::Function"]))
            {
                Some(Ok(function)) => self.push_event_source(&function, &id, queue, props),
                Some(Err(e)) => self.problem(format!(
                    "event source mapping {id}: FunctionName {e} of the template"
                )),
                None => self.problem(format!("event source mapping {id}: no FunctionName")),
            }
        }
    }

    fn read_queues(&mut self) {
        for (id, resource) in self.resources_of("AWS::SQS::Queue") {
            let props = get(resource, "Properties");
            let visibility_timeout =
                match self.number(props.and_then(|p| get(p, "VisibilityTimeout"))) {
                    None => DEFAULT_VISIBILITY_TIMEOUT,
                    Some(Ok(n)) => Duration::from_secs(n),
                    Some(Err(e)) => {
                        self.problem(format!("queue {id}: VisibilityTimeout {e}"));
                        DEFAULT_VISIBILITY_TIMEOUT
                    }
                };
            let redrive = props.and_then(|p| get(p, "RedrivePolicy"));
            let (max_receive_count, dead_letter_queue) = match redrive {
                None => (None, None),
                Some(r) => {
                    let count = match self.number(get(r, "maxReceiveCount")) {
                        Some(Ok(n)) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
                        Some(Err(e)) => {
                            self.problem(format!("queue {id}: RedrivePolicy.maxReceiveCount {e}"));
                            None
                        }
                        None => {
                            self.problem(format!(
                                "queue {id}: RedrivePolicy has no maxReceiveCount"
                            ));
                            None
                        }
                    };
                    let dlq = get(r, "deadLetterTargetArn")
                        .and_then(|v| self.reference_to(v, &["AWS::SQS::Queue"]).ok());
                    (count, dlq)
                }
            };
            self.out.queues.insert(
                id.clone(),
                QueueDef {
                    logical_id: id,
                    visibility_timeout,
                    max_receive_count,
                    dead_letter_queue,
                },
            );
        }
    }

    fn cors(&self, v: &Value) -> Option<Cors> {
        match v {
            Value::Bool(false) => None,
            Value::Bool(true) => Some(Cors {
                allow_origins: vec!["*".into()],
                allow_methods: vec!["*".into()],
                allow_headers: vec!["*".into()],
                ..Cors::default()
            }),
            Value::String(s) => Some(Cors {
                allow_origins: vec![s.trim_matches('\'').to_owned()],
                allow_methods: vec!["*".into()],
                allow_headers: vec!["*".into()],
                ..Cors::default()
            }),
            Value::Mapping(_) => Some(Cors {
                allow_origins: get(v, "AllowOrigins")
                    .map(|x| self.strings(x))
                    .unwrap_or_default(),
                allow_methods: get(v, "AllowMethods")
                    .map(|x| self.strings(x))
                    .unwrap_or_default(),
                allow_headers: get(v, "AllowHeaders")
                    .map(|x| self.strings(x))
                    .unwrap_or_default(),
                expose_headers: get(v, "ExposeHeaders")
                    .map(|x| self.strings(x))
                    .unwrap_or_default(),
                max_age: self.number(get(v, "MaxAge")).and_then(Result::ok),
                allow_credentials: get(v, "AllowCredentials")
                    .and_then(|x| self.scalar(x))
                    .is_some_and(|x| x.eq_ignore_ascii_case("true")),
            }),
            _ => None,
        }
    }

    fn read_apis(&mut self) {
        let global_cors = path(self.doc, &["Globals", "HttpApi", "CorsConfiguration"]);
        // SAM HTTP APIs.
        let mut cors_by_api: BTreeMap<String, Option<Cors>> = BTreeMap::new();
        cors_by_api.insert(
            IMPLICIT_HTTP_API.into(),
            global_cors.and_then(|c| self.cors(c)),
        );
        for (id, resource) in self.resources_of("AWS::Serverless::HttpApi") {
            let cors = path(resource, &["Properties", "CorsConfiguration"])
                .or(global_cors)
                .and_then(|c| self.cors(c));
            cors_by_api.insert(id, cors);
        }
        // API Gateway v2 APIs, their integrations, routes and stages.
        let mut ws_apis: BTreeMap<String, WebSocketApi> = BTreeMap::new();
        let mut http_v2: BTreeSet<String> = BTreeSet::new();
        for (id, resource) in self.resources_of("AWS::ApiGatewayV2::Api") {
            let props = get(resource, "Properties");
            let protocol = props
                .and_then(|p| get(p, "ProtocolType"))
                .and_then(|v| self.scalar(v))
                .unwrap_or_default();
            match protocol.as_str() {
                "WEBSOCKET" => {
                    let expression = props
                        .and_then(|p| get(p, "RouteSelectionExpression"))
                        .and_then(|v| self.scalar(v))
                        .unwrap_or_else(|| DEFAULT_ROUTE_SELECTION.to_owned());
                    ws_apis.insert(
                        id.clone(),
                        WebSocketApi {
                            logical_id: id,
                            route_selection_expression: expression,
                            routes: Vec::new(),
                            stage: None,
                        },
                    );
                }
                "HTTP" => {
                    let cors = props
                        .and_then(|p| get(p, "CorsConfiguration"))
                        .and_then(|c| self.cors(c));
                    cors_by_api.insert(id.clone(), cors);
                    http_v2.insert(id);
                }
                other => self.problem(format!(
                    "API {id}: ProtocolType {other:?} is neither WEBSOCKET nor HTTP"
                )),
            }
        }
        let api_kinds = ["AWS::ApiGatewayV2::Api"];
        // integration id → function id
        let mut integrations: BTreeMap<String, Option<String>> = BTreeMap::new();
        for (id, resource) in self.resources_of("AWS::ApiGatewayV2::Integration") {
            let props = get(resource, "Properties");
            let kind = props
                .and_then(|p| get(p, "IntegrationType"))
                .and_then(|v| self.scalar(v))
                .unwrap_or_default();
            if kind != "AWS_PROXY" {
                self.problem(format!(
                    "integration {id}: IntegrationType {kind:?}; only AWS_PROXY (Lambda proxy) \
                     integrations are emulated"
                ));
                integrations.insert(id, None);
                continue;
            }
            match props
                .and_then(|p| get(p, "IntegrationUri"))
                .map(|v| self.reference_to(v, &["AWS::Serverless::Function"]))
            {
                Some(Ok(f)) => {
                    integrations.insert(id, Some(f));
                }
                Some(Err(e)) => {
                    self.problem(format!(
                        "integration {id}: IntegrationUri {e} of the template"
                    ));
                    integrations.insert(id, None);
                }
                None => {
                    self.problem(format!("integration {id}: no IntegrationUri"));
                    integrations.insert(id, None);
                }
            }
        }
        for (id, resource) in self.resources_of("AWS::ApiGatewayV2::Route") {
            let Some(props) = get(resource, "Properties") else {
                self.problem(format!("route {id}: no Properties"));
                continue;
            };
            let api = match get(props, "ApiId").map(|v| self.reference_to(v, &api_kinds)) {
                Some(Ok(a)) => a,
                Some(Err(e)) => {
                    self.problem(format!("route {id}: ApiId {e} of the template"));
                    continue;
                }
                None => {
                    self.problem(format!("route {id}: no ApiId"));
                    continue;
                }
            };
            let Some(key) = get(props, "RouteKey").and_then(|v| self.scalar(v)) else {
                self.problem(format!(
                    "route {id}: RouteKey does not resolve to a constant"
                ));
                continue;
            };
            let integration = match get(props, "Target")
                .map(|v| self.reference_to(v, &["AWS::ApiGatewayV2::Integration"]))
            {
                Some(Ok(i)) => Some(i),
                Some(Err(e)) => {
                    self.problem(format!("route {key} ({id}): Target {e} of the template"));
                    None
                }
                None => {
                    self.problem(format!(
                        "route {key} ({id}): no Target, so it has no integration"
                    ));
                    None
                }
            };
            let function = integration
                .as_ref()
                .and_then(|i| integrations.get(i).cloned().flatten());
            if let Some(ws) = ws_apis.get_mut(&api) {
                ws.routes.push(WsRoute {
                    route_key: key,
                    integration,
                    function,
                });
            } else if http_v2.contains(&api) {
                match function {
                    Some(f) => {
                        self.out.http_apis.insert(api.clone());
                        let route = if key == "$default" {
                            HttpRoute {
                                route_key: key,
                                method: None,
                                path: String::new(),
                                function: f,
                            }
                        } else {
                            match key.split_once(' ') {
                                Some((m, p)) => http_route(m, p, &f),
                                None => {
                                    self.problem(format!(
                                        "route {id}: RouteKey {key:?} is not \"METHOD /path\""
                                    ));
                                    continue;
                                }
                            }
                        };
                        self.out.http_routes.push(route);
                    }
                    None => {
                        // Recorded above (no integration or no function behind it).
                    }
                }
            }
        }
        for (id, resource) in self.resources_of("AWS::ApiGatewayV2::Stage") {
            let Some(props) = get(resource, "Properties") else {
                continue;
            };
            let Some(Ok(api)) = get(props, "ApiId").map(|v| self.reference_to(v, &api_kinds))
            else {
                continue;
            };
            if let Some(ws) = ws_apis.get_mut(&api) {
                match get(props, "StageName").and_then(|v| self.scalar(v)) {
                    Some(name) => ws.stage = Some(name),
                    None => tracing::debug!(stage = %id, "stage name does not resolve"),
                }
            }
        }
        // A route whose function could not be found is a problem of its own.
        for ws in ws_apis.values() {
            for r in &ws.routes {
                if r.function.is_none()
                    && let Some(i) = &r.integration
                    && !integrations.contains_key(i)
                {
                    self.out.problems.push(format!(
                        "WebSocket route {}: its integration {i} is not an \
                         AWS::ApiGatewayV2::Integration of the template",
                        r.route_key
                    ));
                }
            }
        }
        self.out.websocket_apis = ws_apis.into_values().collect();
        let used: Vec<&String> = self.out.http_apis.iter().collect();
        let cors: Vec<Option<Cors>> = used
            .iter()
            .map(|a| cors_by_api.get(*a).cloned().flatten())
            .collect();
        self.out.http_cors = cors.into_iter().flatten().next();
    }
}

/// An HTTP route from a method and a path.
fn http_route(method: &str, route_path: &str, function: &str) -> HttpRoute {
    let method = method.trim().to_ascii_uppercase();
    let method_opt = (method != "ANY" && method != "*").then(|| method.clone());
    let shown = method_opt.clone().unwrap_or_else(|| "ANY".into());
    HttpRoute {
        route_key: format!("{shown} {route_path}"),
        method: method_opt,
        path: route_path.to_owned(),
        function: function.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_follow_every_form() {
        let doc: Value = serde_yaml_ng::from_str(
            r#"
a: !Ref One
b: !GetAtt Two.Arn
c: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/functions/${Three.Arn}/invocations"
d: !Sub ["x/${Four}/${Local}", {Local: !Ref Five}]
e: {"Fn::GetAtt": [Six, Arn]}
f: !Join ["/", ["integrations", !Ref Seven]]
g: !Sub "${!Literal}"
"#,
        )
        .unwrap();
        let refs = references(&long_form(&doc));
        let want: BTreeSet<String> = [
            "One",
            "Two",
            "AWS::Region",
            "Three",
            "Four",
            "Five",
            "Six",
            "Seven",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(refs, want);
    }

    #[test]
    fn scalars_resolve_parameters_and_subs() {
        let doc: Value = serde_yaml_ng::from_str(
            "Parameters: {Stage: {Type: String, Default: dev}, N: {Type: Number, Default: 7}}",
        )
        .unwrap();
        let doc = long_form(&doc);
        let r = Reader::new(&doc);
        let sub = long_form(
            &serde_yaml_ng::from_str::<Value>("!Sub ${AWS::StackName}-${Stage}").unwrap(),
        );
        assert_eq!(r.scalar(&sub).as_deref(), Some("banter-local-dev"));
        let n = long_form(&serde_yaml_ng::from_str::<Value>("!Ref N").unwrap());
        assert_eq!(r.number(Some(&n)), Some(Ok(7)));
        let unknown = long_form(&serde_yaml_ng::from_str::<Value>("!Ref Nope").unwrap());
        assert_eq!(r.scalar(&unknown), None);
    }
}
