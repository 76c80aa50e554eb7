//! One function instance: a [`RuntimeApi`] and the [`LambdaProcess`] that talks to it.

use std::path::Path;
use std::time::Duration;

use crate::{EmulatorError, FunctionConfig, LambdaProcess, Outcome, Output, Pending, RuntimeApi};

/// Output lines quoted in an [`EmulatorError::Exited`].
const EXIT_LOG_LINES: usize = 40;

/// A function instance: its own Runtime API and its process, invoked one event at a time.
/// Dropping it kills the process and stops the API.
#[derive(Debug)]
pub struct Sandbox {
    // Field order matters on drop: the process dies before its API goes away.
    process: LambdaProcess,
    api: RuntimeApi,
}

impl Sandbox {
    /// Starts an API for `function` and spawns `bootstrap` against it. Does not wait for the
    /// runtime's init: see [`Sandbox::ready`].
    pub async fn start(
        bootstrap: &Path,
        function: FunctionConfig,
        output: Output,
    ) -> Result<Self, EmulatorError> {
        let api = RuntimeApi::start(function).await?;
        Self::spawn(api, bootstrap, output)
    }

    /// Spawns `bootstrap` against an API the caller started (and may have queued invocations
    /// on, to measure the time to the first response).
    pub fn spawn(api: RuntimeApi, bootstrap: &Path, output: Output) -> Result<Self, EmulatorError> {
        let process = LambdaProcess::spawn(bootstrap, &api, output)?;
        Ok(Self { process, api })
    }

    /// The Runtime API of this instance.
    pub fn api(&self) -> &RuntimeApi {
        &self.api
    }

    /// The process of this instance.
    pub fn process(&self) -> &LambdaProcess {
        &self.process
    }

    /// The process's captured output so far.
    pub fn logs(&self) -> Vec<String> {
        self.process.logs()
    }

    /// Spawn to the first `GET /next`: the cold start (init phase) as Lambda measures it,
    /// once the runtime has asked for its first event.
    pub fn cold_start(&self) -> Option<Duration> {
        self.api
            .first_next_at()
            .map(|t| t.saturating_duration_since(self.process.spawned_at()))
    }

    /// Spawn to the first posted outcome, once one was posted.
    pub fn time_to_first_outcome(&self) -> Option<Duration> {
        self.api
            .first_outcome_at()
            .map(|t| t.saturating_duration_since(self.process.spawned_at()))
    }

    /// Waits up to `timeout` for the runtime's first `GET /next` and returns the cold start.
    /// Fails if the process exits or reports an init error first.
    pub async fn ready(&mut self, timeout: Duration) -> Result<Duration, EmulatorError> {
        let what = format!("{}'s first GET /next", self.api.function().name);
        let first = race(&mut self.process, what, timeout, self.api.wait_first_next()).await?;
        Ok(first.saturating_duration_since(self.process.spawned_at()))
    }

    /// Waits up to `timeout` for the outcome of an invocation queued on [`Sandbox::api`].
    /// Fails if the process exits first (unless it posted the outcome before exiting), or on
    /// an init error.
    pub async fn wait(
        &mut self,
        pending: &Pending,
        timeout: Duration,
    ) -> Result<Outcome, EmulatorError> {
        let what = format!(
            "{}'s outcome of request {}",
            self.api.function().name,
            pending.request_id
        );
        match race(&mut self.process, what, timeout, self.api.wait(pending)).await {
            Err(e @ EmulatorError::Exited { .. }) => self.api.outcome(&pending.request_id).ok_or(e),
            other => other,
        }
    }

    /// Invokes the function with `payload` and waits for its outcome, at most the function's
    /// timeout (plus the init time when this is the first invocation, as Lambda allows).
    pub async fn invoke(&mut self, payload: impl Into<Vec<u8>>) -> Result<Outcome, EmulatorError> {
        let pending = self.api.enqueue(payload);
        let mut timeout = self.api.function().timeout;
        if self.api.first_next_at().is_none() {
            // Lambda gives init its own 10 s on top of the invocation timeout.
            timeout += Duration::from_secs(10);
        }
        self.wait(&pending, timeout).await
    }

    /// Kills the process, stops the API, and returns the process's captured output.
    pub async fn shutdown(self) -> Vec<String> {
        let Self { process, api } = self;
        let logs = process.kill().await;
        drop(api);
        logs
    }
}

/// Runs `fut` until it finishes, `process` exits, or `timeout` passes.
async fn race<T>(
    process: &mut LambdaProcess,
    what: String,
    timeout: Duration,
    fut: impl Future<Output = Result<T, EmulatorError>>,
) -> Result<T, EmulatorError> {
    let raced = tokio::time::timeout(timeout, async {
        tokio::select! {
            biased;
            done = fut => done,
            status = process.wait_exit() => Err(match status {
                Ok(status) => EmulatorError::Exited {
                    status,
                    logs: process.last_logs(EXIT_LOG_LINES),
                },
                Err(e) => EmulatorError::Io(e),
            }),
        }
    })
    .await;
    raced.unwrap_or(Err(EmulatorError::Timeout {
        what,
        after: timeout,
    }))
}
