//! Banter's deployment model: `template.yaml` read once into types. The local gateway, the
//! runtime emulator's tests, the template and OpenAPI tests and the cost benchmark all learn
//! the deployment from here; nothing else parses the file.
//!
//! The template is CloudFormation YAML with short-form tags (`!Ref`, `!GetAtt`, `!Sub`, …).
//! [`Deployment::parse`] rewrites every tag to its long form (`{"Fn::GetAtt": …}`, see
//! [`document::long_form`]) and then reads:
//!
//! - **Functions** ([`Function`]): every `AWS::Serverless::Function` with `Globals.Function`
//!   applied: its binary (`Metadata.BuildProperties.Binary`, else the last component of
//!   `CodeUri`), memory, timeout, architectures, environment, log group, policies and events.
//! - **HTTP routes** ([`HttpRoute`]): the functions' `HttpApi` events (`Method` + `Path`; no
//!   properties means the `$default` route), and `AWS::ApiGatewayV2::Route`s of an `HTTP` API;
//!   the HTTP API's **CORS** ([`Cors`]).
//! - **The WebSocket API** ([`WebSocketApi`]): `RouteSelectionExpression`, routes →
//!   integrations → functions, deployments and stages.
//! - **Tables** ([`Table`]): keys, attributes, indexes, TTL, billing.
//! - **Queues** ([`Queue`]) and **SQS event sources** ([`EventSource`]).
//!
//! References are followed through `Ref`, `Fn::GetAtt`, `Fn::Sub` and `Fn::Join`; scalar
//! settings may be literals or `!Ref` a parameter with a `Default`. Whatever cannot be
//! understood is recorded in [`Deployment::problems`]: callers that must serve the template
//! exactly refuse it rather than guess.

#![warn(missing_docs)]

pub mod apis;
pub mod document;
pub mod functions;
pub mod queues;
mod reader;
pub mod tables;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The YAML value and mapping types of [`Deployment::document`], so that readers of raw
/// settings (and tests that edit a copy of the document) need no YAML crate of their own.
pub use serde_yaml_ng::{Mapping, Value};

pub use apis::{
    Cors, DEFAULT_ROUTE_SELECTION, HttpRoute, IMPLICIT_HTTP_API, Integration, Stage, WebSocketApi,
    WsRoute,
};
pub use functions::{
    DEFAULT_FUNCTION_TIMEOUT, DEFAULT_MEMORY_MB, Function, FunctionEvent, HttpEvent,
};
pub use queues::{DEFAULT_BATCH_SIZE, DEFAULT_VISIBILITY_TIMEOUT, EventSource, Queue};
pub use tables::{Index, Table};

/// `template.yaml` at the root of the repository.
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

/// The deployment `template.yaml` describes. See the [crate documentation](crate).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Deployment {
    /// The whole template in long form, for checks of settings the model does not type
    /// (alarms, policies, outputs).
    pub document: Value,
    /// Every parameter's `Default`, resolved to text.
    pub parameters: BTreeMap<String, String>,
    /// Functions by logical id.
    pub functions: BTreeMap<String, Function>,
    /// HTTP API routes, in template order.
    pub http_routes: Vec<HttpRoute>,
    /// Logical ids of the HTTP APIs the routes belong to ([`IMPLICIT_HTTP_API`] for SAM's
    /// implicit one).
    pub http_apis: BTreeSet<String>,
    /// The HTTP API's CORS settings.
    pub http_cors: Option<Cors>,
    /// WebSocket APIs (Banter has exactly one).
    pub websocket_apis: Vec<WebSocketApi>,
    /// SQS queues by logical id.
    pub queues: BTreeMap<String, Queue>,
    /// SQS event source mappings.
    pub event_sources: Vec<EventSource>,
    /// DynamoDB tables by logical id.
    pub tables: BTreeMap<String, Table>,
    /// What could not be understood.
    pub problems: Vec<String>,
}

impl Deployment {
    /// Reads and parses the template at `path`.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Reads and parses the repository's `template.yaml`.
    pub fn load_default() -> Result<Self, TemplateError> {
        Self::load(&default_path())
    }

    /// Parses template text. Only malformed YAML is an error here; everything else that
    /// cannot be understood is collected in [`Deployment::problems`].
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let raw: Value =
            serde_yaml_ng::from_str(text).map_err(|e| TemplateError::Yaml(e.to_string()))?;
        Self::from_document(&document::long_form(&raw))
    }

    /// Reads a document already in long form (a test's edited copy of
    /// [`Deployment::document`], say).
    pub fn from_document(doc: &Value) -> Result<Self, TemplateError> {
        if !doc.is_mapping() {
            return Err(TemplateError::Yaml("the top level is not a mapping".into()));
        }
        Ok(reader::Reader::read(&document::Document::new(doc)))
    }

    /// The document's lookups (resources by type, scalar resolution).
    pub fn doc(&self) -> document::Document<'_> {
        document::Document::new(&self.document)
    }

    /// The value of a template expression that needs no deployed resource (a literal, a
    /// parameter's default, a `Fn::Sub` or `Fn::Join` of those).
    pub fn resolve(&self, v: &Value) -> Option<String> {
        self.doc().scalar(v)
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

    /// The function whose binary is `binary`.
    pub fn function_by_binary(&self, binary: &str) -> Option<&Function> {
        self.functions.values().find(|f| f.binary == binary)
    }

    /// The resource `logical_id` as written (long form).
    pub fn resource(&self, logical_id: &str) -> Option<&Value> {
        document::path(&self.document, &["Resources", logical_id])
    }

    /// Resources of `kind` as written, as (logical id, resource), in template order.
    pub fn resources_of(&self, kind: &str) -> Vec<(String, &Value)> {
        document::get(&self.document, "Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter(|(_, r)| document::get(r, "Type").and_then(Value::as_str) == Some(kind))
            .filter_map(|(k, r)| Some((k.as_str()?.to_owned(), r)))
            .collect()
    }
}
