//! A started gateway: its addresses, what it serves and counts, and how it stops.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use banter::app::App;
use banter::queue::FanoutJob;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::queues::{QueueHandle, dead_letters_of};
use crate::registry::ConnectionInfo;
use crate::seed::Seeded;
use crate::state::Shared;
use crate::stats::{FunctionStats, PostStats, Posts};
use crate::template::Deployment;

/// A started gateway. Dropping it stops the servers (without waiting); prefer
/// [`RunningGateway::shutdown`].
pub struct RunningGateway {
    /// Where the HTTP API listens.
    pub rest_addr: SocketAddr,
    /// Where the WebSocket API and the management API listen.
    pub ws_addr: SocketAddr,
    /// The WebSocket stage.
    pub stage: String,
    pub(crate) management_endpoint: String,
    pub(crate) app: App,
    pub(crate) shared: Arc<Shared>,
    pub(crate) posts: Arc<Posts>,
    pub(crate) queue: QueueHandle,
    pub(crate) shard_queue: Option<QueueHandle>,
    pub(crate) visibility_timeout: Duration,
    pub(crate) max_receive_count: Option<u32>,
    pub(crate) seeded: Option<Seeded>,
    pub(crate) template: Deployment,
    pub(crate) servers: Vec<JoinHandle<()>>,
    pub(crate) pollers: Vec<JoinHandle<()>>,
    pub(crate) shutdown_tx: watch::Sender<bool>,
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

    /// The faults injected so far (`--inject`).
    pub fn injected(&self) -> crate::faults::Injected {
        self.shared.injector.injected()
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
