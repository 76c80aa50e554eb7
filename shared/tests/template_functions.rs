//! `template.yaml` deploys exactly the code:
//!
//! - every function binary of the workspace (the `functions/*` members of the root
//!   `Cargo.toml`) has exactly one `AWS::Serverless::Function` built from it
//!   (`Metadata.BuildProperties.Binary`), and every function is built from one of them, the
//!   same way (cargo-lambda, `provided.al2023`, arm64, `bootstrap`, the workspace root);
//! - the HTTP API's routes (the functions' `HttpApi` events) are exactly the route keys of
//!   `banter::rest::all_routes()`, each on the function of its name, with payload 2.0;
//! - the WebSocket API has exactly the routes `$connect`, `$disconnect` and `$default`, each an
//!   `AWS_PROXY` integration of `ws-connect`, `ws-disconnect`, `ws-default`, invokable by API
//!   Gateway from that API only, deployed by a deployment that waits for all three;
//! - `fanout` consumes the fan-out queue with `ReportBatchItemFailures`, the queue has a
//!   dead-letter queue and a visibility timeout of at least 6 × the function timeout (plus the
//!   batching window), and the functions that post frames know the management endpoint;
//! - every `*_TABLE` variable names a table of the template, the one its `TableDef` says, and
//!   every function gets all of them;
//! - the inline IAM policies grant no wildcard action or resource.
//!
//! The reading half (template with its `Globals`, functions, routes, WebSocket routes, the
//! workspace's binaries) is kept apart from the checks so the local gateway can reuse it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use banter::store::dynamodb::tables::{ALL, TableDef};
use serde_yaml_ng::{Mapping, Value};

// =============================================================================================
// Reading: the template, its resources and intrinsics, the functions and APIs, the workspace.
// =============================================================================================

/// The workspace root (where `Cargo.toml` and `template.yaml` are).
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The parsed `template.yaml`, with CloudFormation short-form tags in their long form.
fn load_template() -> Value {
    let path = workspace_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).expect("read template.yaml");
    let raw: Value = serde_yaml_ng::from_str(&text).expect("template.yaml is valid YAML");
    long_form(&raw)
}

/// Rewrites short-form intrinsics as their long form, recursively: `!Ref X` → `{Ref: X}`,
/// `!Condition X` → `{Condition: X}`, `!Sub s` → `{"Fn::Sub": s}` (and so on for every
/// other `!Name`).
fn long_form(v: &Value) -> Value {
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

/// Every resource as `(logical id, resource)`, in template order.
fn resources(template: &Value) -> Vec<(&str, &Value)> {
    template
        .get("Resources")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?, v)))
                .collect()
        })
        .unwrap_or_default()
}

/// The resource `id`, if it exists.
fn resource<'a>(template: &'a Value, id: &str) -> Option<&'a Value> {
    template.get("Resources")?.get(id)
}

/// The `Type` of a resource (`""` when absent).
fn type_of(resource: &Value) -> &str {
    resource.get("Type").and_then(Value::as_str).unwrap_or("")
}

/// The resources of type `ty`, in template order.
fn resources_of_type<'a>(template: &'a Value, ty: &str) -> Vec<(&'a str, &'a Value)> {
    resources(template)
        .into_iter()
        .filter(|(_, r)| type_of(r) == ty)
        .collect()
}

/// The `Properties` of a resource (`Null` when absent).
fn props(resource: &Value) -> &Value {
    resource.get("Properties").unwrap_or(&Value::Null)
}

/// `X` of `{Ref: X}`.
fn ref_target(v: &Value) -> Option<&str> {
    v.get("Ref")?.as_str()
}

/// `(X, attribute)` of `{"Fn::GetAtt": [X, attribute]}` or `{"Fn::GetAtt": "X.attribute"}`.
fn get_att(v: &Value) -> Option<(String, String)> {
    match v.get("Fn::GetAtt")? {
        Value::Sequence(s) if s.len() == 2 => {
            Some((s[0].as_str()?.to_owned(), s[1].as_str()?.to_owned()))
        }
        Value::String(s) => {
            let (id, attr) = s.split_once('.')?;
            Some((id.to_owned(), attr.to_owned()))
        }
        _ => None,
    }
}

/// The string of `{"Fn::Sub": s}` or `{"Fn::Sub": [s, {…}]}`.
fn sub_string(v: &Value) -> Option<&str> {
    match v.get("Fn::Sub")? {
        Value::String(s) => Some(s),
        Value::Sequence(s) => s.first()?.as_str(),
        _ => None,
    }
}

/// The names inside `${…}` of a `Fn::Sub` string, in order (`${!Literal}` escapes skipped).
fn sub_names(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') {
            out.push(name);
        }
        rest = &after[end + 1..];
    }
    out
}

/// The text of a scalar (strings, numbers and booleans alike), e.g. `Timeout: 30`.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A whole number, written as a number or a string.
fn number(v: &Value) -> Option<u64> {
    scalar(v)?.parse().ok()
}

/// A list of strings (or one string as a list of one).
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(s) => s.iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    }
}

/// One `HttpApi` event of a function.
#[derive(Debug, Clone, PartialEq)]
struct HttpRoute {
    /// The event's name.
    event: String,
    /// `METHOD /path`, as in `banter::rest` (`ANY` stays `ANY`).
    route_key: String,
    /// The API it attaches to (`ApiId: !Ref X`); `None` means SAM's implicit API.
    api: Option<String>,
    /// `PayloadFormatVersion` (SAM's default for HTTP APIs is 2.0).
    payload_version: String,
}

/// One `SQS` event of a function.
#[derive(Debug, Clone, PartialEq)]
struct SqsSource {
    /// The event's name.
    event: String,
    /// The queue's logical id (`Queue: !GetAtt X.Arn`).
    queue: Option<String>,
    /// `FunctionResponseTypes`.
    response_types: Vec<String>,
    /// `BatchSize` (SAM's default is 10).
    batch_size: u64,
    /// `MaximumBatchingWindowInSeconds` (default 0).
    batching_window: u64,
}

/// An `AWS::Serverless::Function` as deployed: its own properties over `Globals.Function`.
#[derive(Debug, Clone)]
struct FunctionSpec {
    /// Logical id.
    id: String,
    /// `Metadata.BuildProperties.Binary`.
    binary: Option<String>,
    /// `Metadata.BuildMethod`.
    build_method: Option<String>,
    /// Scalar properties after `Globals` (`Runtime`, `Handler`, `CodeUri`, `MemorySize`,
    /// `Timeout`, …), as text.
    scalars: BTreeMap<String, String>,
    /// `Architectures` after `Globals`.
    architectures: Vec<String>,
    /// `Environment.Variables`: the function's over `Globals`' (an `!If` stays an `Fn::If`).
    env: BTreeMap<String, Value>,
    /// `LoggingConfig.LogGroup` as `!Ref X`.
    log_group: Option<String>,
    /// The `HttpApi` events.
    http_routes: Vec<HttpRoute>,
    /// The `SQS` events.
    sqs_sources: Vec<SqsSource>,
    /// Event types other than `HttpApi` and `SQS`, by event name.
    other_events: BTreeMap<String, String>,
    /// `Policies` as written.
    policies: Value,
}

impl FunctionSpec {
    /// A scalar property after `Globals`.
    fn get(&self, key: &str) -> Option<&str> {
        self.scalars.get(key).map(String::as_str)
    }

    /// A whole-number property after `Globals`.
    fn number(&self, key: &str) -> Option<u64> {
        self.get(key)?.parse().ok()
    }

    /// The binary, or the logical id when there is none (for messages).
    fn name(&self) -> &str {
        self.binary.as_deref().unwrap_or(&self.id)
    }
}

/// Scalar function properties that `Globals.Function` may set.
const GLOBAL_SCALARS: [&str; 6] = [
    "Runtime",
    "Handler",
    "CodeUri",
    "MemorySize",
    "Timeout",
    "Tracing",
];

/// Every `AWS::Serverless::Function` of the template, `Globals.Function` applied.
fn functions(template: &Value) -> Vec<FunctionSpec> {
    let globals = template
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .unwrap_or(&Value::Null);
    resources_of_type(template, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, r)| function_spec(id, r, globals))
        .collect()
}

fn function_spec(id: &str, resource: &Value, globals: &Value) -> FunctionSpec {
    let p = props(resource);
    let metadata = resource.get("Metadata").unwrap_or(&Value::Null);
    let own_or_global = |key: &str| p.get(key).or_else(|| globals.get(key));

    let mut scalars = BTreeMap::new();
    for key in GLOBAL_SCALARS {
        if let Some(v) = own_or_global(key).and_then(scalar) {
            scalars.insert(key.to_owned(), v);
        }
    }

    let variables = |v: &Value| -> Vec<(String, Value)> {
        v.get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut env: BTreeMap<String, Value> = variables(globals).into_iter().collect();
    env.extend(variables(p));

    let mut spec = FunctionSpec {
        id: id.to_owned(),
        binary: metadata
            .get("BuildProperties")
            .and_then(|b| b.get("Binary"))
            .and_then(scalar),
        build_method: metadata.get("BuildMethod").and_then(scalar),
        scalars,
        architectures: own_or_global("Architectures")
            .map(strings)
            .unwrap_or_default(),
        env,
        log_group: p
            .get("LoggingConfig")
            .and_then(|l| l.get("LogGroup"))
            .and_then(ref_target)
            .map(str::to_owned),
        http_routes: Vec::new(),
        sqs_sources: Vec::new(),
        other_events: BTreeMap::new(),
        policies: p.get("Policies").cloned().unwrap_or(Value::Null),
    };

    let events = p.get("Events").and_then(Value::as_mapping);
    for (name, event) in events.into_iter().flatten() {
        let name = name
            .as_str()
            .unwrap_or("<non-string event name>")
            .to_owned();
        let ep = props(event);
        match type_of(event) {
            "HttpApi" => {
                let method = ep.get("Method").and_then(scalar).unwrap_or_default();
                let path = ep.get("Path").and_then(scalar).unwrap_or_default();
                spec.http_routes.push(HttpRoute {
                    event: name,
                    route_key: format!("{} {path}", method.to_uppercase()),
                    api: ep.get("ApiId").and_then(ref_target).map(str::to_owned),
                    payload_version: ep
                        .get("PayloadFormatVersion")
                        .and_then(scalar)
                        .unwrap_or_else(|| "2.0".to_owned()),
                });
            }
            "SQS" => spec.sqs_sources.push(SqsSource {
                event: name,
                queue: ep.get("Queue").and_then(get_att).map(|(id, _)| id),
                response_types: ep
                    .get("FunctionResponseTypes")
                    .map(strings)
                    .unwrap_or_default(),
                batch_size: ep.get("BatchSize").and_then(number).unwrap_or(10),
                batching_window: ep
                    .get("MaximumBatchingWindowInSeconds")
                    .and_then(number)
                    .unwrap_or(0),
            }),
            other => {
                spec.other_events.insert(name, other.to_owned());
            }
        }
    }
    spec
}

/// The WebSocket API as deployed: its routes and what serves them.
#[derive(Debug, Clone, Default)]
struct WebSocketSpec {
    /// Logical id of the `AWS::ApiGatewayV2::Api`.
    api: String,
    /// `RouteSelectionExpression`.
    route_selection: Option<String>,
    /// Route key → (route logical id, integration logical id, function logical id); the last
    /// two are `None` when the route's target or the integration's URI cannot be followed.
    routes: BTreeMap<String, (String, Option<String>, Option<String>)>,
    /// Integrations of the API that are not `AWS_PROXY`, by logical id.
    non_proxy_integrations: Vec<String>,
    /// Logical ids of the API's deployments, with their `DependsOn`.
    deployments: BTreeMap<String, Vec<String>>,
    /// `StageName` (as text, or the parameter it references) → `DeploymentId` reference.
    stages: BTreeMap<String, Option<String>>,
}

/// The WebSocket APIs of the template (`ProtocolType: WEBSOCKET`), by logical id.
fn websocket_apis(template: &Value) -> Vec<WebSocketSpec> {
    resources_of_type(template, "AWS::ApiGatewayV2::Api")
        .into_iter()
        .filter(|(_, r)| props(r).get("ProtocolType").and_then(Value::as_str) == Some("WEBSOCKET"))
        .map(|(id, r)| websocket_spec(template, id, r))
        .collect()
}

fn websocket_spec(template: &Value, api: &str, api_resource: &Value) -> WebSocketSpec {
    let of_api = |r: &Value| props(r).get("ApiId").and_then(ref_target) == Some(api);
    let mut spec = WebSocketSpec {
        api: api.to_owned(),
        route_selection: props(api_resource)
            .get("RouteSelectionExpression")
            .and_then(scalar),
        ..WebSocketSpec::default()
    };
    for (id, r) in resources_of_type(template, "AWS::ApiGatewayV2::Route") {
        if !of_api(r) {
            continue;
        }
        let key = props(r)
            .get("RouteKey")
            .and_then(scalar)
            .unwrap_or_default();
        // Target: !Sub "integrations/${Integration}".
        let integration = props(r)
            .get("Target")
            .and_then(sub_string)
            .and_then(|s| s.strip_prefix("integrations/"))
            .and_then(|s| s.strip_prefix("${"))
            .and_then(|s| s.strip_suffix('}'))
            .map(str::to_owned);
        let function = integration
            .as_deref()
            .and_then(|i| resource(template, i))
            .and_then(|i| props(i).get("IntegrationUri"))
            .and_then(sub_string)
            .and_then(|uri| {
                sub_names(uri)
                    .into_iter()
                    .find_map(|n| n.strip_suffix(".Arn"))
            })
            .map(str::to_owned);
        spec.routes
            .insert(key, (id.to_owned(), integration, function));
    }
    for (id, r) in resources_of_type(template, "AWS::ApiGatewayV2::Integration") {
        if of_api(r) && props(r).get("IntegrationType").and_then(Value::as_str) != Some("AWS_PROXY")
        {
            spec.non_proxy_integrations.push(id.to_owned());
        }
    }
    for (id, r) in resources_of_type(template, "AWS::ApiGatewayV2::Deployment") {
        if of_api(r) {
            let depends = r.get("DependsOn").map(strings).unwrap_or_default();
            spec.deployments.insert(id.to_owned(), depends);
        }
    }
    for (_, r) in resources_of_type(template, "AWS::ApiGatewayV2::Stage") {
        if of_api(r) {
            let name = props(r).get("StageName").map(|n| match ref_target(n) {
                Some(param) => format!("${{{param}}}"),
                None => scalar(n).unwrap_or_default(),
            });
            let deployment = props(r)
                .get("DeploymentId")
                .and_then(ref_target)
                .map(str::to_owned);
            spec.stages.insert(name.unwrap_or_default(), deployment);
        }
    }
    spec
}

/// The function binaries of the workspace: the root `Cargo.toml` members under `functions/`,
/// each `functions/<dir>` → the name of its binary (its `[[bin]]` name, else its package name).
fn workspace_function_binaries(root: &Path) -> Result<BTreeMap<String, String>, String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|e| format!("read Cargo.toml: {e}"))?;
    let mut out = BTreeMap::new();
    for member in workspace_members(&manifest)? {
        let Some(dir) = member.strip_prefix("functions/") else {
            continue;
        };
        let path = root.join(&member).join("Cargo.toml");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
        let binary =
            binary_name(&text).ok_or_else(|| format!("{member}: no package or bin name"))?;
        out.insert(dir.to_owned(), binary);
    }
    Ok(out)
}

/// The `members` of `[workspace]` in a root manifest: the array on the line that starts with
/// `members =` (one line or several; `#` comments inside it are dropped).
fn workspace_members(manifest: &str) -> Result<Vec<String>, String> {
    let start = manifest
        .lines()
        .scan(0, |offset, line| {
            let at = *offset;
            *offset += line.len() + 1;
            Some((at, line))
        })
        .find(|(_, line)| {
            line.trim_start()
                .strip_prefix("members")
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|(at, _)| at)
        .ok_or("Cargo.toml has no workspace members")?;
    let rest = &manifest[start..];
    let open = rest.find('[').ok_or("members is not an array")?;
    let close = rest[open..]
        .find(']')
        .ok_or("members array is not closed")?
        + open;
    Ok(rest[open + 1..close]
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .flat_map(|line| line.split(','))
        .map(|s| s.trim().trim_matches('"').to_owned())
        .filter(|s| !s.is_empty())
        .collect())
}

/// The binary a member manifest builds: the first `[[bin]]` name, else `[package]` name.
fn binary_name(manifest: &str) -> Option<String> {
    let (mut section, mut package, mut bin) = (String::new(), None, None);
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "name" {
            continue;
        }
        let value = value.trim().trim_matches('"').to_owned();
        match section.as_str() {
            "[package]" => package = package.or(Some(value)),
            "[[bin]]" => bin = bin.or(Some(value)),
            _ => {}
        }
    }
    bin.or(package)
}

// =============================================================================================
// Checks: each returns every problem found (empty when template and code agree), each problem
// starting with the function, route or resource it is about.
// =============================================================================================

/// What every function must be, whatever it does.
const RUNTIME: &str = "provided.al2023";
const ARCHITECTURE: &str = "arm64";
const HANDLER: &str = "bootstrap";
const CODE_URI: &str = ".";
const BUILD_METHOD: &str = "rust-cargolambda";

/// The functions serving the WebSocket routes.
const WS_ROUTES: [(&str, &str); 3] = [
    ("$connect", "ws-connect"),
    ("$disconnect", "ws-disconnect"),
    ("$default", "ws-default"),
];

/// The SQS-triggered fan-out function and the functions that post to connections.
const FANOUT: &str = "fanout";
const POSTERS: [&str; 2] = ["fanout", "ws-default"];

/// One function per workspace binary and one binary per function, built the same way.
fn function_mismatches(
    template: &Value,
    fns: &[FunctionSpec],
    binaries: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (dir, binary) in binaries {
        if dir != binary {
            problems.push(format!(
                "{binary}: functions/{dir} builds binary {binary}, not {dir} (the binary name must equal the directory)"
            ));
        }
        let n = fns
            .iter()
            .filter(|f| f.binary.as_deref() == Some(binary))
            .count();
        if n != 1 {
            problems.push(format!(
                "{binary}: workspace binary deployed by {n} functions, not exactly 1"
            ));
        }
    }
    let known: BTreeSet<&str> = binaries.values().map(String::as_str).collect();
    for f in fns {
        let id = &f.id;
        match f.binary.as_deref() {
            None => problems.push(format!("{id}: no Metadata.BuildProperties.Binary")),
            Some(b) if !known.contains(b) => problems.push(format!(
                "{id}: binary {b} is not a workspace function binary"
            )),
            Some(_) => {}
        }
        let expect = [
            ("Runtime", RUNTIME),
            ("Handler", HANDLER),
            ("CodeUri", CODE_URI),
        ];
        for (key, want) in expect {
            if f.get(key) != Some(want) {
                problems.push(format!("{id}: {key} is {:?}, not {want:?}", f.get(key)));
            }
        }
        if f.architectures != [ARCHITECTURE] {
            problems.push(format!(
                "{id}: Architectures is {:?}, not [{ARCHITECTURE}]",
                f.architectures
            ));
        }
        if f.build_method.as_deref() != Some(BUILD_METHOD) {
            problems.push(format!(
                "{id}: Metadata.BuildMethod is {:?}, not {BUILD_METHOD}",
                f.build_method
            ));
        }
        for key in ["MemorySize", "Timeout"] {
            if f.number(key).is_none() {
                problems.push(format!("{id}: no {key}"));
            }
        }
        match f.log_group.as_deref().map(|g| (g, resource(template, g))) {
            None => problems.push(format!("{id}: no LoggingConfig.LogGroup: !Ref <log group>")),
            Some((g, None)) => problems.push(format!("{id}: log group {g} does not exist")),
            Some((g, Some(r))) => {
                if type_of(r) != "AWS::Logs::LogGroup" {
                    problems.push(format!("{id}: {g} is not an AWS::Logs::LogGroup"));
                } else if props(r).get("RetentionInDays").is_none() {
                    problems.push(format!("{id}: log group {g} has no RetentionInDays"));
                }
            }
        }
        if !f.other_events.is_empty() {
            problems.push(format!(
                "{id}: events of unexpected types {:?}",
                f.other_events
            ));
        }
    }
    problems
}

/// The HTTP API routes of the template against `expected` (function name → route keys, as
/// `banter::rest::all_routes()` gives them).
fn route_mismatches(
    template: &Value,
    fns: &[FunctionSpec],
    expected: &[(&str, &[&str])],
) -> Vec<String> {
    let mut problems = Vec::new();
    let http_apis: Vec<&str> = resources_of_type(template, "AWS::Serverless::HttpApi")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    if http_apis.len() != 1 {
        problems.push(format!(
            "HttpApi: {} AWS::Serverless::HttpApi resources, not exactly 1",
            http_apis.len()
        ));
    }

    // Route key → the functions (by binary) whose events declare it.
    let mut declared: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for f in fns {
        for r in &f.http_routes {
            declared.entry(&r.route_key).or_default().push(f.name());
            if r.api.is_none() || !http_apis.contains(&r.api.as_deref().unwrap_or_default()) {
                problems.push(format!(
                    "{}: route {} (event {}) is not on the HTTP API (ApiId: {:?})",
                    r.route_key,
                    f.name(),
                    r.event,
                    r.api
                ));
            }
            if r.payload_version != "2.0" {
                problems.push(format!(
                    "{}: PayloadFormatVersion {} on {}, not 2.0",
                    r.route_key,
                    r.payload_version,
                    f.name()
                ));
            }
        }
    }
    let mut wanted: BTreeMap<&str, &str> = BTreeMap::new();
    for (function, keys) in expected {
        for key in *keys {
            if let Some(other) = wanted.insert(key, function) {
                problems.push(format!(
                    "{key}: listed by both {other} and {function} in the code"
                ));
            }
        }
    }
    for (key, function) in &wanted {
        match declared.get(key).map(Vec::as_slice) {
            None | Some([]) => problems.push(format!(
                "{key}: route of {function} missing from template.yaml"
            )),
            Some([on]) if on == function => {}
            Some(on) => problems.push(format!(
                "{key}: route of {function} declared on {on:?} in template.yaml"
            )),
        }
    }
    for (key, on) in &declared {
        if !wanted.contains_key(key) {
            problems.push(format!(
                "{key}: route on {on:?} in template.yaml that no banter::rest module serves"
            ));
        }
    }
    problems
}

/// The WebSocket API: exactly `$connect`, `$disconnect`, `$default`, each served by its
/// function through an `AWS_PROXY` integration, invokable from that API only, deployed.
fn websocket_mismatches(template: &Value, fns: &[FunctionSpec]) -> Vec<String> {
    let apis = websocket_apis(template);
    let [ws] = apis.as_slice() else {
        return vec![format!(
            "WebSocketApi: {} APIs with ProtocolType WEBSOCKET, not exactly 1",
            apis.len()
        )];
    };
    let api = &ws.api;
    let mut problems = Vec::new();
    if ws.route_selection.as_deref() != Some("$request.body.type") {
        problems.push(format!(
            "{api}: RouteSelectionExpression is {:?}, not $request.body.type",
            ws.route_selection
        ));
    }
    let binary_of = |id: &str| {
        fns.iter()
            .find(|f| f.id == id)
            .and_then(|f| f.binary.clone())
    };
    let wanted: BTreeSet<&str> = WS_ROUTES.iter().map(|(k, _)| *k).collect();
    for key in ws.routes.keys() {
        if !wanted.contains(key.as_str()) {
            problems.push(format!(
                "{key}: WebSocket route that Banter does not use (the router dispatches on type under $default)"
            ));
        }
    }
    for (key, binary) in WS_ROUTES {
        let Some((route, integration, function)) = ws.routes.get(key) else {
            problems.push(format!("{key}: WebSocket route missing"));
            continue;
        };
        let Some(integration) = integration else {
            problems.push(format!(
                "{key}: {route} has no Target integrations/${{Integration}}"
            ));
            continue;
        };
        if ws.non_proxy_integrations.contains(integration) {
            problems.push(format!("{key}: {integration} is not AWS_PROXY"));
        }
        let served_by = function.as_deref().and_then(binary_of);
        if served_by.as_deref() != Some(binary) {
            problems.push(format!(
                "{key}: integrated with {served_by:?} (function {function:?}), not {binary}"
            ));
            continue;
        }
        // API Gateway may invoke the function, from this API's route only.
        let function = function.as_deref().unwrap_or_default();
        let allowed = resources_of_type(template, "AWS::Lambda::Permission")
            .into_iter()
            .any(|(_, p)| {
                let p = props(p);
                let source = p.get("SourceArn").and_then(sub_string).unwrap_or_default();
                p.get("FunctionName").and_then(ref_target) == Some(function)
                    && p.get("Principal").and_then(Value::as_str)
                        == Some("apigateway.amazonaws.com")
                    && source.contains(&format!("${{{api}}}/"))
                    && source.ends_with(&format!("/{key}"))
            });
        if !allowed {
            problems.push(format!(
                "{key}: no AWS::Lambda::Permission for apigateway.amazonaws.com to invoke {binary} with SourceArn …${{{api}}}/<stage>/{key}"
            ));
        }
    }
    let routes: BTreeSet<&str> = ws.routes.values().map(|(id, _, _)| id.as_str()).collect();
    let complete: Vec<&String> = ws
        .deployments
        .iter()
        .filter(|(_, deps)| routes.iter().all(|r| deps.iter().any(|d| d == r)))
        .map(|(id, _)| id)
        .collect();
    if complete.is_empty() {
        problems.push(format!(
            "{api}: no AWS::ApiGatewayV2::Deployment that DependsOn every route {routes:?}"
        ));
    }
    match ws.stages.values().next() {
        None => problems.push(format!("{api}: no AWS::ApiGatewayV2::Stage")),
        Some(deployment) => {
            if !complete
                .iter()
                .any(|d| Some(d.as_str()) == deployment.as_deref())
            {
                problems.push(format!(
                    "{api}: the stage deploys {deployment:?}, not a deployment of every route"
                ));
            }
        }
    }
    if ws.stages.len() > 1 {
        problems.push(format!("{api}: {} stages, not 1", ws.stages.len()));
    }

    // The posting functions know this API's management endpoint, on the deployed stage.
    let stage = ws.stages.keys().next().cloned().unwrap_or_default();
    for binary in POSTERS {
        let Some(f) = fns.iter().find(|f| f.binary.as_deref() == Some(binary)) else {
            continue; // reported by function_mismatches
        };
        let endpoint = f
            .env
            .get("WEBSOCKET_MANAGEMENT_ENDPOINT")
            .and_then(sub_string)
            .unwrap_or_default();
        let expected_prefix = format!("https://${{{api}}}.execute-api.${{AWS::Region}}.");
        if !endpoint.starts_with(&expected_prefix) || !endpoint.ends_with(&format!("/{stage}")) {
            problems.push(format!(
                "{binary}: WEBSOCKET_MANAGEMENT_ENDPOINT is {endpoint:?}, not https://${{{api}}}.execute-api.${{AWS::Region}}.…/{stage}"
            ));
        }
    }
    problems
}

/// `fanout` consumes the fan-out queue with partial batch responses; the queue has a DLQ and a
/// visibility timeout long enough for the function; `FANOUT_QUEUE_URL` is that queue.
fn fanout_mismatches(template: &Value, fns: &[FunctionSpec]) -> Vec<String> {
    let mut problems = Vec::new();
    for f in fns {
        if f.binary.as_deref() != Some(FANOUT) && !f.sqs_sources.is_empty() {
            problems.push(format!(
                "{}: SQS event source on a function other than {FANOUT}",
                f.name()
            ));
        }
    }
    let Some(f) = fns.iter().find(|f| f.binary.as_deref() == Some(FANOUT)) else {
        return vec![format!("{FANOUT}: no function")];
    };
    let fanout_queue = f.env.get("FANOUT_QUEUE_URL").and_then(ref_target);
    let shard_queue = f.env.get("FANOUT_SHARD_QUEUE_URL").and_then(ref_target);
    let (Some(fanout_queue), Some(shard_queue)) = (fanout_queue, shard_queue) else {
        problems.push(format!(
            "{FANOUT}: FANOUT_QUEUE_URL and FANOUT_SHARD_QUEUE_URL must each be !Ref <queue>"
        ));
        return problems;
    };
    if fanout_queue == shard_queue {
        problems.push(format!(
            "{FANOUT}: FANOUT_SHARD_QUEUE_URL is the fan-out queue {fanout_queue}: shard jobs \
             need a queue of their own, received one per invocation"
        ));
    }
    if f.sqs_sources.len() != 2 {
        problems.push(format!(
            "{FANOUT}: {} SQS events, not 2 (fan-out jobs and shard jobs)",
            f.sqs_sources.len()
        ));
    }
    let mut read = Vec::new();
    for source in &f.sqs_sources {
        let Some(queue_id) = source.queue.as_deref() else {
            problems.push(format!("{FANOUT}: Queue is not !GetAtt <queue>.Arn"));
            continue;
        };
        read.push(queue_id);
        // Shard jobs one per invocation: each shard gets its own execution environment and
        // bound on posts in flight (see banter::fanout).
        let max_batch = if queue_id == shard_queue {
            1
        } else if queue_id == fanout_queue {
            10
        } else {
            problems.push(format!(
                "{FANOUT}: an SQS event reads {queue_id}, neither FANOUT_QUEUE_URL's nor \
                 FANOUT_SHARD_QUEUE_URL's queue"
            ));
            continue;
        };
        problems.extend(source_mismatches(template, f, source, queue_id, max_batch));
    }
    for queue in [fanout_queue, shard_queue] {
        if !read.contains(&queue) {
            problems.push(format!("{FANOUT}: no SQS event reads {queue}"));
        }
    }
    for g in fns {
        let url = g.env.get("FANOUT_QUEUE_URL").and_then(ref_target);
        if url != Some(fanout_queue) {
            problems.push(format!(
                "{}: FANOUT_QUEUE_URL is {url:?}, not !Ref {fanout_queue}",
                g.name()
            ));
        }
    }
    problems
}

/// One SQS event of the fan-out on `queue_id`: partial batch failures, `BatchSize` in
/// `1..=max_batch`, a dead-letter queue, and a visibility timeout that outlasts a batch.
fn source_mismatches(
    template: &Value,
    f: &FunctionSpec,
    source: &SqsSource,
    queue_id: &str,
    max_batch: u64,
) -> Vec<String> {
    let mut problems = Vec::new();
    if source.response_types != ["ReportBatchItemFailures"] {
        problems.push(format!(
            "{FANOUT} on {queue_id}: FunctionResponseTypes is {:?}, not [ReportBatchItemFailures]",
            source.response_types
        ));
    }
    if source.batch_size == 0 || source.batch_size > max_batch {
        problems.push(format!(
            "{FANOUT} on {queue_id}: BatchSize {} (must be 1..={max_batch})",
            source.batch_size
        ));
    }
    let queue = resource(template, queue_id);
    if queue.map(type_of) != Some("AWS::SQS::Queue") {
        problems.push(format!("{FANOUT}: {queue_id} is not an AWS::SQS::Queue"));
        return problems;
    }
    let q = props(queue.unwrap_or(&Value::Null));
    let redrive = q.get("RedrivePolicy").unwrap_or(&Value::Null);
    let dlq = redrive.get("deadLetterTargetArn").and_then(get_att);
    match dlq {
        Some((dlq, _)) if resource(template, &dlq).map(type_of) == Some("AWS::SQS::Queue") => {}
        other => problems.push(format!(
            "{queue_id}: RedrivePolicy.deadLetterTargetArn is {other:?}, not another queue's Arn"
        )),
    }
    if redrive.get("maxReceiveCount").and_then(number).unwrap_or(0) == 0 {
        problems.push(format!("{queue_id}: no RedrivePolicy.maxReceiveCount"));
    }
    let timeout = f.number("Timeout").unwrap_or(3);
    let needed = 6 * timeout + source.batching_window;
    let visibility = q.get("VisibilityTimeout").and_then(number).unwrap_or(30);
    if visibility < needed {
        problems.push(format!(
            "{queue_id}: VisibilityTimeout {visibility} s is under 6 x the {FANOUT} timeout ({timeout} s) + the batching window ({} s) = {needed} s",
            source.batching_window
        ));
    }
    problems
}

/// Every `*_TABLE` variable is `!Ref` of the table whose `TableDef` names that variable, and
/// every function gets every table variable (`TableNames::from_env` would otherwise fall back
/// silently to a `banter-<name>` table).
fn table_env_mismatches(template: &Value, fns: &[FunctionSpec], defs: &[TableDef]) -> Vec<String> {
    let mut problems = Vec::new();
    for f in fns {
        for (var, value) in &f.env {
            if !var.ends_with("_TABLE") {
                continue;
            }
            let Some(target) = ref_target(value) else {
                problems.push(format!("{}: {var} is not !Ref <table>", f.name()));
                continue;
            };
            match resource(template, target).map(type_of) {
                Some("AWS::DynamoDB::Table") => {}
                Some(other) => {
                    problems.push(format!("{}: {var} refers to {target}, a {other}", f.name()))
                }
                None => problems.push(format!(
                    "{}: {var} refers to {target}, which does not exist",
                    f.name()
                )),
            }
            match defs.iter().find(|d| d.logical_id == target) {
                Some(d) if d.env_var == var => {}
                Some(d) => problems.push(format!(
                    "{}: {var} refers to {target}, whose variable is {}",
                    f.name(),
                    d.env_var
                )),
                None => problems.push(format!(
                    "{}: {var} refers to {target}, which no TableDef describes",
                    f.name()
                )),
            }
        }
        for d in defs {
            if !f.env.contains_key(d.env_var) {
                problems.push(format!("{}: {} is not set", f.name(), d.env_var));
            }
        }
    }
    problems
}

/// The functions' policies are inline statements without wildcards: no SAM policy template
/// or managed policy (`DynamoDBCrudPolicy` grants every table action), no `*` in an action, no
/// `Resource: "*"`.
fn policy_mismatches(fns: &[FunctionSpec]) -> Vec<String> {
    let mut problems = Vec::new();
    for f in fns {
        let policies = match &f.policies {
            Value::Null => continue,
            Value::Sequence(s) => s.clone(),
            other => vec![other.clone()],
        };
        for policy in &policies {
            let Some(statements) = policy.get("Statement").and_then(Value::as_sequence) else {
                problems.push(format!(
                    "{}: policy {policy:?} is not an inline policy document",
                    f.name()
                ));
                continue;
            };
            for s in statements {
                let sid = s.get("Sid").and_then(scalar).unwrap_or_default();
                if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
                    continue;
                }
                for action in s.get("Action").map(strings).unwrap_or_default() {
                    if action.contains('*') {
                        problems.push(format!("{}: {sid} allows {action}", f.name()));
                    }
                }
                if s.get("Resource")
                    .map(strings)
                    .unwrap_or_default()
                    .iter()
                    .any(|r| r == "*")
                {
                    problems.push(format!("{}: {sid} allows Resource \"*\"", f.name()));
                }
            }
        }
    }
    problems
}

/// Every problem of `template` against the workspace `binaries` and the REST `routes`.
fn all_mismatches(
    template: &Value,
    binaries: &BTreeMap<String, String>,
    routes: &[(&str, &[&str])],
) -> Vec<String> {
    let fns = functions(template);
    let mut problems = function_mismatches(template, &fns, binaries);
    problems.extend(route_mismatches(template, &fns, routes));
    problems.extend(websocket_mismatches(template, &fns));
    problems.extend(fanout_mismatches(template, &fns));
    problems.extend(table_env_mismatches(template, &fns, &ALL));
    problems.extend(policy_mismatches(&fns));
    problems
}

// =============================================================================================
// Tests.
// =============================================================================================

fn binaries() -> BTreeMap<String, String> {
    workspace_function_binaries(&workspace_root()).expect("read the workspace manifests")
}

fn report(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "template.yaml and the code disagree ({what}):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_workspace_has_the_expected_function_binaries() {
    let found: BTreeSet<String> = binaries().into_values().collect();
    for name in [
        "fanout",
        "ws-connect",
        "ws-disconnect",
        "ws-default",
        "health",
    ] {
        assert!(found.contains(name), "{name} missing from {found:?}");
    }
    for (name, _) in banter::rest::all_routes() {
        assert!(
            found.contains(name),
            "REST function {name} is not a workspace binary"
        );
    }
}

#[test]
fn one_function_per_workspace_binary() {
    let template = load_template();
    let fns = functions(&template);
    report(
        "functions",
        &function_mismatches(&template, &fns, &binaries()),
    );
}

#[test]
fn http_routes_are_exactly_the_rest_routes_on_their_functions() {
    let template = load_template();
    let fns = functions(&template);
    report(
        "REST routes",
        &route_mismatches(&template, &fns, &banter::rest::all_routes()),
    );
}

#[test]
fn websocket_api_has_the_three_routes_on_their_functions() {
    let template = load_template();
    let fns = functions(&template);
    report("WebSocket API", &websocket_mismatches(&template, &fns));
}

#[test]
fn fanout_consumes_its_queue_with_partial_batch_failures() {
    let template = load_template();
    let fns = functions(&template);
    report("fan-out", &fanout_mismatches(&template, &fns));
}

#[test]
fn table_variables_name_the_tables_of_the_template() {
    let template = load_template();
    let fns = functions(&template);
    report(
        "table variables",
        &table_env_mismatches(&template, &fns, &ALL),
    );
}

#[test]
fn policies_are_inline_and_without_wildcards() {
    let template = load_template();
    report("policies", &policy_mismatches(&functions(&template)));
}

#[test]
fn globals_are_applied_and_intrinsics_read() {
    let template = load_template();
    let fns = functions(&template);
    let fanout = fns.iter().find(|f| f.name() == "fanout").expect("fanout");
    assert_eq!(fanout.get("Runtime"), Some(RUNTIME));
    assert_eq!(fanout.architectures, [ARCHITECTURE]);
    assert_eq!(
        ref_target(&fanout.env["USERS_TABLE"]),
        Some("UsersTable"),
        "globals' variables are merged"
    );
    assert!(fanout.env.contains_key("WEBSOCKET_MANAGEMENT_ENDPOINT"));
    assert_eq!(
        sub_names("https://${Api}.execute-api.${AWS::Region}.${!Literal}/${Stage}"),
        ["Api", "AWS::Region", "Stage"]
    );
    assert_eq!(
        get_att(&serde_yaml_ng::from_str("{\"Fn::GetAtt\": Q.Arn}").unwrap()),
        Some(("Q".to_owned(), "Arn".to_owned()))
    );
    let manifest = "# the members below\n[workspace]\nmembers = [\n  \"shared\", # core\n  \"functions/a\", \"functions/b-c\"\n]\n";
    assert_eq!(
        workspace_members(manifest).unwrap(),
        ["shared", "functions/a", "functions/b-c"]
    );
    assert_eq!(
        binary_name("[package]\nname = \"x\"\n[[bin]]\nname = \"y\"\n").as_deref(),
        Some("y")
    );
    assert_eq!(
        binary_name("[package]\nname = \"x\"\n").as_deref(),
        Some("x")
    );
}

// --- The checks are not vacuous: each kind of drift is reported, naming what drifted. ------

/// A mutable handle on a resource of a parsed template.
fn res_mut<'a>(template: &'a mut Value, id: &str) -> &'a mut Value {
    template
        .get_mut("Resources")
        .and_then(|r| r.get_mut(id))
        .unwrap_or_else(|| panic!("no resource {id}"))
}

/// The logical id of the function built from `binary`.
fn function_id(template: &Value, binary: &str) -> String {
    functions(template)
        .into_iter()
        .find(|f| f.binary.as_deref() == Some(binary))
        .unwrap_or_else(|| panic!("no function for {binary}"))
        .id
}

/// The events of the function built from `binary`.
fn events_mut<'a>(template: &'a mut Value, binary: &str) -> &'a mut Mapping {
    let id = function_id(template, binary);
    res_mut(template, &id)["Properties"]["Events"]
        .as_mapping_mut()
        .expect("Events mapping")
}

/// The name of the event of `binary`'s function that declares `route_key`.
fn event_of(template: &Value, binary: &str, route_key: &str) -> String {
    functions(template)
        .into_iter()
        .find(|f| f.binary.as_deref() == Some(binary))
        .and_then(|f| f.http_routes.into_iter().find(|r| r.route_key == route_key))
        .unwrap_or_else(|| panic!("{binary} has no event for {route_key}"))
        .event
}

fn yaml(s: &str) -> Value {
    long_form(&serde_yaml_ng::from_str(s).unwrap())
}

#[test]
fn checks_detect_drift() {
    let original = load_template();
    let routes = banter::rest::all_routes();
    let bins = binaries();
    let baseline = all_mismatches(&original, &bins, &routes);
    // Drift is judged against the template as it is: a route another engineer has not added to
    // the code yet shows up in the positive tests, not here.
    let new_problems = |t: &Value| -> Vec<String> {
        all_mismatches(t, &bins, &routes)
            .into_iter()
            .filter(|p| !baseline.contains(p))
            .collect()
    };

    type Edit = fn(&mut Value);
    let edits: Vec<(&str, &str, Edit)> = vec![
        ("missing route", "POST /v1/auth/logout", |t| {
            let e = event_of(t, "auth", "POST /v1/auth/logout");
            events_mut(t, "auth").remove(e.as_str());
        }),
        ("route on the wrong function", "GET /v1/health", |t| {
            let e = event_of(t, "health", "GET /v1/health");
            let event = events_mut(t, "health").remove(e.as_str()).unwrap();
            events_mut(t, "users").insert("Moved".into(), event);
        }),
        ("route the code does not serve", "GET /v1/extra", |t| {
            let mut event = events_mut(t, "health").values().next().unwrap().clone();
            event["Properties"]["Path"] = Value::String("/v1/extra".into());
            events_mut(t, "health").insert("Extra".into(), event);
        }),
        ("wrong method", "PATCH /v1/users/me", |t| {
            let e = event_of(t, "users", "PATCH /v1/users/me");
            events_mut(t, "users")[e.as_str()]["Properties"]["Method"] =
                Value::String("PUT".into());
        }),
        ("payload 1.0", "GET /v1/health", |t| {
            let e = event_of(t, "health", "GET /v1/health");
            events_mut(t, "health")[e.as_str()]["Properties"]["PayloadFormatVersion"] =
                Value::String("1.0".into());
        }),
        ("extra function", "ExtraFunction", |t| {
            let id = function_id(t, "health");
            let mut extra = res_mut(t, &id).clone();
            extra["Metadata"]["BuildProperties"]["Binary"] = Value::String("extra".into());
            extra["Properties"]
                .as_mapping_mut()
                .unwrap()
                .remove("Events");
            t["Resources"]
                .as_mapping_mut()
                .unwrap()
                .insert("ExtraFunction".into(), extra);
        }),
        ("function removed", "ws-disconnect", |t| {
            let id = function_id(t, "ws-disconnect");
            res_mut(t, &id)["Metadata"]
                .as_mapping_mut()
                .unwrap()
                .remove("BuildProperties");
        }),
        ("x86_64", "FanoutFunction", |t| {
            res_mut(t, "FanoutFunction")["Properties"]["Architectures"] = yaml("[x86_64]");
        }),
        ("no log group", "HealthFunction", |t| {
            res_mut(t, "HealthFunction")["Properties"]
                .as_mapping_mut()
                .unwrap()
                .remove("LoggingConfig");
        }),
        ("WebSocket route missing", "$disconnect", |t| {
            t["Resources"]
                .as_mapping_mut()
                .unwrap()
                .remove("WsDisconnectRoute");
        }),
        ("WebSocket route on the wrong function", "$default", |t| {
            res_mut(t, "WsDefaultRoute")["Properties"]["Target"] =
                yaml("!Sub \"integrations/${WsConnectIntegration}\"");
        }),
        ("extra WebSocket route", "comment_submit", |t| {
            let mut route = res_mut(t, "WsDefaultRoute").clone();
            route["Properties"]["RouteKey"] = Value::String("comment_submit".into());
            t["Resources"]
                .as_mapping_mut()
                .unwrap()
                .insert("WsCommentRoute".into(), route);
        }),
        ("WebSocket permission too broad", "$connect", |t| {
            res_mut(t, "WsConnectPermission")["Properties"]["SourceArn"] = yaml(
                "!Sub \"arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:*\"",
            );
        }),
        ("deployment before a route", "WebSocketApi", |t| {
            res_mut(t, "WebSocketDeployment")["DependsOn"] =
                yaml("[WsConnectRoute, WsDisconnectRoute]");
        }),
        ("WEBSOCKETS typo", "WebSocketApi", |t| {
            res_mut(t, "WebSocketApi")["Properties"]["ProtocolType"] =
                Value::String("WEBSOCKETS".into());
        }),
        ("misspelt response type", "fanout", |t| {
            let e = events_mut(t, "fanout").keys().next().unwrap().clone();
            events_mut(t, "fanout")[&e]["Properties"]["FunctionResponseTypes"] =
                yaml("[ReportBatchItemFailure]");
        }),
        ("short visibility timeout", "FanoutQueue", |t| {
            res_mut(t, "FanoutQueue")["Properties"]["VisibilityTimeout"] = yaml("60");
        }),
        ("shard jobs batched", "FanoutShardQueue", |t| {
            res_mut(t, "FanoutFunction")["Properties"]["Events"]["FanoutShardJobs"]["Properties"]
                ["BatchSize"] = yaml("10");
        }),
        (
            "shard jobs on the fan-out queue",
            "FANOUT_SHARD_QUEUE_URL",
            |t| {
                res_mut(t, "FanoutFunction")["Properties"]["Environment"]["Variables"]["FANOUT_SHARD_QUEUE_URL"] =
                    yaml("!Ref FanoutQueue");
            },
        ),
        ("no dead-letter queue", "FanoutQueue", |t| {
            res_mut(t, "FanoutQueue")["Properties"]
                .as_mapping_mut()
                .unwrap()
                .remove("RedrivePolicy");
        }),
        ("management endpoint on another stage", "fanout", |t| {
            res_mut(t, "FanoutFunction")["Properties"]["Environment"]["Variables"]["WEBSOCKET_MANAGEMENT_ENDPOINT"] =
                yaml(
                    "!Sub \"https://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod\"",
                );
        }),
        ("table variable on the wrong table", "users", |t| {
            let id = function_id(t, "users");
            res_mut(t, &id)["Properties"]["Environment"]["Variables"]["USERS_TABLE"] =
                yaml("!Ref EventsTable");
        }),
        ("table variable on no table", "messages", |t| {
            let id = function_id(t, "messages");
            res_mut(t, &id)["Properties"]["Environment"]["Variables"]["MESSAGES_TABLE"] =
                yaml("!Ref NoSuchTable");
        }),
        ("broad policy", "comments", |t| {
            let id = function_id(t, "comments");
            res_mut(t, &id)["Properties"]["Policies"] =
                yaml("[DynamoDBCrudPolicy: {TableName: !Ref CommentsTable}]");
        }),
        ("wildcard action", "events", |t| {
            let id = function_id(t, "events");
            res_mut(t, &id)["Properties"]["Policies"][0]["Statement"][0]["Action"] =
                Value::String("dynamodb:*".into());
        }),
    ];
    for (what, about, edit) in edits {
        let mut template = original.clone();
        edit(&mut template);
        assert_ne!(template, original, "{what}: the edit changed nothing");
        let problems = new_problems(&template);
        assert!(!problems.is_empty(), "{what}: not detected");
        assert!(
            problems.iter().any(|p| p.contains(about)),
            "{what}: expected a problem about {about}, got {problems:#?}"
        );
    }

    // A workspace binary without a function, and a route the template lacks, are reported.
    let mut more_bins = bins.clone();
    more_bins.insert("presence".into(), "presence".into());
    let problems: Vec<String> = all_mismatches(&original, &more_bins, &routes)
        .into_iter()
        .filter(|p| !baseline.contains(p))
        .collect();
    assert!(
        problems.iter().any(|p| p.starts_with("presence:")),
        "{problems:#?}"
    );
    let mut more_routes = routes.clone();
    more_routes.push(("health", &["GET /v1/ready"]));
    let problems: Vec<String> = all_mismatches(&original, &bins, &more_routes)
        .into_iter()
        .filter(|p| !baseline.contains(p))
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("GET /v1/ready: route of health missing")),
        "{problems:#?}"
    );
}
