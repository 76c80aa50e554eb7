//! The gateway's configuration, from code ([`GatewayConfig::default`]) or from command-line
//! flags and `BANTER_LOCAL_*` environment variables ([`crate::cli::Cli`]).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use banter::auth::AuthConfig;
use banter::config::Config;
use banter::fanout::FanoutConfig;

/// API Gateway's WebSocket idle timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// API Gateway's maximum WebSocket connection duration.
pub const DEFAULT_MAX_CONNECTION: Duration = Duration::from_secs(2 * 60 * 60);
/// API Gateway's WebSocket frame size limit.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 32 * 1024;
/// API Gateway's WebSocket message size limit (also `PostToConnection`'s).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 128 * 1024;
/// Frames queued for one client before `PostToConnection` answers 429.
pub const DEFAULT_CLIENT_BUFFER: usize = 1024;

/// API Gateway's WebSocket limits, emulated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// A socket without a client data frame for this long is closed (1001).
    pub idle_timeout: Duration,
    /// Every socket is closed (1001) after this long.
    pub max_connection: Duration,
    /// Largest client frame; a larger one closes the socket (1009).
    pub max_frame_bytes: usize,
    /// Largest client message (frames reassembled) and largest `PostToConnection` body (413).
    pub max_message_bytes: usize,
    /// Frames waiting to be written to one client before posts answer 429.
    pub client_buffer: usize,
    /// Time every `PostToConnection` (management API `POST`) waits before it is handled and
    /// answered: the round trip of a post to API Gateway, which loopback lacks (≈20 ms
    /// models AWS). Zero (the default) answers at once.
    pub post_latency: Duration,
    /// Faults the local stack injects (`--inject`; see [`crate::faults`]).
    pub inject: crate::faults::FaultPlan,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connection: DEFAULT_MAX_CONNECTION,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            client_buffer: DEFAULT_CLIENT_BUFFER,
            post_latency: Duration::ZERO,
            inject: crate::faults::FaultPlan::default(),
        }
    }
}

/// Where the stores live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// In memory (the default): gone when the process stops.
    Memory,
    /// DynamoDB tables `<table_prefix>-<name>` at the AWS endpoint.
    DynamoDb {
        /// Table name prefix.
        table_prefix: String,
        /// Create the tables that do not exist yet.
        create_tables: bool,
    },
}

/// Where the fan-out queue lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueBackend {
    /// In memory (the default), with the template's visibility timeout and redrive policy.
    Memory,
    /// SQS at the AWS endpoint.
    Sqs {
        /// An existing queue; when `None` the queue `queue_name` and its dead-letter queue
        /// `<queue_name>-dlq` are created (or reused) with the template's settings.
        queue_url: Option<String>,
        /// Name of the queue to create when `queue_url` is `None`.
        queue_name: String,
    },
}

/// Where `template.yaml` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    /// A file.
    Path(PathBuf),
    /// Deployment text (tests).
    Text(String),
}

/// Settings of the fan-out queue that override the template's (tests use short ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueOverrides {
    /// Visibility timeout of received jobs.
    pub visibility_timeout: Option<Duration>,
    /// Receives before a job moves to the dead-letter queue.
    pub max_receive_count: Option<u32>,
}

/// Everything [`crate::Gateway::start`] needs.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Address of the HTTP API (port 0: any free port).
    pub rest_addr: SocketAddr,
    /// Address of the WebSocket API and its management API (port 0: any free port).
    pub ws_addr: SocketAddr,
    /// The template.
    pub template: TemplateSource,
    /// WebSocket stage (the management API's path prefix); `None`: the template's
    /// `StageName`, else `local`.
    pub stage: Option<String>,
    /// Stores.
    pub storage: Storage,
    /// Fan-out queue.
    pub queue: QueueBackend,
    /// AWS endpoint for DynamoDB and SQS (moto, DynamoDB Local); `None`: AWS itself, with
    /// the environment's region and credentials.
    pub aws_endpoint: Option<String>,
    /// Queue settings over the template's.
    pub queue_overrides: QueueOverrides,
    /// The fan-out's deadline per batch; `None`: the fan-out function's `Timeout`.
    pub fanout_timeout: Option<Duration>,
    /// Concurrent pollers of the fan-out queue (Lambda starts with 5), each its own
    /// execution environment.
    pub pollers: usize,
    /// Concurrent pollers of the shard queue, each its own execution environment: up to this
    /// many shards of one broadcast run at once (Lambda scales towards the event source's
    /// `MaximumConcurrency`).
    pub shard_pollers: usize,
    /// WebSocket limits.
    pub limits: Limits,
    /// Function settings (rate limits, moderators, CORS origins …).
    pub app: Config,
    /// Fan-out tuning.
    pub fanout: FanoutConfig,
    /// Token signing; `None`: `BANTER_JWT_SECRET` / `BANTER_JWT_PRIVATE_KEY` when set, else a
    /// fresh Ed25519 key (tokens then work only against this process).
    pub auth: Option<AuthConfig>,
    /// Create demo data at start.
    pub seed: bool,
    /// Directory served at `/` on the REST port.
    pub web_dir: PathBuf,
    /// Deliver `$disconnect` when a socket closes (API Gateway does, best effort); `false`
    /// emulates lost `$disconnect` events.
    pub deliver_disconnect: bool,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            rest_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 3000)),
            ws_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 3001)),
            template: TemplateSource::Path(crate::template::default_path()),
            stage: None,
            storage: Storage::Memory,
            queue: QueueBackend::Memory,
            aws_endpoint: None,
            queue_overrides: QueueOverrides::default(),
            fanout_timeout: None,
            pollers: 5,
            shard_pollers: 16,
            limits: Limits::default(),
            app: Config::default(),
            fanout: FanoutConfig::default(),
            auth: None,
            seed: false,
            web_dir: default_web_dir(),
            deliver_disconnect: true,
        }
    }
}

/// `local-gateway/web` of the source tree this crate was built from.
pub fn default_web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// Parses a duration: `500ms`, `30s`, `10m`, `2h`, or plain seconds.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let s = raw.trim();
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = number.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("x"), None);
    }
}
