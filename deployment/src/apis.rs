//! The HTTP API (routes and CORS) and the WebSocket API (routes, integrations, deployments and
//! stages).

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

use crate::document::{Document, get, path, ref_target};
use crate::reader::Reader;

/// The route selection expression API Gateway uses when the template sets none.
pub const DEFAULT_ROUTE_SELECTION: &str = "$request.body.action";

/// Logical id SAM gives the implicit HTTP API of `HttpApi` events without `ApiId`.
pub const IMPLICIT_HTTP_API: &str = "ServerlessHttpApi";

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
    /// Logical id of the resource declaring it: the function (an `HttpApi` event) or an
    /// `AWS::ApiGatewayV2::Route`.
    pub declared_by: String,
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
    /// Logical id of the `AWS::ApiGatewayV2::Route`.
    pub logical_id: String,
    /// Logical id of the integration it targets.
    pub integration: Option<String>,
    /// Logical id of the function behind that integration.
    pub function: Option<String>,
}

/// An integration of the WebSocket API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    /// `IntegrationType` (`AWS_PROXY` for a Lambda proxy).
    pub kind: String,
    /// Logical id of the function `IntegrationUri` refers to.
    pub function: Option<String>,
}

/// A stage of the WebSocket API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Logical id.
    pub logical_id: String,
    /// `StageName` resolved to a constant.
    pub name: Option<String>,
    /// The parameter `StageName` refers to, when it is a `!Ref`.
    pub name_parameter: Option<String>,
    /// Logical id of the `DeploymentId` it refers to.
    pub deployment: Option<String>,
}

/// The WebSocket API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketApi {
    /// Logical id of the `AWS::ApiGatewayV2::Api`.
    pub logical_id: String,
    /// `RouteSelectionExpression` as written.
    pub route_selection: Option<String>,
    /// `RouteSelectionExpression`, or API Gateway's default.
    pub route_selection_expression: String,
    /// Its routes, in template order.
    pub routes: Vec<WsRoute>,
    /// Its integrations by logical id.
    pub integrations: BTreeMap<String, Integration>,
    /// Its deployments by logical id, with their `DependsOn`.
    pub deployments: BTreeMap<String, Vec<String>>,
    /// Its stages.
    pub stages: Vec<Stage>,
    /// The `StageName` of its stage, when it resolves to a constant.
    pub stage: Option<String>,
}

impl WebSocketApi {
    /// The route with key `key`.
    pub fn route(&self, key: &str) -> Option<&WsRoute> {
        self.routes.iter().find(|r| r.route_key == key)
    }
}

/// An HTTP route from a method and a path.
fn http_route(method: &str, route_path: &str, function: &str, declared_by: &str) -> HttpRoute {
    let method = method.trim().to_ascii_uppercase();
    let method_opt = (method != "ANY" && method != "*").then(|| method.clone());
    let shown = method_opt.clone().unwrap_or_else(|| "ANY".into());
    HttpRoute {
        route_key: format!("{shown} {route_path}"),
        method: method_opt,
        path: route_path.to_owned(),
        function: function.to_owned(),
        declared_by: declared_by.to_owned(),
    }
}

fn default_route(function: &str, declared_by: &str) -> HttpRoute {
    HttpRoute {
        route_key: "$default".into(),
        method: None,
        path: String::new(),
        function: function.to_owned(),
        declared_by: declared_by.to_owned(),
    }
}

/// What the API readers gather before the model gets it.
#[derive(Default)]
struct Apis {
    /// HTTP API logical id → its CORS settings.
    cors_by_api: BTreeMap<String, Option<Cors>>,
    /// WebSocket APIs by logical id.
    ws_apis: BTreeMap<String, WebSocketApi>,
    /// Logical ids of the `HTTP` `AWS::ApiGatewayV2::Api`s.
    http_v2: BTreeSet<String>,
    /// Integration id → the function it proxies to (`None` when it cannot be followed).
    integrations: BTreeMap<String, Option<String>>,
}

/// The API a v2 resource's `ApiId` refers to.
fn api_of(doc: &Document<'_>, props: Option<&Value>) -> Option<Result<String, String>> {
    props
        .and_then(|p| get(p, "ApiId"))
        .map(|v| doc.reference_to(v, &["AWS::ApiGatewayV2::Api"]))
}

impl Reader<'_> {
    /// Records the route of a function's `HttpApi` event.
    pub(crate) fn add_http_event_route(
        &mut self,
        function: &str,
        name: &str,
        props: Option<&Value>,
        event: &crate::functions::HttpEvent,
    ) {
        let doc = self.doc;
        if event.payload_version != "2.0" {
            self.problem(format!(
                "function {function}, event {name}: PayloadFormatVersion {} (the handlers take \
                 payload format 2.0)",
                event.payload_version
            ));
        }
        let api = match props.and_then(|p| get(p, "ApiId")) {
            None => IMPLICIT_HTTP_API.to_owned(),
            Some(v) => match doc.reference_to(v, &["AWS::Serverless::HttpApi"]) {
                Ok(id) => id,
                Err(e) => {
                    self.problem(format!("function {function}, event {name}: ApiId {e}"));
                    return;
                }
            },
        };
        self.out.http_apis.insert(api);
        let route = match (&event.method, &event.path) {
            (None, None) => default_route(function, function),
            (Some(m), Some(p)) => http_route(m, p, function, function),
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

    fn cors(&self, v: &Value) -> Option<Cors> {
        let doc = self.doc;
        let any = || vec!["*".to_owned()];
        match v {
            Value::Bool(false) => None,
            Value::Bool(true) => Some(Cors {
                allow_origins: any(),
                allow_methods: any(),
                allow_headers: any(),
                ..Cors::default()
            }),
            Value::String(s) => Some(Cors {
                allow_origins: vec![s.trim_matches('\'').to_owned()],
                allow_methods: any(),
                allow_headers: any(),
                ..Cors::default()
            }),
            Value::Mapping(_) => {
                let list = |key: &str| get(v, key).map(|x| doc.strings(x)).unwrap_or_default();
                Some(Cors {
                    allow_origins: list("AllowOrigins"),
                    allow_methods: list("AllowMethods"),
                    allow_headers: list("AllowHeaders"),
                    expose_headers: list("ExposeHeaders"),
                    max_age: doc.number(get(v, "MaxAge")).and_then(Result::ok),
                    allow_credentials: get(v, "AllowCredentials")
                        .and_then(|x| doc.scalar(x))
                        .is_some_and(|x| x.eq_ignore_ascii_case("true")),
                })
            }
            _ => None,
        }
    }

    pub(crate) fn read_apis(&mut self) {
        let mut apis = Apis::default();
        self.read_http_api_cors(&mut apis);
        self.read_v2_apis(&mut apis);
        self.read_integrations(&mut apis);
        self.read_v2_routes(&mut apis);
        self.read_deployments(&mut apis);
        self.read_stages(&mut apis);
        self.finish_apis(apis);
    }

    /// The CORS settings of SAM's HTTP APIs (the implicit one from `Globals.HttpApi`).
    fn read_http_api_cors(&mut self, apis: &mut Apis) {
        let doc = self.doc;
        let global_cors = path(doc.root(), &["Globals", "HttpApi", "CorsConfiguration"]);
        apis.cors_by_api.insert(
            IMPLICIT_HTTP_API.into(),
            global_cors.and_then(|c| self.cors(c)),
        );
        for (id, resource) in doc.resources_of("AWS::Serverless::HttpApi") {
            let cors = path(resource, &["Properties", "CorsConfiguration"])
                .or(global_cors)
                .and_then(|c| self.cors(c));
            apis.cors_by_api.insert(id, cors);
        }
    }

    /// `AWS::ApiGatewayV2::Api`s: the WebSocket APIs, and the HTTP ones with their CORS.
    fn read_v2_apis(&mut self, apis: &mut Apis) {
        let doc = self.doc;
        // API Gateway v2 APIs, their apis.integrations, routes and stages.
        for (id, resource) in doc.resources_of("AWS::ApiGatewayV2::Api") {
            let props = get(resource, "Properties");
            let setting = |key: &str| props.and_then(|p| get(p, key)).and_then(|v| doc.scalar(v));
            let protocol = setting("ProtocolType").unwrap_or_default();
            match protocol.as_str() {
                "WEBSOCKET" => {
                    let route_selection = setting("RouteSelectionExpression");
                    apis.ws_apis.insert(
                        id.clone(),
                        WebSocketApi {
                            logical_id: id,
                            route_selection_expression: route_selection
                                .clone()
                                .unwrap_or_else(|| DEFAULT_ROUTE_SELECTION.to_owned()),
                            route_selection,
                            routes: Vec::new(),
                            integrations: BTreeMap::new(),
                            deployments: BTreeMap::new(),
                            stages: Vec::new(),
                            stage: None,
                        },
                    );
                }
                "HTTP" => {
                    let cors = props
                        .and_then(|p| get(p, "CorsConfiguration"))
                        .and_then(|c| self.cors(c));
                    apis.cors_by_api.insert(id.clone(), cors);
                    apis.http_v2.insert(id);
                }
                other => self.problem(format!(
                    "API {id}: ProtocolType {other:?} is neither WEBSOCKET nor HTTP"
                )),
            }
        }
    }

    /// Integrations: which function each proxies to; the WebSocket API's are kept whole.
    fn read_integrations(&mut self, apis: &mut Apis) {
        let doc = self.doc;
        // integration id → function id (None when it cannot be followed).
        for (id, resource) in doc.resources_of("AWS::ApiGatewayV2::Integration") {
            let props = get(resource, "Properties");
            let kind = props
                .and_then(|p| get(p, "IntegrationType"))
                .and_then(|v| doc.scalar(v))
                .unwrap_or_default();
            let function = props
                .and_then(|p| get(p, "IntegrationUri"))
                .map(|v| doc.reference_to(v, &["AWS::Serverless::Function"]));
            if let Some(Ok(api)) = api_of(doc, props)
                && let Some(ws) = apis.ws_apis.get_mut(&api)
            {
                ws.integrations.insert(
                    id.clone(),
                    Integration {
                        kind: kind.clone(),
                        function: function.clone().and_then(Result::ok),
                    },
                );
            }
            if kind != "AWS_PROXY" {
                self.problem(format!(
                    "integration {id}: IntegrationType {kind:?}; only AWS_PROXY (Lambda proxy) \
                     apis.integrations are emulated"
                ));
                apis.integrations.insert(id, None);
                continue;
            }
            match function {
                Some(Ok(f)) => {
                    apis.integrations.insert(id, Some(f));
                }
                Some(Err(e)) => {
                    self.problem(format!(
                        "integration {id}: IntegrationUri {e} of the template"
                    ));
                    apis.integrations.insert(id, None);
                }
                None => {
                    self.problem(format!("integration {id}: no IntegrationUri"));
                    apis.integrations.insert(id, None);
                }
            }
        }
    }

    /// `AWS::ApiGatewayV2::Route`s: the WebSocket API's routes, and routes of HTTP v2 APIs.
    fn read_v2_routes(&mut self, apis: &mut Apis) {
        let doc = self.doc;
        for (id, resource) in doc.resources_of("AWS::ApiGatewayV2::Route") {
            let Some(props) = get(resource, "Properties") else {
                self.problem(format!("route {id}: no Properties"));
                continue;
            };
            let api = match api_of(doc, Some(props)) {
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
            let Some(key) = get(props, "RouteKey").and_then(|v| doc.scalar(v)) else {
                self.problem(format!(
                    "route {id}: RouteKey does not resolve to a constant"
                ));
                continue;
            };
            let integration = match get(props, "Target")
                .map(|v| doc.reference_to(v, &["AWS::ApiGatewayV2::Integration"]))
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
                .and_then(|i| apis.integrations.get(i).cloned().flatten());
            if let Some(ws) = apis.ws_apis.get_mut(&api) {
                ws.routes.push(WsRoute {
                    route_key: key,
                    logical_id: id,
                    integration,
                    function,
                });
            } else if apis.http_v2.contains(&api) {
                // Without a function the problem is recorded above.
                let Some(f) = function else { continue };
                self.out.http_apis.insert(api.clone());
                let route = if key == "$default" {
                    default_route(&f, &id)
                } else {
                    match key.split_once(' ') {
                        Some((m, p)) => http_route(m, p, &f, &id),
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
        }
    }

    /// The WebSocket API's deployments with what they wait for.
    fn read_deployments(&mut self, apis: &mut Apis) {
        let doc = self.doc;
        for (id, resource) in doc.resources_of("AWS::ApiGatewayV2::Deployment") {
            let props = get(resource, "Properties");
            if let Some(Ok(api)) = api_of(doc, props)
                && let Some(ws) = apis.ws_apis.get_mut(&api)
            {
                let depends = get(resource, "DependsOn")
                    .map(|v| doc.strings(v))
                    .unwrap_or_default();
                ws.deployments.insert(id, depends);
            }
        }
    }

    /// The WebSocket API's stages.
    fn read_stages(&mut self, apis: &mut Apis) {
        let doc = self.doc;
        for (id, resource) in doc.resources_of("AWS::ApiGatewayV2::Stage") {
            let props = get(resource, "Properties");
            let Some(Ok(api)) = api_of(doc, props) else {
                continue;
            };
            let Some(ws) = apis.ws_apis.get_mut(&api) else {
                continue;
            };
            let name_value = props.and_then(|p| get(p, "StageName"));
            let stage = Stage {
                logical_id: id,
                name: name_value.and_then(|v| doc.scalar(v)),
                name_parameter: name_value.and_then(ref_target).map(str::to_owned),
                deployment: props
                    .and_then(|p| get(p, "DeploymentId"))
                    .and_then(ref_target)
                    .map(str::to_owned),
            };
            if stage.name.is_some() {
                ws.stage.clone_from(&stage.name);
            }
            ws.stages.push(stage);
        }
    }

    /// Checks what only the whole set can tell, and stores the APIs in the model.
    fn finish_apis(&mut self, apis: Apis) {
        // A route whose integration is not one of the template is a problem of its own.
        for ws in apis.ws_apis.values() {
            for r in &ws.routes {
                if r.function.is_none()
                    && let Some(i) = &r.integration
                    && !apis.integrations.contains_key(i)
                {
                    self.out.problems.push(format!(
                        "WebSocket route {}: its integration {i} is not an \
                         AWS::ApiGatewayV2::Integration of the template",
                        r.route_key
                    ));
                }
            }
        }
        self.out.websocket_apis = apis.ws_apis.into_values().collect();
        self.out.http_cors = self
            .out
            .http_apis
            .iter()
            .find_map(|a| apis.cors_by_api.get(a).cloned().flatten());
    }
}
