//! What `tests/functions.rs` and `examples/cold_start.rs` share: the functions of
//! `template.yaml`, their sample events in `events/`, their `bootstrap` binaries, and a world on
//! the moto server (tables, queue, a management endpoint, seeded users, events, conversations
//! and fresh tokens) for them to run against.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use banter::app::App;
use banter::auth::AuthConfig;
use banter::aws::AwsSettings;
use banter::config::Config;
use banter::ids::{ConnectionId, UserId};
use banter::model::EventStatus;
use banter::queue::sqs::{SqsQueue, create_queue_with_dlq};
use banter::room::Room;
use banter::store::dynamodb::tables::{self, TableNames};
use banter_deployment::{Deployment, Function, Value as Yaml};
use banter_testkit::samples::{self, id};
use banter_testkit::{connections, tokens};
use base64::Engine;
use serde_json::Value;

/// The repository root (the workspace).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    here.canonicalize().unwrap_or(here)
}

/// The moto server `scripts/test` started. Without it the caller fails: it never skips.
pub fn moto_endpoint() -> String {
    std::env::var("BANTER_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "BANTER_TEST_AWS_ENDPOINT is not set: the function processes store their data on \
             the moto server that `scripts/test` starts. Run the tests with scripts/test."
        )
    })
}

// ---------------------------------------------------------------------------------------------
// template.yaml
// ---------------------------------------------------------------------------------------------

/// One `AWS::Serverless::Function` of `template.yaml`: what the emulator needs of its
/// [`Function`] in the deployment model.
#[derive(Debug, Clone)]
pub struct TemplateFunction {
    /// Logical id (`AuthFunction`).
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`: the workspace binary (`auth`).
    pub binary: String,
    /// `MemorySize` (MB).
    pub memory_mb: u32,
    /// `Timeout`.
    pub timeout: Duration,
    /// `Environment.Variables`, the Globals' first, the function's over them, unresolved.
    pub env: BTreeMap<String, Yaml>,
}

impl From<&Function> for TemplateFunction {
    fn from(f: &Function) -> Self {
        Self {
            logical_id: f.logical_id.clone(),
            binary: f.binary.clone(),
            memory_mb: f.memory_mb,
            timeout: f.timeout,
            env: f.environment.clone(),
        }
    }
}

/// The parts of `template.yaml` that say how a function runs, from the deployment model.
#[derive(Debug, Clone)]
pub struct Template {
    /// The deployment model.
    pub deployment: Deployment,
    /// Every function, in template order.
    pub functions: Vec<TemplateFunction>,
    /// Every parameter's `Default`, as text.
    pub parameters: BTreeMap<String, String>,
}

impl Template {
    /// Reads `template.yaml`.
    pub fn load() -> Self {
        let path = repo_root().join("template.yaml");
        let deployment = Deployment::load(&path).unwrap_or_else(|e| panic!("{e}"));
        // In template order; a function the model could not read (it has no binary) stops
        // the run.
        let functions: Vec<TemplateFunction> = deployment
            .resources_of("AWS::Serverless::Function")
            .into_iter()
            .map(|(id, _)| {
                let f = deployment.function(&id).unwrap_or_else(|| {
                    panic!(
                        "{id} has no Metadata.BuildProperties.Binary: {:?}",
                        deployment.problems
                    )
                });
                TemplateFunction::from(f)
            })
            .collect();
        assert!(!functions.is_empty(), "template.yaml declares no function");
        Self {
            parameters: deployment.parameters.clone(),
            functions,
            deployment,
        }
    }

    /// The value of a template expression that needs no deployed resource: a scalar, `!Ref`
    /// to a parameter (its default), `!Sub` or `!Join` of those. `None` for anything else.
    pub fn resolve(&self, v: &Yaml) -> Option<String> {
        self.deployment.resolve(v)
    }

    /// The functions in the order the samples build on each other: the REST functions
    /// (events before comments, which need a live event), then `$connect`, `$default`,
    /// `$disconnect`, and the fan-out last; any function not named here after them.
    pub fn functions_in_run_order(&self) -> Vec<TemplateFunction> {
        const ORDER: &[&str] = &[
            "health",
            "auth",
            "users",
            "events",
            "comments",
            "conversations",
            "messages",
            "ws-connect",
            "ws-default",
            "ws-disconnect",
            "fanout",
        ];
        let mut fs = self.functions.clone();
        fs.sort_by_key(|f| {
            ORDER
                .iter()
                .position(|b| *b == f.binary)
                .unwrap_or(ORDER.len())
        });
        fs
    }
}

// ---------------------------------------------------------------------------------------------
// events/
// ---------------------------------------------------------------------------------------------

/// Whether the sample file `name` belongs to the function built as `binary`:
/// `http-<binary>-*.json` (REST), `<binary>.json` or `<binary>-*.json` (WebSocket, fan-out).
pub fn sample_belongs_to(name: &str, binary: &str) -> bool {
    name == format!("{binary}.json")
        || name.starts_with(&format!("{binary}-"))
        || name.starts_with(&format!("http-{binary}-"))
}

/// Every `events/*.json` file name, sorted.
pub fn all_sample_names() -> Vec<String> {
    let dir = repo_root().join("events");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// Where a sample goes in its function's sequence: creations before reads, reads before
/// changes, deletions and sign-outs last; `$default` frames in protocol order.
fn sample_rank(binary: &str, name: &str) -> usize {
    let stem = name.trim_end_matches(".json");
    if binary == "ws-default" {
        let kind = stem.strip_prefix("ws-default-").unwrap_or(stem);
        return banter::protocol::CLIENT_MESSAGE_TYPES
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(usize::MAX);
    }
    match stem.rsplit('-').next().unwrap_or_default() {
        "register" => 0,
        "login" => 1,
        "refresh" => 2,
        "create" | "send" => 3,
        "get" | "list" | "search" | "replies" => 4,
        "delete" | "logout" => 9,
        _ => 5,
    }
}

/// The samples of `binary` as `(file name, text)`, in the order they build on each other.
pub fn samples_for(binary: &str) -> Vec<(String, String)> {
    let mut names: Vec<String> = all_sample_names()
        .into_iter()
        .filter(|n| sample_belongs_to(n, binary))
        .collect();
    names.sort_by_key(|n| (sample_rank(binary, n), n.clone()));
    names
        .into_iter()
        .map(|n| {
            let path = repo_root().join("events").join(&n);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (n, text)
        })
        .collect()
}

/// The sample that times a function's first response in the cold-start benchmark: one that
/// needs no password hashing and leaves the data as it found it (or changes it idempotently).
pub fn probe_sample(binary: &str) -> Option<&'static str> {
    Some(match binary {
        "health" => "http-health-get.json",
        "auth" => "http-auth-refresh.json",
        "users" => "http-users-me-get.json",
        "events" => "http-events-get.json",
        "comments" => "http-comments-list.json",
        "conversations" => "http-conversations-list.json",
        "messages" => "http-messages-list.json",
        "ws-connect" => "ws-connect.json",
        "ws-default" => "ws-default-ping.json",
        "ws-disconnect" => "ws-disconnect.json",
        "fanout" => "fanout-batch.json",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Bootstraps
// ---------------------------------------------------------------------------------------------

/// Which cargo profile to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `cargo build` (what the test uses).
    Debug,
    /// `cargo build --release` (what the cold-start benchmark uses).
    Release,
}

/// The target directory of the running test or example's profile (`target/debug`):
/// `target/debug/deps/<test>` or `target/release/examples/<example>`, two levels up.
fn own_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the running test");
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("{} has no profile directory", exe.display()))
}

/// Finds `binary` in `dir`: `<dir>/<binary>` (a cargo target directory),
/// `<dir>/<binary>/bootstrap` (cargo-lambda's `target/lambda`) or `<dir>/<logical
/// id>/bootstrap` (`.aws-sam/build`).
pub fn find_in(dir: &Path, binary: &str, logical_id: &str) -> Option<PathBuf> {
    [
        dir.join(binary),
        dir.join(binary).join("bootstrap"),
        dir.join(logical_id).join("bootstrap"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// Builds the function binaries with a nested cargo (cargo releases its lock while tests
/// run) into this target directory, and returns the profile's directory (`target/debug`):
///
/// - [`Profile::Debug`]: `cargo build --workspace --bins --tests`. Asking for the workspace's
///   tests too makes cargo resolve features exactly as `cargo test --workspace` does, so under
///   `scripts/test` every dependency is already built and only the function binaries are
///   compiled and linked; a narrower selection would resolve other features (no dev-only
///   features such as tokio's `test-util`) and build the whole AWS SDK a second time.
/// - [`Profile::Release`]: `cargo build --release --package functions --bin <function>…`
///   (plus every binary of `extra_packages`, which builds all function binaries too): the
///   functions' own feature set, as `cargo lambda build` builds them.
pub fn cargo_build(
    functions: &[(String, String)],
    profile: Profile,
    extra_packages: &[&str],
) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo_root()).args(["build", "--quiet"]);
    match profile {
        Profile::Debug => {
            cmd.args(["--workspace", "--bins", "--tests"]);
        }
        Profile::Release => {
            // Only the binaries asked for: each release link runs LTO.
            cmd.args(["--release", "--package", "functions"]);
            for (binary, _) in functions {
                cmd.args(["--bin", binary]);
            }
            for p in extra_packages {
                cmd.args(["--package", p]);
            }
            if !extra_packages.is_empty() {
                cmd.arg("--bins");
            }
        }
    }
    let started = std::time::Instant::now();
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo build: {e}"));
    assert!(
        status.success(),
        "cargo build of the functions failed: {status}"
    );
    eprintln!(
        "built the function binaries ({profile:?}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    own_profile_dir()
}

/// The `bootstrap` of every `(binary, logical id)`: from `BANTER_BOOTSTRAP_DIR` when it is set
/// (release or cargo-lambda builds; see [`find_in`]), otherwise built now by [`cargo_build`].
pub fn bootstraps(functions: &[(String, String)], profile: Profile) -> BTreeMap<String, PathBuf> {
    let from_env = std::env::var_os("BANTER_BOOTSTRAP_DIR").map(PathBuf::from);
    let dir = from_env
        .clone()
        .unwrap_or_else(|| cargo_build(functions, profile, &[]));
    functions
        .iter()
        .map(|(binary, logical_id)| {
            let path = find_in(&dir, binary, logical_id).unwrap_or_else(|| {
                panic!(
                    "no bootstrap for {binary} in {}{}",
                    dir.display(),
                    if from_env.is_some() {
                        " (BANTER_BOOTSTRAP_DIR): expected <dir>/<binary>, \
                         <dir>/<binary>/bootstrap or <dir>/<LogicalId>/bootstrap"
                    } else {
                        ""
                    }
                )
            });
            (binary.clone(), path)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The management endpoint
// ---------------------------------------------------------------------------------------------

/// One request to the management endpoint.
#[derive(Debug, Clone)]
pub struct ManagementCall {
    /// `POST` (PostToConnection), `DELETE` (DeleteConnection), `GET` (GetConnection).
    pub method: String,
    /// The connection id, percent-decoded.
    pub connection_id: String,
    /// The body (the frame, for a post).
    pub body: Vec<u8>,
    /// The status answered.
    pub status: u16,
}

#[derive(Debug, Default)]
struct ManagementState {
    calls: Vec<ManagementCall>,
    gone: Vec<String>,
}

/// The WebSocket API's management endpoint, served by the test: `200` for every connection
/// (`204` for a delete), `410 GoneException` for the connections marked gone; every call
/// recorded.
pub struct Management {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<ManagementState>>,
    task: tokio::task::JoinHandle<()>,
}

/// Percent-decodes `s`.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Management {
    /// Starts it on a free loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the management endpoint");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(ManagementState::default()));
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, _headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move {
                    // /{stage}/@connections/{id}
                    let mut parts = uri.path().split('/').skip_while(|p| {
                        *p != "@connections" && !p.eq_ignore_ascii_case("%40connections")
                    });
                    let Some(id) = parts.nth(1).map(percent_decode) else {
                        return (StatusCode::NOT_FOUND, HeaderMap::new(), String::new())
                            .into_response();
                    };
                    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                    let gone = state.gone.contains(&id);
                    let status = match (gone, &method) {
                        (true, _) => StatusCode::GONE,
                        (false, &Method::DELETE) => StatusCode::NO_CONTENT,
                        (false, _) => StatusCode::OK,
                    };
                    state.calls.push(ManagementCall {
                        method: method.to_string(),
                        connection_id: id,
                        body: body.to_vec(),
                        status: status.as_u16(),
                    });
                    let mut headers = HeaderMap::new();
                    headers.insert("content-type", "application/json".parse().expect("header"));
                    let body = if gone {
                        headers.insert(
                            "x-amzn-errortype",
                            "GoneException".parse().expect("header"),
                        );
                        r#"{"message":"GoneException"}"#.to_owned()
                    } else if method == Method::GET {
                        r#"{"connectedAt":"2025-09-01T19:04:12.000Z","identity":{"sourceIp":"203.0.113.7","userAgent":"test"},"lastActiveAt":"2025-09-01T19:04:12.000Z"}"#.to_owned()
                    } else {
                        String::new()
                    };
                    (status, headers, body).into_response()
                }
            },
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    /// `WEBSOCKET_MANAGEMENT_ENDPOINT`: `http://127.0.0.1:<port>/live`.
    pub fn endpoint(&self) -> String {
        format!("http://{}/live", self.addr)
    }

    /// Answers `410 GoneException` for `connection` from now on.
    pub fn mark_gone(&self, connection: &str) {
        self.lock().gone.push(connection.to_owned());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManagementState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<ManagementCall> {
        self.lock().calls.clone()
    }

    /// How many calls so far.
    pub fn call_count(&self) -> usize {
        self.lock().calls.len()
    }

    /// The frames (JSON) posted to `connection` from call number `since` on.
    pub fn frames_to(&self, connection: &str, since: usize) -> Vec<Value> {
        self.lock()
            .calls
            .iter()
            .skip(since)
            .filter(|c| c.method == "POST" && c.connection_id == connection)
            .filter_map(|c| serde_json::from_slice(&c.body).ok())
            .collect()
    }
}

impl Drop for Management {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// The world on moto
// ---------------------------------------------------------------------------------------------

/// Ids the samples in `events/` refer to, and the fan-out samples' subscribers.
pub mod ids {
    pub use banter_testkit::samples::ids::*;
    /// A connection subscribed to the event for the fan-out samples.
    pub const FANOUT_LIVE: &str = "FanoutLive00000=";
    /// A subscribed connection the management endpoint reports gone.
    pub const FANOUT_GONE: &str = "FanoutGone00000=";
}

/// The cursor secret.
const CURSOR_SECRET: &str = "runtime-emulator-cursor-secret-0123456789abcdef";

/// How a function's variables are filled in: the world's names and endpoints, the test
/// secrets, and the template's parameter defaults.
struct Wiring {
    names: TableNames,
    queue_url: String,
    shard_queue_url: String,
    management_endpoint: String,
    /// The media bucket on moto.
    media_bucket: String,
    base_env: BTreeMap<String, String>,
    template: Template,
    /// The test's Ed25519 key: the private PEM for the signer, the public PEM for verifiers.
    private_pem: String,
    public_pem: String,
}

impl Wiring {
    fn env_for(&self, function: &TemplateFunction) -> BTreeMap<String, String> {
        let mut env = self.base_env.clone();
        for (name, value) in &function.env {
            let table = tables::ALL.iter().find(|d| d.env_var == name.as_str());
            let resolved = match name.as_str() {
                _ if table.is_some() => table.map(|d| self.names.of(*d).to_owned()),
                "FANOUT_QUEUE_URL" => Some(self.queue_url.clone()),
                "FANOUT_SHARD_QUEUE_URL" => Some(self.shard_queue_url.clone()),
                "WEBSOCKET_MANAGEMENT_ENDPOINT" => Some(self.management_endpoint.clone()),
                "MEDIA_BUCKET" => Some(self.media_bucket.clone()),
                "BANTER_JWT_PRIVATE_KEY" => Some(self.private_pem.clone()),
                "BANTER_JWT_PUBLIC_KEY" => Some(self.public_pem.clone()),
                "BANTER_CURSOR_SECRET" => Some(CURSOR_SECRET.to_owned()),
                // The samples' caller moderates: the suspension samples need one.
                "BANTER_MODERATORS" => Some(ids::CALLER.to_owned()),
                _ => Some(self.template.resolve(value).unwrap_or_else(|| {
                    panic!(
                        "{}: no test value for {name} = {value:?}; teach \
                         runtime-emulator/tests/support/mod.rs (Wiring::env_for) about it",
                        function.logical_id
                    )
                })),
            };
            if let Some(v) = resolved {
                env.insert(name.clone(), v);
            }
        }
        env
    }
}

/// Tables, a fan-out queue and a management endpoint of one test run (moto's state is shared,
/// so everything is named under a fresh prefix), and an [`App`] over them that signs tokens
/// with the functions' key.
pub struct World {
    /// The moto endpoint.
    pub endpoint: String,
    /// The prefix of every name.
    pub prefix: String,
    /// The tables.
    pub names: TableNames,
    /// The fan-out queue.
    pub queue_url: String,
    /// Its dead-letter queue.
    pub dlq_url: String,
    /// The shard queue (the fan-out enqueues shard jobs of large rooms there).
    pub shard_queue_url: String,
    /// The SQS client.
    pub sqs: aws_sdk_sqs::Client,
    /// The management endpoint.
    pub management: Management,
    /// The app over the same tables and signing key as the functions.
    pub app: App,
    wiring: Wiring,
}

impl World {
    /// Creates the tables and queues on moto at `endpoint` and starts the management
    /// endpoint.
    pub async fn create(endpoint: &str, template: &Template) -> Self {
        let prefix = format!("t{}-rt", uuid::Uuid::now_v7().simple());
        let sdk = AwsSettings::local(endpoint).load().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let names = TableNames::with_prefix(&prefix);
        tables::create_all(&dynamodb, &names)
            .await
            .unwrap_or_else(|e| panic!("create the tables on moto at {endpoint}: {e}"));
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        // As template.yaml: 5 receives before the dead-letter queue, 180 s visibility.
        let queue = |name: String| {
            let sqs = &sqs;
            async move {
                create_queue_with_dlq(sqs, &name, 5, Duration::from_secs(180))
                    .await
                    .unwrap_or_else(|e| panic!("create the queue {name} on moto: {e}"))
            }
        };
        let (queue_url, dlq_url) = queue(format!("{prefix}-fanout")).await;
        let (shard_queue_url, _) = queue(format!("{prefix}-fanout-shards")).await;
        let management = Management::start().await;
        let media_bucket = format!("{prefix}-media").to_lowercase();
        let objects = banter::objects::s3::S3Objects::new(&sdk, media_bucket.clone());
        objects
            .client()
            .create_bucket()
            .bucket(&media_bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create the bucket {media_bucket} on moto: {e}"));
        // The deployed key type: Ed25519, private key on `auth`, public key on the verifiers.
        let signing_key = banter::auth::SigningKey::generate_ed25519(None).expect("a test key");
        let key = |name: &str| std::env::var(name).unwrap_or_else(|_| "testing".into());
        let base_env: BTreeMap<String, String> = [
            ("AWS_ENDPOINT_URL", endpoint.to_owned()),
            ("AWS_ACCESS_KEY_ID", key("AWS_ACCESS_KEY_ID")),
            ("AWS_SECRET_ACCESS_KEY", key("AWS_SECRET_ACCESS_KEY")),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let wiring = Wiring {
            names: names.clone(),
            queue_url: queue_url.clone(),
            shard_queue_url: shard_queue_url.clone(),
            management_endpoint: management.endpoint(),
            media_bucket,
            base_env,
            template: template.clone(),
            private_pem: signing_key.ed25519_private_pem().expect("an Ed25519 key"),
            public_pem: signing_key.ed25519_public_pem().expect("an Ed25519 key"),
        };
        // The app reads what a function given every function's variables would.
        let all: BTreeMap<String, String> = template
            .functions
            .iter()
            .flat_map(|f| wiring.env_for(f))
            .collect();
        let lookup = |k: &str| all.get(k).cloned();
        let app = App::new(
            banter::store::dynamodb::stores(dynamodb, names.clone()),
            Arc::new(SqsQueue::new(&sdk, queue_url.clone())),
            &AuthConfig::from_lookup(lookup).expect("auth config"),
            Config::from_lookup(lookup).expect("app config"),
        )
        .expect("the test's app")
        .with_objects(Arc::new(objects));
        Self {
            endpoint: endpoint.to_owned(),
            prefix,
            names,
            queue_url,
            dlq_url,
            shard_queue_url,
            sqs,
            management,
            app,
            wiring,
        }
    }

    /// The environment of `function`: each variable the template gives it, with the world's
    /// table names, queue, management endpoint and secrets, and parameter defaults for the
    /// rest; plus the AWS endpoint and credentials of moto.
    pub fn env_for(&self, function: &TemplateFunction) -> BTreeMap<String, String> {
        self.wiring.env_for(function)
    }

    /// Stores what the samples refer to (`banter_testkit::samples::seed`; the event
    /// scheduled: the events samples take it live), and two connections subscribed to the
    /// event for the fan-out (one of them gone).
    pub async fn seed(&self) {
        samples::seed(&self.app, EventStatus::Scheduled).await;
        self.seed_fanout_subscribers().await;
        // The upload the media sample announces: declared, and its bytes (a real PNG) in the
        // bucket.
        let png = {
            let mut out = std::io::Cursor::new(Vec::new());
            image::RgbImage::from_pixel(40, 30, image::Rgb([200, 40, 90]))
                .write_to(&mut out, image::ImageFormat::Png)
                .expect("a PNG");
            out.into_inner()
        };
        samples::store_pending_upload(&self.app, id(ids::UPLOAD), id(ids::CALLER), png).await;
    }

    /// The WebSocket samples' connection, of their user, as `$connect` stores it (for
    /// running `$default` samples without a `$connect` first).
    pub async fn seed_sample_connection(&self) {
        connections::store_connection(&self.app, &id(ids::CONNECTION), id(ids::WS_USER)).await;
    }

    /// Two connections of the caller subscribed to the event: one live, one the management
    /// endpoint reports gone. (Again after `$disconnect` samples removed connections.)
    pub async fn seed_fanout_subscribers(&self) {
        use ids::*;
        for connection in [FANOUT_LIVE, FANOUT_GONE] {
            let c: ConnectionId = id(connection);
            connections::store_connection(&self.app, &c, id(CALLER)).await;
            connections::subscribe(&self.app, Room::Event(id(EVENT)), &c, id(CALLER)).await;
        }
        self.management.mark_gone(FANOUT_GONE);
    }

    /// The sample's `text` with every placeholder JWT (`eyJ….….…`) replaced by a fresh token
    /// signed with the functions' key for the same `sub`: a refresh token (a new sign-in) for
    /// one whose payload says `"typ": "refresh"`, an access token otherwise.
    pub async fn substitute_tokens(&self, text: &str) -> String {
        let mut fresh: HashMap<String, String> = HashMap::new();
        for placeholder in find_jwts(text) {
            if fresh.contains_key(&placeholder) {
                continue;
            }
            let Some(claims) = placeholder
                .split('.')
                .nth(1)
                .and_then(|p| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(p)
                        .ok()
                })
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            else {
                continue;
            };
            let Some(user) = claims["sub"]
                .as_str()
                .and_then(|s| s.parse::<UserId>().ok())
            else {
                continue;
            };
            let token = if claims["typ"] == "refresh" {
                tokens::refresh_token_for(&self.app, user).await
            } else {
                // A sign-in on the world's (DynamoDB) stores: the sync helper suits only
                // in-memory apps.
                self.app
                    .sessions
                    .login_tokens(user, banter::time::now())
                    .await
                    .expect("a session")
                    .access_token
            };
            fresh.insert(placeholder, token);
        }
        fresh
            .into_iter()
            .fold(text.to_owned(), |t, (from, to)| t.replace(&from, &to))
    }

    /// Every job now on the fan-out queue, received (not deleted) as an SQS event like the
    /// one Lambda's event source mapping sends: `None` when the queue is empty.
    pub async fn queued_batch(&self) -> Option<Value> {
        let mut records = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .expect("receive from the fan-out queue");
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                let attributes: serde_json::Map<String, Value> = m
                    .attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_owned(), Value::String(v)))
                    .collect();
                records.push(serde_json::json!({
                    "messageId": m.message_id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{}-fanout", self.prefix),
                    "awsRegion": "us-east-1",
                }));
            }
        }
        (!records.is_empty()).then(|| serde_json::json!({ "Records": records }))
    }
}

/// Every distinct JWT-shaped string in `text`: three base64url segments, the first starting
/// with `eyJ` (`{"`).
pub fn find_jwts(text: &str) -> Vec<String> {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("eyJ") {
        let preceded = rest[..start].chars().next_back().is_some_and(is_b64);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(is_b64(c) || c == '.'))
            .unwrap_or(tail.len());
        let candidate = &tail[..end];
        let segments: Vec<&str> = candidate.split('.').collect();
        if !preceded
            && segments.len() == 3
            && segments.iter().all(|s| !s.is_empty())
            && !out.iter().any(|o| o == candidate)
        {
            out.push(candidate.to_owned());
        }
        rest = &tail[end.max(3)..];
    }
    out
}
