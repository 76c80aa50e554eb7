//! A phase of a run (creating users, connecting the audience, the comments, disconnecting):
//! every counter read before and after it ([`Probe`]), and the difference divided by what the
//! phase is counted per (comments, connections) as a [`Phase`].

use std::collections::BTreeMap;
use std::time::Duration;

use banter_local::stats::{FunctionStats, PostStats};
use serde::{Deserialize, Serialize};

use super::counts::{
    Counts, DynamoCount, LambdaCount, PostCount, SizeCount, SqsCount, map_minus, map_times,
    map_total,
};
use super::meter::{Rows, Snapshot};
use super::stack::Stack;

/// Every counter at one moment.
#[derive(Debug, Clone)]
pub struct Probe {
    meter: Snapshot,
    invocations: BTreeMap<String, FunctionStats>,
    posts: BTreeMap<String, PostStats>,
}

impl Probe {
    /// Reads every counter of `stack`.
    pub fn of(stack: &Stack) -> Self {
        Self {
            meter: stack.meter.snapshot(),
            invocations: stack.gateway.invocations(),
            posts: stack.gateway.posts(),
        }
    }

    /// A number that changes whenever anything but an empty SQS receive happens.
    pub fn activity(&self) -> f64 {
        let invoked: u64 = self.invocations.values().map(|s| s.count).sum();
        let posted: u64 = self.posts.values().map(|p| p.delivered + p.failed).sum();
        self.meter.activity() + invoked as f64 + posted as f64
    }

    /// Invocations of `function` so far.
    pub fn invocations_of(&self, function: &str) -> u64 {
        self.invocations.get(function).map_or(0, |s| s.count)
    }
}

/// DynamoDB requests of one operation on one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamoRow {
    /// `Query`, `TransactWriteItems`, …
    pub operation: String,
    /// The table (`connections`), `table.index`, or `a+b` for several.
    pub table: String,
    /// The counts.
    #[serde(flatten)]
    pub count: DynamoCount,
}

/// SQS requests of one operation on one queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SqsRow {
    /// `SendMessage`, `ReceiveMessage`, `ReceiveMessage (empty)`, …
    pub operation: String,
    /// The queue (`fanout`).
    pub queue: String,
    /// The counts.
    #[serde(flatten)]
    pub count: SqsCount,
}

/// Invocations of one function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LambdaRow {
    /// Its binary name (`comments`, `fanout`, …).
    pub function: String,
    /// The counts.
    #[serde(flatten)]
    pub count: LambdaCount,
}

/// `PostToConnection` calls of one function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostRow {
    /// The posting function (`fanout`, `ws-default`).
    pub function: String,
    /// The counts.
    #[serde(flatten)]
    pub count: PostCount,
}

/// Items of one kind written to one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeRow {
    /// The table.
    pub table: String,
    /// `CONN/CONN`, `ROOM/<bucket>`, …
    pub kind: String,
    /// Items written (divided like everything else).
    pub items: f64,
    /// Their mean size in bytes.
    pub mean_bytes: f64,
}

/// What one phase cost, divided by `per` (comments or connections).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// What the counts were divided by.
    pub per: f64,
    /// Wall-clock seconds the phase took (not divided).
    pub seconds: f64,
    /// DynamoDB, by operation and table.
    pub dynamodb: Vec<DynamoRow>,
    /// SQS, by operation and queue.
    pub sqs: Vec<SqsRow>,
    /// Lambda invocations, by function.
    pub lambda: Vec<LambdaRow>,
    /// `PostToConnection` calls, by posting function.
    pub posts: Vec<PostRow>,
    /// Items written, by table and kind.
    pub items_written: Vec<SizeRow>,
}

fn rows<T: Counts, R>(map: &Rows<T>, make: impl Fn(String, String, T) -> R) -> Vec<R> {
    map.iter()
        .map(|((a, b), v)| make(a.clone(), b.clone(), v.clone()))
        .collect()
}

/// The median and largest of `durations`, in milliseconds.
fn spread(durations: &[Duration]) -> (f64, f64) {
    let mut ms: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let median = ms.get(ms.len() / 2).copied().unwrap_or(0.0);
    (median, ms.last().copied().unwrap_or(0.0))
}

fn lambda_count(stats: &FunctionStats) -> LambdaCount {
    let (median_ms, max_ms) = spread(&stats.durations);
    LambdaCount {
        invocations: stats.count as f64,
        total_ms: stats.durations.iter().map(|d| d.as_secs_f64() * 1e3).sum(),
        // Lambda bills each invocation's duration rounded up to the millisecond.
        billed_ms: stats
            .durations
            .iter()
            .map(|d| (d.as_secs_f64() * 1e3).ceil())
            .sum(),
        median_ms,
        max_ms,
    }
}

fn post_count(p: &PostStats) -> PostCount {
    PostCount {
        delivered: p.delivered as f64,
        failed: p.failed as f64,
        metered_messages: p.metered_messages as f64,
        bytes: p.bytes as f64,
    }
}

impl Phase {
    /// What happened between `before` and `after`, divided by `per`, over `seconds`.
    pub fn between(before: &Probe, after: &Probe, per: f64, seconds: f64) -> Self {
        let k = if per > 0.0 { 1.0 / per } else { 0.0 };
        let meter = after.meter.since(&before.meter);
        let none = FunctionStats::default();
        let lambda = after
            .invocations
            .iter()
            .map(|(f, s)| (f, s.since(before.invocations.get(f).unwrap_or(&none))))
            .filter(|(_, s)| s.count > 0)
            .map(|(f, s)| LambdaRow {
                function: f.clone(),
                count: lambda_count(&s).times(k),
            })
            .collect();
        let posts = after
            .posts
            .iter()
            .map(|(f, p)| {
                let d = before.posts.get(f).map_or(*p, |b| p.since(b));
                (f, d)
            })
            .filter(|(_, d)| d.delivered + d.failed > 0)
            .map(|(f, d)| PostRow {
                function: f.clone(),
                count: post_count(&d).times(k),
            })
            .collect();
        let sizes: Rows<SizeCount> = map_minus(&after.meter.item_sizes, &before.meter.item_sizes);
        Self {
            per,
            seconds,
            dynamodb: rows(&map_times(&meter.dynamodb, k), |operation, table, count| {
                DynamoRow {
                    operation,
                    table,
                    count,
                }
            }),
            sqs: rows(&map_times(&meter.sqs, k), |operation, queue, count| {
                SqsRow {
                    operation,
                    queue,
                    count,
                }
            }),
            lambda,
            posts,
            items_written: rows(&sizes, |table, kind, s| SizeRow {
                table,
                kind,
                items: s.items * k,
                mean_bytes: s.mean(),
            }),
        }
    }

    /// All DynamoDB requests of the phase, summed.
    pub fn dynamodb_total(&self) -> DynamoCount {
        map_total(self.dynamodb.iter().map(|r| &r.count))
    }

    /// All SQS requests of the phase except empty receives (the cost of polling, not of the
    /// work), summed.
    pub fn sqs_work_total(&self) -> SqsCount {
        map_total(
            self.sqs
                .iter()
                .filter(|r| r.operation != "ReceiveMessage (empty)")
                .map(|r| &r.count),
        )
    }

    /// Empty SQS receives (long polls that found nothing).
    pub fn sqs_empty_receives(&self) -> f64 {
        self.sqs
            .iter()
            .filter(|r| r.operation == "ReceiveMessage (empty)")
            .map(|r| r.count.requests)
            .sum()
    }

    /// All `PostToConnection` calls, summed.
    pub fn posts_total(&self) -> PostCount {
        map_total(self.posts.iter().map(|r| &r.count))
    }

    /// Invocations of `function` (divided).
    pub fn invocations_of(&self, function: &str) -> f64 {
        self.lambda
            .iter()
            .filter(|r| r.function == function)
            .map(|r| r.count.invocations)
            .sum()
    }

    /// The mean size of the items of `kind` written to `table` in this phase, if any were.
    pub fn mean_item_bytes(&self, table: &str, kind: &str) -> Option<f64> {
        self.items_written
            .iter()
            .find(|r| r.table == table && r.kind == kind)
            .map(|r| r.mean_bytes)
    }
}
