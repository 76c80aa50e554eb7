//! End-to-end tests of Banter's whole stack, over real loopback sockets, through the local
//! gateway (`banter-local`) started in-process on free ports: HTTP for the REST API, a
//! tokio-tungstenite WebSocket client for the real-time API, and the real
//! `aws-sdk-apigatewaymanagement` client for the management API.
//!
//! The scenarios ([`scenarios`]) are written once and run against the in-memory adapters
//! (`tests/e2e_memory.rs`) and against DynamoDB + SQS on moto (`tests/e2e_moto.rs`, which
//! fails without `BANTER_TEST_AWS_ENDPOINT`) through [`e2e_suite!`].

#![warn(missing_docs)]

pub mod http;
pub mod scenarios;
pub mod stack;
pub mod ws;
