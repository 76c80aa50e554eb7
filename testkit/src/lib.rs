//! Fixtures for Banter's tests: data stored straight through an [`App`](banter::app::App)'s
//! stores (no argon2 work, no HTTP), so that the core library's tests and the runtime
//! emulator's tests seed their worlds the same way, whichever adapters the app runs on.
//!
//! A separate crate rather than a feature of `banter`: a feature only tests turn on would
//! change the feature set of every build of a single package, and recompile it.

pub mod comments;
pub mod connections;
pub mod conversations;
pub mod events;
pub mod frames;
pub mod http;
pub mod queue;
pub mod samples;
pub mod tokens;
pub mod users;
