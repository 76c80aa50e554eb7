//! `AWS::Serverless::Function`s: what each runs and how (`Globals.Function` applied), and the
//! events that invoke it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_yaml_ng::Value;

use crate::document::{Document, get, path, ref_target};
use crate::reader::Reader;

/// Lambda's default function timeout (SAM's default when neither the function nor `Globals`
/// sets `Timeout`).
pub const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(3);

/// Lambda's default memory size, MB.
pub const DEFAULT_MEMORY_MB: u32 = 128;

/// Scalar function properties that `Globals.Function` may set, kept as text in
/// [`Function::properties`].
pub const GLOBAL_SCALARS: [&str; 6] = [
    "Runtime",
    "Handler",
    "CodeUri",
    "MemorySize",
    "Timeout",
    "Tracing",
];

/// A Lambda function of the template, as deployed: its own properties over
/// `Globals.Function`.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// Logical id (`CommentsFunction`).
    pub logical_id: String,
    /// The Rust binary it runs (`Metadata.BuildProperties.Binary`, else the last component of
    /// `CodeUri`).
    pub binary: String,
    /// `Metadata.BuildMethod`.
    pub build_method: Option<String>,
    /// The scalar properties of [`GLOBAL_SCALARS`] after `Globals`, resolved to text.
    pub properties: BTreeMap<String, String>,
    /// `MemorySize`, MB.
    pub memory_mb: u32,
    /// `Timeout`.
    pub timeout: Duration,
    /// `Architectures` after `Globals` (`arm64`, `x86_64`).
    pub architectures: Vec<String>,
    /// `Environment.Variables`: `Globals.Function`'s, the function's over them, unresolved
    /// (resolve one with [`crate::Deployment::resolve`]).
    pub environment: BTreeMap<String, Value>,
    /// The variables of [`Function::environment`] whose value refers to a queue of the
    /// template: variable name → queue logical id (`FANOUT_QUEUE_URL` → `FanoutQueue`).
    pub queue_variables: BTreeMap<String, String>,
    /// `LoggingConfig.LogGroup` when it is a `!Ref` to a resource.
    pub log_group: Option<String>,
    /// `Policies` as written (long form).
    pub policies: Value,
    /// Its events by name.
    pub events: BTreeMap<String, FunctionEvent>,
}

impl Function {
    /// A scalar property after `Globals` (see [`GLOBAL_SCALARS`]).
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    /// Its `HttpApi` events, by event name.
    pub fn http_events(&self) -> impl Iterator<Item = (&str, &HttpEvent)> {
        self.events.iter().filter_map(|(name, e)| match e {
            FunctionEvent::HttpApi(h) => Some((name.as_str(), h)),
            _ => None,
        })
    }

    /// Event types other than `HttpApi`, `SQS` and `S3`, as `name (Type)`.
    pub fn other_events(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|(name, e)| match e {
                FunctionEvent::Other(kind) => Some(format!("{name} ({kind})")),
                _ => None,
            })
            .collect()
    }
}

/// One event of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionEvent {
    /// An `HttpApi` event.
    HttpApi(HttpEvent),
    /// An `SQS` event (its mapping is also in [`crate::Deployment::event_sources`]).
    Sqs {
        /// Logical id of the queue, when `Queue` refers to one.
        queue: Option<String>,
    },
    /// An `S3` event: the bucket's notifications invoke the function.
    S3 {
        /// Logical id of the bucket, when `Bucket` refers to one.
        bucket: Option<String>,
        /// `Events` (`s3:ObjectCreated:*`).
        events: Vec<String>,
        /// The key prefix of its `Filter`, if any.
        prefix: Option<String>,
    },
    /// Any other event type (`Schedule`, …), by `Type`.
    Other(String),
}

/// An `HttpApi` event as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpEvent {
    /// `Method`, when set.
    pub method: Option<String>,
    /// `Path`, when set.
    pub path: Option<String>,
    /// `ApiId` as a `!Ref`; `None` means SAM's implicit API.
    pub api: Option<String>,
    /// `PayloadFormatVersion` (SAM's default for HTTP APIs is 2.0).
    pub payload_version: String,
}

impl Reader<'_> {
    pub(crate) fn read_functions(&mut self) {
        let globals = path(self.doc.root(), &["Globals", "Function"]).unwrap_or(&Value::Null);
        for (id, resource) in self.doc.resources_of("AWS::Serverless::Function") {
            if let Some(function) = self.read_function(&id, resource, globals) {
                self.out.functions.insert(id, function);
            }
        }
    }

    /// One function, `Globals.Function` under its own properties.
    fn read_function(&mut self, id: &str, resource: &Value, globals: &Value) -> Option<Function> {
        let doc = self.doc;
        let props = get(resource, "Properties").unwrap_or(&Value::Null);
        let own_or_global = |key: &str| get(props, key).or_else(|| get(globals, key));
        let Some(binary) = binary_of(doc, resource, own_or_global("CodeUri")) else {
            self.problem(format!(
                "function {id}: no Metadata.BuildProperties.Binary (nor CodeUri) names its \
                 binary"
            ));
            return None;
        };
        let timeout = match doc.number(own_or_global("Timeout")) {
            None => DEFAULT_FUNCTION_TIMEOUT,
            Some(Ok(secs)) => Duration::from_secs(secs),
            Some(Err(e)) => {
                self.problem(format!("function {id}: Timeout {e}"));
                DEFAULT_FUNCTION_TIMEOUT
            }
        };
        let memory_mb = match doc.number(own_or_global("MemorySize")) {
            None => DEFAULT_MEMORY_MB,
            Some(Ok(mb)) => u32::try_from(mb).unwrap_or(u32::MAX),
            Some(Err(e)) => {
                self.problem(format!("function {id}: MemorySize {e}"));
                DEFAULT_MEMORY_MB
            }
        };
        let properties = GLOBAL_SCALARS
            .iter()
            .filter_map(|key| {
                let v = own_or_global(key).and_then(|v| doc.scalar(v))?;
                Some(((*key).to_owned(), v))
            })
            .collect();
        let environment = environment(globals, props);
        let queue_variables = environment
            .iter()
            .filter_map(|(name, value)| {
                let queue = doc.reference_to(value, &["AWS::SQS::Queue"]).ok()?;
                Some((name.clone(), queue))
            })
            .collect();
        Some(Function {
            logical_id: id.to_owned(),
            binary,
            build_method: get(resource, "Metadata")
                .and_then(|m| get(m, "BuildMethod"))
                .and_then(|v| doc.scalar(v)),
            properties,
            memory_mb,
            timeout,
            architectures: own_or_global("Architectures")
                .map(|v| doc.strings(v))
                .unwrap_or_default(),
            environment,
            queue_variables,
            log_group: path(props, &["LoggingConfig", "LogGroup"])
                .and_then(ref_target)
                .map(str::to_owned),
            policies: get(props, "Policies").cloned().unwrap_or(Value::Null),
            events: self.read_events(id, props),
        })
    }

    /// A function's `Events`, by name.
    fn read_events(&mut self, id: &str, props: &Value) -> BTreeMap<String, FunctionEvent> {
        let mut out = BTreeMap::new();
        let events = get(props, "Events").and_then(Value::as_mapping);
        for (name, event) in events.into_iter().flatten() {
            let name = name.as_str().unwrap_or("?").to_owned();
            let kind = get(event, "Type").and_then(Value::as_str).unwrap_or("");
            let eprops = get(event, "Properties");
            let read = match kind {
                "HttpApi" => FunctionEvent::HttpApi(self.read_http_event(id, &name, eprops)),
                "SQS" => FunctionEvent::Sqs {
                    queue: self.read_sqs_event(id, &name, eprops),
                },
                "S3" => self.read_s3_event(eprops),
                other => FunctionEvent::Other(other.to_owned()),
            };
            out.insert(name, read);
        }
        out
    }

    fn read_s3_event(&self, props: Option<&Value>) -> FunctionEvent {
        let doc = self.doc;
        let bucket = props
            .and_then(|p| get(p, "Bucket"))
            .and_then(ref_target)
            .map(str::to_owned);
        let events = props
            .and_then(|p| get(p, "Events"))
            .map(|v| doc.strings(v))
            .unwrap_or_default();
        let prefix = props
            .and_then(|p| path(p, &["Filter", "S3Key", "Rules"]))
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .find(|r| get(r, "Name").and_then(Value::as_str) == Some("prefix"))
            .and_then(|r| get(r, "Value"))
            .and_then(|v| doc.scalar(v));
        FunctionEvent::S3 {
            bucket,
            events,
            prefix,
        }
    }

    fn read_http_event(&mut self, function: &str, name: &str, props: Option<&Value>) -> HttpEvent {
        let doc = self.doc;
        let scalar = |key: &str| props.and_then(|p| get(p, key)).and_then(|v| doc.scalar(v));
        let event = HttpEvent {
            method: scalar("Method"),
            path: scalar("Path"),
            api: props
                .and_then(|p| get(p, "ApiId"))
                .and_then(ref_target)
                .map(str::to_owned),
            payload_version: scalar("PayloadFormatVersion").unwrap_or_else(|| "2.0".to_owned()),
        };
        self.add_http_event_route(function, name, props, &event);
        event
    }
}

/// The binary a function runs: `Metadata.BuildProperties.Binary`, else the last component of
/// its `CodeUri` (unless that is the workspace root).
fn binary_of(doc: &Document<'_>, resource: &Value, code_uri: Option<&Value>) -> Option<String> {
    path(resource, &["Metadata", "BuildProperties", "Binary"])
        .and_then(|v| doc.scalar(v))
        .or_else(|| {
            code_uri
                .and_then(|v| doc.scalar(v))
                .and_then(|uri| {
                    uri.trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .map(str::to_owned)
                })
                .filter(|b| b != ".")
        })
        .filter(|b| !b.is_empty())
}

/// `Environment.Variables`: `Globals.Function`'s, the function's over them.
fn environment(globals: &Value, props: &Value) -> BTreeMap<String, Value> {
    let variables = |v: &Value| -> Vec<(String, Value)> {
        path(v, &["Environment", "Variables"])
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut environment: BTreeMap<String, Value> = variables(globals).into_iter().collect();
    environment.extend(variables(props));
    environment
}
