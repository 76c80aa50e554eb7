//! `docs/openapi.yaml` against the code and the template.
//!
//! * The document is OpenAPI 3.1 and every `$ref` in it resolves (and every component is used).
//! * Its operations are exactly the route keys of `banter::functions::all_routes()`, and those are
//!   exactly the `HttpApi` routes of `template.yaml` (each function's routes on one resource).
//! * Every operation has an `operationId`, its function as tag, its path parameters, the
//!   shared error schema on its 4xx/5xx answers, and the security the code applies: none for
//!   health and auth, optional bearer for the public event reads, bearer everywhere else. The
//!   last is checked against the handlers themselves: anonymous and forged-token calls of
//!   every route.
//! * Page-size limits, error codes and the body limit match the code's constants; every
//!   example and default matches its schema; the API Gateway samples (`events/http-*.json`)
//!   are valid requests of the document.
//! * A scenario drives every route through the real handlers (in-memory stores) and checks
//!   each answer — its status is documented for the operation and its body matches the
//!   documented schema, with no undocumented field — and that the documented request examples
//!   are accepted.
//!
//! Schemas are checked by a small validator for the subset of JSON Schema the document uses
//! (`type`, `enum`, `const`, `properties`, `required`, `additionalProperties`, `items`,
//! `oneOf`/`anyOf`/`allOf`, lengths, bounds, `date-time` and `uuid` formats). Object schemas
//! with `properties` and no `additionalProperties` are treated as closed, so a field the code
//! answers but the document does not describe is an error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use banter::app::App;
use banter::config::{Config, RateRule};
use banter::error::ErrorCode;
use banter::functions::RestFunction;
use banter::ids::{EventId, UserId};
use banter::rest::{self, auth, comments, conversations, events, health, messages, uploads, users};
use banter_deployment::Deployment;
use lambda_http::{Body, Response};
use serde_json::{Value as Json, json};

/// The HTTP methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Routes that never look at the `Authorization` header.
const TOKEN_FREE: [&str; 5] = [
    health::HEALTH,
    auth::REGISTER,
    auth::LOGIN,
    auth::REFRESH,
    auth::LOGOUT,
];

/// Reads that answer anonymous callers but refuse an invalid token when one is sent.
const PUBLIC_READS: [&str; 4] = [
    events::LIST,
    events::GET_EVENT,
    comments::LIST,
    comments::REPLIES,
];

/// The reference that every error response must use.
const ERROR_SCHEMA: &str = "#/components/schemas/Error";

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

fn load_doc() -> Json {
    let path = repo_path("docs/openapi.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| {
        panic!("docs/openapi.yaml is not YAML with string keys (quote status codes): {e}")
    })
}

fn load_template() -> Deployment {
    Deployment::load_default().unwrap_or_else(|e| panic!("template.yaml: {e}"))
}

/// Route key → the function (module) serving it, from the code.
fn code_routes() -> BTreeMap<String, &'static str> {
    let mut routes = BTreeMap::new();
    for (function, keys) in banter::functions::all_routes() {
        for key in keys {
            if let Some(other) = routes.insert((*key).to_owned(), function) {
                panic!("{key} is served by both {other} and {function}");
            }
        }
    }
    routes
}

fn function_of(route: &str) -> &'static str {
    code_routes()
        .get(route)
        .copied()
        .unwrap_or_else(|| panic!("{route} is not a route of the code"))
}

// ---------------------------------------------------------------------------------------------
// Document helpers
// ---------------------------------------------------------------------------------------------

/// `METHOD /path` → operation object, for every operation of the document.
fn operations(doc: &Json) -> Result<BTreeMap<String, &Json>, String> {
    let paths = doc
        .get("paths")
        .and_then(Json::as_object)
        .ok_or("the document has no `paths` object")?;
    let mut ops = BTreeMap::new();
    for (path, item) in paths {
        let item = item
            .as_object()
            .ok_or_else(|| format!("path item {path} is not an object"))?;
        for (key, op) in item {
            if METHODS.contains(&key.as_str()) {
                ops.insert(format!("{} {path}", key.to_uppercase()), op);
            } else if !["summary", "description", "servers", "parameters", "$ref"]
                .contains(&key.as_str())
            {
                return Err(format!("path item {path} has an unexpected key {key:?}"));
            }
        }
    }
    Ok(ops)
}

/// Compares the route keys `found` in `what` with the `expected` ones; the error names each
/// missing and each extra route.
fn compare_routes(
    what: &str,
    found: &BTreeSet<String>,
    expected: &BTreeSet<String>,
) -> Result<(), String> {
    let missing: Vec<&String> = expected.difference(found).collect();
    let extra: Vec<&String> = found.difference(expected).collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "{what} lacks these routes of banter::functions::all_routes(): {missing:?}"
        ));
    }
    if !extra.is_empty() {
        problems.push(format!(
            "{what} has routes that banter::functions::all_routes() does not serve: {extra:?}"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Follows `$ref` (local JSON pointers only).
fn pointer<'a>(doc: &'a Json, reference: &str) -> Option<&'a Json> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// `v`, or what its `$ref` chain leads to.
fn resolve<'a>(doc: &'a Json, mut v: &'a Json) -> &'a Json {
    for _ in 0..16 {
        match v.get("$ref").and_then(Json::as_str) {
            Some(r) => match pointer(doc, r) {
                Some(target) => v = target,
                None => return v,
            },
            None => return v,
        }
    }
    v
}

/// Every `$ref` value in `v`.
fn collect_refs<'a>(v: &'a Json, out: &mut Vec<&'a str>) {
    match v {
        Json::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Json::String(r)) => out.push(r),
                    _ => collect_refs(v, out),
                }
            }
        }
        Json::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The `{name}` parameters of a path template.
fn path_params(route: &str) -> BTreeSet<String> {
    route
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

/// The operation's parameters (path-level ones included), resolved.
fn parameters<'a>(doc: &'a Json, route: &str, op: &'a Json) -> Vec<&'a Json> {
    let path = route.split_once(' ').map(|(_, p)| p).unwrap_or_default();
    let shared = doc["paths"][path]["parameters"].as_array();
    shared
        .into_iter()
        .flatten()
        .chain(op["parameters"].as_array().into_iter().flatten())
        .map(|p| resolve(doc, p))
        .collect()
}

/// The declared parameter `name` in `location`, if any (header names ignore case).
fn parameter<'a>(
    doc: &'a Json,
    route: &str,
    op: &'a Json,
    location: &str,
    name: &str,
) -> Option<&'a Json> {
    parameters(doc, route, op).into_iter().find(|p| {
        p["in"] == location
            && p["name"].as_str().is_some_and(|n| {
                n == name || (location == "header" && n.eq_ignore_ascii_case(name))
            })
    })
}

/// The JSON schema of a request body or response, if it has JSON content.
fn json_schema<'a>(doc: &'a Json, holder: &'a Json) -> Option<&'a Json> {
    resolve(doc, holder)
        .get("content")?
        .get("application/json")?
        .get("schema")
}

/// Who may call an operation, as its effective `security` declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// `security: []`: the route never looks at a token.
    TokenFree,
    /// `[{}, {bearerAuth: []}]`: anonymous, or with a valid token.
    Optional,
    /// `[{bearerAuth: []}]`: a valid token is required.
    Required,
}

fn access(doc: &Json, op: &Json) -> Result<Access, String> {
    let security = op
        .get("security")
        .or_else(|| doc.get("security"))
        .ok_or("no security requirement (neither on the operation nor top-level)")?;
    let requirements = security.as_array().ok_or("security is not a list")?;
    let mut anonymous = requirements.is_empty();
    let mut bearer = false;
    for r in requirements {
        let r = r
            .as_object()
            .ok_or("a security requirement is not an object")?;
        if r.is_empty() {
            anonymous = true;
        } else if r.len() == 1 && r.get("bearerAuth") == Some(&json!([])) {
            bearer = true;
        } else {
            return Err(format!("unexpected security requirement {r:?}"));
        }
    }
    Ok(match (anonymous, bearer) {
        (true, true) => Access::Optional,
        (false, true) => Access::Required,
        _ => Access::TokenFree,
    })
}

fn expected_access(route: &str) -> Access {
    if TOKEN_FREE.contains(&route) {
        Access::TokenFree
    } else if PUBLIC_READS.contains(&route) {
        Access::Optional
    } else {
        Access::Required
    }
}

/// Every error code of the code, with its status and REST name.
fn error_codes() -> Vec<(u16, &'static str)> {
    use ErrorCode::*;
    let all = [
        Validation,
        Unauthorized,
        Forbidden,
        AccountSuspended,
        EventFull,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        RateLimited,
        Internal,
        Unavailable,
    ];
    all.iter()
        .map(|c| {
            // Exhaustive on purpose: a new variant must be added above (and documented).
            match c {
                Validation | Unauthorized | Forbidden | AccountSuspended | EventFull | NotFound
                | MethodNotAllowed | Conflict | PayloadTooLarge | RateLimited | Internal
                | Unavailable => (c.http_status(), c.rest_code()),
            }
        })
        .collect()
}

fn code_for_status(status: u16) -> Option<&'static str> {
    error_codes()
        .into_iter()
        .find(|(s, _)| *s == status)
        .map(|(_, c)| c)
}

// ---------------------------------------------------------------------------------------------
// Schema validation
// ---------------------------------------------------------------------------------------------

/// Checks values against the document's schemas (the subset of JSON Schema it uses).
struct Validator<'a> {
    doc: &'a Json,
}

impl Validator<'_> {
    fn check(&self, schema: &Json, value: &Json) -> Result<(), String> {
        let mut errs = Vec::new();
        self.walk(schema, value, "$", &mut errs, 0);
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("\n"))
        }
    }

    fn matches(&self, schema: &Json, value: &Json, depth: usize) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        self.walk(schema, value, "$", &mut errs, depth);
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    fn walk(&self, schema: &Json, value: &Json, at: &str, errs: &mut Vec<String>, depth: usize) {
        if depth > 64 {
            errs.push(format!("{at}: schema nesting too deep (a $ref cycle?)"));
            return;
        }
        let s = match schema {
            Json::Bool(true) => return,
            Json::Bool(false) => {
                errs.push(format!("{at}: no value is allowed here"));
                return;
            }
            Json::Object(s) => s,
            other => {
                errs.push(format!("{at}: schema {other} is not an object"));
                return;
            }
        };
        if let Some(r) = s.get("$ref").and_then(Json::as_str) {
            match pointer(self.doc, r) {
                Some(target) => self.walk(target, value, at, errs, depth + 1),
                None => errs.push(format!("{at}: dangling $ref {r}")),
            }
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Json::String(t) => vec![t.as_str()],
                Json::Array(ts) => ts.iter().filter_map(Json::as_str).collect(),
                _ => Vec::new(),
            };
            if !types.iter().any(|t| type_matches(t, value)) {
                errs.push(format!("{at}: expected {types:?}, got {}", short(value)));
                return;
            }
        }
        if let Some(c) = s.get("const")
            && c != value
        {
            errs.push(format!("{at}: expected {c}, got {}", short(value)));
        }
        if let Some(e) = s.get("enum").and_then(Json::as_array)
            && !e.contains(value)
        {
            errs.push(format!("{at}: {} is not one of {e:?}", short(value)));
        }
        match value {
            Json::String(text) => {
                let n = text.chars().count() as u64;
                if let Some(min) = s.get("minLength").and_then(Json::as_u64)
                    && n < min
                {
                    errs.push(format!("{at}: shorter than {min} characters"));
                }
                if let Some(max) = s.get("maxLength").and_then(Json::as_u64)
                    && n > max
                {
                    errs.push(format!("{at}: longer than {max} characters"));
                }
                match s.get("format").and_then(Json::as_str) {
                    Some("date-time") if chrono::DateTime::parse_from_rfc3339(text).is_err() => {
                        errs.push(format!("{at}: {text:?} is not an RFC 3339 date-time"));
                    }
                    Some("uuid") if uuid::Uuid::parse_str(text).is_err() => {
                        errs.push(format!("{at}: {text:?} is not a UUID"));
                    }
                    _ => {}
                }
            }
            Json::Number(n) => {
                let x = n.as_f64().unwrap_or_default();
                if let Some(min) = s.get("minimum").and_then(Json::as_f64)
                    && x < min
                {
                    errs.push(format!("{at}: {n} is below the minimum {min}"));
                }
                if let Some(max) = s.get("maximum").and_then(Json::as_f64)
                    && x > max
                {
                    errs.push(format!("{at}: {n} is above the maximum {max}"));
                }
            }
            Json::Array(items) => {
                let n = items.len() as u64;
                if let Some(min) = s.get("minItems").and_then(Json::as_u64)
                    && n < min
                {
                    errs.push(format!("{at}: fewer than {min} items"));
                }
                if let Some(max) = s.get("maxItems").and_then(Json::as_u64)
                    && n > max
                {
                    errs.push(format!("{at}: more than {max} items"));
                }
                if let Some(item) = s.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.walk(item, v, &format!("{at}[{i}]"), errs, depth + 1);
                    }
                }
            }
            Json::Object(fields) => {
                for r in s
                    .get("required")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Json::as_str)
                {
                    if !fields.contains_key(r) {
                        errs.push(format!("{at}: required field {r} is missing"));
                    }
                }
                let props = s.get("properties").and_then(Json::as_object);
                for (k, v) in fields {
                    let here = format!("{at}.{k}");
                    if let Some(p) = props.and_then(|p| p.get(k)) {
                        self.walk(p, v, &here, errs, depth + 1);
                        continue;
                    }
                    match s.get("additionalProperties") {
                        Some(Json::Bool(false)) => errs.push(format!("{here}: not allowed")),
                        Some(extra @ Json::Object(_)) => {
                            self.walk(extra, v, &here, errs, depth + 1);
                        }
                        None if props.is_some() => {
                            errs.push(format!("{here}: not described by the schema"));
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        for sub in s
            .get("allOf")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            self.walk(sub, value, at, errs, depth + 1);
        }
        if let Some(any) = s.get("anyOf").and_then(Json::as_array) {
            let results: Vec<_> = any
                .iter()
                .map(|b| self.matches(b, value, depth + 1))
                .collect();
            if !results.iter().any(Result::is_ok) {
                errs.push(format!(
                    "{at}: {} matches no anyOf branch: {:?}",
                    short(value),
                    results
                        .into_iter()
                        .filter_map(Result::err)
                        .collect::<Vec<_>>()
                ));
            }
        }
        if let Some(one) = s.get("oneOf").and_then(Json::as_array) {
            let results: Vec<_> = one
                .iter()
                .map(|b| self.matches(b, value, depth + 1))
                .collect();
            let ok = results.iter().filter(|r| r.is_ok()).count();
            if ok != 1 {
                errs.push(format!(
                    "{at}: {} matches {ok} oneOf branches instead of one: {:?}",
                    short(value),
                    results
                        .into_iter()
                        .filter_map(Result::err)
                        .collect::<Vec<_>>()
                ));
            }
        }
    }
}

fn type_matches(t: &str, v: &Json) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

fn short(v: &Json) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Template routes
// ---------------------------------------------------------------------------------------------

/// Route key → logical id of the resource declaring it: SAM `HttpApi` events of functions
/// (`Properties.Events.*` with `Type: HttpApi`, `Properties.Method` + `Properties.Path`) and
/// plain `AWS::ApiGatewayV2::Route` resources (`RouteKey`) except those of a WebSocket API.
fn template_routes(template: &Deployment) -> Result<BTreeMap<String, String>, String> {
    let resources = template.document.get("Resources");
    if resources.and_then(|r| r.as_mapping()).is_none() {
        return Err("template.yaml has no Resources mapping".into());
    }
    let mut routes = BTreeMap::new();
    let mut add = |key: String, owner: &str| -> Result<(), String> {
        match routes.insert(key.clone(), owner.to_owned()) {
            Some(previous) => Err(format!(
                "template.yaml declares {key} twice ({previous} and {owner})"
            )),
            None => Ok(()),
        }
    };
    let websocket_routes: BTreeSet<&str> = template
        .websocket_apis
        .iter()
        .flat_map(|api| &api.routes)
        .map(|r| r.logical_id.as_str())
        .collect();
    for (name, route) in template.resources_of("AWS::ApiGatewayV2::Route") {
        let key = route
            .get("Properties")
            .and_then(|p| p.get("RouteKey"))
            .and_then(|k| template.resolve(k))
            .ok_or_else(|| format!("{name}: an AWS::ApiGatewayV2::Route without RouteKey"))?;
        if !websocket_routes.contains(name.as_str()) {
            add(key, &name)?;
        }
    }
    for (name, function) in &template.functions {
        for (event_name, event) in function.http_events() {
            let (Some(method), Some(path)) = (&event.method, &event.path) else {
                // The catch-all `$default` route: no operation of the document, it answers
                // 405/404 for what the operations do not match (banter::http::unrouted).
                if event.method.is_none()
                    && event.path.is_none()
                    && function.binary == RestFunction::DEFAULT_ROUTE.name()
                {
                    continue;
                }
                return Err(format!(
                    "{name}.Events.{event_name}: an HttpApi event needs Properties.Method and \
                     Properties.Path (without them it is the catch-all $default route, which \
                     only the {} function serves)",
                    RestFunction::DEFAULT_ROUTE.name()
                ));
            };
            add(format!("{} {path}", method.to_uppercase()), name)?;
        }
    }
    Ok(routes)
}

/// The template's HTTP routes must be exactly the code's, and each template resource must
/// serve the routes of one function only (a route sent to another function's Lambda answers
/// 404).
fn check_template_routes(
    template: &Deployment,
    code: &BTreeMap<String, &'static str>,
) -> Result<(), String> {
    let routes = template_routes(template)?;
    if routes.is_empty() {
        return Err(
            "template.yaml declares no HttpApi routes yet (no Resources.*.Properties.Events.* \
             with Type: HttpApi, and no AWS::ApiGatewayV2::Route): the REST API cannot be \
             compared with the code until the functions and their routes are added"
                .into(),
        );
    }
    let found: BTreeSet<String> = routes.keys().cloned().collect();
    let expected: BTreeSet<String> = code.keys().cloned().collect();
    compare_routes("template.yaml", &found, &expected)?;
    let mut functions_by_resource: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (route, resource) in &routes {
        functions_by_resource
            .entry(resource)
            .or_default()
            .insert(code[route]);
    }
    for (resource, functions) in functions_by_resource {
        if functions.len() > 1 {
            return Err(format!(
                "template.yaml: {resource} declares routes of several functions {functions:?}; \
                 each function's Lambda serves only its own routes"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Driving the handlers
// ---------------------------------------------------------------------------------------------

/// Percent-encodes a query component.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One request to a route.
#[derive(Debug, Clone)]
struct Call {
    route: String,
    path: Vec<(String, String)>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

impl Call {
    fn to(route: &str) -> Self {
        Self {
            route: route.to_owned(),
            path: Vec::new(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    fn path(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        self.path.push((name.to_owned(), value.to_string()));
        self
    }

    fn query(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn token(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    fn json(self, body: Json) -> Self {
        self.raw(body.to_string())
    }

    fn raw(mut self, body: String) -> Self {
        self.body = Some(body);
        self
    }

    /// The API Gateway HTTP API (payload 2.0) event of this call.
    fn event(&self, request_id: &str) -> Json {
        let (method, template) = self.route.split_once(' ').expect("a route key");
        let mut path = template.to_owned();
        for (k, v) in &self.path {
            path = path.replace(&format!("{{{k}}}"), v);
        }
        let raw_query = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut headers = serde_json::Map::new();
        headers.insert("x-request-id".into(), json!(request_id));
        if self.body.is_some() {
            headers.insert("content-type".into(), json!("application/json"));
        }
        for (k, v) in &self.headers {
            headers.insert(k.clone(), json!(v));
        }
        let mut e = json!({
            "version": "2.0",
            "routeKey": self.route,
            "rawPath": path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
                "domainPrefix": "api", "requestId": format!("gw-{request_id}"),
                "routeKey": self.route, "stage": "$default",
                "time": "20/Nov/2026:19:00:00 +0000", "timeEpoch": 1_795_201_200_000_u64,
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.9", "userAgent": "openapi-test"}
            },
            "isBase64Encoded": false
        });
        if !self.path.is_empty() {
            e["pathParameters"] = self
                .path
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        if !self.query.is_empty() {
            e["queryStringParameters"] = self
                .query
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        if let Some(b) = &self.body {
            e["body"] = json!(b);
        }
        e
    }
}

/// Serves a request with the function that declares its route.
async fn serve(app: &App, req: lambda_http::Request, function: &str) -> Response<Body> {
    match function {
        "auth" => banter::http::serve(app, req, rest::auth::route).await,
        "users" => banter::http::serve(app, req, rest::users::route).await,
        "events" => banter::http::serve(app, req, rest::events::route).await,
        "comments" => banter::http::serve(app, req, rest::comments::route).await,
        "conversations" => banter::http::serve(app, req, rest::conversations::route).await,
        "messages" => banter::http::serve(app, req, rest::messages::route).await,
        "health" => banter::http::serve(app, req, rest::health::route).await,
        "uploads" => banter::http::serve(app, req, rest::uploads::route).await,
        other => panic!("no dispatcher for function {other}: add it to serve()"),
    }
}

/// A response as the tests read it.
#[derive(Debug)]
struct Answer {
    route: String,
    status: u16,
    body: Json,
}

impl Answer {
    #[track_caller]
    fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status, status,
            "{} answered {}: {}",
            self.route, self.status, self.body
        );
        self
    }

    #[track_caller]
    fn str(&self, pointer: &str) -> String {
        self.body
            .pointer(pointer)
            .and_then(Json::as_str)
            .unwrap_or_else(|| panic!("{}: no string at {pointer} in {}", self.route, self.body))
            .to_owned()
    }
}

/// An in-memory app whose every answer is checked against the document.
struct Api {
    app: App,
    doc: Json,
    calls: u32,
    /// Route → statuses it answered.
    answered: BTreeMap<String, BTreeSet<u16>>,
}

impl Api {
    fn new(config: Config) -> Self {
        let (app, _queue) = App::in_memory(config).expect("in-memory app");
        Self {
            app,
            doc: load_doc(),
            calls: 0,
            answered: BTreeMap::new(),
        }
    }

    /// The JSON example of the operation's request body.
    fn example(&self, route: &str) -> Json {
        let ops = operations(&self.doc).expect("operations");
        let op = ops[route];
        let media = &resolve(&self.doc, &op["requestBody"])["content"]["application/json"];
        media
            .get("example")
            .cloned()
            .unwrap_or_else(|| panic!("{route}: the request body has no example"))
    }

    async fn send(&mut self, call: Call) -> Answer {
        self.calls += 1;
        let request_id = format!("openapi-{}", self.calls);
        let event = call.event(&request_id);
        let req = lambda_http::request::from_str(&event.to_string())
            .unwrap_or_else(|e| panic!("{}: not an API Gateway event: {e}", call.route));
        let response = serve(&self.app, req, function_of(&call.route)).await;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let echoed = header("x-request-id");
        let retry_after = header("retry-after");
        let body = match response.body() {
            Body::Empty => Json::Null,
            Body::Text(t) => serde_json::from_str(t)
                .unwrap_or_else(|e| panic!("{}: answered non-JSON {t:?}: {e}", call.route)),
            Body::Binary(b) => serde_json::from_slice(b)
                .unwrap_or_else(|e| panic!("{}: answered non-JSON bytes: {e}", call.route)),
            _ => panic!("{}: unexpected body kind", call.route),
        };
        assert_eq!(
            echoed.as_deref(),
            Some(request_id.as_str()),
            "{}: X-Request-ID not echoed",
            call.route
        );
        if status >= 400 {
            assert_eq!(
                body.pointer("/error/request_id").and_then(Json::as_str),
                Some(request_id.as_str()),
                "{}: error.request_id",
                call.route
            );
        }
        if status == 429 {
            assert!(
                retry_after.is_some(),
                "{}: 429 without Retry-After",
                call.route
            );
        }
        if let Err(e) = check_answer(&self.doc, &call, status, &body) {
            panic!(
                "{} {:?} answered {status} {body}\nwhich docs/openapi.yaml does not describe:\n{e}",
                call.route, call.query
            );
        }
        self.answered
            .entry(call.route.clone())
            .or_default()
            .insert(status);
        Answer {
            route: call.route,
            status,
            body,
        }
    }
}

/// Whether the document describes this answer to this call: the status is declared, the body
/// matches its schema, the parameters sent are declared, and (for a success) the request body
/// matches the documented request schema.
fn check_answer(doc: &Json, call: &Call, status: u16, body: &Json) -> Result<(), String> {
    let ops = operations(doc)?;
    let op = ops
        .get(&call.route)
        .ok_or_else(|| format!("no operation {}", call.route))?;
    let v = Validator { doc };
    for (name, _) in &call.query {
        if parameter(doc, &call.route, op, "query", name).is_none() {
            return Err(format!("query parameter {name} is not declared"));
        }
    }
    for (name, _) in &call.path {
        if parameter(doc, &call.route, op, "path", name).is_none() {
            return Err(format!("path parameter {name} is not declared"));
        }
    }
    for (name, _) in &call.headers {
        if name != "authorization" && parameter(doc, &call.route, op, "header", name).is_none() {
            return Err(format!("header {name} is not declared"));
        }
    }
    let response = op["responses"]
        .get(status.to_string())
        .ok_or_else(|| format!("status {status} is not declared for the operation"))?;
    match json_schema(doc, response) {
        Some(schema) => v
            .check(schema, body)
            .map_err(|e| format!("the {status} body does not match its schema:\n{e}"))?,
        None if body.is_null() => {}
        None => {
            return Err(format!(
                "the {status} response is documented without a body"
            ));
        }
    }
    if status >= 400 {
        let code = body.pointer("/error/code").and_then(Json::as_str);
        if code != code_for_status(status) {
            return Err(format!(
                "error code {code:?} does not belong to status {status}"
            ));
        }
    }
    if (200..300).contains(&status)
        && let Some(text) = &call.body
    {
        let request_schema = json_schema(doc, &op["requestBody"])
            .ok_or("the operation accepted a body but documents none")?;
        let sent: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
        v.check(request_schema, &sent)
            .map_err(|e| format!("the code accepted a body its schema refuses:\n{e}"))?;
    }
    Ok(())
}

/// Limits high enough for a scenario of many calls.
fn roomy() -> Config {
    Config {
        comment_rate: RateRule::per(10_000, 10),
        message_rate: RateRule::per(10_000, 10),
        rest_rate: RateRule::per(10_000, 60),
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The document itself
// ---------------------------------------------------------------------------------------------

#[test]
fn the_document_is_openapi_3_1() {
    let doc = load_doc();
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(
        version.starts_with("3.1"),
        "openapi is {version:?}, not 3.1.x"
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    for plain in [
        "x-amazon-apigateway-integration",
        "x-amazon-apigateway-cors",
    ] {
        assert!(
            !serde_json::to_string(&doc).unwrap().contains(plain),
            "the document is plain OpenAPI: no {plain}"
        );
    }
}

#[test]
fn every_ref_resolves_and_every_component_is_used() {
    let doc = load_doc();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in &refs {
        assert!(r.starts_with("#/"), "non-local $ref {r}");
        assert!(pointer(&doc, r).is_some(), "dangling $ref {r}");
    }
    let used: BTreeSet<&str> = refs.iter().copied().collect();
    for kind in [
        "schemas",
        "parameters",
        "responses",
        "headers",
        "securitySchemes",
    ] {
        for name in doc["components"][kind]
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
        {
            let reference = format!("#/components/{kind}/{name}");
            let referenced = used.contains(reference.as_str())
                || (kind == "securitySchemes" && name == "bearerAuth");
            assert!(referenced, "{reference} is never used");
        }
    }
}

#[test]
fn the_operations_are_exactly_the_code_routes() {
    let doc = load_doc();
    let found: BTreeSet<String> = operations(&doc).unwrap().into_keys().collect();
    let expected: BTreeSet<String> = code_routes().into_keys().collect();
    assert_eq!(
        expected.len(),
        banter::functions::all_routes()
            .iter()
            .map(|(_, r)| r.len())
            .sum::<usize>()
    );
    if let Err(e) = compare_routes("docs/openapi.yaml", &found, &expected) {
        panic!("{e}");
    }
}

#[test]
fn a_route_missing_from_the_document_is_detected() {
    let mut doc = load_doc();
    let removed = doc["paths"]["/v1/events/{event_id}/comments"]
        .as_object_mut()
        .unwrap()
        .remove("post");
    assert!(removed.is_some());
    doc["paths"]["/v1/nowhere"] = json!({"get": {"operationId": "nowhere", "responses": {}}});
    let found: BTreeSet<String> = operations(&doc).unwrap().into_keys().collect();
    let expected: BTreeSet<String> = code_routes().into_keys().collect();
    let err = compare_routes("docs/openapi.yaml", &found, &expected).unwrap_err();
    assert!(
        err.contains("lacks") && err.contains("\"POST /v1/events/{event_id}/comments\""),
        "{err}"
    );
    assert!(err.contains("\"GET /v1/nowhere\""), "{err}");
    assert!(
        !err.contains("GET /v1/events/{event_id}/comments\""),
        "{err}"
    );
}

#[test]
fn every_operation_is_identified_tagged_and_declares_its_path_parameters() {
    let doc = load_doc();
    let code = code_routes();
    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let mut ids = BTreeSet::new();
    for (route, op) in operations(&doc).unwrap() {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{route}: no operationId"));
        assert!(ids.insert(id), "{route}: operationId {id} is used twice");
        let function = code.get(&route).copied().unwrap_or_default();
        assert_eq!(op["tags"], json!([function]), "{route}: tags");
        assert!(tags.contains(function), "tag {function} is not declared");
        assert!(op["summary"].is_string(), "{route}: no summary");
        let description = op["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("**Authorization:**"),
            "{route}: the description states no authorization rule"
        );
        let declared: BTreeSet<String> = parameters(&doc, &route, op)
            .into_iter()
            .filter(|p| p["in"] == "path")
            .map(|p| {
                assert_eq!(p["required"], true, "{route}: path parameters are required");
                p["name"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(declared, path_params(&route), "{route}: path parameters");
        for p in parameters(&doc, &route, op) {
            assert!(p["schema"].is_object(), "{route}: parameter without schema");
        }
    }
    assert_eq!(
        tags,
        banter::functions::all_routes()
            .iter()
            .map(|(f, _)| *f)
            .collect(),
        "one tag per function"
    );
}

#[test]
fn every_operation_declares_its_errors_with_the_shared_schema() {
    let doc = load_doc();
    for (route, op) in operations(&doc).unwrap() {
        let responses = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{route}: no responses"));
        let mut client_errors = 0;
        for (status, response) in responses {
            let code: u16 = status
                .parse()
                .unwrap_or_else(|_| panic!("{route}: response key {status} is not a status"));
            if code < 400 {
                assert!(
                    (200..300).contains(&code),
                    "{route}: unexpected status {code}"
                );
                continue;
            }
            let schema = json_schema(&doc, response)
                .unwrap_or_else(|| panic!("{route} {code}: no JSON body"));
            assert_eq!(
                schema["$ref"], ERROR_SCHEMA,
                "{route} {code}: errors use the shared Error schema"
            );
            let example = resolve(&doc, response)["content"]["application/json"]["example"]
                .pointer("/error/code")
                .and_then(Json::as_str);
            assert_eq!(
                example,
                code_for_status(code),
                "{route} {code}: the response's example code belongs to another status"
            );
            if code < 500 {
                client_errors += 1;
            }
        }
        assert!(client_errors > 0, "{route}: no 4xx response");
        let has = |s: &str| responses.contains_key(s);
        assert!(
            has("200") || has("201") || has("204"),
            "{route}: no success"
        );
        for always in ["429", "500", "503"] {
            assert!(has(always), "{route}: every route can answer {always}");
        }
        let body = op.get("requestBody").is_some();
        assert_eq!(
            has("413"),
            body,
            "{route}: 413 exactly when there is a body"
        );
        let inputs = body
            || parameters(&doc, &route, op)
                .iter()
                .any(|p| p["in"] == "path" || p["in"] == "query");
        assert!(!inputs || has("400"), "{route}: inputs but no 400");
    }
}

#[test]
fn every_operation_declares_the_security_the_code_applies() {
    let doc = load_doc();
    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
    for (route, op) in operations(&doc).unwrap() {
        let declared = access(&doc, op).unwrap_or_else(|e| panic!("{route}: {e}"));
        assert_eq!(declared, expected_access(&route), "{route}: security");
        let responses = &op["responses"];
        if declared != Access::TokenFree {
            assert!(
                responses.get("401").is_some(),
                "{route}: takes tokens but declares no 401"
            );
        }
    }
}

#[test]
fn page_limits_and_sizes_match_the_code() {
    let doc = load_doc();
    let paged: BTreeMap<&str, (usize, usize)> = [
        (
            users::SEARCH,
            (users::DEFAULT_SEARCH_LIMIT, users::MAX_SEARCH_LIMIT),
        ),
        (
            events::LIST,
            (events::DEFAULT_LIST_LIMIT, events::MAX_LIST_LIMIT),
        ),
        (
            events::BANS,
            (events::DEFAULT_LIST_LIMIT, events::MAX_LIST_LIMIT),
        ),
        (
            events::MODERATION_LOG,
            (events::DEFAULT_LIST_LIMIT, events::MAX_LIST_LIMIT),
        ),
        (
            comments::LIST,
            (comments::DEFAULT_LIMIT, comments::MAX_LIMIT),
        ),
        (
            comments::REPLIES,
            (comments::DEFAULT_LIMIT, comments::MAX_LIMIT),
        ),
        (
            conversations::LIST,
            (conversations::DEFAULT_LIMIT, conversations::MAX_LIMIT),
        ),
        (
            messages::LIST,
            (messages::DEFAULT_LIMIT, messages::MAX_LIMIT),
        ),
    ]
    .into_iter()
    .collect();
    for (route, op) in operations(&doc).unwrap() {
        let limit = parameter(&doc, &route, op, "query", "limit");
        let cursor = parameter(&doc, &route, op, "query", "cursor");
        match paged.get(route.as_str()) {
            Some((default, max)) => {
                let schema = resolve(&doc, &limit.expect("limit")["schema"]);
                assert_eq!(schema["default"], json!(default), "{route}: default limit");
                assert_eq!(schema["maximum"], json!(max), "{route}: largest limit");
                assert_eq!(schema["minimum"], json!(1), "{route}: smallest limit");
                assert!(cursor.is_some(), "{route}: pages without a cursor");
                let page = json_schema(&doc, &op["responses"]["200"]).unwrap();
                let page = resolve(&doc, page);
                for field in ["has_more", "next_cursor"] {
                    assert!(
                        page["required"]
                            .as_array()
                            .is_some_and(|r| r.contains(&json!(field))),
                        "{route}: the page lacks {field}"
                    );
                }
            }
            None => assert!(
                limit.is_none() && cursor.is_none(),
                "{route}: limit or cursor on a route that does not page"
            ),
        }
    }
    let ops = operations(&doc).unwrap();
    let q = parameter(&doc, users::SEARCH, ops[users::SEARCH], "query", "q").unwrap();
    assert_eq!(q["schema"]["maxLength"], json!(users::MAX_QUERY_CHARS));
    assert_eq!(q["required"], true);
    let too_large = doc["components"]["responses"]["PayloadTooLarge"]["description"]
        .as_str()
        .unwrap();
    assert!(
        too_large.contains(&banter::http::MAX_BODY_BYTES.to_string()),
        "the 413 description names the body limit"
    );
    let key = parameter(
        &doc,
        comments::CREATE,
        ops[comments::CREATE],
        "header",
        "Idempotency-Key",
    );
    assert!(key.is_some(), "comment posts take an Idempotency-Key");
    let send = resolve(
        &doc,
        json_schema(&doc, &ops[messages::SEND]["requestBody"]).unwrap(),
    );
    assert!(
        send["required"]
            .as_array()
            .unwrap()
            .contains(&json!("client_message_id")),
        "sends require client_message_id"
    );
}

#[test]
fn error_codes_match_the_code() {
    let doc = load_doc();
    let documented: BTreeSet<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Json::as_str)
        .collect();
    let codes: BTreeSet<&str> = error_codes().into_iter().map(|(_, c)| c).collect();
    assert_eq!(documented, codes);
    let description = doc["components"]["schemas"]["ErrorCode"]["description"]
        .as_str()
        .unwrap();
    for (status, code) in error_codes() {
        assert!(
            description.contains(&format!("`{code}` {status}")),
            "ErrorCode's description maps {code} to {status}"
        );
    }
    // The envelope is what the code sends.
    let e = banter::error::AppError::field("content", "must not be empty");
    let body = serde_json::to_value(e.rest_body("req-1", banter::time::now())).unwrap();
    Validator { doc: &doc }
        .check(&json!({"$ref": ERROR_SCHEMA}), &body)
        .unwrap();
}

#[test]
fn every_example_and_default_matches_its_schema() {
    fn walk(v: &Validator, node: &Json, at: &str, checked: &mut usize) {
        let Json::Object(m) = node else {
            if let Json::Array(a) = node {
                for (i, x) in a.iter().enumerate() {
                    walk(v, x, &format!("{at}[{i}]"), checked);
                }
            }
            return;
        };
        let schema = m.get("schema").unwrap_or(node);
        let mut check = |what: &str, value: &Json| {
            *checked += 1;
            if let Err(e) = v.check(schema, value) {
                panic!("{at}: {what} does not match its schema:\n{e}");
            }
        };
        if let Some(example) = m.get("example") {
            check("example", example);
        }
        match m.get("examples") {
            Some(Json::Object(named)) => {
                for (name, ex) in named {
                    check(&format!("example {name}"), &ex["value"]);
                }
            }
            Some(Json::Array(list)) => list.iter().for_each(|ex| check("examples entry", ex)),
            _ => {}
        }
        if !m.contains_key("schema")
            && let Some(default) = m.get("default")
        {
            check("default", default);
        }
        for (k, child) in m {
            if !["example", "examples", "default", "enum", "const"].contains(&k.as_str()) {
                walk(v, child, &format!("{at}/{k}"), checked);
            }
        }
    }
    let doc = load_doc();
    let mut checked = 0;
    walk(&Validator { doc: &doc }, &doc, "#", &mut checked);
    assert!(checked > 40, "only {checked} examples and defaults found");
    // The validator itself refuses what it should.
    let v = Validator { doc: &doc };
    let c = json!({"$ref": "#/components/schemas/Comment"});
    let mut comment = doc["paths"]["/v1/events/{event_id}/comments"]["post"]["responses"]["201"]
        ["content"]["application/json"]["example"]
        .clone();
    v.check(&c, &comment).unwrap();
    comment["surprise"] = json!(1);
    assert!(v.check(&c, &comment).unwrap_err().contains("surprise"));
    comment.as_object_mut().unwrap().remove("surprise");
    comment["moderation_status"] = json!("hidden");
    assert!(v.check(&c, &comment).is_err());
    comment["moderation_status"] = json!("approved");
    comment.as_object_mut().unwrap().remove("position");
    assert!(v.check(&c, &comment).unwrap_err().contains("position"));
    comment["position"] = json!(3);
    comment["created_at"] = json!("yesterday");
    assert!(v.check(&c, &comment).is_err());
}

#[test]
fn the_api_gateway_samples_are_valid_requests_of_the_document() {
    let doc = load_doc();
    let ops = operations(&doc).unwrap();
    let v = Validator { doc: &doc };
    let mut seen = 0;
    let dir = repo_path("events");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("http-") || !name.ends_with(".json") {
            continue;
        }
        seen += 1;
        let sample: Json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let route = sample["routeKey"].as_str().unwrap();
        let op = ops
            .get(route)
            .unwrap_or_else(|| panic!("{name}: {route} is not documented"));
        let params: BTreeSet<String> = sample["pathParameters"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys().cloned())
            .collect();
        assert_eq!(params, path_params(route), "{name}: path parameters");
        for q in sample["queryStringParameters"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
        {
            assert!(
                parameter(&doc, route, op, "query", q).is_some(),
                "{name}: query parameter {q} is not documented"
            );
        }
        if sample["headers"].get("idempotency-key").is_some() {
            assert!(parameter(&doc, route, op, "header", "idempotency-key").is_some());
        }
        match sample["body"].as_str() {
            Some(text) => {
                let body: Json = serde_json::from_str(text).unwrap();
                let schema = json_schema(&doc, &op["requestBody"])
                    .unwrap_or_else(|| panic!("{name}: {route} documents no body"));
                if let Err(e) = v.check(schema, &body) {
                    panic!("{name}: the sample body does not match the document:\n{e}");
                }
            }
            None => assert!(
                op.get("requestBody").is_none(),
                "{name}: {route} documents a body the sample does not send"
            ),
        }
    }
    assert!(seen >= code_routes().len(), "only {seen} samples");
}

// ---------------------------------------------------------------------------------------------
// The template
// ---------------------------------------------------------------------------------------------

#[test]
fn the_template_declares_exactly_the_code_routes() {
    // Fails until the functions and their HttpApi events are in template.yaml: a REST API
    // whose routes cannot be compared must not pass.
    if let Err(e) = check_template_routes(&load_template(), &code_routes()) {
        panic!("{e}");
    }
}

#[test]
fn the_template_lets_browsers_use_the_documented_methods_and_headers() {
    let template = load_template();
    let doc = load_doc();
    let apis = template.resources_of("AWS::Serverless::HttpApi");
    assert_eq!(
        apis.len(),
        1,
        "template.yaml declares one AWS::Serverless::HttpApi"
    );
    let cors = template
        .http_cors
        .as_ref()
        .expect("the HttpApi has a CorsConfiguration (browsers call the API)");
    let list = |items: &[String]| -> BTreeSet<String> {
        items.iter().map(|v| v.to_ascii_lowercase()).collect()
    };
    let methods = list(&cors.allow_methods);
    for route in operations(&doc).unwrap().keys() {
        let method = route.split_once(' ').unwrap().0.to_ascii_lowercase();
        assert!(
            methods.contains(&method) || methods.contains("*"),
            "CorsConfiguration.AllowMethods lacks {method}"
        );
    }
    let allowed = list(&cors.allow_headers);
    let mut sent = BTreeSet::from(["authorization".to_owned(), "content-type".to_owned()]);
    for (route, op) in operations(&doc).unwrap() {
        for p in parameters(&doc, &route, op) {
            if p["in"] == "header" {
                sent.insert(p["name"].as_str().unwrap().to_ascii_lowercase());
            }
        }
    }
    for header in sent {
        assert!(
            allowed.contains(&header) || allowed.contains("*"),
            "CorsConfiguration.AllowHeaders lacks {header}"
        );
    }
    let exposed = list(&cors.expose_headers);
    for header in doc["components"]["headers"].as_object().unwrap().keys() {
        let header = header.to_ascii_lowercase();
        assert!(
            exposed.contains(&header) || exposed.contains("*"),
            "CorsConfiguration.ExposeHeaders lacks {header}"
        );
    }
}

#[test]
fn template_routes_are_read_through_short_tags_and_gaps_are_detected() {
    let template = Deployment::parse(
        r#"
Resources:
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: !Ref Stage
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: !Sub "${AWS::StackName}-auth"
      Role: !GetAtt AuthRole.Arn
      Events:
        Register:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Method: post
            Path: /v1/auth/register
        Login:
          Type: HttpApi
          Properties: {ApiId: !Ref HttpApi, Method: POST, Path: !Sub /v1/auth/login}
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
  HealthRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref HttpApi
      RouteKey: GET /v1/health
  WebSocketApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      ProtocolType: WEBSOCKET
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: {Ref: WebSocketApi}
      RouteKey: $connect
  DefaultRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref WebSocketApi
      RouteKey: $default
"#,
    )
    .unwrap();
    let routes = template_routes(&template).unwrap();
    assert_eq!(
        routes.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "GET /v1/health",
            "POST /v1/auth/login",
            "POST /v1/auth/register"
        ]
    );
    assert_eq!(routes["POST /v1/auth/login"], "AuthFunction");
    let err = check_template_routes(&template, &code_routes()).unwrap_err();
    assert!(err.contains("\"POST /v1/auth/refresh\""), "{err}");
    assert!(err.contains("\"GET /v1/events\""), "{err}");

    // No HttpApi route at all is a failure with a clear message, not a pass.
    let tables_only = Deployment::parse(
        "Resources:\n  UsersTable:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName: !Sub \"${AWS::StackName}-users\"\n",
    )
    .unwrap();
    let err = check_template_routes(&tables_only, &code_routes()).unwrap_err();
    assert!(err.contains("declares no HttpApi routes"), "{err}");

    // One resource per function passes; a route on another function's resource does not.
    let build = |owner: &dyn Fn(&str, &str) -> String| -> Deployment {
        let mut by_owner: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (route, function) in code_routes() {
            by_owner
                .entry(owner(&route, function))
                .or_default()
                .push(route);
        }
        let mut text = String::from("Resources:\n");
        for (owner, routes) in by_owner {
            text.push_str(&format!(
                "  {owner}Function:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
                 CodeUri: !Sub \"functions/{owner}\"\n      Events:\n"
            ));
            for (i, route) in routes.iter().enumerate() {
                let (method, path) = route.split_once(' ').unwrap();
                text.push_str(&format!(
                    "        E{i}:\n          Type: HttpApi\n          Properties:\n            \
                     ApiId: !Ref HttpApi\n            Method: {method}\n            Path: {path}\n"
                ));
            }
        }
        Deployment::parse(&text).unwrap()
    };
    check_template_routes(&build(&|_, f| f.to_owned()), &code_routes()).unwrap();
    let misplaced = build(&|route, f| {
        if route == events::LIST {
            "users".to_owned()
        } else {
            f.to_owned()
        }
    });
    let err = check_template_routes(&misplaced, &code_routes()).unwrap_err();
    assert!(
        err.contains("usersFunction") && err.contains("several functions"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// The handlers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn anonymous_and_forged_token_calls_match_the_declared_security() {
    let mut api = Api::new(roomy());
    let doc = load_doc();
    let ops = operations(&doc).unwrap();
    for route in code_routes().into_keys() {
        let op = ops[route.as_str()];
        let declared = access(&doc, op).unwrap();
        let mut call = Call::to(&route);
        for name in path_params(&route) {
            call = call.path(&name, EventId::new());
        }
        if op.get("requestBody").is_some() {
            call = call.raw("{}".into());
        }
        let anonymous = api.send(call.clone()).await;
        let forged = api.send(call.token("not-a-token")).await;
        match declared {
            Access::Required => assert_eq!(anonymous.status, 401, "{route} is open to anyone"),
            _ => assert_ne!(anonymous.status, 401, "{route} refuses anonymous calls"),
        }
        match declared {
            Access::TokenFree => assert_ne!(forged.status, 401, "{route} reads tokens"),
            _ => assert_eq!(forged.status, 401, "{route} accepts a forged token"),
        }
    }
}

#[tokio::test]
async fn rate_limited_answers_are_documented() {
    let mut api = Api::new(Config {
        auth_ip_rate: RateRule::per(1, 60),
        anonymous_ip_rate: RateRule::per(1, 60),
        ..roomy()
    });
    let login = Call::to(auth::LOGIN).json(json!({"username": "nobody", "password": "whatever1"}));
    api.send(login.clone()).await.expect(401);
    api.send(login).await.expect(429);
    api.send(Call::to(events::LIST)).await.expect(200);
    api.send(Call::to(events::LIST)).await.expect(429);
    // Anonymous health checks are never limited.
    for _ in 0..3 {
        api.send(Call::to(health::HEALTH)).await.expect(200);
    }
}

/// Drives every route of the code through its handler, with the document's request examples
/// where they can be used as they are, and checks every answer against the document.
#[tokio::test]
async fn every_route_answers_as_documented() {
    let mut api = Api::new(roomy());

    // health
    let h = api.send(Call::to(health::HEALTH)).await.expect(200);
    assert_eq!(h.body["status"], "ok");

    // auth: the documented examples sign Ada up and in.
    let register = api.example(auth::REGISTER);
    let ada = api
        .send(Call::to(auth::REGISTER).json(register.clone()))
        .await
        .expect(201);
    let token = ada.str("/access_token");
    let ada_id = ada.str("/user/user_id");
    let bob = api
        .send(
            Call::to(auth::REGISTER)
                .json(json!({"username": "bob_b", "password": "hunter2hunter2"})),
        )
        .await
        .expect(201);
    let (bob_token, bob_id) = (bob.str("/access_token"), bob.str("/user/user_id"));
    let cy = api
        .send(Call::to(auth::REGISTER).json(json!({"username": "bobby_t", "password": "hunter2hunter2", "display_name": null, "email": null})))
        .await
        .expect(201);
    let (cy_token, cy_id) = (cy.str("/access_token"), cy.str("/user/user_id"));
    let mut taken = register.clone();
    taken["username"] = json!("ADA_L");
    api.send(Call::to(auth::REGISTER).json(taken))
        .await
        .expect(409);
    api.send(Call::to(auth::REGISTER).json(json!({"username": 5})))
        .await
        .expect(400);
    let login = api.example(auth::LOGIN);
    let signed_in = api
        .send(Call::to(auth::LOGIN).json(login.clone()))
        .await
        .expect(200);
    let mut wrong = login.clone();
    wrong["password"] = json!("not the password");
    api.send(Call::to(auth::LOGIN).json(wrong))
        .await
        .expect(401);
    let refreshed = api
        .send(
            Call::to(auth::REFRESH).json(json!({"refresh_token": signed_in.str("/refresh_token")})),
        )
        .await
        .expect(200);
    api.send(Call::to(auth::REFRESH).json(json!({"refresh_token": "garbage"})))
        .await
        .expect(401);
    api.send(
        Call::to(auth::LOGIN)
            .json(json!({"email": "ada@example.com", "username": "ada_l", "password": "x"})),
    )
    .await
    .expect(400);

    // auth: the caller's sessions; one more sign-in, listed and signed out from another.
    let phone = api
        .send(Call::to(auth::LOGIN).json(login.clone()))
        .await
        .expect(200);
    let phone_token = phone.str("/access_token");
    let listed = api
        .send(Call::to(auth::LIST_SESSIONS).token(&phone_token))
        .await
        .expect(200);
    let phone_session = listed.body["sessions"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["current"] == true))
        .and_then(|s| s["session_id"].as_str())
        .expect("the current session")
        .to_owned();
    api.send(Call::to(auth::LIST_SESSIONS)).await.expect(401);
    for status in [204, 404] {
        api.send(
            Call::to(auth::REVOKE_SESSION)
                .token(&token)
                .path("session_id", &phone_session),
        )
        .await
        .expect(status);
    }
    api.send(
        Call::to(auth::REVOKE_SESSION)
            .token(&token)
            .path("session_id", "not-a-session"),
    )
    .await
    .expect(400);
    api.send(Call::to(auth::LIST_SESSIONS).token(&phone_token))
        .await
        .expect(401);

    // users
    let me = api
        .send(Call::to(users::GET_ME).token(&token))
        .await
        .expect(200);
    assert_eq!(me.str("/user_id"), ada_id);
    api.send(Call::to(users::GET_ME)).await.expect(401);
    api.send(
        Call::to(users::PATCH_ME)
            .token(&token)
            .json(api.example(users::PATCH_ME)),
    )
    .await
    .expect(200);
    api.send(
        Call::to(users::PATCH_ME)
            .token(&token)
            .json(json!({"avatar_url": null, "email": ""})),
    )
    .await
    .expect(200);
    api.send(
        Call::to(users::PATCH_ME)
            .token(&token)
            .json(json!({"username": "x"})),
    )
    .await
    .expect(400);
    // As documented: this typed body reports a wrongly typed value on `body`.
    let typed = api
        .send(
            Call::to(users::PATCH_ME)
                .token(&token)
                .json(json!({"display_name": 5})),
        )
        .await
        .expect(400);
    assert_eq!(typed.body["error"]["details"][0]["field"], "body");
    api.send(
        Call::to(users::GET_USER)
            .token(&token)
            .path("user_id", &bob_id),
    )
    .await
    .expect(200);
    api.send(
        Call::to(users::GET_USER)
            .token(&token)
            .path("user_id", EventId::new()),
    )
    .await
    .expect(404);
    api.send(
        Call::to(users::GET_USER)
            .token(&token)
            .path("user_id", "nope"),
    )
    .await
    .expect(400);
    let page = api
        .send(
            Call::to(users::SEARCH)
                .token(&token)
                .query("q", "bob")
                .query("limit", 1),
        )
        .await
        .expect(200);
    assert_eq!(page.body["has_more"], true);
    let cursor = page.str("/next_cursor");
    let last = api
        .send(
            Call::to(users::SEARCH)
                .token(&token)
                .query("q", "bob")
                .query("limit", 1)
                .query("cursor", &cursor),
        )
        .await
        .expect(200);
    assert_eq!(last.body["users"][0]["user_id"], json!(cy_id));
    api.send(
        Call::to(users::SEARCH)
            .token(&token)
            .query("q", "ada")
            .query("cursor", &cursor),
    )
    .await
    .expect(400);

    // users: suspension, by a global moderator (Ada, made one here).
    let mut config = (*api.app.config).clone();
    config.moderators.insert(ada_id.parse().expect("a user id"));
    api.app.config = std::sync::Arc::new(config);
    for (call, status) in [
        (Call::to(users::SUSPEND).path("user_id", &cy_id), 200),
        (Call::to(users::REINSTATE).path("user_id", &cy_id), 200),
        (Call::to(users::SUSPEND).path("user_id", &ada_id), 409),
        (
            Call::to(users::SUSPEND).path("user_id", EventId::new()),
            404,
        ),
        (Call::to(users::REINSTATE).path("user_id", "nope"), 400),
    ] {
        api.send(call.token(&token)).await.expect(status);
    }
    api.send(
        Call::to(users::SUSPEND)
            .token(&bob_token)
            .path("user_id", &cy_id),
    )
    .await
    .expect(403);
    api.send(Call::to(users::REINSTATE).path("user_id", &cy_id))
        .await
        .expect(401);

    // events
    let event = api
        .send(
            Call::to(events::CREATE)
                .token(&token)
                .json(api.example(events::CREATE)),
        )
        .await
        .expect(201);
    let event_id = event.str("/event_id");
    let scheduled = api
        .send(Call::to(events::CREATE).token(&token).json(
            json!({"title": "Later", "event_type": "news", "start_time": "2026-12-01T10:00:00Z"}),
        ))
        .await
        .expect(201)
        .str("/event_id");
    let other_live = api
        .send(
            Call::to(events::CREATE)
                .token(&token)
                .json(api.example(events::CREATE)),
        )
        .await
        .expect(201)
        .str("/event_id");
    api.send(Call::to(events::CREATE).json(api.example(events::CREATE)))
        .await
        .expect(401);
    api.send(Call::to(events::CREATE).token(&token).json(json!({})))
        .await
        .expect(400);
    let status = api.example(events::SET_STATUS);
    api.send(
        Call::to(events::SET_STATUS)
            .token(&bob_token)
            .path("event_id", &event_id)
            .json(status.clone()),
    )
    .await
    .expect(403);
    for id in [&event_id, &other_live] {
        api.send(
            Call::to(events::SET_STATUS)
                .token(&token)
                .path("event_id", id)
                .json(status.clone()),
        )
        .await
        .expect(200);
    }
    api.send(
        Call::to(events::SET_STATUS)
            .token(&token)
            .path("event_id", &event_id)
            .json(json!({"status": "scheduled"})),
    )
    .await
    .expect(409);
    api.send(Call::to(events::GET_EVENT).path("event_id", &event_id))
        .await
        .expect(200);
    api.send(
        Call::to(events::GET_EVENT)
            .token(&token)
            .path("event_id", EventId::new()),
    )
    .await
    .expect(404);
    // Settings and moderators.
    let patch = api.example(events::PATCH_EVENT);
    let patch_call = |token: &str| {
        Call::to(events::PATCH_EVENT)
            .token(token)
            .path("event_id", &event_id)
            .json(patch.clone())
    };
    api.send(patch_call(&bob_token)).await.expect(403);
    let patched = api.send(patch_call(&token)).await.expect(200);
    assert_eq!(
        patched.body["comment_settings"]["blocked_words"],
        json!(["spoiler"])
    );
    api.send(
        Call::to(events::PATCH_EVENT)
            .token(&token)
            .path("event_id", &event_id)
            .json(json!({"colour": "red"})),
    )
    .await
    .expect(400);
    api.send(
        Call::to(events::PATCH_EVENT)
            .token(&token)
            .path("event_id", EventId::new())
            .json(patch.clone()),
    )
    .await
    .expect(404);
    let moderator = |route: &'static str, token: &str, user: &str| {
        Call::to(route)
            .token(token)
            .path("event_id", &event_id)
            .path("user_id", user)
    };
    api.send(moderator(events::APPOINT, &bob_token, &bob_id))
        .await
        .expect(403);
    api.send(moderator(
        events::APPOINT,
        &token,
        &UserId::new().to_string(),
    ))
    .await
    .expect(404);
    let appointed = api
        .send(moderator(events::APPOINT, &token, &bob_id))
        .await
        .expect(200);
    assert_eq!(appointed.body["moderators"][0]["user_id"], json!(bob_id));
    let listed = api
        .send(
            Call::to(events::MODERATORS)
                .token(&bob_token)
                .path("event_id", &event_id),
        )
        .await
        .expect(200);
    assert_eq!(listed.body["moderators"].as_array().map(Vec::len), Some(1));
    api.send(patch_call(&bob_token)).await.expect(200);
    api.send(moderator(events::DISMISS, &bob_token, &bob_id))
        .await
        .expect(403);
    let dismissed = api
        .send(moderator(events::DISMISS, &token, &bob_id))
        .await
        .expect(200);
    assert_eq!(dismissed.body["moderators"], json!([]));
    api.send(patch_call(&bob_token)).await.expect(403);
    // Bans.
    let ban = |token: &str, body: serde_json::Value| {
        Call::to(events::BAN)
            .token(token)
            .path("event_id", &event_id)
            .json(body)
    };
    api.send(ban(&bob_token, json!({"user_id": ada_id})))
        .await
        .expect(403);
    api.send(ban(&token, json!({"user_id": ada_id})))
        .await
        .expect(409);
    api.send(ban(&token, json!({"user_id": UserId::new()})))
        .await
        .expect(404);
    api.send(ban(&token, json!({"duration_seconds": 5})))
        .await
        .expect(400);
    let banned = api
        .send(ban(
            &token,
            json!({"user_id": bob_id, "duration_seconds": 600}),
        ))
        .await
        .expect(201);
    assert!(banned.body["until"].is_string());
    let bans_call = |token: &str| {
        Call::to(events::BANS)
            .token(token)
            .path("event_id", &event_id)
    };
    let listed = api.send(bans_call(&token)).await.expect(200);
    assert_eq!(listed.body["bans"][0]["user_id"], json!(bob_id));
    api.send(bans_call(&bob_token)).await.expect(403);
    api.send(
        Call::to(events::BANS)
            .token(&token)
            .path("event_id", EventId::new()),
    )
    .await
    .expect(404);
    let unban = |token: &str| {
        Call::to(events::UNBAN)
            .token(token)
            .path("event_id", &event_id)
            .path("user_id", &bob_id)
    };
    api.send(unban(&bob_token)).await.expect(403);
    api.send(unban(&token)).await.expect(204);
    let log_call = |token: &str| {
        Call::to(events::MODERATION_LOG)
            .token(token)
            .path("event_id", &event_id)
    };
    let log = api.send(log_call(&token)).await.expect(200);
    assert_eq!(log.body["records"][0]["action"], "ban_lifted");
    api.send(log_call(&bob_token)).await.expect(403);
    api.send(
        Call::to(events::MODERATION_LOG)
            .token(&token)
            .path("event_id", EventId::new()),
    )
    .await
    .expect(404);
    api.send(
        Call::to(events::MODERATORS)
            .token(&token)
            .path("event_id", EventId::new()),
    )
    .await
    .expect(404);
    let live = api
        .send(
            Call::to(events::LIST)
                .query("status", "live")
                .query("limit", 10),
        )
        .await
        .expect(200);
    assert_eq!(live.body["events"][0]["event_id"], json!(event_id));
    api.send(Call::to(events::LIST).token(&token).query("status", "over"))
        .await
        .expect(400);

    // comments
    let example = api.example(comments::CREATE);
    let post = Call::to(comments::CREATE)
        .token(&bob_token)
        .path("event_id", &event_id)
        .header("idempotency-key", "bob-post-1")
        .json(example.clone());
    let first = api.send(post.clone()).await.expect(201);
    let comment_id = first.str("/comment_id");
    let again = api.send(post).await.expect(200);
    assert_eq!(again.str("/comment_id"), comment_id);
    api.send(
        Call::to(comments::CREATE)
            .token(&bob_token)
            .path("event_id", &event_id)
            .header("idempotency-key", "bob-post-1")
            .json(serde_json::json!({ "content": "not what bob-post-1 said" })),
    )
    .await
    .expect(409);
    let reply = api
        .send(
            Call::to(comments::CREATE)
                .token(&token)
                .path("event_id", &event_id)
                .json(json!({"content": "Agreed", "parent_comment_id": comment_id, "event_id": event_id})),
        )
        .await
        .expect(201);
    let reply_id = reply.str("/comment_id");
    api.send(
        Call::to(comments::CREATE)
            .token(&token)
            .path("event_id", &scheduled)
            .json(example.clone()),
    )
    .await
    .expect(403);
    api.send(
        Call::to(comments::CREATE)
            .token(&token)
            .path("event_id", EventId::new())
            .json(example),
    )
    .await
    .expect(404);
    api.send(
        Call::to(comments::CREATE)
            .token(&token)
            .path("event_id", &event_id)
            .json(json!({"content": " "})),
    )
    .await
    .expect(400);
    let big = json!({"content": "x".repeat(banter::http::MAX_BODY_BYTES)});
    api.send(
        Call::to(comments::CREATE)
            .token(&token)
            .path("event_id", &event_id)
            .json(big),
    )
    .await
    .expect(413);
    let list = || {
        Call::to(comments::LIST)
            .token(&cy_token)
            .path("event_id", &event_id)
    };
    let newest = api.send(list().query("limit", 1)).await.expect(200);
    assert_eq!(newest.body["has_more"], true);
    api.send(
        list()
            .query("limit", 1)
            .query("cursor", newest.str("/next_cursor")),
    )
    .await
    .expect(200);
    let caught_up = api
        .send(list().query("after", 0).query("limit", 1))
        .await
        .expect(200);
    api.send(
        list()
            .query("sort", "oldest")
            .query("cursor", caught_up.str("/next_cursor")),
    )
    .await
    .expect(200);
    api.send(list().query("sort", "popular")).await.expect(200);
    api.send(list().query("sort_by", "oldest"))
        .await
        .expect(200);
    api.send(list().query("sort", "loudest")).await.expect(400);
    api.send(list().query("after", 1).query("sort", "newest"))
        .await
        .expect(400);
    let replies = api
        .send(
            Call::to(comments::REPLIES)
                .token(&cy_token)
                .path("comment_id", &comment_id),
        )
        .await
        .expect(200);
    assert_eq!(replies.body["comments"][0]["comment_id"], json!(reply_id));
    let liked = api
        .send(
            Call::to(comments::LIKE)
                .token(&cy_token)
                .path("comment_id", &comment_id),
        )
        .await
        .expect(200);
    assert_eq!(liked.body, json!({"liked": true, "like_count": 1}));
    api.send(
        Call::to(comments::LIKE)
            .token(&cy_token)
            .path("comment_id", EventId::new()),
    )
    .await
    .expect(404);
    let moderation = api.example(comments::MODERATE);
    api.send(
        Call::to(comments::MODERATE)
            .token(&bob_token)
            .path("comment_id", &comment_id)
            .json(moderation.clone()),
    )
    .await
    .expect(403);
    let moderated = api
        .send(
            Call::to(comments::MODERATE)
                .token(&token)
                .path("comment_id", &comment_id)
                .json(moderation),
        )
        .await
        .expect(200);
    assert_eq!(moderated.body["action"], "flagged");
    api.send(
        Call::to(comments::MODERATE)
            .token(&token)
            .path("comment_id", &comment_id)
            .json(json!({"action": "ban"})),
    )
    .await
    .expect(400);
    api.send(
        Call::to(comments::DELETE)
            .token(&bob_token)
            .path("comment_id", &reply_id),
    )
    .await
    .expect(403);
    let deleted = api
        .send(
            Call::to(comments::DELETE)
                .token(&bob_token)
                .path("comment_id", &comment_id),
        )
        .await
        .expect(200);
    assert_eq!(deleted.body["comment"]["content"], "");

    // conversations
    let group = api
        .send(Call::to(conversations::CREATE).token(&token).json(json!({
            "conversation_type": "group",
            "title": "Project Team",
            "description": "Discussion for the new project",
            "participant_ids": [bob_id, cy_id],
        })))
        .await
        .expect(201);
    let group_id = group.str("/conversation_id");
    let direct = || {
        Call::to(conversations::CREATE)
            .token(&token)
            .json(json!({"conversation_type": "direct", "participant_ids": [bob_id]}))
    };
    let direct_id = api.send(direct()).await.expect(201).str("/conversation_id");
    api.send(direct()).await.expect(200);
    api.send(
        Call::to(conversations::CREATE)
            .token(&token)
            .json(json!({"conversation_type": "group", "participant_ids": [EventId::new()]})),
    )
    .await
    .expect(400);
    let mine = api
        .send(
            Call::to(conversations::LIST)
                .token(&token)
                .query("limit", 1),
        )
        .await
        .expect(200);
    api.send(
        Call::to(conversations::LIST)
            .token(&token)
            .query("cursor", mine.str("/next_cursor")),
    )
    .await
    .expect(200);
    let members = |action: &str, ids: Json| {
        Call::to(conversations::PARTICIPANTS)
            .path("conversation_id", &group_id)
            .json(json!({"action": action, "user_ids": ids}))
    };
    api.send(members("remove", json!([bob_id])).token(&cy_token))
        .await
        .expect(403);
    api.send(members("remove", json!([cy_id])).token(&token))
        .await
        .expect(200);
    api.send(members("add", json!([cy_id])).token(&token))
        .await
        .expect(200);
    api.send(members("remove", json!([ada_id])).token(&token))
        .await
        .expect(409);
    api.send(
        Call::to(conversations::PARTICIPANTS)
            .token(&token)
            .path("conversation_id", &direct_id)
            .json(json!({"action": "add", "user_ids": [cy_id]})),
    )
    .await
    .expect(409);
    api.send(
        Call::to(conversations::PARTICIPANTS)
            .token(&cy_token)
            .path("conversation_id", &direct_id)
            .json(json!({"action": "add", "user_ids": [cy_id]})),
    )
    .await
    .expect(404);
    let one = |route: &'static str, id: &str| Call::to(route).path("conversation_id", id);
    let one_group = api
        .send(one(conversations::GET, &group_id).token(&bob_token))
        .await
        .expect(200);
    assert_eq!(one_group.str("/conversation_id"), group_id);
    api.send(one(conversations::GET, &direct_id).token(&cy_token))
        .await
        .expect(404);
    let rename = json!({"title": "Launch crew", "description": null});
    api.send(
        one(conversations::PATCH, &group_id)
            .token(&bob_token)
            .json(rename.clone()),
    )
    .await
    .expect(403);
    api.send(
        one(conversations::PATCH, &group_id)
            .token(&token)
            .json(rename.clone()),
    )
    .await
    .expect(200);
    api.send(
        one(conversations::PATCH, &group_id)
            .token(&token)
            .json(json!({})),
    )
    .await
    .expect(400);
    api.send(
        one(conversations::PATCH, &direct_id)
            .token(&token)
            .json(rename),
    )
    .await
    .expect(409);
    let short_lived = api
        .send(Call::to(conversations::CREATE).token(&token).json(json!({
            "conversation_type": "group",
            "title": "Short-lived",
            "participant_ids": [bob_id],
        })))
        .await
        .expect(201)
        .str("/conversation_id");
    api.send(one(conversations::LEAVE, &short_lived).token(&token))
        .await
        .expect(200);
    api.send(one(conversations::LEAVE, &short_lived).token(&token))
        .await
        .expect(404);
    api.send(one(conversations::LEAVE, &direct_id).token(&token))
        .await
        .expect(409);

    // messages
    let send = Call::to(messages::SEND)
        .token(&bob_token)
        .path("conversation_id", &group_id)
        .json(json!({"content": "Hello everyone!", "client_message_id": "bob-1", "message_type": "text"}));
    let sent = api.send(send.clone()).await.expect(201);
    let message_id = sent.str("/message_id");
    api.send(send).await.expect(200);
    api.send(
        Call::to(messages::SEND)
            .token(&bob_token)
            .path("conversation_id", &group_id)
            .json(json!({"content": "Re", "client_message_id": "bob-2", "reply_to_message_id": message_id})),
    )
    .await
    .expect(201);
    api.send(
        Call::to(messages::SEND)
            .token(&cy_token)
            .path("conversation_id", &direct_id)
            .json(json!({"content": "hi", "client_message_id": "cy-1"})),
    )
    .await
    .expect(404);
    api.send(
        Call::to(messages::SEND)
            .token(&bob_token)
            .path("conversation_id", &group_id)
            .json(json!({"content": "no key"})),
    )
    .await
    .expect(400);
    // uploads: Bob declares the documented image, its bytes arrive and are checked, and
    // he sends it as an image message.
    let ticket = api
        .send(
            Call::to(uploads::UPLOAD)
                .token(&bob_token)
                .json(api.example(uploads::UPLOAD)),
        )
        .await
        .expect(201);
    let file_id = ticket.str("/file_id");
    let get_file = |t: &str| Call::to(uploads::GET).token(t).path("file_id", &file_id);
    let pending = api.send(get_file(&bob_token)).await.expect(200);
    assert_eq!(pending.body["processing_status"], "pending");
    api.send(get_file(&cy_token)).await.expect(404);
    api.send(
        Call::to(uploads::UPLOAD)
            .token(&bob_token)
            .json(json!({"message_type": "image", "file_name": "x.svg", "content_type": "image/svg+xml", "file_size": 10})),
    )
    .await
    .expect(400);
    let key = banter::model::media::upload_key(file_id.parse().expect("a file id"));
    let jpeg = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(64, 48, image::Rgb([10, 120, 200]))
            .write_to(&mut out, image::ImageFormat::Jpeg)
            .expect("a JPEG");
        out.into_inner()
    };
    api.app
        .objects
        .put(&key, jpeg, "image/jpeg")
        .await
        .expect("stored");
    let processor = banter::media::process::MediaProcessor {
        media: api.app.stores.media.clone(),
        objects: api.app.objects.clone(),
    };
    processor.process(key.as_str()).await.expect("processed");
    let ready = api.send(get_file(&bob_token)).await.expect(200);
    assert_eq!(ready.body["processing_status"], "ready");
    let with_photo = api
        .send(
            Call::to(messages::SEND)
                .token(&bob_token)
                .path("conversation_id", &group_id)
                .json(
                    json!({"content": "Check out this photo!", "client_message_id": "bob-photo",
                             "message_type": "image", "media_attachments": [{"file_id": file_id}]}),
                ),
        )
        .await
        .expect(201);
    assert!(with_photo.body["media_attachments"][0]["thumbnail_url"].is_string());
    let history = || {
        Call::to(messages::LIST)
            .token(&token)
            .path("conversation_id", &group_id)
    };
    let newest = api.send(history().query("limit", 1)).await.expect(200);
    api.send(history().query("cursor", newest.str("/next_cursor")))
        .await
        .expect(200);
    api.send(history().query("after", 0)).await.expect(200);
    api.send(history().query("before", &message_id))
        .await
        .expect(200);
    api.send(history().query("before", 1).query("after", 1))
        .await
        .expect(400);
    let edit = api.example(messages::EDIT);
    api.send(
        Call::to(messages::EDIT)
            .token(&token)
            .path("message_id", &message_id)
            .json(edit.clone()),
    )
    .await
    .expect(403);
    let edited = api
        .send(
            Call::to(messages::EDIT)
                .token(&bob_token)
                .path("message_id", &message_id)
                .json(edit),
        )
        .await
        .expect(200);
    assert_eq!(
        edited.body["message"]["edit_history"][0]["previous_content"],
        "Hello everyone!"
    );
    let reacted = api
        .send(
            Call::to(messages::REACT)
                .token(&token)
                .path("message_id", &message_id)
                .json(api.example(messages::REACT)),
        )
        .await
        .expect(200);
    assert_eq!(reacted.body["reacted"], true);
    api.send(
        Call::to(messages::REACT)
            .token(&token)
            .path("message_id", &message_id)
            .json(json!({"emoji": "ok"})),
    )
    .await
    .expect(400);
    api.send(
        Call::to(messages::DELETE)
            .token(&token)
            .path("message_id", &message_id),
    )
    .await
    .expect(403);
    for _ in 0..2 {
        let gone = api
            .send(
                Call::to(messages::DELETE)
                    .token(&bob_token)
                    .path("message_id", &message_id),
            )
            .await
            .expect(200);
        assert_eq!(gone.body["message"]["is_deleted"], true);
    }
    api.send(
        Call::to(messages::REACT)
            .token(&token)
            .path("message_id", &message_id)
            .json(json!({"emoji": "👍"})),
    )
    .await
    .expect(409);
    api.send(
        Call::to(messages::DELETE)
            .token(&cy_token)
            .path("message_id", EventId::new()),
    )
    .await
    .expect(404);
    let listed = api
        .send(Call::to(conversations::LIST).token(&cy_token))
        .await
        .expect(200);
    assert!(
        listed.body["conversations"][0]["unread_count"]
            .as_u64()
            .is_some()
    );

    // sign-out, last
    for _ in 0..2 {
        api.send(
            Call::to(auth::LOGOUT).json(json!({"refresh_token": refreshed.str("/refresh_token")})),
        )
        .await
        .expect(204);
    }
    api.send(Call::to(auth::LOGOUT).json(json!({"refresh_token": "garbage"})))
        .await
        .expect(401);

    // Every route answered a success; extend the scenario with each new route.
    for route in code_routes().into_keys() {
        let statuses = api.answered.get(&route).cloned().unwrap_or_default();
        assert!(
            statuses.iter().any(|s| (200..300).contains(s)),
            "the scenario never got a success from {route} ({statuses:?}): extend it"
        );
    }
}
