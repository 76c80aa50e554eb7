//! Starting and stopping the local stack: [`Gateway::start`] reads and checks the template,
//! builds the stores, the queue and the [`App`], binds the HTTP API and the WebSocket API
//! (with its management API), and starts the SQS event source mapping of the fan-out.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_config::SdkConfig;
use banter::app::App;
use banter::auth::{AuthConfig, SigningKey};
use banter::aws::AwsSettings;
use banter::fanout::Fanout;
use banter::poster::Poster;
use banter::poster::apigw::ApiGatewayPoster;
use banter::queue::memory::MemoryQueue;
use banter::queue::sqs::{SqsQueue, create_queue_with_dlq};
use banter::queue::{FanoutJob, Queue};
use banter::store::Stores;
use banter::store::dynamodb::tables::{self, TableNames};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{GatewayConfig, Limits, QueueBackend, QueueOverrides, Storage, TemplateSource};
use crate::event_source::{self, EventSource};
use crate::seed::{self, Seeded};
use crate::stats::{CountingPoster, FunctionStats, Invocations, PostStats, Posts};
use crate::template::{self, Deployment, TemplateError};
use crate::websocket::{ConnectionInfo, Registry};
use crate::{rest, web, websocket};
use banter::functions::Function;

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

fn setup(context: &str) -> impl Fn(String) -> StartError + '_ {
    move |e| StartError::Setup(format!("{context}: {e}"))
}

/// State shared by every server task.
pub(crate) struct Shared {
    pub(crate) app: App,
    pub(crate) rest_addr: SocketAddr,
    pub(crate) stage: String,
    pub(crate) limits: Limits,
    pub(crate) api_id: String,
    pub(crate) http_api_id: String,
    pub(crate) registry: Registry,
    pub(crate) ws: websocket::WsRouting,
    pub(crate) rest: rest::RouteTable,
    pub(crate) cors: Option<template::Cors>,
    /// The router's poster (its replies to the sender), counted as `ws-default`'s posts.
    pub(crate) poster: Arc<dyn Poster>,
    /// Every function invocation and its duration.
    pub(crate) invocations: Arc<Invocations>,
    pub(crate) web: web::WebRoot,
    pub(crate) deliver_disconnect: bool,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Connection id → HTTP status the management API answers every POST to it with.
    pub(crate) faults: Mutex<HashMap<String, u16>>,
}

impl Shared {
    pub(crate) fn fault(&self, connection: &str) -> Option<u16> {
        self.faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(connection)
            .copied()
    }
}

/// An id in API Gateway's style (`L0SM9cOFvHcCIhw=`): 15 random letters and digits and `=`.
pub(crate) fn gateway_id() -> String {
    let mut id: String = (0..15).map(|_| fastrand::alphanumeric()).collect();
    id.push('=');
    id
}

/// An API id in API Gateway's style: 10 lower-case letters and digits.
fn api_id() -> String {
    (0..10)
        .map(|_| {
            let c = fastrand::alphanumeric();
            c.to_ascii_lowercase()
        })
        .collect()
}

/// Where the fan-out queue lives, for inspection.
#[derive(Debug, Clone)]
pub enum QueueHandle {
    /// The in-memory queue.
    Memory(Arc<MemoryQueue>),
    /// An SQS queue.
    Sqs {
        /// The SQS client.
        client: aws_sdk_sqs::Client,
        /// The fan-out queue.
        queue_url: String,
        /// Its dead-letter queue, when the gateway created it.
        dlq_url: Option<String>,
    },
}

/// The local stack. See [`Gateway::start`].
#[derive(Debug)]
pub struct Gateway;

impl Gateway {
    /// Starts the stack described by `config`: reads and [`template::check`]s the template
    /// (refusing to start on any unmapped route), binds both ports, builds storage, queue and
    /// handlers, starts the fan-out's SQS event source mapping, and seeds demo data if asked.
    pub async fn start(config: GatewayConfig) -> Result<RunningGateway, StartError> {
        let template = match &config.template {
            TemplateSource::Path(p) => Deployment::load(p)?,
            TemplateSource::Text(t) => Deployment::parse(t)?,
        };
        template::check(&template).map_err(StartError::Unmapped)?;
        for warning in template::unemulated(&template) {
            tracing::warn!("{warning}");
        }
        let ws_api = template
            .websocket_api()
            .ok_or_else(|| StartError::Setup("no WebSocket API".into()))?;
        let stage = config
            .stage
            .clone()
            .or_else(|| ws_api.stage.clone())
            .unwrap_or_else(|| "local".into());
        let plan = FanoutPlan::of(&template)?;
        let fanout_fn = plan.function.clone();

        let rest_listener = bind(config.rest_addr).await?;
        let ws_listener = bind(config.ws_addr).await?;
        let rest_addr = local_addr(&rest_listener, config.rest_addr)?;
        let ws_addr = local_addr(&ws_listener, config.ws_addr)?;

        let needs_aws = config.storage != Storage::Memory || config.queue != QueueBackend::Memory;
        let sdk: Option<SdkConfig> = if needs_aws {
            let settings = match &config.aws_endpoint {
                Some(endpoint) => AwsSettings::local(endpoint.clone()),
                None => AwsSettings::default(),
            };
            Some(settings.load().await)
        } else {
            None
        };

        let stores = build_stores(&config.storage, sdk.as_ref()).await?;
        let settings = QueueSettings::of(&plan.queue, &config.queue_overrides);
        let opened = open_queue(&config.queue, &plan.queue, settings, sdk.as_ref()).await?;
        let (queue, queue_handle) = (opened.queue.clone(), opened.handle.clone());
        let shard_queue = match &plan.shard_queue {
            None => None,
            Some(def) => {
                let settings = QueueSettings::of(def, &config.queue_overrides);
                let shards_backend = match &config.queue {
                    QueueBackend::Sqs { queue_name, .. } => QueueBackend::Sqs {
                        queue_url: None,
                        queue_name: format!("{queue_name}-shards"),
                    },
                    other => other.clone(),
                };
                Some(open_queue(&shards_backend, def, settings, sdk.as_ref()).await?)
            }
        };

        let auth = match &config.auth {
            Some(a) => a.clone(),
            None => default_auth()?,
        };
        let app = App::new(stores, queue.clone(), &auth, config.app.clone())
            .map_err(|e| setup("building the app")(e.to_string()))?;

        let management_endpoint = format!("http://{ws_addr}/{stage}");
        let poster_sdk = AwsSettings::local(management_endpoint.clone()).load().await;
        let api_poster: Arc<dyn Poster> = Arc::new(ApiGatewayPoster::new(
            &poster_sdk,
            management_endpoint.clone(),
        ));
        let invocations = Arc::new(Invocations::default());
        let posts = Arc::new(Posts::default());
        let counted = |handler| -> Arc<dyn Poster> {
            Arc::new(CountingPoster::new(
                api_poster.clone(),
                posts.clone(),
                handler,
            ))
        };
        let poster = counted(Function::WsDefault);
        // One Fanout per poller: each is an execution environment with its own bound on
        // posts in flight, as each Lambda environment has.
        let shard_target = shard_queue.as_ref().map_or(&queue, |q| &q.queue).clone();
        let fanout_poster = counted(Function::Fanout);
        let environments = |n: usize| -> Result<Vec<Fanout>, StartError> {
            (0..n.max(1))
                .map(|_| {
                    Fanout::new(
                        app.stores.connections.clone(),
                        fanout_poster.clone(),
                        shard_target.clone(),
                        config.fanout.clone(),
                    )
                    .map_err(|e| setup("fan-out settings")(e.to_string()))
                })
                .collect()
        };

        // Seed before serving: once the ports answer, the demo data is there. (Its broadcasts
        // wait in the queue until the event source mapping starts.)
        let seeded = if config.seed {
            Some(
                seed::seed(&app)
                    .await
                    .map_err(|e| setup("seeding demo data")(e.to_string()))?,
            )
        } else {
            None
        };

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            app: app.clone(),
            rest_addr,
            stage: stage.clone(),
            limits: config.limits.clone(),
            api_id: api_id(),
            http_api_id: api_id(),
            registry: Registry::default(),
            ws: websocket::WsRouting::new(&template).map_err(|e| StartError::Unmapped(vec![e]))?,
            rest: rest::RouteTable::new(&template),
            cors: template.http_cors.clone(),
            poster,
            invocations: invocations.clone(),
            web: web::WebRoot::new(config.web_dir.clone(), ws_addr.port()),
            deliver_disconnect: config.deliver_disconnect,
            shutdown: shutdown_rx.clone(),
            faults: Mutex::new(HashMap::new()),
        });

        let mut servers = Vec::new();
        let rest_app =
            rest::router(shared.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let mut stop = shutdown_rx.clone();
        servers.push(tokio::spawn(async move {
            let served = axum::serve(rest_listener, rest_app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "HTTP API server failed");
            }
        }));
        let ws_app =
            websocket::router(shared.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let mut stop = shutdown_rx.clone();
        servers.push(tokio::spawn(async move {
            let served = axum::serve(ws_listener, ws_app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "WebSocket API server failed");
            }
        }));

        let timeout = config.fanout_timeout.unwrap_or(fanout_fn.timeout);
        let event_source = |queue: &OpenedQueue, source: &template::EventSource| {
            Arc::new(EventSource {
                queue: queue.queue.clone(),
                batch_size: source.batch_size,
                max_batching_window: source.max_batching_window,
                timeout,
                report_batch_item_failures: source.report_batch_item_failures,
                arn: queue.arn.clone(),
                function: fanout_fn.logical_id.clone(),
                invocations: invocations.clone(),
            })
        };
        let mut pollers = event_source::spawn(
            event_source(&opened, &plan.source),
            environments(config.pollers)?,
            shutdown_rx.clone(),
        );
        if let (Some(queue), Some(source)) = (&shard_queue, &plan.shard_source) {
            pollers.extend(event_source::spawn(
                event_source(queue, source),
                environments(config.shard_pollers)?,
                shutdown_rx.clone(),
            ));
        }

        tracing::info!(
            %rest_addr,
            %ws_addr,
            %stage,
            routes = template.http_routes.len(),
            "banter-local started"
        );
        Ok(RunningGateway {
            rest_addr,
            ws_addr,
            stage,
            management_endpoint,
            app,
            shared,
            posts,
            queue: queue_handle,
            shard_queue: shard_queue.as_ref().map(|q| q.handle.clone()),
            visibility_timeout: settings.visibility_timeout,
            max_receive_count: settings.max_receive_count,
            seeded,
            template,
            servers,
            pollers,
            shutdown_tx,
        })
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

fn local_addr(l: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, StartError> {
    l.local_addr()
        .map_err(|source| StartError::Bind { addr, source })
}

/// `arn:aws:sqs:<region>:<account>:<name>` of a queue URL `http(s)://host/<account>/<name>`.
fn queue_arn_of(url: &str) -> String {
    let mut parts = url.trim_end_matches('/').rsplit('/');
    let name = parts.next().unwrap_or("queue");
    let account = parts.next().unwrap_or("000000000000");
    format!("arn:aws:sqs:us-east-1:{account}:{name}")
}

/// The signing key: `BANTER_JWT_*` when set, else a fresh Ed25519 key.
fn default_auth() -> Result<AuthConfig, StartError> {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    if set(banter::auth::keys::ENV_SECRET) || set(banter::auth::keys::ENV_PRIVATE_KEY) {
        return AuthConfig::from_env().map_err(|e| setup("BANTER_JWT_*")(e.to_string()));
    }
    let key =
        SigningKey::generate_ed25519(None).map_err(|e| setup("signing key")(e.to_string()))?;
    Ok(AuthConfig::new(key))
}

async fn build_stores(storage: &Storage, sdk: Option<&SdkConfig>) -> Result<Stores, StartError> {
    match storage {
        Storage::Memory => Ok(banter::store::memory::stores()),
        Storage::DynamoDb {
            table_prefix,
            create_tables,
        } => {
            let sdk = sdk.ok_or_else(|| StartError::Setup("no AWS configuration".into()))?;
            let client = aws_sdk_dynamodb::Client::new(sdk);
            let names = TableNames::with_prefix(table_prefix);
            if *create_tables {
                ensure_tables(&client, &names).await?;
            }
            Ok(banter::store::dynamodb::stores(client, names))
        }
    }
}

/// Creates every table of `names` that does not exist yet.
async fn ensure_tables(
    client: &aws_sdk_dynamodb::Client,
    names: &TableNames,
) -> Result<(), StartError> {
    for def in tables::ALL {
        let name = names.of(def);
        match client.describe_table().table_name(name).send().await {
            Ok(_) => continue,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                tables::create_table(client, def, name)
                    .await
                    .map_err(|e| setup("creating tables")(e.to_string()))?;
                tracing::info!(table = name, "table created");
            }
            Err(e) => {
                return Err(setup("describing tables")(
                    aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
                ));
            }
        }
    }
    Ok(())
}

/// A started gateway. Dropping it stops the servers (without waiting); prefer
/// [`RunningGateway::shutdown`].
pub struct RunningGateway {
    /// Where the HTTP API listens.
    pub rest_addr: SocketAddr,
    /// Where the WebSocket API and the management API listen.
    pub ws_addr: SocketAddr,
    /// The WebSocket stage.
    pub stage: String,
    management_endpoint: String,
    app: App,
    shared: Arc<Shared>,
    posts: Arc<Posts>,
    queue: QueueHandle,
    shard_queue: Option<QueueHandle>,
    visibility_timeout: Duration,
    max_receive_count: Option<u32>,
    seeded: Option<Seeded>,
    template: Deployment,
    servers: Vec<JoinHandle<()>>,
    pollers: Vec<JoinHandle<()>>,
    shutdown_tx: watch::Sender<bool>,
}

impl std::fmt::Debug for RunningGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningGateway")
            .field("rest_addr", &self.rest_addr)
            .field("ws_addr", &self.ws_addr)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl RunningGateway {
    /// `http://127.0.0.1:<port>`: the HTTP API (`/v1/...`) and the demo page (`/`).
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.rest_addr)
    }

    /// `ws://127.0.0.1:<port>`: the WebSocket API.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.ws_addr)
    }

    /// `http://127.0.0.1:<port>/<stage>`: the management API endpoint (what
    /// `WEBSOCKET_MANAGEMENT_ENDPOINT` would be).
    pub fn management_endpoint(&self) -> &str {
        &self.management_endpoint
    }

    /// The application context the handlers share (its stores, sessions, queue).
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The fan-out queue.
    pub fn queue(&self) -> &QueueHandle {
        &self.queue
    }

    /// The shard queue, when the template gives the fan-out one of its own
    /// (`FANOUT_SHARD_QUEUE_URL`); else shard jobs go to [`RunningGateway::queue`].
    pub fn shard_queue(&self) -> Option<&QueueHandle> {
        self.shard_queue.as_ref()
    }

    /// The fan-out queue's visibility timeout in effect.
    pub fn visibility_timeout(&self) -> Duration {
        self.visibility_timeout
    }

    /// The fan-out queue's `maxReceiveCount` in effect (`None`: no dead-letter queue).
    pub fn max_receive_count(&self) -> Option<u32> {
        self.max_receive_count
    }

    /// The demo data, when started with `seed`.
    pub fn seeded(&self) -> Option<&Seeded> {
        self.seeded.as_ref()
    }

    /// The template being served.
    pub fn template(&self) -> &Deployment {
        &self.template
    }

    /// Every function invoked so far, by binary name (`comments`, `ws-connect`, `fanout`, …):
    /// how often, and how long each invocation took.
    pub fn invocations(&self) -> BTreeMap<String, FunctionStats> {
        self.shared.invocations.snapshot()
    }

    /// `PostToConnection` calls so far, by the binary name of the function that made them
    /// (`fanout`: broadcasts; `ws-default`: the router's replies to senders).
    pub fn posts(&self) -> BTreeMap<String, PostStats> {
        self.posts.snapshot()
    }

    /// The open WebSocket connections.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        self.shared.registry.list()
    }

    /// Makes every `PostToConnection` to `connection` answer `status` (500, 429, 410 …) until
    /// [`RunningGateway::clear_post_failures`]: a connection whose posts keep failing.
    pub fn fail_posts_to(&self, connection: &str, status: u16) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(connection.to_owned(), status);
    }

    /// Ends every scripted failure.
    pub fn clear_post_failures(&self) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Jobs in the dead-letter queues (of the fan-out queue and of the shard queue). For SQS
    /// this receives them from the dead-letter queues the gateway created (they stay there,
    /// invisible for its visibility timeout).
    pub async fn dead_letters(&self) -> Result<Vec<FanoutJob>, String> {
        let mut jobs = dead_letters_of(&self.queue).await?;
        if let Some(shards) = &self.shard_queue {
            jobs.extend(dead_letters_of(shards).await?);
        }
        Ok(jobs)
    }

    /// Stops everything: closes every socket (1001, delivering `$disconnect`), stops the
    /// servers and the pollers, and waits (a few seconds at most) for them to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        let drained = tokio::time::timeout(Duration::from_secs(5), self.shared.registry.drained());
        if drained.await.is_err() {
            tracing::warn!("some WebSocket connections did not close in time");
        }
        for p in self.pollers.drain(..) {
            p.abort();
            let _ = p.await;
        }
        for s in self.servers.drain(..) {
            if tokio::time::timeout(Duration::from_secs(5), s)
                .await
                .is_err()
            {
                tracing::warn!("a server did not stop in time");
            }
        }
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
        for p in &self.pollers {
            p.abort();
        }
    }
}

/// Which queues the fan-out function reads, from the template: the fan-out queue (the queue
/// of `FANOUT_QUEUE_URL`) and, when `FANOUT_SHARD_QUEUE_URL` names another queue, the shard
/// queue; each with its enabled event source.
struct FanoutPlan {
    function: banter_deployment::Function,
    queue: template::Queue,
    source: template::EventSource,
    shard_queue: Option<template::Queue>,
    shard_source: Option<template::EventSource>,
}

impl FanoutPlan {
    fn of(template: &Deployment) -> Result<Self, StartError> {
        let sources: Vec<&template::EventSource> = template
            .event_sources
            .iter()
            .filter(|s| {
                s.enabled && template::handler_of(template, &s.function) == Some(Function::Fanout)
            })
            .collect();
        let first = sources.first().ok_or_else(|| {
            StartError::Setup("the fan-out's SQS event source is disabled".into())
        })?;
        let function = template
            .function(&first.function)
            .cloned()
            .ok_or_else(|| StartError::Setup(format!("no function {}", first.function)))?;
        let source_of = |queue: &str| {
            sources
                .iter()
                .find(|s| s.queue == queue && s.function == function.logical_id)
                .map(|s| (*s).clone())
                .ok_or_else(|| {
                    StartError::Setup(format!(
                        "{} has no enabled SQS event source on queue {queue}",
                        function.logical_id
                    ))
                })
        };
        let queue_def = |id: &str| {
            template
                .queues
                .get(id)
                .cloned()
                .ok_or_else(|| StartError::Setup(format!("no queue {id}")))
        };
        let queue_id = function
            .queue_variables
            .get("FANOUT_QUEUE_URL")
            .cloned()
            .unwrap_or_else(|| first.queue.clone());
        let shard_id = function
            .queue_variables
            .get("FANOUT_SHARD_QUEUE_URL")
            .filter(|id| **id != queue_id)
            .cloned();
        Ok(Self {
            queue: queue_def(&queue_id)?,
            source: source_of(&queue_id)?,
            shard_queue: shard_id.as_deref().map(queue_def).transpose()?,
            shard_source: shard_id.as_deref().map(source_of).transpose()?,
            function,
        })
    }
}

/// Visibility timeout and `maxReceiveCount` in effect for one queue.
#[derive(Clone, Copy)]
struct QueueSettings {
    visibility_timeout: Duration,
    max_receive_count: Option<u32>,
}

impl QueueSettings {
    /// The template's settings of `def` under the command line's `overrides`.
    fn of(def: &template::Queue, overrides: &QueueOverrides) -> Self {
        Self {
            visibility_timeout: overrides
                .visibility_timeout
                .unwrap_or(def.visibility_timeout),
            max_receive_count: overrides.max_receive_count.or(def.max_receive_count),
        }
    }
}

/// A queue opened on the configured backend.
struct OpenedQueue {
    queue: Arc<dyn Queue>,
    handle: QueueHandle,
    arn: String,
}

/// Opens the queue `def` on `backend`: a new in-memory queue, the given SQS queue, or an SQS
/// queue (and its dead-letter queue) created with the template's settings.
async fn open_queue(
    backend: &QueueBackend,
    def: &template::Queue,
    settings: QueueSettings,
    sdk: Option<&SdkConfig>,
) -> Result<OpenedQueue, StartError> {
    match backend {
        QueueBackend::Memory => {
            let q = Arc::new(MemoryQueue::new(
                settings.visibility_timeout,
                settings.max_receive_count.unwrap_or(u32::MAX),
            ));
            Ok(OpenedQueue {
                queue: q.clone(),
                handle: QueueHandle::Memory(q),
                arn: format!(
                    "arn:aws:sqs:us-east-1:000000000000:banter-local-{}",
                    def.logical_id
                ),
            })
        }
        QueueBackend::Sqs {
            queue_url,
            queue_name,
        } => {
            let sdk = sdk.ok_or_else(|| StartError::Setup("no AWS configuration".into()))?;
            let client = aws_sdk_sqs::Client::new(sdk);
            let (url, dlq) = match queue_url {
                Some(url) => (url.clone(), None),
                None => {
                    let (q, d) = create_queue_with_dlq(
                        &client,
                        queue_name,
                        settings.max_receive_count.unwrap_or(5),
                        settings.visibility_timeout,
                    )
                    .await
                    .map_err(|e| setup("creating the SQS queue")(e.to_string()))?;
                    (q, Some(d))
                }
            };
            Ok(OpenedQueue {
                queue: Arc::new(SqsQueue::from_client(client.clone(), url.clone())),
                arn: queue_arn_of(&url),
                handle: QueueHandle::Sqs {
                    client,
                    queue_url: url,
                    dlq_url: dlq,
                },
            })
        }
    }
}

/// Jobs in the dead-letter queue behind `handle`.
async fn dead_letters_of(handle: &QueueHandle) -> Result<Vec<FanoutJob>, String> {
    match handle {
        QueueHandle::Memory(q) => Ok(q.dead_letters()),
        QueueHandle::Sqs {
            client, dlq_url, ..
        } => {
            let Some(dlq) = dlq_url else {
                return Err("the gateway did not create the dead-letter queue".into());
            };
            let out = client
                .receive_message()
                .queue_url(dlq)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
            Ok(out
                .messages()
                .iter()
                .filter_map(|m| serde_json::from_str(m.body()?).ok())
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_api_gateway_ids() {
        let id = gateway_id();
        assert_eq!(id.len(), 16);
        assert!(id.ends_with('='));
        assert!(id.parse::<banter::ids::ConnectionId>().is_ok());
        assert_eq!(
            queue_arn_of("http://127.0.0.1:5000/123456789012/fan"),
            "arn:aws:sqs:us-east-1:123456789012:fan"
        );
    }
}
