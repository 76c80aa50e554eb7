//! The gateway's configuration, from code ([`GatewayConfig::default`]) or from command-line
//! flags and `BANTER_LOCAL_*` environment variables ([`Cli::parse`]).

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

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Cli {
    /// The gateway's configuration.
    pub config: GatewayConfig,
    /// `--log-json`: JSON log lines even in a terminal.
    pub log_json: bool,
    /// `--help` was given.
    pub help: bool,
    /// `--check`: check the template and exit.
    pub check_only: bool,
}

/// Usage text of the binary.
pub const USAGE: &str = "\
banter-local: Banter's whole stack on localhost (HTTP API, WebSocket API, management API,
SQS fan-out), routed by template.yaml, calling the same handlers as the Lambda functions.

USAGE: cargo run -p banter-local -- [FLAGS]

FLAGS (each also read from the environment variable shown):
  --rest-port N           HTTP API port (BANTER_LOCAL_REST_PORT, default 3000; 0 = any)
  --ws-port N             WebSocket + management API port (BANTER_LOCAL_WS_PORT, default 3001)
  --host IP               address to bind (BANTER_LOCAL_HOST, default 127.0.0.1)
  --stage NAME            WebSocket stage (BANTER_LOCAL_STAGE, default: the template's)
  --template PATH         SAM template (BANTER_LOCAL_TEMPLATE, default ./template.yaml of the repo)
  --seed                  create a demo user, a live event and a conversation (BANTER_LOCAL_SEED=1)
  --storage memory|dynamodb   (BANTER_LOCAL_STORAGE, default memory)
  --queue memory|sqs          (BANTER_LOCAL_QUEUE, default memory)
  --aws-endpoint URL      DynamoDB/SQS endpoint, e.g. moto (BANTER_LOCAL_AWS_ENDPOINT; unset: AWS)
  --table-prefix P        tables are P-<name> (BANTER_LOCAL_TABLE_PREFIX, default banter-local)
  --create-tables         create missing tables (BANTER_LOCAL_CREATE_TABLES=1)
  --queue-url URL         use this SQS queue (BANTER_LOCAL_QUEUE_URL; unset: create one)
  --queue-name NAME       name of the queue to create (BANTER_LOCAL_QUEUE_NAME, default banter-local-fanout)
  --idle-timeout SECS     close sockets idle this long (BANTER_LOCAL_IDLE_TIMEOUT, default 600)
  --max-connection SECS   close sockets after this long (BANTER_LOCAL_MAX_CONNECTION, default 7200)
  --max-frame-bytes N     client frame limit (BANTER_LOCAL_MAX_FRAME_BYTES, default 32768)
  --max-message-bytes N   message limit (BANTER_LOCAL_MAX_MESSAGE_BYTES, default 131072)
  --post-latency D        delay of every management API POST, e.g. 20ms to model AWS
                          (BANTER_LOCAL_POST_LATENCY, default 0)
  --web-dir PATH          static files at / (BANTER_LOCAL_WEB_DIR, default local-gateway/web)
  --log-json              JSON logs even in a terminal (BANTER_LOCAL_LOG_JSON=1)
  --check                 check the template against the handlers and exit
  -h, --help              this text

Durations accept a unit: 500ms, 30s, 10m, 2h (plain numbers are seconds).
Handlers read their usual settings (BANTER_* rate limits, BANTER_JWT_SECRET, BANTER_FANOUT_*);
RUST_LOG sets the log level (default info).";

/// A flag with a bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

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

impl Cli {
    /// Reads flags from `args` (without the program name) over `BANTER_LOCAL_*` variables
    /// read through `env`, over the defaults. Function settings come from
    /// [`Config::from_lookup`] and [`FanoutConfig::from_lookup`] through the same `env`.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, CliError> {
        let mut values: std::collections::HashMap<&'static str, String> =
            std::collections::HashMap::new();
        const VALUED: &[(&str, &str)] = &[
            ("--rest-port", "BANTER_LOCAL_REST_PORT"),
            ("--ws-port", "BANTER_LOCAL_WS_PORT"),
            ("--host", "BANTER_LOCAL_HOST"),
            ("--stage", "BANTER_LOCAL_STAGE"),
            ("--template", "BANTER_LOCAL_TEMPLATE"),
            ("--storage", "BANTER_LOCAL_STORAGE"),
            ("--queue", "BANTER_LOCAL_QUEUE"),
            ("--aws-endpoint", "BANTER_LOCAL_AWS_ENDPOINT"),
            ("--table-prefix", "BANTER_LOCAL_TABLE_PREFIX"),
            ("--queue-url", "BANTER_LOCAL_QUEUE_URL"),
            ("--queue-name", "BANTER_LOCAL_QUEUE_NAME"),
            ("--idle-timeout", "BANTER_LOCAL_IDLE_TIMEOUT"),
            ("--max-connection", "BANTER_LOCAL_MAX_CONNECTION"),
            ("--max-frame-bytes", "BANTER_LOCAL_MAX_FRAME_BYTES"),
            ("--max-message-bytes", "BANTER_LOCAL_MAX_MESSAGE_BYTES"),
            ("--post-latency", "BANTER_LOCAL_POST_LATENCY"),
            ("--web-dir", "BANTER_LOCAL_WEB_DIR"),
        ];
        const SWITCHES: &[(&str, &str)] = &[
            ("--seed", "BANTER_LOCAL_SEED"),
            ("--create-tables", "BANTER_LOCAL_CREATE_TABLES"),
            ("--log-json", "BANTER_LOCAL_LOG_JSON"),
            ("--check", "BANTER_LOCAL_CHECK"),
        ];
        for (flag, var) in VALUED.iter().chain(SWITCHES) {
            if let Some(v) = env(var).filter(|v| !v.trim().is_empty()) {
                values.insert(flag, v);
            }
        }
        let mut help = false;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                help = true;
                continue;
            }
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (arg.clone(), None),
            };
            if let Some((flag, _)) = SWITCHES.iter().find(|(f, _)| *f == name) {
                values.insert(flag, inline.unwrap_or_else(|| "1".into()));
            } else if let Some((flag, _)) = VALUED.iter().find(|(f, _)| *f == name) {
                let v = match inline {
                    Some(v) => v,
                    None => args
                        .next()
                        .ok_or_else(|| CliError(format!("{flag} needs a value")))?,
                };
                values.insert(flag, v);
            } else {
                return Err(CliError(format!("unknown argument {arg:?} (see --help)")));
            }
        }
        let switch = |flag: &str| {
            values
                .get(flag)
                .is_some_and(|v| !matches!(v.trim(), "0" | "false" | "no" | ""))
        };
        let text = |flag: &str| values.get(flag).map(|v| v.trim().to_owned());
        let number = |flag: &str| -> Result<Option<u64>, CliError> {
            text(flag)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| CliError(format!("{flag}: {v:?} is not a number")))
                })
                .transpose()
        };
        let duration = |flag: &str| -> Result<Option<Duration>, CliError> {
            text(flag)
                .map(|v| {
                    parse_duration(&v)
                        .ok_or_else(|| CliError(format!("{flag}: {v:?} is not a duration")))
                })
                .transpose()
        };
        let port = |flag: &str, default: u16| -> Result<u16, CliError> {
            match number(flag)? {
                None => Ok(default),
                Some(p) => {
                    u16::try_from(p).map_err(|_| CliError(format!("{flag}: {p} is not a port")))
                }
            }
        };

        let mut config = GatewayConfig::default();
        let host: std::net::IpAddr = match text("--host") {
            None => Ipv4Addr::LOCALHOST.into(),
            Some(h) => h
                .parse()
                .map_err(|_| CliError(format!("--host: {h:?} is not an IP address")))?,
        };
        config.rest_addr = SocketAddr::new(host, port("--rest-port", 3000)?);
        config.ws_addr = SocketAddr::new(host, port("--ws-port", 3001)?);
        config.stage = text("--stage").filter(|s| !s.is_empty());
        if let Some(t) = text("--template") {
            config.template = TemplateSource::Path(PathBuf::from(t));
        }
        if let Some(w) = text("--web-dir") {
            config.web_dir = PathBuf::from(w);
        }
        config.aws_endpoint = text("--aws-endpoint").filter(|s| !s.is_empty());
        let prefix = text("--table-prefix").unwrap_or_else(|| "banter-local".into());
        config.storage = match text("--storage").as_deref() {
            None | Some("memory") => Storage::Memory,
            Some("dynamodb") => Storage::DynamoDb {
                table_prefix: prefix,
                create_tables: switch("--create-tables"),
            },
            Some(other) => {
                return Err(CliError(format!(
                    "--storage: {other:?} is neither memory nor dynamodb"
                )));
            }
        };
        config.queue = match text("--queue").as_deref() {
            None | Some("memory") => QueueBackend::Memory,
            Some("sqs") => QueueBackend::Sqs {
                queue_url: text("--queue-url").filter(|s| !s.is_empty()),
                queue_name: text("--queue-name").unwrap_or_else(|| "banter-local-fanout".into()),
            },
            Some(other) => {
                return Err(CliError(format!(
                    "--queue: {other:?} is neither memory nor sqs"
                )));
            }
        };
        if let Some(d) = duration("--idle-timeout")? {
            config.limits.idle_timeout = d;
        }
        if let Some(d) = duration("--max-connection")? {
            config.limits.max_connection = d;
        }
        if let Some(d) = duration("--post-latency")? {
            config.limits.post_latency = d;
        }
        if let Some(n) = number("--max-frame-bytes")? {
            config.limits.max_frame_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = number("--max-message-bytes")? {
            config.limits.max_message_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if config.limits.max_frame_bytes == 0 || config.limits.max_message_bytes == 0 {
            return Err(CliError("size limits must be at least 1 byte".into()));
        }
        config.seed = switch("--seed");
        config.app = Config::from_lookup(&env);
        config.fanout = FanoutConfig::from_lookup(&env).map_err(|e| CliError(e.to_string()))?;
        Ok(Self {
            config,
            log_json: switch("--log-json"),
            help,
            check_only: switch("--check"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Cli, CliError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Cli::parse(args.iter().map(|s| (*s).to_owned()), move |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_are_api_gateway_limits_in_memory() {
        let cli = parse(&[], &[]).unwrap();
        assert_eq!(cli.config.rest_addr.port(), 3000);
        assert_eq!(cli.config.ws_addr.port(), 3001);
        assert_eq!(cli.config.storage, Storage::Memory);
        assert_eq!(cli.config.queue, QueueBackend::Memory);
        assert_eq!(cli.config.limits, Limits::default());
        assert!(!cli.config.seed && !cli.log_json);
    }

    #[test]
    fn flags_override_the_environment() {
        let cli = parse(
            &[
                "--rest-port",
                "0",
                "--storage=dynamodb",
                "--create-tables",
                "--queue",
                "sqs",
                "--idle-timeout",
                "500ms",
                "--seed",
            ],
            &[
                ("BANTER_LOCAL_REST_PORT", "4000"),
                ("BANTER_LOCAL_WS_PORT", "4001"),
                ("BANTER_LOCAL_AWS_ENDPOINT", "http://127.0.0.1:5000"),
                ("BANTER_LOCAL_TABLE_PREFIX", "t1"),
            ],
        )
        .unwrap();
        assert_eq!(cli.config.rest_addr.port(), 0);
        assert_eq!(cli.config.ws_addr.port(), 4001);
        assert_eq!(
            cli.config.storage,
            Storage::DynamoDb {
                table_prefix: "t1".into(),
                create_tables: true
            }
        );
        assert_eq!(
            cli.config.queue,
            QueueBackend::Sqs {
                queue_url: None,
                queue_name: "banter-local-fanout".into()
            }
        );
        assert_eq!(cli.config.limits.idle_timeout, Duration::from_millis(500));
        assert_eq!(cli.config.limits.post_latency, Duration::ZERO);
        assert_eq!(
            cli.config.aws_endpoint.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert!(cli.config.seed);
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(parse(&["--storage", "redis"], &[]).is_err());
        assert!(parse(&["--rest-port", "70000"], &[]).is_err());
        assert!(parse(&["--idle-timeout", "soon"], &[]).is_err());
        assert!(parse(&["--post-latency", "-5ms"], &[]).is_err());
        assert!(parse(&["--nope"], &[]).is_err());
        assert!(parse(&["--stage"], &[]).is_err());
    }

    #[test]
    fn post_latency_from_flag_or_environment() {
        let env = [("BANTER_LOCAL_POST_LATENCY", "20ms")];
        let cli = parse(&[], &env).unwrap();
        assert_eq!(cli.config.limits.post_latency, Duration::from_millis(20));
        let cli = parse(&["--post-latency=0.5s"], &env).unwrap();
        assert_eq!(cli.config.limits.post_latency, Duration::from_millis(500));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("x"), None);
    }
}
