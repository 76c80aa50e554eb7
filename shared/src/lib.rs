//! Banter core library: the domain model, authentication, the storage / queue / posting ports
//! and their in-memory and AWS adapters. Lambda functions and the local gateway only wire
//! these together.

#![warn(missing_docs)]

pub mod app;
pub mod auth;
pub mod aws;
pub mod config;
pub mod env;
pub mod error;
pub mod fanout;
pub mod fields;
pub mod functions;
pub mod http;
pub mod ids;
pub mod integer;
pub mod logging;
pub mod media;
pub mod model;
pub mod objects;
pub mod poster;
pub mod protocol;
pub mod queue;
pub mod rest;
pub mod room;
pub mod service;
pub mod store;
pub mod stream;
pub mod time;
pub mod validate;
pub mod views;
pub mod ws;
