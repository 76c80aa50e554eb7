//! The benchmark's machine-readable output (`bench/results/cost.json`): the settings, the
//! prices and function memory used, and for each audience the counts of every phase.
//! Dollars are derived from the counts by [`model`](super::model) whenever they are shown.

use serde::{Deserialize, Serialize};

use super::costs::Costs;
use super::phase::Phase;
use super::pricing::{Functions, Prices};

/// The whole output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostResults {
    /// `cost`.
    pub benchmark: String,
    /// The command that produced it.
    pub command: String,
    /// When it was produced (UTC).
    pub generated_at: String,
    /// The machine.
    pub machine: Machine,
    /// How the stack was run.
    pub settings: Settings,
    /// Function memory and architecture, from `template.yaml`.
    pub functions: Functions,
    /// The prices used for the dollar figures.
    pub prices: Prices,
    /// Connections on the whole platform for the second naive figure.
    pub platform_connections: f64,
    /// One entry per audience size.
    pub runs: Vec<AudienceRun>,
}

/// Where the benchmark ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// `linux`, …
    pub os: String,
}

/// How the stack was run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Delay of every `PostToConnection` (models API Gateway's round trip), in ms.
    pub post_latency_ms: f64,
    /// Where DynamoDB and SQS ran.
    pub aws: String,
    /// Fan-out: whole-room jobs above this many subscribers are split into shards.
    pub fanout_shard_threshold: usize,
    /// Fan-out: subscribers per shard job.
    pub fanout_shard_target: usize,
    /// Fan-out: posts in flight per invocation.
    pub fanout_concurrency: usize,
    /// Fan-out: subscriptions per Query page.
    pub fanout_page_size: usize,
}

/// One audience size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudienceRun {
    /// Subscribed WebSocket clients.
    pub audience: usize,
    /// Comments posted (over REST, one at a time, each awaited by every client).
    pub comments: usize,
    /// `comment_broadcast` frames the clients received in all.
    pub broadcasts_received: u64,
    /// Of those, repeats of a comment a client already had.
    pub duplicates: u64,
    /// The comment phase, per comment.
    pub per_comment: Phase,
    /// Creating the users (straight through the app), per user.
    pub per_user: Phase,
    /// Connecting the audience (`$connect` subscribed to the event), per connection.
    pub per_connect: Phase,
    /// Closing the audience (`$disconnect`), per connection, when measured.
    pub per_disconnect: Option<Phase>,
    /// Mean size of a connection item (`connections`, `CONN/CONN`), for the naive Scan.
    pub connection_item_bytes: f64,
    /// Dollars per comment, derived from the counts (see `cost::model`).
    pub dollars: Dollars,
}

/// Dollars per comment of one audience size.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dollars {
    /// Banter, as measured.
    pub banter: Costs,
    /// The naive design, with only this audience connected to the platform.
    pub naive: Costs,
    /// The naive design with `platform_connections` connected to the platform.
    pub naive_platform: Costs,
}
