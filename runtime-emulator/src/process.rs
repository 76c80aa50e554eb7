//! Spawning a function binary the way Lambda starts a `provided.al2023` function: a clean
//! environment holding Lambda's variables and the function's own, and nothing else.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::RuntimeApi;

/// Most output lines kept per process; older ones are dropped first.
const MAX_LOG_LINES: usize = 5_000;

/// What happens to the process's stdout and stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Kept in memory, line by line ([`LambdaProcess::logs`]).
    Capture,
    /// Written to this process's own stdout and stderr.
    Inherit,
    /// Discarded.
    Null,
}

/// A running function process. Killed when dropped.
#[derive(Debug)]
pub struct LambdaProcess {
    child: Child,
    spawned_at: Instant,
    logs: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    exit: Option<ExitStatus>,
}

/// `YYYY/MM/DD` of the current UTC date, as Lambda's log stream names start.
fn utc_date() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or_default() as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}/{month:02}/{day:02}")
}

/// The variables Lambda sets for a `provided.al2023` function talking to `api`.
pub(crate) fn lambda_env(api: &RuntimeApi, task_root: &str) -> Vec<(String, String)> {
    let f = api.function();
    let stream = format!(
        "{}/[{}]{}",
        utc_date(),
        f.version,
        uuid::Uuid::now_v7().simple()
    );
    [
        ("AWS_LAMBDA_RUNTIME_API", api.endpoint()),
        ("AWS_LAMBDA_FUNCTION_NAME", f.name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", f.version.clone()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", f.log_group()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", stream),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_REGION", f.region.clone()),
        ("AWS_DEFAULT_REGION", f.region.clone()),
        ("LAMBDA_TASK_ROOT", task_root.to_owned()),
        ("LAMBDA_RUNTIME_DIR", task_root.to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Copies every line of `stream` into `logs`.
fn collect<R>(stream: R, logs: Arc<Mutex<Vec<String>>>) -> JoinHandle<()>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut logs = logs.lock().unwrap_or_else(PoisonError::into_inner);
            if logs.len() >= MAX_LOG_LINES {
                logs.remove(0);
            }
            logs.push(line);
        }
    })
}

impl LambdaProcess {
    /// Spawns `bootstrap` as the function `api` serves: a clean environment with Lambda's
    /// variables (`AWS_LAMBDA_RUNTIME_API` pointing at `api`, the function name, memory,
    /// version, log group and stream, region, `LAMBDA_TASK_ROOT` = the binary's directory, …)
    /// and then the function's own [`crate::FunctionConfig::env`], in the binary's directory.
    pub fn spawn(bootstrap: &Path, api: &RuntimeApi, output: Output) -> std::io::Result<Self> {
        let task_root = bootstrap
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut cmd = Command::new(bootstrap);
        cmd.env_clear()
            .envs(lambda_env(api, &task_root.to_string_lossy()))
            .envs(&api.function().env)
            .current_dir(task_root)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        match output {
            Output::Capture => cmd.stdout(Stdio::piped()).stderr(Stdio::piped()),
            Output::Inherit => cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit()),
            Output::Null => cmd.stdout(Stdio::null()).stderr(Stdio::null()),
        };
        let spawned_at = Instant::now();
        let mut child = cmd.spawn()?;
        let logs = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(collect(out, logs.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(collect(err, logs.clone()));
        }
        Ok(Self {
            child,
            spawned_at,
            logs,
            readers,
            exit: None,
        })
    }

    /// The instant just before the process was spawned (cold starts count from here).
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// The operating system's process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Every captured output line so far (stdout and stderr interleaved as read).
    pub fn logs(&self) -> Vec<String> {
        self.logs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The last `n` captured output lines.
    pub fn last_logs(&self, n: usize) -> Vec<String> {
        let logs = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        logs[logs.len().saturating_sub(n)..].to_vec()
    }

    /// The exit status, if the process has exited.
    pub fn try_exit_status(&mut self) -> std::io::Result<Option<ExitStatus>> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait()?;
        }
        Ok(self.exit)
    }

    /// Waits for the process to exit.
    pub async fn wait_exit(&mut self) -> std::io::Result<ExitStatus> {
        if let Some(status) = self.exit {
            return Ok(status);
        }
        let status = self.child.wait().await?;
        self.exit = Some(status);
        // Let the readers take the last lines the process wrote.
        for reader in std::mem::take(&mut self.readers) {
            let _ = tokio::time::timeout(std::time::Duration::from_millis(500), reader).await;
        }
        Ok(status)
    }

    /// Kills the process (if it still runs), waits for it, and returns its captured output.
    pub async fn kill(mut self) -> Vec<String> {
        if self.exit.is_none() {
            let _ = self.child.start_kill();
            let _ = self.wait_exit().await;
        }
        self.logs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_stream_date_is_a_date() {
        let d = utc_date();
        let parts: Vec<u32> = d.split('/').filter_map(|p| p.parse().ok()).collect();
        assert_eq!(parts.len(), 3, "{d}");
        assert!(parts[0] >= 2024 && (1..=12).contains(&parts[1]) && (1..=31).contains(&parts[2]));
    }
}
