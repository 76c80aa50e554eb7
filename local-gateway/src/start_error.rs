//! Why [`Gateway::start`](crate::Gateway::start) failed: a leaf every start-up step returns.

use std::net::SocketAddr;

use crate::template::TemplateError;

/// Why the gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The template could not be read.
    #[error(transparent)]
    Deployment(#[from] TemplateError),
    /// The template has routes or event sources without a handler (or handlers without a
    /// route): every problem, one per entry.
    #[error("template.yaml cannot be served locally:\n  - {}", .0.join("\n  - "))]
    Unmapped(Vec<String>),
    /// A port could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// Storage, queue, keys or seed data could not be set up.
    #[error("{0}")]
    Setup(String),
}

/// A [`StartError::Setup`] maker for the step `context`: `.map_err(|e| setup("…")(e.to_string()))`.
pub(crate) fn setup(context: &str) -> impl Fn(String) -> StartError + '_ {
    move |e| StartError::Setup(format!("{context}: {e}"))
}
