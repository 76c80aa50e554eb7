//! Starting the local stack. [`Gateway::start`] runs its steps in order: read and check the
//! template, bind both ports, build the stores, open the queues, build the [`App`] and the
//! counted posters, seed, share the state, serve the HTTP API and the WebSocket API (with
//! its management API), and start the SQS event source mappings of the fan-out.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use axum::Router;
use banter::app::App;
use banter::auth::{AuthConfig, SigningKey};
use banter::aws::AwsSettings;
use banter::fanout::Fanout;
use banter::functions::Function;
use banter::poster::Poster;
use banter::poster::apigw::ApiGatewayPoster;
use banter::queue::Queue;
use banter::store::Stores;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{GatewayConfig, QueueBackend, Storage, TemplateSource};
use crate::event_source::{self, EventSource};
use crate::fanout_plan::FanoutPlan;
use crate::queues::{OpenedQueue, QueueSettings, open_queue};
use crate::registry::Registry;
use crate::rest_routes::RouteTable;
use crate::running::RunningGateway;
use crate::seed::{self, Seeded};
use crate::start_error::{StartError, setup};
use crate::state::{Shared, api_id};
use crate::stats::{CountingPoster, Invocations, Posts};
use crate::stores::build_stores;
use crate::template::{self, Cors, Deployment};
use crate::web::WebRoot;
use crate::ws_routes::WsRouting;
use crate::{rest, websocket};

/// The local stack. See [`Gateway::start`].
#[derive(Debug)]
pub struct Gateway;

impl Gateway {
    /// Starts the stack described by `config`: reads and [`template::check`]s the template
    /// (refusing to start on any unmapped route), binds both ports, builds storage, queue and
    /// handlers, starts the fan-out's SQS event source mapping, and seeds demo data if asked.
    pub async fn start(config: GatewayConfig) -> Result<RunningGateway, StartError> {
        let template = read_template(&config.template)?;
        let stage = stage_of(&config, &template)?;
        let plan = FanoutPlan::of(&template)?;
        let listeners = Listeners::bind(&config).await?;
        let sdk = aws_sdk_config(&config).await;
        let injector = Arc::new(crate::faults::Injector::new(config.limits.inject.clone()));
        let mut stores = build_stores(&config.storage, sdk.as_ref()).await?;
        let mut queues = open_queues(&config, &plan, sdk.as_ref()).await?;
        inject_faults(&injector, &mut stores, &mut queues);
        let app = build_app(&config, stores, queues.fanout.queue.clone())?;
        let management_endpoint = format!("http://{}/{stage}", listeners.ws_addr);
        let counted = Counted::new(&management_endpoint).await;
        // Sign-out and suspension close sockets through the local management API, as the
        // deployed auth and users functions do through API Gateway's.
        let app = app.with_closer(counted.closer.clone());
        // The media bucket lives in memory, its presigned URLs pointing at the HTTP API.
        let objects = Arc::new(banter::objects::memory::MemoryObjects::new(format!(
            "http://{}",
            listeners.rest_addr
        )));
        let app = app.with_objects(objects.clone());
        let bucket = Arc::new(crate::media::LocalBucket {
            objects,
            processor: banter::media::process::MediaProcessor {
                media: app.stores.media.clone(),
                objects: app.objects.clone(),
            },
            invocations: counted.invocations.clone(),
        });
        // Seed before serving: once the ports answer, the demo data is there. (Its broadcasts
        // wait in the queue until the event source mapping starts.)
        let seeded = seed_if_asked(config.seed, &app).await?;
        let (shutdown_tx, shutdown) = watch::channel(false);
        let controls = Controls {
            shutdown,
            injector,
            bucket,
        };
        let shared = shared_state(
            &config, &template, &app, &listeners, &stage, &counted, controls,
        )?;
        let (rest_addr, ws_addr) = (listeners.rest_addr, listeners.ws_addr);
        let servers = serve(listeners, &shared);
        let pollers = start_event_sources(&config, &plan, &queues, &app, &counted, &shared)?;
        let routes = template.http_routes.len();
        tracing::info!(%rest_addr, %ws_addr, %stage, routes, "banter-local started");
        Ok(RunningGateway {
            rest_addr,
            ws_addr,
            stage,
            management_endpoint,
            app,
            shared,
            posts: counted.posts,
            shard_queue: queues.shards.as_ref().map(|q| q.handle.clone()),
            queue: queues.fanout.handle,
            visibility_timeout: queues.settings.visibility_timeout,
            max_receive_count: queues.settings.max_receive_count,
            seeded,
            template,
            servers,
            pollers,
            shutdown_tx,
        })
    }
}

/// Reads the template and refuses one the gateway cannot serve exactly; warns of events it
/// does not emulate.
fn read_template(source: &TemplateSource) -> Result<Deployment, StartError> {
    let template = match source {
        TemplateSource::Path(p) => Deployment::load(p)?,
        TemplateSource::Text(t) => Deployment::parse(t)?,
    };
    template::check(&template).map_err(StartError::Unmapped)?;
    for warning in template::unemulated(&template) {
        tracing::warn!("{warning}");
    }
    Ok(template)
}

/// The WebSocket stage: the configured one, else the template's `StageName`, else `local`.
fn stage_of(config: &GatewayConfig, template: &Deployment) -> Result<String, StartError> {
    let ws_api = template
        .websocket_api()
        .ok_or_else(|| StartError::Setup("no WebSocket API".into()))?;
    Ok(config
        .stage
        .clone()
        .or_else(|| ws_api.stage.clone())
        .unwrap_or_else(|| "local".into()))
}

/// Both ports, bound before anything is built (a port in use fails fast), with the
/// addresses they got (port 0: any free port).
struct Listeners {
    rest: TcpListener,
    ws: TcpListener,
    rest_addr: SocketAddr,
    ws_addr: SocketAddr,
}

impl Listeners {
    async fn bind(config: &GatewayConfig) -> Result<Self, StartError> {
        let rest = bind(config.rest_addr).await?;
        let ws = bind(config.ws_addr).await?;
        Ok(Self {
            rest_addr: local_addr(&rest, config.rest_addr)?,
            ws_addr: local_addr(&ws, config.ws_addr)?,
            rest,
            ws,
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

/// The AWS configuration for DynamoDB and SQS, when either is used: at the configured
/// endpoint, else AWS with the environment's region and credentials.
async fn aws_sdk_config(config: &GatewayConfig) -> Option<SdkConfig> {
    let needs_aws = config.storage != Storage::Memory || config.queue != QueueBackend::Memory;
    if !needs_aws {
        return None;
    }
    let settings = match &config.aws_endpoint {
        Some(endpoint) => AwsSettings::local(endpoint.clone()),
        None => AwsSettings::default(),
    };
    Some(settings.load().await)
}

/// The fan-out's queues, opened: its own and, when the template gives it one, the shard
/// queue.
struct FanoutQueues {
    fanout: OpenedQueue,
    shards: Option<OpenedQueue>,
    /// The fan-out queue's settings in effect.
    settings: QueueSettings,
}

/// Opens the fan-out queue and the shard queue of `plan` on the configured backend (the
/// shard queue as `<queue-name>-shards` on SQS).
async fn open_queues(
    config: &GatewayConfig,
    plan: &FanoutPlan,
    sdk: Option<&SdkConfig>,
) -> Result<FanoutQueues, StartError> {
    let settings = QueueSettings::of(&plan.queue, &config.queue_overrides);
    let fanout = open_queue(&config.queue, &plan.queue, settings, sdk).await?;
    let shards = match &plan.shard_queue {
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
            Some(open_queue(&shards_backend, def, settings, sdk).await?)
        }
    };
    Ok(FanoutQueues {
        fanout,
        shards,
        settings,
    })
}

/// The handlers' application context, with the configured signing key (or the default one).
fn build_app(
    config: &GatewayConfig,
    stores: Stores,
    queue: Arc<dyn Queue>,
) -> Result<App, StartError> {
    let auth = match &config.auth {
        Some(a) => a.clone(),
        None => default_auth()?,
    };
    App::new(stores, queue, &auth, config.app.clone())
        .map_err(|e| setup("building the app")(e.to_string()))
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

/// The counters of what the functions do, and the posters that count into them: both post
/// through the real `aws-sdk-apigatewaymanagement` client to the local management API.
struct Counted {
    invocations: Arc<Invocations>,
    posts: Arc<Posts>,
    /// The router's poster (its replies to the sender), counted as `ws-default`'s posts.
    router: Arc<dyn Poster>,
    /// The fan-out's poster, counted as `fanout`'s posts.
    fanout: Arc<dyn Poster>,
    /// What closes sockets on sign-out and suspension (`DeleteConnection`; not a post).
    closer: Arc<dyn Poster>,
}

impl Counted {
    async fn new(management_endpoint: &str) -> Self {
        let poster_sdk = AwsSettings::local(management_endpoint.to_owned())
            .load()
            .await;
        let api_poster: Arc<dyn Poster> = Arc::new(ApiGatewayPoster::new(
            &poster_sdk,
            management_endpoint.to_owned(),
        ));
        let posts = Arc::new(Posts::default());
        let counted = |handler| -> Arc<dyn Poster> {
            Arc::new(CountingPoster::new(
                api_poster.clone(),
                posts.clone(),
                handler,
            ))
        };
        let (router, fanout) = (counted(Function::WsDefault), counted(Function::Fanout));
        Self {
            invocations: Arc::new(Invocations::default()),
            posts,
            router,
            fanout,
            closer: api_poster,
        }
    }
}

/// The demo data, when asked for.
async fn seed_if_asked(seed: bool, app: &App) -> Result<Option<Seeded>, StartError> {
    if !seed {
        return Ok(None);
    }
    seed::seed(app)
        .await
        .map(Some)
        .map_err(|e| setup("seeding demo data")(e.to_string()))
}

/// The state the servers share: the route tables of `template`, the registry, limits,
/// ids and the router's poster.
fn shared_state(
    config: &GatewayConfig,
    template: &Deployment,
    app: &App,
    listeners: &Listeners,
    stage: &str,
    counted: &Counted,
    controls: Controls,
) -> Result<Arc<Shared>, StartError> {
    let Controls {
        shutdown,
        injector,
        bucket,
    } = controls;
    Ok(Arc::new(Shared {
        app: app.clone(),
        rest_addr: listeners.rest_addr,
        stage: stage.to_owned(),
        limits: config.limits.clone(),
        api_id: api_id(),
        http_api_id: api_id(),
        registry: Registry::default(),
        ws: WsRouting::new(template).map_err(|e| StartError::Unmapped(vec![e]))?,
        rest: RouteTable::new(template),
        cors: local_cors(template.http_cors.clone(), &app.config.cors_origins),
        poster: counted.router.clone(),
        invocations: counted.invocations.clone(),
        web: WebRoot::new(config.web_dir.clone(), listeners.ws_addr.port()),
        deliver_disconnect: config.deliver_disconnect,
        shutdown,
        faults: Mutex::new(Default::default()),
        injector,
        bucket,
    }))
}

/// What drives the shared state besides its parts: the shutdown signal and the faults.
struct Controls {
    shutdown: watch::Receiver<bool>,
    injector: Arc<crate::faults::Injector>,
    bucket: Arc<crate::media::LocalBucket>,
}

/// Puts the `dynamodb` and `sqs` faults of the plan in front of the room-stream store and the
/// fan-out queue (the management API's are drawn where it answers).
fn inject_faults(
    injector: &Arc<crate::faults::Injector>,
    stores: &mut banter::store::Stores,
    queues: &mut FanoutQueues,
) {
    if injector.plan().dynamodb > 0 {
        stores.streams = Arc::new(crate::faulty::FaultyStreams {
            inner: stores.streams.clone(),
            injector: injector.clone(),
        });
    }
    if injector.plan().sqs > 0 {
        queues.fanout.queue = Arc::new(crate::faulty::FaultyQueue {
            inner: queues.fanout.queue.clone(),
            injector: injector.clone(),
        });
    }
}

/// Serves the HTTP API and the WebSocket API (with the management API) until shutdown.
fn serve(listeners: Listeners, shared: &Arc<Shared>) -> Vec<JoinHandle<()>> {
    vec![
        spawn_server(
            listeners.rest,
            rest::router(shared.clone()),
            shared,
            "HTTP API",
        ),
        spawn_server(
            listeners.ws,
            websocket::router(shared.clone()),
            shared,
            "WebSocket API",
        ),
    ]
}

/// Serves `router` on `listener` (with the peer's address) until the shutdown signal.
fn spawn_server(
    listener: TcpListener,
    router: Router,
    shared: &Shared,
    name: &'static str,
) -> JoinHandle<()> {
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let mut stop = shared.shutdown.clone();
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "{name} server failed");
        }
    })
}

/// Starts the fan-out's SQS event source mappings: `pollers` on the fan-out queue and
/// `shard_pollers` on the shard queue, each poller one execution environment.
fn start_event_sources(
    config: &GatewayConfig,
    plan: &FanoutPlan,
    queues: &FanoutQueues,
    app: &App,
    counted: &Counted,
    shared: &Shared,
) -> Result<Vec<JoinHandle<()>>, StartError> {
    let fanout_fn = &plan.function;
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
            invocations: counted.invocations.clone(),
        })
    };
    let shard_target = queues
        .shards
        .as_ref()
        .unwrap_or(&queues.fanout)
        .queue
        .clone();
    let environments = |n| fanout_environments(n, config, app, &counted.fanout, &shard_target);
    let mut pollers = event_source::spawn(
        event_source(&queues.fanout, &plan.source),
        environments(config.pollers)?,
        shared.shutdown.clone(),
    );
    if let (Some(queue), Some(source)) = (&queues.shards, &plan.shard_source) {
        pollers.extend(event_source::spawn(
            event_source(queue, source),
            environments(config.shard_pollers)?,
            shared.shutdown.clone(),
        ));
    }
    Ok(pollers)
}

/// The HTTP API's CORS on the local stack. Its origins come from a parameter without a
/// default (`CorsAllowOrigins`: each stack names its web app's origins); the local stack
/// supplies them as `samconfig.toml` does for dev, from the functions' own setting
/// (`BANTER_CORS_ORIGINS`, `*` unless set).
fn local_cors(cors: Option<Cors>, origins: &[String]) -> Option<Cors> {
    cors.map(|mut c| {
        if c.allow_origins.is_empty() {
            c.allow_origins = origins.to_vec();
        }
        c
    })
}

/// One `Fanout` per poller (at least one): each is an execution environment with its own
/// bound on posts in flight, as each Lambda environment has.
fn fanout_environments(
    n: usize,
    config: &GatewayConfig,
    app: &App,
    fanout_poster: &Arc<dyn Poster>,
    shard_target: &Arc<dyn Queue>,
) -> Result<Vec<Fanout>, StartError> {
    (0..n.max(1))
        .map(|_| {
            Fanout::new(
                app.stores.connections.clone(),
                fanout_poster.clone(),
                shard_target.clone(),
                config.fanout.clone(),
            )
            .map(|f| {
                f.with_membership(app.stores.conversations.clone())
                    .with_streams(app.stores.streams.clone(), app.stores.users.clone())
                    .with_presence(banter::service::presence::PresenceDesk::of(app))
                    .with_objects(app.objects.clone())
            })
            .map_err(|e| setup("fan-out settings")(e.to_string()))
        })
        .collect()
}
