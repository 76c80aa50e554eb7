//! The client side of the benchmarks, shared by `fanout` and `cost`: a local stack started in
//! this process, users and access tokens made without password hashing, a live event, and an
//! [`Audience`] of N WebSocket clients subscribed to it whose received frames come back with
//! their arrival times.
//!
//! ```ignore
//! # async fn f() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use crate::clients::{self, Audience, GatewaySettings};
//! let gw = clients::start_gateway(GatewaySettings::default()).await?;
//! let users = clients::create_users(gw.app(), 1_000, "fan").await?;
//! let event = clients::live_event(gw.app(), users[0], "bench").await?;
//! let tokens = clients::access_tokens(gw.app(), &users).await?;
//! let mut audience = Audience::open(&gw.ws_url(), Some(event), tokens, |_| {}).await?;
//! while let Some(receipt) = audience.recv().await { /* receipt.client, .at, .frame_type, .id */ }
//! audience.close().await?;
//! # Ok(()) }
//! ```
//!
//! # Why worker processes
//!
//! Every WebSocket over loopback costs two file descriptors in one process (the client's and
//! the gateway's), and the open-file hard limit may be as low as 20,000 (it is here, and an
//! unprivileged process cannot raise it): 10,000 clients beside an in-process gateway do not
//! fit. So the clients live in worker processes (this same binary, run as
//! `banter-bench clients-worker`, [`WORKER_COMMAND`]), at most [`CLIENTS_PER_WORKER`] each,
//! each with its open-file limit raised to its hard limit. A worker reads its job from stdin
//! (one JSON line) and reports on stdout, one line per event. Arrival times are wall-clock
//! ([`SystemTime`]), the one clock both processes share; compare them with a `SystemTime`
//! taken in the benchmark's process.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use banter::app::App;
use banter::config::{Config, RateRule};
use banter::fanout::FanoutConfig;
use banter::ids::{EventId, UserId};
use banter::model::{AccountStatus, PasswordHash, User};
use banter_local::{Gateway, GatewayConfig, Limits, RunningGateway};
use futures::stream;
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::BoxError;

/// The hidden subcommand that runs a worker process ([`worker_main`]).
pub const WORKER_COMMAND: &str = "clients-worker";

/// Most clients one worker process holds (each is one file descriptor there).
pub const CLIENTS_PER_WORKER: usize = 5_000;

/// Handshakes one worker has in flight at once.
const CONNECT_CONCURRENCY: usize = 32;

/// Read buffer of each client socket (see [`connect`]).
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Attempts per handshake before the worker gives up.
const CONNECT_ATTEMPTS: u32 = 5;

/// How the benchmark's gateway differs from the defaults.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Delay of every management API `POST` (`--post-latency`; 20 ms models AWS).
    pub post_latency: Duration,
    /// Fan-out tuning (concurrency, shard threshold and target …).
    pub fanout: FanoutConfig,
    /// Pollers of the shard queue, each one execution environment
    /// ([`GatewayConfig::shard_pollers`]).
    pub shard_pollers: usize,
    /// Faults the stack injects (`--inject`).
    pub inject: banter_local::faults::FaultPlan,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            post_latency: Duration::ZERO,
            fanout: FanoutConfig::default(),
            shard_pollers: GatewayConfig::default().shard_pollers,
            inject: banter_local::faults::FaultPlan::default(),
        }
    }
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat` (Linux;
/// `None` elsewhere). Its clock ticks are taken as 100 per second (`USER_HZ` on Linux).
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses: state is the
    // first, utime the 12th and stime the 13th.
    let (_, after) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The 1-minute load average (`/proc/loadavg`; `None` elsewhere): how busy the machine was.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Raises this process's open-file limit to its hard limit; returns the limit now in force.
pub fn raise_open_files() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

/// Gateway limits for a benchmark: `post_latency` on every management POST, and no idle or
/// lifetime limit a run could hit.
pub fn bench_limits(post_latency: Duration) -> Limits {
    Limits {
        post_latency,
        idle_timeout: Duration::from_secs(24 * 3600),
        max_connection: Duration::from_secs(24 * 3600),
        ..Limits::default()
    }
}

/// App settings with rate limits no benchmark reaches.
pub fn unlimited_rates() -> Config {
    let unlimited = RateRule::per(1_000_000_000, 1);
    Config {
        comment_rate: unlimited,
        message_rate: unlimited,
        typing_rate: unlimited,
        presence_rate: unlimited,
        reaction_rate: unlimited,
        rest_rate: unlimited,
        auth_ip_rate: unlimited,
        anonymous_ip_rate: unlimited,
        ..Config::default()
    }
}

/// Starts the local stack in this process on free ports, in memory, with `settings`, rate
/// limits no benchmark reaches, and no limit on connection lifetime or idleness that a run
/// could hit. Raises the open-file limit first.
pub async fn start_gateway(settings: GatewaySettings) -> Result<RunningGateway, BoxError> {
    raise_open_files();
    let config = GatewayConfig {
        rest_addr: "127.0.0.1:0".parse()?,
        ws_addr: "127.0.0.1:0".parse()?,
        limits: Limits {
            inject: settings.inject,
            ..bench_limits(settings.post_latency)
        },
        app: unlimited_rates(),
        fanout: settings.fanout,
        shard_pollers: settings.shard_pollers,
        ..GatewayConfig::default()
    };
    Ok(Gateway::start(config).await?)
}

/// Stores `count` active users named `<prefix>_<n>` straight into the app's user store (no
/// password hashing: they cannot sign in with a password, and need not, see
/// [`access_tokens`]). Returns their ids in order.
pub async fn create_users(app: &App, count: usize, prefix: &str) -> Result<Vec<UserId>, BoxError> {
    let now = banter::time::now();
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let user = User {
            user_id: UserId::new(),
            username: format!("{prefix}_{n}"),
            display_name: format!("{prefix} {n}"),
            email: None,
            avatar_url: None,
            status_message: None,
            reputation_score: 0,
            account_status: AccountStatus::Active,
            password_hash: PasswordHash("!bench-user-without-password".into()),
            created_at: now,
            updated_at: now,
            last_active_at: Some(now),
            version: 1,
            privacy_settings: Default::default(),
        };
        app.stores.users.create_user(&user).await?;
        ids.push(user.user_id);
    }
    Ok(ids)
}

/// An access token for each user, from the app's own issuer (what sign-in would return).
pub async fn access_tokens(app: &App, users: &[UserId]) -> Result<Vec<String>, BoxError> {
    let now = banter::time::now();
    let mut tokens = Vec::with_capacity(users.len());
    for &u in users {
        // A real sign-in: access tokens work only while their session is stored.
        tokens.push(app.sessions.login_tokens(u, now).await?.access_token);
    }
    Ok(tokens)
}

/// Creates an event by `creator` (who then moderates it) and makes it live.
pub async fn live_event(app: &App, creator: UserId, title: &str) -> Result<EventId, BoxError> {
    Ok(banter_local::seed::live_event(app, creator, title).await?)
}

/// One WebSocket client connected as `token` (subscribed at connect to `event`, if given).
pub async fn connect(
    ws_url: &str,
    token: &str,
    event: Option<&str>,
) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, BoxError> {
    let mut url = format!("{ws_url}/?token={token}");
    if let Some(e) = event {
        url.push_str("&event_id=");
        url.push_str(e);
    }
    // tungstenite zero-fills its whole read buffer (128 KiB by default) before every read,
    // i.e. for every frame received: 4 KiB keeps that cheap and 5,000 clients small.
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
    Ok(socket)
}

/// One text frame a client of an [`Audience`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The client: its index in the tokens given to [`Audience::open`].
    pub client: usize,
    /// When the client read the frame (wall clock, see the [module documentation](self)).
    pub at: SystemTime,
    /// The frame's `type` (`comment_broadcast`, …; empty when it has none).
    pub frame_type: String,
    /// `payload.comment_id`, else `payload.message_id`, else `message_id`: the item the
    /// frame is about.
    pub id: Option<String>,
}

/// What a worker reports, one line each (see [`Report::line`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Report {
    /// `c <n>`: n of its clients are connected.
    Connected(usize),
    /// `r`: all of its clients are connected.
    Ready,
    /// `f <client> <unix nanos> <type|-> <id|->`: a text frame.
    Frame(Receipt),
    /// `x <client> <reason>`: a socket closed that was not asked to.
    Dropped(usize, String),
    /// `e <message>`: the worker failed.
    Fatal(String),
    /// `k <client>`: the client's catch-up (asked with `catchup`) reached the head.
    CaughtUp(usize),
    /// `d <n> <cpu nanos> <duplicates> <reconnects>`: n sockets closed on request, the CPU
    /// time the worker used from all connected until asked to close, stream entries its
    /// clients dropped as already held (by position), and reconnects after the gateway
    /// closed a socket; the worker is done.
    Done(usize, Duration, Resilience),
}

/// What the clients of a worker did to receive every change exactly once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resilience {
    /// Stream entries dropped because the client already held their position (a catch-up
    /// overlapping live frames, or a frame posted twice).
    pub position_duplicates: u64,
    /// Reconnects (with `subscribe` + `since`) after the gateway closed a socket.
    pub reconnects: u64,
}

impl Report {
    fn line(&self) -> String {
        let word = |s: &str| {
            if s.is_empty() {
                "-".to_owned()
            } else {
                s.replace(char::is_whitespace, "_")
            }
        };
        match self {
            Self::Connected(n) => format!("c {n}\n"),
            Self::Ready => "r\n".into(),
            Self::Frame(r) => {
                let nanos = r.at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
                format!(
                    "f {} {nanos} {} {}\n",
                    r.client,
                    word(&r.frame_type),
                    word(r.id.as_deref().unwrap_or(""))
                )
            }
            Self::Dropped(c, reason) => format!("x {c} {}\n", reason.replace('\n', " ")),
            Self::Fatal(m) => format!("e {}\n", m.replace('\n', " ")),
            Self::CaughtUp(c) => format!("k {c}\n"),
            Self::Done(n, cpu, r) => format!(
                "d {n} {} {} {}\n",
                cpu.as_nanos(),
                r.position_duplicates,
                r.reconnects
            ),
        }
    }

    fn parse(line: &str) -> Option<Self> {
        let mut parts = line.splitn(2, ' ');
        let tag = parts.next()?;
        let rest = parts.next().unwrap_or("");
        let opt = |s: &str| (s != "-").then(|| s.to_owned());
        Some(match tag {
            "c" => Self::Connected(rest.trim().parse().ok()?),
            "r" => Self::Ready,
            "f" => {
                let mut f = rest.split(' ');
                let client = f.next()?.parse().ok()?;
                let nanos: u64 = f.next()?.parse().ok()?;
                let frame_type = opt(f.next()?).unwrap_or_default();
                let id = opt(f.next()?.trim_end());
                Self::Frame(Receipt {
                    client,
                    at: UNIX_EPOCH + Duration::from_nanos(nanos),
                    frame_type,
                    id,
                })
            }
            "x" => {
                let (c, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                Self::Dropped(c.parse().ok()?, reason.to_owned())
            }
            "e" => Self::Fatal(rest.to_owned()),
            "k" => Self::CaughtUp(rest.trim().parse().ok()?),
            "d" => {
                let mut f = rest.split_whitespace();
                let n = f.next()?.parse().ok()?;
                let cpu = Duration::from_nanos(f.next()?.parse().ok()?);
                let position_duplicates = f.next()?.parse().ok()?;
                let reconnects = f.next()?.parse().ok()?;
                Self::Done(
                    n,
                    cpu,
                    Resilience {
                        position_duplicates,
                        reconnects,
                    },
                )
            }
            _ => return None,
        })
    }
}

/// A worker's job, the one JSON line on its stdin.
#[derive(Debug, Serialize, Deserialize)]
struct WorkerJob {
    ws_url: String,
    event_id: Option<String>,
    /// Index of the first token's client in the whole audience.
    first_client: usize,
    tokens: Vec<String>,
    /// The event's stream position when the clients connect: what each holds at first.
    #[serde(default)]
    since: u64,
}

/// A report from worker `worker`.
type WorkerReport = (usize, Report);

/// N WebSocket clients, held by worker processes (see the [module documentation](self)),
/// each connected with its own token and subscribed at connect to one event. Every text
/// frame any of them receives comes back as a [`Receipt`] from [`Audience::recv`].
pub struct Audience {
    workers: Vec<Child>,
    stdins: Vec<ChildStdin>,
    reports: mpsc::UnboundedReceiver<WorkerReport>,
    clients: usize,
    dropped: Vec<(usize, String)>,
    caught_up: usize,
}

/// What [`Audience::close`] returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct Closed {
    /// CPU time (user + system) the worker processes used from when all were connected.
    pub cpu: Duration,
    /// What the clients did to receive every change exactly once.
    pub resilience: Resilience,
}

impl std::fmt::Debug for Audience {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audience")
            .field("clients", &self.clients)
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

impl Audience {
    /// Connects one client per token to `ws_url` (`?token=…&event_id=…`), in worker processes
    /// of this binary, and returns once every one is connected (and so subscribed).
    /// `progress` is called with the number connected so far as handshakes complete. Fails
    /// when a handshake still fails after retries or a worker dies.
    pub async fn open(
        ws_url: &str,
        event: Option<EventId>,
        since: u64,
        tokens: Vec<String>,
        progress: impl Fn(usize),
    ) -> Result<Self, BoxError> {
        let exe = std::env::current_exe()?;
        let clients = tokens.len();
        let (tx, reports) = mpsc::unbounded_channel();
        let mut audience = Self {
            workers: Vec::new(),
            stdins: Vec::new(),
            reports,
            clients,
            dropped: Vec::new(),
            caught_up: 0,
        };
        for (w, chunk) in tokens.chunks(CLIENTS_PER_WORKER.max(1)).enumerate() {
            let mut child = Command::new(&exe)
                .arg(WORKER_COMMAND)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::inherit())
                .kill_on_drop(true)
                .spawn()?;
            let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                return Err("a worker's stdin or stdout is missing".into());
            };
            let job = WorkerJob {
                ws_url: ws_url.to_owned(),
                event_id: event.map(|e| e.to_string()),
                first_client: w * CLIENTS_PER_WORKER,
                tokens: chunk.to_vec(),
                since,
            };
            let mut line = serde_json::to_vec(&job)?;
            line.push(b'\n');
            stdin.write_all(&line).await?;
            stdin.flush().await?;
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                loop {
                    let report = match lines.next_line().await {
                        Ok(Some(l)) => match Report::parse(&l) {
                            Some(r) => r,
                            None => continue,
                        },
                        Ok(None) => Report::Fatal("the worker exited".into()),
                        Err(e) => Report::Fatal(format!("reading the worker: {e}")),
                    };
                    let last = matches!(report, Report::Fatal(_) | Report::Done(..));
                    if tx.send((w, report)).is_err() || last {
                        break;
                    }
                }
            });
            audience.workers.push(child);
            audience.stdins.push(stdin);
        }
        drop(tx);
        let mut connected = vec![0usize; audience.workers.len()];
        let mut ready = 0;
        while ready < audience.workers.len() {
            let Some((w, report)) = audience.reports.recv().await else {
                return Err("the workers stopped reporting".into());
            };
            match report {
                Report::Connected(n) => {
                    connected[w] = n;
                    progress(connected.iter().sum());
                }
                Report::Ready => ready += 1,
                Report::Fatal(m) => return Err(format!("client worker {w}: {m}").into()),
                Report::Dropped(c, reason) => audience.dropped.push((c, reason)),
                Report::Frame(_) | Report::Done(..) | Report::CaughtUp(_) => {}
            }
        }
        Ok(audience)
    }

    /// Number of clients.
    pub fn clients(&self) -> usize {
        self.clients
    }

    /// The next frame any client received, waiting for one; `None` once every worker has
    /// stopped. Sockets that closed on their own are noted in [`Audience::dropped`].
    pub async fn recv(&mut self) -> Option<Receipt> {
        loop {
            let (_, report) = self.reports.recv().await?;
            if let Some(r) = self.note(report) {
                return Some(r);
            }
        }
    }

    /// The next frame already received, without waiting.
    pub fn try_recv(&mut self) -> Option<Receipt> {
        loop {
            let (_, report) = self.reports.try_recv().ok()?;
            if let Some(r) = self.note(report) {
                return Some(r);
            }
        }
    }

    fn note(&mut self, report: Report) -> Option<Receipt> {
        match report {
            Report::Frame(r) => Some(r),
            Report::Dropped(c, reason) => {
                self.dropped.push((c, reason));
                None
            }
            Report::Fatal(m) => {
                self.dropped.push((usize::MAX, m));
                None
            }
            Report::CaughtUp(_) => {
                self.caught_up += 1;
                None
            }
            _ => None,
        }
    }

    /// Asks every client to catch up: `subscribe` with `since` set to the highest position it
    /// holds with no gap before it, until the head. Its frames come through
    /// [`Audience::recv`]; [`Audience::caught_up`] counts the clients done.
    pub async fn ask_catch_up(&mut self) -> Result<(), BoxError> {
        for stdin in &mut self.stdins {
            stdin.write_all(b"catchup\n").await?;
            stdin.flush().await?;
        }
        Ok(())
    }

    /// Clients whose asked catch-up reached the head, as far as [`Audience::recv`] has read.
    pub fn caught_up(&self) -> usize {
        self.caught_up
    }

    /// Clients whose socket closed without being asked to, with the reason (client
    /// `usize::MAX`: a whole worker failed), as far as [`Audience::recv`] has read.
    pub fn dropped(&self) -> &[(usize, String)] {
        &self.dropped
    }

    /// Closes every socket (1000, so the gateway delivers each `$disconnect`) and waits for
    /// the workers to end. Frames not yet read are discarded. Returns the CPU time (user +
    /// system) the worker processes used from when all were connected until this call: the
    /// clients' share of what the run cost.
    pub async fn close(mut self) -> Result<Closed, BoxError> {
        for stdin in &mut self.stdins {
            // A worker that already ended is fine: its sockets are gone too.
            let _ = stdin.write_all(b"close\n").await;
            let _ = stdin.flush().await;
        }
        self.stdins.clear();
        let mut closed = Closed::default();
        let drain = async {
            let mut done = 0;
            while done < self.workers.len() {
                match self.reports.recv().await {
                    Some((_, Report::Done(_, used, r))) => {
                        closed.cpu += used;
                        closed.resilience.position_duplicates += r.position_duplicates;
                        closed.resilience.reconnects += r.reconnects;
                        done += 1;
                    }
                    Some((_, Report::Fatal(_))) => done += 1,
                    Some(_) => {}
                    None => break,
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(60), drain).await;
        for child in &mut self.workers {
            match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
                Ok(Ok(_)) => {}
                _ => {
                    let _ = child.kill().await;
                }
            }
        }
        Ok(closed)
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// `banter-bench clients-worker`: holds the clients of one [`WorkerJob`] (read from stdin),
/// reports on stdout, and closes them all when stdin says `close` or ends.
pub async fn worker_main() -> Result<(), BoxError> {
    raise_open_files();
    let (out, out_rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(write_reports(out_rx));
    let result = worker(out.clone()).await;
    if let Err(e) = &result {
        let _ = out.send(Report::Fatal(e.to_string()).line());
    }
    drop(out);
    let _ = writer.await;
    result
}

/// Writes report lines to stdout, flushing whenever no more are waiting.
async fn write_reports(mut rx: mpsc::UnboundedReceiver<String>) {
    let mut stdout = BufWriter::with_capacity(1 << 16, tokio::io::stdout());
    while let Some(line) = rx.recv().await {
        if stdout.write_all(line.as_bytes()).await.is_err() {
            return;
        }
        while let Ok(line) = rx.try_recv() {
            if stdout.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
        if stdout.flush().await.is_err() {
            return;
        }
    }
}

async fn worker(out: mpsc::UnboundedSender<String>) -> Result<(), BoxError> {
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let Some(line) = stdin.next_line().await? else {
        return Err("no job on stdin".into());
    };
    let job: Arc<WorkerJob> = Arc::new(serde_json::from_str(&line)?);
    let connected = AtomicUsize::new(0);
    let first = job.first_client;
    let opened: Vec<Result<(usize, Socket), BoxError>> =
        stream::iter(job.tokens.iter().enumerate())
            .map(|(i, token)| {
                let (job, connected, out) = (&job, &connected, &out);
                async move {
                    let socket = connect_retrying(&job.ws_url, token, job.event_id.as_deref())
                        .await
                        .map_err(|e| format!("client {}: {e}", first + i))?;
                    let n = connected.fetch_add(1, Ordering::Relaxed) + 1;
                    if n % 100 == 0 || n == job.tokens.len() {
                        let _ = out.send(Report::Connected(n).line());
                    }
                    Ok((first + i, socket))
                }
            })
            .buffer_unordered(CONNECT_CONCURRENCY)
            .collect()
            .await;
    let (phase_tx, phase) = watch::channel(Phase::Live);
    let mut clients = Vec::new();
    for o in opened {
        let (client, socket) = o?;
        let token = job.tokens[client - first].clone();
        clients.push(tokio::spawn(run_client(
            Client {
                index: client,
                token,
                job: job.clone(),
                out: out.clone(),
            },
            socket,
            phase.clone(),
        )));
    }
    let _ = out.send(Report::Ready.line());
    let cpu_at_ready = cpu_time().unwrap_or_default();

    // `catchup`, then `close` (or the end of stdin: the benchmark is gone).
    let mut cpu_used = None;
    while let Ok(Some(line)) = stdin.next_line().await {
        match line.trim() {
            "catchup" => {
                let _ = phase_tx.send(Phase::CatchUp);
            }
            "close" => {
                cpu_used = Some(cpu_time().unwrap_or_default().saturating_sub(cpu_at_ready));
                break;
            }
            _ => {}
        }
    }
    let cpu_used =
        cpu_used.unwrap_or_else(|| cpu_time().unwrap_or_default().saturating_sub(cpu_at_ready));
    let _ = phase_tx.send(Phase::Close);
    let mut closed = 0;
    let mut resilience = Resilience::default();
    let ended = tokio::time::timeout(Duration::from_secs(30), futures::future::join_all(clients));
    if let Ok(results) = ended.await {
        for (ok, r) in results.into_iter().flatten() {
            closed += usize::from(ok);
            resilience.position_duplicates += r.position_duplicates;
            resilience.reconnects += r.reconnects;
        }
    }
    let _ = out.send(Report::Done(closed, cpu_used, resilience).line());
    Ok(())
}

async fn connect_retrying(
    ws_url: &str,
    token: &str,
    event: Option<&str>,
) -> Result<Socket, BoxError> {
    let mut attempt = 1;
    loop {
        match connect(ws_url, token, event).await {
            Ok(s) => return Ok(s),
            Err(e) if attempt >= CONNECT_ATTEMPTS => return Err(e),
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                attempt += 1;
            }
        }
    }
}

/// What the worker asks of its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Receive.
    Live,
    /// Subscribe with `since` (the highest position held with no gap before it) until the
    /// head, and report `k`.
    CatchUp,
    /// Close the socket.
    Close,
}

/// One client of a worker.
struct Client {
    index: usize,
    token: String,
    job: Arc<WorkerJob>,
    out: mpsc::UnboundedSender<String>,
}

/// The stream positions a client holds: ranges `(after, last]` of the `stream_batch` frames
/// it applied, merged.
#[derive(Debug, Default)]
struct Held {
    /// Start → end of each disjoint range of held positions (`start..=end`).
    ranges: std::collections::BTreeMap<u64, u64>,
    /// Entry positions received (duplicates are dropped by these).
    entries: std::collections::HashSet<u64>,
}

impl Held {
    fn new(since: u64) -> Self {
        let mut h = Self::default();
        h.ranges.insert(0, since);
        h
    }

    /// Adds positions `after + 1 ..= last`.
    fn cover(&mut self, after: u64, last: u64) {
        if last <= after {
            return;
        }
        let (mut start, mut end) = (after + 1, last);
        let overlapping: Vec<(u64, u64)> = self
            .ranges
            .range(..=end.saturating_add(1))
            .filter(|(_, e)| **e + 1 >= start)
            .map(|(s, e)| (*s, *e))
            .collect();
        for (s, e) in overlapping {
            self.ranges.remove(&s);
            start = start.min(s);
            end = end.max(e);
        }
        self.ranges.insert(start, end);
    }

    /// The highest position held with no gap before it: where to resume.
    fn resume_at(&self) -> u64 {
        self.ranges.get(&0).copied().unwrap_or(0)
    }
}

/// Receives for one client until asked to close: reports each new entry (dropping those whose
/// position it holds), reconnects and catches up when the gateway closes its socket, and
/// catches up to the head when asked. Returns whether its close was answered, with what it
/// did to stay whole.
async fn run_client(
    client: Client,
    socket: Socket,
    mut phase: watch::Receiver<Phase>,
) -> (bool, Resilience) {
    let mut held = Held::new(client.job.since);
    let mut resilience = Resilience::default();
    let (mut sink, mut stream) = socket.split();
    // The message id of the subscribe awaiting its ack, and whether it is the asked catch-up.
    let mut asked: Option<(String, bool)> = None;
    let mut sent = 0u64;
    let mut closing = false;
    loop {
        // Why the socket ended on its own, if it did: reconnect below.
        let mut lost: Option<String> = None;
        tokio::select! {
            changed = phase.changed(), if !closing => {
                let now = if changed.is_ok() { *phase.borrow() } else { Phase::Close };
                match now {
                    Phase::CatchUp => {
                        sent += 1;
                        let id = format!("catchup-{sent}");
                        let _ = sink.send(subscribe(&client, &id, held.resume_at())).await;
                        asked = Some((id, true));
                    }
                    Phase::Close => {
                        closing = true;
                        if sink.send(Message::Close(None)).await.is_err() {
                            return (false, resilience);
                        }
                    }
                    Phase::Live => {}
                }
            }
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let at = SystemTime::now();
                    let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                    let asked_id = asked.as_ref().map(|(id, _)| id.clone());
                    let is_answer = asked_id.is_some() && v["message_id"].as_str() == asked_id.as_deref();
                    match v["type"].as_str() {
                        Some("stream_batch") => {
                            let p = &v["payload"];
                            for e in p["entries"].as_array().into_iter().flatten() {
                                let Some(pos) = e["position"].as_u64() else { continue };
                                if !held.entries.insert(pos) {
                                    resilience.position_duplicates += 1;
                                    continue;
                                }
                                let (frame_type, id) = described(e, None);
                                let receipt = Receipt { client: client.index, at, frame_type, id };
                                let _ = client.out.send(Report::Frame(receipt).line());
                            }
                            if let (Some(a), Some(l)) = (p["after"].as_u64(), p["last_position"].as_u64()) {
                                held.cover(a, l);
                            }
                        }
                        Some("ack") if is_answer => {
                            let catch_up = asked.as_ref().is_some_and(|(_, c)| *c);
                            if v["payload"]["has_more"].as_bool() == Some(true) {
                                sent += 1;
                                let id = format!("resume-{sent}");
                                let _ = sink.send(subscribe(&client, &id, held.resume_at())).await;
                                asked = Some((id, catch_up));
                            } else {
                                asked = None;
                                if catch_up {
                                    let _ = client.out.send(Report::CaughtUp(client.index).line());
                                }
                            }
                        }
                        Some("error") if is_answer => {
                            // The catch-up failed (a fault): ask again.
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            sent += 1;
                            let catch_up = asked.as_ref().is_some_and(|(_, c)| *c);
                            let id = format!("retry-{sent}");
                            let _ = sink.send(subscribe(&client, &id, held.resume_at())).await;
                            asked = Some((id, catch_up));
                        }
                        _ => {
                            for (frame_type, id) in describe(&text) {
                                let receipt = Receipt { client: client.index, at, frame_type, id };
                                let _ = client.out.send(Report::Frame(receipt).line());
                            }
                        }
                    }
                }
                Some(Ok(Message::Close(frame))) if !closing => {
                    lost = Some(format!("closed by the gateway: {frame:?}"));
                }
                Some(Ok(Message::Close(_))) | None => return (closing, resilience),
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    if closing {
                        return (false, resilience);
                    }
                    lost = Some(format!("socket error: {e}"));
                }
            }
        }
        if let Some(reason) = lost {
            match reconnect(&client, &held, &mut resilience, &mut sent).await {
                Some((socket, id)) => {
                    (sink, stream) = socket.split();
                    let catch_up = asked.as_ref().is_some_and(|(_, c)| *c);
                    asked = Some((id, catch_up));
                }
                None => {
                    let _ = client
                        .out
                        .send(Report::Dropped(client.index, reason).line());
                    return (false, resilience);
                }
            }
        }
    }
}

/// A `subscribe` to the job's event with `since`.
fn subscribe(client: &Client, id: &str, since: u64) -> Message {
    let event = client.job.event_id.clone().unwrap_or_default();
    Message::text(
        serde_json::json!({
            "type": "subscribe",
            "message_id": id,
            "payload": { "event_id": event, "since": since }
        })
        .to_string(),
    )
}

/// Connects again and subscribes with `since` (a socket the gateway closed: the client was
/// told it is gone); the subscribe's message id comes back with the socket.
async fn reconnect(
    client: &Client,
    held: &Held,
    resilience: &mut Resilience,
    sent: &mut u64,
) -> Option<(Socket, String)> {
    let mut socket = connect_retrying(
        &client.job.ws_url,
        &client.token,
        client.job.event_id.as_deref(),
    )
    .await
    .ok()?;
    resilience.reconnects += 1;
    *sent += 1;
    let id = format!("reconnect-{sent}");
    socket
        .send(subscribe(client, &id, held.resume_at()))
        .await
        .ok()?;
    Some((socket, id))
}

/// A frame's `type` and the id of its item (see [`Receipt::id`]); a `stream_batch` is each of
/// its entries, as a client reads it.
fn describe(text: &str) -> Vec<(String, Option<String>)> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return vec![(String::new(), None)];
    };
    if v["type"] == "stream_batch" {
        return v["payload"]["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| described(e, None))
            .collect();
    }
    vec![described(&v, v["message_id"].as_str())]
}

/// The `type` of a frame or entry and its item's id (else `fallback`).
fn described(v: &Value, fallback: Option<&str>) -> (String, Option<String>) {
    let frame_type = v["type"].as_str().unwrap_or_default().to_owned();
    let id = [
        &v["payload"]["comment_id"],
        &v["payload"]["message"]["message_id"],
    ]
    .into_iter()
    .find_map(|x| x.as_str())
    .or(fallback)
    .map(str::to_owned);
    (frame_type, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip_through_their_lines() {
        let frame = Report::Frame(Receipt {
            client: 7,
            at: UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789),
            frame_type: "comment_broadcast".into(),
            id: Some("0198f2a4-5c3e-7b21-9f4a-1c2d3e4f5a6b".into()),
        });
        let no_id = Report::Frame(Receipt {
            client: 0,
            at: UNIX_EPOCH,
            frame_type: String::new(),
            id: None,
        });
        for r in [
            Report::Connected(100),
            Report::Ready,
            frame,
            no_id,
            Report::Dropped(3, "closed by the gateway: 1001".into()),
            Report::Fatal("client 3: refused".into()),
            Report::Done(
                5_000,
                Duration::from_millis(1_234),
                Resilience {
                    position_duplicates: 3,
                    reconnects: 2,
                },
            ),
            Report::CaughtUp(7),
        ] {
            let line = r.line();
            assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
            assert_eq!(Report::parse(line.trim_end_matches('\n')), Some(r));
        }
    }

    #[test]
    fn frames_are_described_by_type_and_item() {
        let one = |text: &str| describe(text).remove(0);
        let (t, id) = one(r#"{"type":"comment_broadcast","payload":{"comment_id":"c1"}}"#);
        assert_eq!(
            (t.as_str(), id.as_deref()),
            ("comment_broadcast", Some("c1"))
        );
        let (t, id) = one(r#"{"type":"ack","message_id":"m1","payload":{}}"#);
        assert_eq!((t.as_str(), id.as_deref()), ("ack", Some("m1")));
        assert_eq!(one("not json"), (String::new(), None));
        let batch = describe(
            r#"{"type":"stream_batch","message_id":"b","payload":{"entries":[
                {"position":2,"type":"comment_broadcast","payload":{"comment_id":"c2"}},
                {"position":3,"type":"comment_updated","payload":{"comment_id":"c1"}}]}}"#,
        );
        assert_eq!(
            batch,
            [
                ("comment_broadcast".to_owned(), Some("c2".to_owned())),
                ("comment_updated".to_owned(), Some("c1".to_owned()))
            ]
        );
    }
}
