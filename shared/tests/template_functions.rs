//! `template.yaml` deploys exactly the code:
//!
//! - the function binaries of the workspace (`functions/src/bin/*.rs`) are exactly
//!   `banter::functions::Function::all()`, and each has exactly one `AWS::Serverless::Function` built from it
//!   (`Metadata.BuildProperties.Binary`), and every function is built from one of them, the
//!   same way (cargo-lambda, `provided.al2023`, arm64, `bootstrap`, the workspace root);
//! - the HTTP API's routes (the functions' `HttpApi` events) are exactly the route keys of
//!   `banter::functions::all_routes()`, each on the function of its name, with payload 2.0, and the catch-all
//!   `$default` on `RestFunction::DEFAULT_ROUTE`;
//! - the WebSocket API has exactly the routes `$connect`, `$disconnect` and `$default`, each an
//!   `AWS_PROXY` integration of `ws-connect`, `ws-disconnect`, `ws-default`, invokable by API
//!   Gateway from that API only, deployed by a deployment that waits for all three;
//! - `fanout` consumes the fan-out queue with `ReportBatchItemFailures`, the queue has a
//!   dead-letter queue and a visibility timeout of at least 6 × the function timeout (plus the
//!   batching window), and the functions that post frames know the management endpoint;
//! - every `*_TABLE` variable names a table of the template, the one its `TableDef` says, and
//!   every function gets all of them;
//! - the inline IAM policies grant no wildcard action or resource;
//! - only `auth` holds the token signing key (EdDSA, `BANTER_JWT_PRIVATE_KEY`); the functions
//!   that verify tokens hold only the public key (`BANTER_JWT_PUBLIC_KEY`), the others no key
//!   (`banter::functions::Function::key_role`).
//!
//! The template is read by `banter-deployment` (functions with their `Globals`, events, the
//! WebSocket API, queues and event sources); the checks here compare that model with the
//! code, and look at the few raw settings the model does not type (log groups, permissions,
//! policies) in its long-form document.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use banter::store::dynamodb::tables::{ALL, TableDef};
use banter_deployment::document::{self, get, path, ref_target, sub_variables};
use banter_deployment::{
    Deployment, EventSource, Function, FunctionEvent, HttpEvent, Mapping, Value,
};

// =============================================================================================
// Reading: the deployment model, the few raw forms it leaves as written, the workspace.
// =============================================================================================

/// The workspace root (where `Cargo.toml` and `template.yaml` are).
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The deployment `template.yaml` describes.
fn load_deployment() -> Deployment {
    Deployment::load_default().expect("template.yaml is valid YAML")
}

/// The model of an edited copy of [`Deployment::document`].
fn model(template: &Value) -> Deployment {
    Deployment::from_document(template).expect("the edited template is a mapping")
}

/// `(X, attribute)` of `{"Fn::GetAtt": [X, attribute]}` or `{"Fn::GetAtt": "X.attribute"}`.
fn get_att(v: &Value) -> Option<(String, String)> {
    match get(v, "Fn::GetAtt")? {
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
    match get(v, "Fn::Sub")? {
        Value::String(s) => Some(s),
        Value::Sequence(s) => s.first()?.as_str(),
        _ => None,
    }
}

/// The `Type` of a resource (`""` when absent).
fn type_of(resource: &Value) -> &str {
    get(resource, "Type").and_then(Value::as_str).unwrap_or("")
}

/// `METHOD /path` of an `HttpApi` event, as in `banter::rest` (`ANY` stays `ANY`);
/// `$default` for an event without either (the catch-all route).
fn route_key(event: &HttpEvent) -> String {
    if event.method.is_none() && event.path.is_none() {
        return banter::http::unrouted::ROUTE_KEY.to_owned();
    }
    format!(
        "{} {}",
        event.method.as_deref().unwrap_or_default().to_uppercase(),
        event.path.as_deref().unwrap_or_default()
    )
}

/// The `SQS` events of a function: (event name, the queue it reads when that is a queue of
/// the template).
fn sqs_events(f: &Function) -> Vec<(&str, Option<&str>)> {
    f.events
        .iter()
        .filter_map(|(name, e)| match e {
            FunctionEvent::Sqs { queue } => Some((name.as_str(), queue.as_deref())),
            _ => None,
        })
        .collect()
}

/// A setting of function `f`'s event `event` as written.
fn event_setting<'a>(d: &'a Deployment, f: &Function, event: &str, key: &str) -> Option<&'a Value> {
    path(
        d.resource(&f.logical_id)?,
        &["Properties", "Events", event, "Properties", key],
    )
}

/// The function binaries of the workspace: the `functions` package's `src/bin/<name>.rs`
/// files, each file stem → the binary cargo names after it.
fn workspace_function_binaries(root: &Path) -> Result<BTreeMap<String, String>, String> {
    let dir = root.join("functions").join("src").join("bin");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
    let mut out = BTreeMap::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("read {}: {e}", dir.display()))?
            .path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            return Err(format!("{}: not a UTF-8 file name", path.display()));
        };
        out.insert(stem.to_owned(), stem.to_owned());
    }
    Ok(out)
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
fn function_mismatches(d: &Deployment, binaries: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (dir, binary) in binaries {
        if dir != binary {
            problems.push(format!(
                "{binary}: functions/src/bin/{dir}.rs builds binary {binary}, not {dir} (the binary name must equal the file name)"
            ));
        }
        let n = d.functions.values().filter(|f| &f.binary == binary).count();
        if n != 1 {
            problems.push(format!(
                "{binary}: workspace binary deployed by {n} functions, not exactly 1"
            ));
        }
    }
    for (id, resource) in d.resources_of("AWS::Serverless::Function") {
        if path(resource, &["Metadata", "BuildProperties", "Binary"]).is_none() {
            problems.push(format!("{id}: no Metadata.BuildProperties.Binary"));
        }
    }
    let known: BTreeSet<&str> = binaries.values().map(String::as_str).collect();
    for f in d.functions.values() {
        let id = &f.logical_id;
        let b = &f.binary;
        if !known.contains(b.as_str()) {
            problems.push(format!(
                "{id}: binary {b} is not a workspace function binary"
            ));
        }
        let expect = [
            ("Runtime", RUNTIME),
            ("Handler", HANDLER),
            ("CodeUri", CODE_URI),
        ];
        for (key, want) in expect {
            if f.property(key) != Some(want) {
                problems.push(format!(
                    "{id}: {key} is {:?}, not {want:?}",
                    f.property(key)
                ));
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
            if f.property(key)
                .and_then(|v| v.parse::<u64>().ok())
                .is_none()
            {
                problems.push(format!("{id}: no {key}"));
            }
        }
        match f.log_group.as_deref().map(|g| (g, d.resource(g))) {
            None => problems.push(format!("{id}: no LoggingConfig.LogGroup: !Ref <log group>")),
            Some((g, None)) => problems.push(format!("{id}: log group {g} does not exist")),
            Some((g, Some(r))) => {
                if type_of(r) != "AWS::Logs::LogGroup" {
                    problems.push(format!("{id}: {g} is not an AWS::Logs::LogGroup"));
                } else if path(r, &["Properties", "RetentionInDays"]).is_none() {
                    problems.push(format!("{id}: log group {g} has no RetentionInDays"));
                }
            }
        }
        let other_events = f.other_events();
        if !other_events.is_empty() {
            problems.push(format!("{id}: events of unexpected types {other_events:?}"));
        }
    }
    problems
}

/// The HTTP API routes of the template against `expected` (function name → route keys, as
/// `banter::functions::all_routes()` gives them).
fn route_mismatches(d: &Deployment, expected: &[(&str, &[&str])]) -> Vec<String> {
    let mut problems = Vec::new();
    let http_apis: Vec<String> = d
        .resources_of("AWS::Serverless::HttpApi")
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
    let mut declared: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for f in d.functions.values() {
        for (event, r) in f.http_events() {
            let key = route_key(r);
            declared.entry(key.clone()).or_default().push(&f.binary);
            if r.api.as_ref().is_none_or(|api| !http_apis.contains(api)) {
                problems.push(format!(
                    "{key}: route {} (event {event}) is not on the HTTP API (ApiId: {:?})",
                    f.binary, r.api
                ));
            }
            if r.payload_version != "2.0" {
                problems.push(format!(
                    "{key}: PayloadFormatVersion {} on {}, not 2.0",
                    r.payload_version, f.binary
                ));
            }
        }
    }
    let mut wanted: BTreeMap<&str, &str> = BTreeMap::new();
    // The catch-all route, on the function that answers it (405/404, banter::http::unrouted).
    wanted.insert(
        banter::http::unrouted::ROUTE_KEY,
        banter::functions::RestFunction::DEFAULT_ROUTE.name(),
    );
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
        match declared.get(*key).map(Vec::as_slice) {
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
        if !wanted.contains_key(key.as_str()) {
            problems.push(format!(
                "{key}: route on {on:?} in template.yaml that no banter::rest module serves"
            ));
        }
    }
    problems
}

/// The WebSocket API: exactly `$connect`, `$disconnect`, `$default`, each served by its
/// function through an `AWS_PROXY` integration, invokable from that API only, deployed.
fn websocket_mismatches(d: &Deployment) -> Vec<String> {
    let [ws] = d.websocket_apis.as_slice() else {
        return vec![format!(
            "WebSocketApi: {} APIs with ProtocolType WEBSOCKET, not exactly 1",
            d.websocket_apis.len()
        )];
    };
    let api = &ws.logical_id;
    let mut problems = Vec::new();
    if ws.route_selection.as_deref() != Some("$request.body.type") {
        problems.push(format!(
            "{api}: RouteSelectionExpression is {:?}, not $request.body.type",
            ws.route_selection
        ));
    }
    let binary_of = |id: &str| d.function(id).map(|f| f.binary.clone());
    let wanted: BTreeSet<&str> = WS_ROUTES.iter().map(|(k, _)| *k).collect();
    for r in &ws.routes {
        let key = &r.route_key;
        if !wanted.contains(key.as_str()) {
            problems.push(format!(
                "{key}: WebSocket route that Banter does not use (the router dispatches on type under $default)"
            ));
        }
    }
    for (key, binary) in WS_ROUTES {
        let Some(r) = ws.route(key) else {
            problems.push(format!("{key}: WebSocket route missing"));
            continue;
        };
        let route = &r.logical_id;
        let Some(integration) = &r.integration else {
            problems.push(format!(
                "{key}: {route} has no Target integrations/${{Integration}}"
            ));
            continue;
        };
        let target = ws.integrations.get(integration);
        if target.is_some_and(|i| i.kind != "AWS_PROXY") {
            problems.push(format!("{key}: {integration} is not AWS_PROXY"));
        }
        let function = target.and_then(|i| i.function.as_deref());
        let served_by = function.and_then(binary_of);
        if served_by.as_deref() != Some(binary) {
            problems.push(format!(
                "{key}: integrated with {served_by:?} (function {function:?}), not {binary}"
            ));
            continue;
        }
        // API Gateway may invoke the function, from this API's route only.
        let function = function.unwrap_or_default();
        let allowed = d
            .resources_of("AWS::Lambda::Permission")
            .into_iter()
            .any(|(_, p)| {
                let setting = |key: &str| path(p, &["Properties", key]);
                let source = setting("SourceArn")
                    .and_then(sub_string)
                    .unwrap_or_default();
                setting("FunctionName").and_then(ref_target) == Some(function)
                    && setting("Principal").and_then(Value::as_str)
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
    let routes: BTreeSet<&str> = ws.routes.iter().map(|r| r.logical_id.as_str()).collect();
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
    match ws.stages.first() {
        None => problems.push(format!("{api}: no AWS::ApiGatewayV2::Stage")),
        Some(stage) => {
            let deployment = &stage.deployment;
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

    // The posting functions know this API's management endpoint, on the deployed stage (its
    // `StageName` as written: `${Parameter}` for a `!Ref`, else the name).
    let stage = ws
        .stages
        .first()
        .and_then(|s| match &s.name_parameter {
            Some(param) => Some(format!("${{{param}}}")),
            None => s.name.clone(),
        })
        .unwrap_or_default();
    for binary in POSTERS {
        let Some(f) = d.function_by_binary(binary) else {
            continue; // reported by function_mismatches
        };
        let endpoint = f
            .environment
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
fn fanout_mismatches(d: &Deployment) -> Vec<String> {
    let mut problems = Vec::new();
    for f in d.functions.values() {
        if f.binary != FANOUT && !sqs_events(f).is_empty() {
            problems.push(format!(
                "{}: SQS event source on a function other than {FANOUT}",
                f.binary
            ));
        }
    }
    let Some(f) = d.function_by_binary(FANOUT) else {
        return vec![format!("{FANOUT}: no function")];
    };
    let fanout_queue = f.environment.get("FANOUT_QUEUE_URL").and_then(ref_target);
    let shard_queue = f
        .environment
        .get("FANOUT_SHARD_QUEUE_URL")
        .and_then(ref_target);
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
    let events = sqs_events(f);
    if events.len() != 2 {
        problems.push(format!(
            "{FANOUT}: {} SQS events, not 2 (fan-out jobs and shard jobs)",
            events.len()
        ));
    }
    let mut read = Vec::new();
    for (event, queue) in events {
        // The queue's ARN: `!GetAtt <queue>.Arn` (a `!Ref` would be its URL).
        let written_as_get_att = event_setting(d, f, event, "Queue")
            .and_then(get_att)
            .is_some();
        let source = d
            .event_sources
            .iter()
            .find(|s| s.function == f.logical_id && s.name == event);
        let (Some(queue_id), Some(source), true) = (queue, source, written_as_get_att) else {
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
        problems.extend(source_mismatches(d, f, source, queue_id, max_batch));
    }
    for queue in [fanout_queue, shard_queue] {
        if !read.contains(&queue) {
            problems.push(format!("{FANOUT}: no SQS event reads {queue}"));
        }
    }
    for g in d.functions.values() {
        let url = g.environment.get("FANOUT_QUEUE_URL").and_then(ref_target);
        if url != Some(fanout_queue) {
            problems.push(format!(
                "{}: FANOUT_QUEUE_URL is {url:?}, not !Ref {fanout_queue}",
                g.binary
            ));
        }
    }
    problems
}

/// One SQS event of the fan-out on `queue_id`: partial batch failures, `BatchSize` in
/// `1..=max_batch`, a dead-letter queue, and a visibility timeout that outlasts a batch.
fn source_mismatches(
    d: &Deployment,
    f: &Function,
    source: &EventSource,
    queue_id: &str,
    max_batch: usize,
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
    let Some(queue) = d.queues.get(queue_id) else {
        problems.push(format!("{FANOUT}: {queue_id} is not an AWS::SQS::Queue"));
        return problems;
    };
    // Another queue's ARN: `!GetAtt <queue>.Arn`.
    let dlq_written = d
        .resource(queue_id)
        .and_then(|q| path(q, &["Properties", "RedrivePolicy", "deadLetterTargetArn"]));
    match &queue.dead_letter_queue {
        Some(_) if dlq_written.and_then(get_att).is_some() => {}
        other => problems.push(format!(
            "{queue_id}: RedrivePolicy.deadLetterTargetArn is {other:?}, not another queue's Arn"
        )),
    }
    if queue.max_receive_count.unwrap_or(0) == 0 {
        problems.push(format!("{queue_id}: no RedrivePolicy.maxReceiveCount"));
    }
    let timeout = f.timeout.as_secs();
    let window = source.max_batching_window.as_secs();
    let needed = 6 * timeout + window;
    let visibility = queue.visibility_timeout.as_secs();
    if visibility < needed {
        problems.push(format!(
            "{queue_id}: VisibilityTimeout {visibility} s is under 6 x the {FANOUT} timeout ({timeout} s) + the batching window ({window} s) = {needed} s"
        ));
    }
    problems
}

/// Every `*_TABLE` variable is `!Ref` of the table whose `TableDef` names that variable, and
/// every function gets every table variable (`TableNames::from_env` would otherwise fall back
/// silently to a `banter-<name>` table).
fn table_env_mismatches(d: &Deployment, defs: &[TableDef]) -> Vec<String> {
    let mut problems = Vec::new();
    let doc = d.doc();
    for f in d.functions.values() {
        let name = &f.binary;
        for (var, value) in &f.environment {
            if !var.ends_with("_TABLE") {
                continue;
            }
            let Some(target) = ref_target(value) else {
                problems.push(format!("{name}: {var} is not !Ref <table>"));
                continue;
            };
            match doc.resource_type(target) {
                Some("AWS::DynamoDB::Table") => {}
                Some(other) => {
                    problems.push(format!("{name}: {var} refers to {target}, a {other}"))
                }
                None => problems.push(format!(
                    "{name}: {var} refers to {target}, which does not exist"
                )),
            }
            match defs.iter().find(|d| d.logical_id == target) {
                Some(d) if d.env_var == var => {}
                Some(d) => problems.push(format!(
                    "{name}: {var} refers to {target}, whose variable is {}",
                    d.env_var
                )),
                None => problems.push(format!(
                    "{name}: {var} refers to {target}, which no TableDef describes"
                )),
            }
        }
        for def in defs {
            if !f.environment.contains_key(def.env_var) {
                problems.push(format!("{name}: {} is not set", def.env_var));
            }
        }
    }
    problems
}

/// The functions' policies are inline statements without wildcards: no SAM policy template
/// or managed policy (`DynamoDBCrudPolicy` grants every table action), no `*` in an action, no
/// `Resource: "*"`.
fn policy_mismatches(d: &Deployment) -> Vec<String> {
    let mut problems = Vec::new();
    let doc = d.doc();
    for f in d.functions.values() {
        let name = &f.binary;
        let policies = match &f.policies {
            Value::Null => continue,
            Value::Sequence(s) => s.clone(),
            other => vec![other.clone()],
        };
        for policy in &policies {
            let Some(statements) = get(policy, "Statement").and_then(Value::as_sequence) else {
                problems.push(format!(
                    "{name}: policy {policy:?} is not an inline policy document"
                ));
                continue;
            };
            for s in statements {
                let sid = get(s, "Sid")
                    .and_then(|v| doc.scalar(v))
                    .unwrap_or_default();
                if get(s, "Effect").and_then(Value::as_str) != Some("Allow") {
                    continue;
                }
                let list = |key: &str| get(s, key).map(|v| doc.strings(v)).unwrap_or_default();
                for action in list("Action") {
                    if action.contains('*') {
                        problems.push(format!("{name}: {sid} allows {action}"));
                    }
                }
                if list("Resource").iter().any(|r| r == "*") {
                    problems.push(format!("{name}: {sid} allows Resource \"*\""));
                }
            }
        }
    }
    problems
}

/// Every string inside `v` (the texts of `!Sub`, `!If` branches, …).
fn strings_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|i| strings_in(i, out)),
        Value::Mapping(m) => m.values().for_each(|i| strings_in(i, out)),
        Value::Tagged(t) => strings_in(&t.value, out),
        _ => {}
    }
}

/// The auth secret's field that variable `var` of `f` resolves, when its value is one
/// unconditional `{{resolve:secretsmanager:${AuthSecretId}:SecretString:<field>}}`; `Err` with
/// the reason otherwise.
fn secret_field(f: &Function, var: &str) -> Result<String, String> {
    let value = f
        .environment
        .get(var)
        .ok_or_else(|| format!("{}: {var} is not set", f.binary))?;
    let text = sub_string(value).ok_or_else(|| {
        format!(
            "{}: {var} is not one unconditional !Sub of the auth secret",
            f.binary
        )
    })?;
    text.strip_prefix("{{resolve:secretsmanager:${AuthSecretId}:SecretString:")
        .and_then(|rest| rest.strip_suffix("}}"))
        .map(str::to_owned)
        .ok_or_else(|| {
            format!(
                "{}: {var} = {text:?} is not a field of the auth secret",
                f.binary
            )
        })
}

/// Only the function that signs (`auth`) holds the private key, as an unconditional
/// `BANTER_JWT_PRIVATE_KEY` (EdDSA; no HS256 secret anywhere); the functions that verify hold
/// `BANTER_JWT_PUBLIC_KEY` (the secret's `public_key` field) and nothing else; the others hold
/// no key. No variable of a function other than the signer mentions the `signing_key` field.
fn signing_key_mismatches(d: &Deployment) -> Vec<String> {
    use banter::functions::KeyRole;
    const PRIVATE: &str = "BANTER_JWT_PRIVATE_KEY";
    const PUBLIC: &str = "BANTER_JWT_PUBLIC_KEY";
    const SECRET: &str = "BANTER_JWT_SECRET";
    let mut problems = Vec::new();
    for f in d.functions.values() {
        let name = &f.binary;
        let Some(role) = banter::functions::Function::from_binary(name).map(|c| c.key_role())
        else {
            continue; // reported by function_mismatches
        };
        if f.environment.contains_key(SECRET) {
            problems.push(format!(
                "{name}: {SECRET} is set (HS256 puts the signing secret on every verifier)"
            ));
        }
        let has = |var: &str| f.environment.contains_key(var);
        match role {
            KeyRole::Sign => {
                match secret_field(f, PRIVATE) {
                    Ok(field) if field == "signing_key" => {}
                    Ok(field) => problems.push(format!("{name}: {PRIVATE} is the {field} field")),
                    Err(e) => problems.push(e),
                }
                if has(PUBLIC) {
                    problems.push(format!("{name}: signs, yet {PUBLIC} is set"));
                }
            }
            KeyRole::Verify => {
                if has(PRIVATE) {
                    problems.push(format!("{name}: only verifies, yet holds {PRIVATE}"));
                }
                match secret_field(f, PUBLIC) {
                    Ok(field) if field == "public_key" => {}
                    Ok(field) => problems.push(format!("{name}: {PUBLIC} is the {field} field")),
                    Err(e) => problems.push(e),
                }
            }
            KeyRole::None => {
                for var in [PRIVATE, PUBLIC] {
                    if has(var) {
                        problems.push(format!("{name}: verifies nothing, yet holds {var}"));
                    }
                }
            }
        }
        if role != KeyRole::Sign {
            for (var, value) in &f.environment {
                let mut texts = Vec::new();
                strings_in(value, &mut texts);
                if texts.iter().any(|t| t.contains("SecretString:signing_key")) {
                    problems.push(format!("{name}: {var} holds the signing key"));
                }
            }
        }
    }
    problems
}

/// Every problem of the deployment `d` against the workspace `binaries` and the REST `routes`.
fn all_mismatches(
    d: &Deployment,
    binaries: &BTreeMap<String, String>,
    routes: &[(&str, &[&str])],
) -> Vec<String> {
    let mut problems = function_mismatches(d, binaries);
    problems.extend(route_mismatches(d, routes));
    problems.extend(websocket_mismatches(d));
    problems.extend(fanout_mismatches(d));
    problems.extend(table_env_mismatches(d, &ALL));
    problems.extend(policy_mismatches(d));
    problems.extend(signing_key_mismatches(d));
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
    for (name, _) in banter::functions::all_routes() {
        assert!(
            found.contains(name),
            "REST function {name} is not a workspace binary"
        );
    }
    let listed: BTreeSet<String> = banter::functions::Function::all()
        .map(|f| f.binary().to_owned())
        .collect();
    assert_eq!(
        found, listed,
        "functions/src/bin must hold exactly the binaries of banter::functions::Function::all()"
    );
}

#[test]
fn one_function_per_workspace_binary() {
    report(
        "functions",
        &function_mismatches(&load_deployment(), &binaries()),
    );
}

#[test]
fn http_routes_are_exactly_the_rest_routes_on_their_functions() {
    report(
        "REST routes",
        &route_mismatches(&load_deployment(), &banter::functions::all_routes()),
    );
}

#[test]
fn websocket_api_has_the_three_routes_on_their_functions() {
    report("WebSocket API", &websocket_mismatches(&load_deployment()));
}

#[test]
fn fanout_consumes_its_queue_with_partial_batch_failures() {
    report("fan-out", &fanout_mismatches(&load_deployment()));
}

#[test]
fn table_variables_name_the_tables_of_the_template() {
    report(
        "table variables",
        &table_env_mismatches(&load_deployment(), &ALL),
    );
}

#[test]
fn policies_are_inline_and_without_wildcards() {
    report("policies", &policy_mismatches(&load_deployment()));
}

#[test]
fn only_the_auth_function_holds_the_signing_key() {
    report("token keys", &signing_key_mismatches(&load_deployment()));
}

#[test]
fn globals_are_applied_and_intrinsics_read() {
    let d = load_deployment();
    let fanout = d.function_by_binary("fanout").expect("fanout");
    assert_eq!(fanout.property("Runtime"), Some(RUNTIME));
    assert_eq!(fanout.architectures, [ARCHITECTURE]);
    assert_eq!(
        ref_target(&fanout.environment["USERS_TABLE"]),
        Some("UsersTable"),
        "globals' variables are merged"
    );
    assert!(
        fanout
            .environment
            .contains_key("WEBSOCKET_MANAGEMENT_ENDPOINT")
    );
    assert_eq!(
        sub_variables("https://${Api}.execute-api.${AWS::Region}.${!Literal}/${Stage}"),
        ["Api", "AWS::Region", "Stage"]
    );
    assert_eq!(
        get_att(&yaml("{\"Fn::GetAtt\": Q.Arn}")),
        Some(("Q".to_owned(), "Arn".to_owned()))
    );
}

// --- The checks are not vacuous: each kind of drift is reported, naming what drifted. ------

/// A mutable handle on a resource of a template document.
fn res_mut<'a>(template: &'a mut Value, id: &str) -> &'a mut Value {
    template
        .get_mut("Resources")
        .and_then(|r| r.get_mut(id))
        .unwrap_or_else(|| panic!("no resource {id}"))
}

/// The logical id of the function built from `binary`.
fn function_id(template: &Value, binary: &str) -> String {
    model(template)
        .function_by_binary(binary)
        .unwrap_or_else(|| panic!("no function for {binary}"))
        .logical_id
        .clone()
}

/// The events of the function built from `binary`.
fn events_mut<'a>(template: &'a mut Value, binary: &str) -> &'a mut Mapping {
    let id = function_id(template, binary);
    res_mut(template, &id)["Properties"]["Events"]
        .as_mapping_mut()
        .expect("Events mapping")
}

/// The name of the event of `binary`'s function that declares `route_key`.
fn event_of(template: &Value, binary: &str, key: &str) -> String {
    model(template)
        .function_by_binary(binary)
        .and_then(|f| {
            f.http_events()
                .find(|(_, e)| route_key(e) == key)
                .map(|(name, _)| name.to_owned())
        })
        .unwrap_or_else(|| panic!("{binary} has no event for {key}"))
}

fn yaml(s: &str) -> Value {
    document::yaml(s).unwrap()
}

#[test]
fn checks_detect_drift() {
    let deployment = load_deployment();
    let original = deployment.document.clone();
    let routes = banter::functions::all_routes();
    let bins = binaries();
    let baseline = all_mismatches(&deployment, &bins, &routes);
    // Drift is judged against the template as it is: a route another engineer has not added to
    // the code yet shows up in the positive tests, not here.
    let new_problems = |t: &Value| -> Vec<String> {
        all_mismatches(&model(t), &bins, &routes)
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
        // The forms the model does not keep apart (it follows any reference to a queue).
        ("shard queue by URL", "fanout", |t| {
            res_mut(t, "FanoutFunction")["Properties"]["Events"]["FanoutShardJobs"]["Properties"]
                ["Queue"] = yaml("!Ref FanoutShardQueue");
        }),
        ("dead-letter queue by URL", "FanoutQueue", |t| {
            res_mut(t, "FanoutQueue")["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] =
                yaml("!Ref FanoutDeadLetterQueue");
        }),
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
        ("private key on a verifier", "comments", |t| {
            let id = function_id(t, "comments");
            res_mut(t, &id)["Properties"]["Environment"]["Variables"]["BANTER_JWT_PRIVATE_KEY"] =
                yaml(
                    "!Sub \"{{resolve:secretsmanager:${AuthSecretId}:SecretString:signing_key}}\"",
                );
        }),
        ("signing key under another name", "ws-disconnect", |t| {
            let id = function_id(t, "ws-disconnect");
            res_mut(t, &id)["Properties"]["Environment"]["Variables"]["KEY"] = yaml(
                "!Sub \"{{resolve:secretsmanager:${AuthSecretId}:SecretString:signing_key}}\"",
            );
        }),
        ("HS256 secret", "auth", |t| {
            let id = function_id(t, "auth");
            res_mut(t, &id)["Properties"]["Environment"]["Variables"]["BANTER_JWT_SECRET"] = yaml(
                "!Sub \"{{resolve:secretsmanager:${AuthSecretId}:SecretString:signing_key}}\"",
            );
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
    let problems: Vec<String> = all_mismatches(&deployment, &more_bins, &routes)
        .into_iter()
        .filter(|p| !baseline.contains(p))
        .collect();
    assert!(
        problems.iter().any(|p| p.starts_with("presence:")),
        "{problems:#?}"
    );
    let mut more_routes = routes.clone();
    more_routes.push(("health", &["GET /v1/ready"]));
    let problems: Vec<String> = all_mismatches(&deployment, &bins, &more_routes)
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

/// The functions that sign links to media: the uploads function and every function that
/// shows messages (REST, the WebSocket answers and catch-up, the fan-out's frames), and the
/// media function that checks uploads.
const MEDIA_FUNCTIONS: [&str; 5] = ["uploads", "messages", "ws-default", "fanout", "media"];

/// The media function is invoked by the media bucket's object-created events under the upload
/// prefix only (what it writes, under `files/` and `thumbnails/`, never invokes it again), and
/// every function that signs media links names that bucket in `MEDIA_BUCKET`, by the name the
/// bucket is given (a reference would be a cycle through the bucket's notification).
fn media_mismatches(d: &Deployment) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(bucket) = d.resource("MediaBucket") else {
        return vec!["MediaBucket: no such resource".into()];
    };
    if type_of(bucket) != "AWS::S3::Bucket" {
        problems.push("MediaBucket: not an AWS::S3::Bucket".into());
    }
    let name = path(bucket, &["Properties", "BucketName"]).cloned();
    let media: Vec<&Function> = d
        .functions
        .values()
        .filter(|f| f.binary == "media")
        .collect();
    let [media] = media.as_slice() else {
        return vec![format!("media: {} functions, not 1", media.len())];
    };
    let s3: Vec<_> = media
        .events
        .values()
        .filter_map(|e| match e {
            FunctionEvent::S3 {
                bucket,
                events,
                prefix,
            } => Some((bucket.clone(), events.clone(), prefix.clone())),
            _ => None,
        })
        .collect();
    let want = (
        Some("MediaBucket".to_owned()),
        vec!["s3:ObjectCreated:*".to_owned()],
        Some(banter::model::media::UPLOAD_PREFIX.to_owned()),
    );
    if s3 != [want.clone()] {
        problems.push(format!("media: S3 events {s3:?}, not [{want:?}]"));
    }
    for f in d.functions.values() {
        let has = f.environment.get("MEDIA_BUCKET");
        let wanted = MEDIA_FUNCTIONS.contains(&f.binary.as_str());
        match (wanted, has) {
            (true, None) => problems.push(format!("{}: no MEDIA_BUCKET", f.binary)),
            (false, Some(_)) => problems.push(format!(
                "{}: MEDIA_BUCKET, but it signs no media link",
                f.binary
            )),
            (true, Some(v)) if Some(v) != name.as_ref() => problems.push(format!(
                "{}: MEDIA_BUCKET is {v:?}, not the bucket's name {name:?}",
                f.binary
            )),
            _ => {}
        }
    }
    problems
}

#[test]
fn the_media_function_checks_the_uploads_of_the_bucket_the_others_sign_for() {
    report("media", &media_mismatches(&load_deployment()));
}
