//! Runs a Lambda function's `bootstrap` as a real Lambda process, without Docker: what
//! `sam local invoke` does, minus the container.
//!
//! - [`RuntimeApi`] is a small emulator of the
//!   [Lambda Runtime API](https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) on
//!   `127.0.0.1:<free port>`: it serves `GET /2018-06-01/runtime/invocation/next` from a queue
//!   of invocation payloads (with the `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`,
//!   `-Invoked-Function-Arn` and `-Trace-Id` headers), accepts
//!   `POST …/invocation/{id}/response`, `…/{id}/error` and `…/init/error`, records every
//!   outcome per request id, and records the instant of the first `GET …/next` (the end of
//!   the function's init phase, for cold-start measurements).
//! - [`LambdaProcess`] spawns a binary with the environment Lambda gives a function
//!   (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, `…_MEMORY_SIZE`, `…_VERSION`,
//!   `AWS_LAMBDA_LOG_GROUP_NAME`, `…_LOG_STREAM_NAME`, `AWS_REGION`, `LAMBDA_TASK_ROOT`, …)
//!   plus the function's own variables, and nothing else from the caller's environment. It
//!   captures the process's output and kills it when dropped.
//! - [`Sandbox`] is the two together: one function instance, invoked one event at a time,
//!   reporting a crash, an init error or a timeout as an [`EmulatorError`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), banter_runtime_emulator::EmulatorError> {
//! use banter_runtime_emulator::{FunctionConfig, Output, Sandbox};
//!
//! let function = FunctionConfig::new("health").env("RUST_LOG", "info");
//! let mut sandbox = Sandbox::start("target/debug/health".as_ref(), function, Output::Capture).await?;
//! let outcome = sandbox.invoke(br#"{"version":"2.0"}"#.to_vec()).await?;
//! println!("{:?} after a cold start of {:?}", outcome.json(), sandbox.cold_start());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod function;
mod process;
mod sandbox;

pub use api::{Outcome, Pending, RuntimeApi};
pub use function::FunctionConfig;
pub use process::{LambdaProcess, Output};
pub use sandbox::Sandbox;

use std::process::ExitStatus;
use std::time::Duration;

/// Why running or invoking a function failed.
#[derive(Debug)]
pub enum EmulatorError {
    /// Binding the emulator, spawning the process or waiting on it failed.
    Io(std::io::Error),
    /// The function did not reach `what` within `after` (Lambda's "Task timed out").
    Timeout {
        /// What was awaited: the first `/next`, or a response.
        what: String,
        /// How long it waited.
        after: Duration,
    },
    /// The process exited (Lambda's "Runtime exited"). `logs` are its last output lines.
    Exited {
        /// Its exit status.
        status: ExitStatus,
        /// The last lines it wrote (when its output was captured).
        logs: Vec<String>,
    },
    /// The runtime reported an initialisation error (`POST /runtime/init/error`).
    InitError {
        /// The error document it posted.
        body: String,
    },
}

impl std::fmt::Display for EmulatorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "emulator I/O error: {e}"),
            Self::Timeout { what, after } => {
                write!(f, "timed out after {after:?} waiting for {what}")
            }
            Self::Exited { status, logs } => {
                write!(f, "the function process exited ({status})")?;
                if !logs.is_empty() {
                    write!(f, "; its last output:\n{}", logs.join("\n"))?;
                }
                Ok(())
            }
            Self::InitError { body } => write!(f, "the runtime reported an init error: {body}"),
        }
    }
}

impl std::error::Error for EmulatorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for EmulatorError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}
