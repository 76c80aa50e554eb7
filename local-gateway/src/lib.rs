//! `banter-local`: Banter's whole stack on localhost, with the same handler code that runs in
//! Lambda, routed by `template.yaml`.
//!
//! | port | serves |
//! |---|---|
//! | REST (3000) | the HTTP API (`/v1/...`, payload format 2.0 events to the REST handlers), CORS preflights, and the demo page at `/` |
//! | WebSocket (3001) | the WebSocket API (`$connect`, client messages, `$disconnect`) and its management API (`/{stage}/@connections/{id}`) |
//!
//! The fan-out queue (in memory, or SQS) is drained by an emulated SQS event source mapping
//! that calls the fan-out handler, which posts through the real `aws-sdk-apigatewaymanagement`
//! client to the management API above. Storage is in memory, or DynamoDB (moto, DynamoDB
//! Local, AWS).
//!
//! - [`template`]: the handler of each function of the deployment model and [`template::check`];
//! - [`Gateway::start`] / [`RunningGateway`]: the stack as a library (tests start it on port 0);
//! - [`config`]: settings; [`cli`]: flags and `BANTER_LOCAL_*` variables;
//! - the media bucket in memory (`media`): presigned uploads and downloads on the REST port, the media function on each upload;
//! - [`stats`]: invocations and `PostToConnection` calls, for benchmarks and tests.
//!
//! The modules are layered without import cycles (`scripts/module-cycles` checks): leaves
//! (settings, the template, the route tables, the connection registry, URL helpers), then
//! the state the servers share (`state`), then the servers (`rest`, `websocket`,
//! `management`, the event sources), and start-up (`gateway`) on top.

#![warn(missing_docs)]

// Leaves: settings, the template, route tables, the connection registry, URL helpers.
pub mod config;
pub mod faults;
mod faulty;
pub mod flag_values;
pub mod logging;
mod media;
mod registry;
mod rest_routes;
mod route_selection;
pub mod seed;
mod start_error;
pub mod stats;
pub mod template;
mod url;
mod web;
mod ws_routes;

// The state the servers share (on the leaves only).
mod state;

// The servers and the fan-out's event sources.
mod event_source;
mod management;
pub mod rest;
pub mod websocket;

// Start-up and the command line, on top.
pub mod cli;
mod fanout_plan;
mod gateway;
mod queues;
mod running;
mod stores;

pub use config::{GatewayConfig, Limits, QueueBackend, QueueOverrides, Storage, TemplateSource};
pub use gateway::Gateway;
pub use queues::QueueHandle;
pub use registry::ConnectionInfo;
pub use running::RunningGateway;
pub use start_error::StartError;
pub use web::content_type;
