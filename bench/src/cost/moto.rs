//! The moto server the benchmark's DynamoDB tables and SQS queue live on: the endpoint given
//! with `--aws-endpoint`; else one started here, on a free port, from the repository's
//! `.venv` (`scripts/setup-test-tools` installs it) with `bench/moto_server.py` (the tests'
//! `scripts/moto_server.py` with transactions that back up only the items they touch, which
//! keeps 10,000 `$connect`s from taking hours) and stopped with [`Moto::stop`] (or killed
//! when dropped); else the one at `BANTER_TEST_AWS_ENDPOINT`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::BoxError;

/// The environment variable naming an already running moto (as `scripts/test` sets it).
pub const ENDPOINT_VAR: &str = "BANTER_TEST_AWS_ENDPOINT";

/// How long moto may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A moto endpoint, and the server process when this benchmark started it.
#[derive(Debug)]
pub struct Moto {
    endpoint: String,
    child: Option<Child>,
    log: Option<PathBuf>,
}

/// The repository's root (the workspace this crate belongs to).
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

impl Moto {
    /// `endpoint` when given, else a new server, else the one at `BANTER_TEST_AWS_ENDPOINT`
    /// (see the [module documentation](self)).
    pub async fn start_or_use(endpoint: Option<&str>) -> Result<Self, BoxError> {
        let given = |e: &str| Self {
            endpoint: e.trim().to_owned(),
            child: None,
            log: None,
        };
        if let Some(e) = endpoint {
            return Ok(given(e));
        }
        let root = repository_root();
        let python = root.join(".venv/bin/python");
        let script = root.join("bench/moto_server.py");
        if !python.exists() || !script.exists() {
            if let Ok(e) = std::env::var(ENDPOINT_VAR)
                && !e.trim().is_empty()
            {
                return Ok(given(&e));
            }
            return Err(format!(
                "no moto server: run scripts/setup-test-tools to install {} (the benchmark \
                 then starts moto itself), or give --aws-endpoint or {ENDPOINT_VAR}",
                python.display()
            )
            .into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::env::temp_dir().join(format!("banter-bench-moto-{port}.log"));
        let mut child = Command::new(&python)
            .arg(&script)
            .arg("127.0.0.1")
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()?;
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            if let Some(status) = child.try_wait()? {
                return Err(format!("moto exited ({status}); see {}", log.display()).into());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("moto did not start in time; see {}", log.display()).into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Some(child),
            log: Some(log),
        })
    }

    /// `http://host:port`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Stops the server if this benchmark started it, and removes its log.
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
        if let Some(log) = self.log.take() {
            let _ = std::fs::remove_file(log);
        }
    }
}
