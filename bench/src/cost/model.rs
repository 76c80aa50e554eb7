//! Dollars per comment from a run's per-comment counts, for Banter and for the naive design
//! that reads the audience by Scanning the whole connections table on every message.
//!
//! The naive design does the same work as Banter per comment (the same writes, queue
//! messages, invocations and posts) except the read of the audience: instead of Banter's
//! `Query` of the room's subscriptions (`Query` on `connections` during the comment phase),
//! one `Scan` of the connections table, eventually consistent, in 1 MB pages, over
//! `connections × item size` bytes. It is an optimistic model of the naive design: the time
//! the Scan adds to the fan-out's duration is not charged.

use super::accounting::units;
pub use super::costs::Costs;
use super::phase::Phase;
use super::pricing::{Functions, Prices};
use super::results::{AudienceRun, Dollars};

/// The line names, in report order.
pub mod component {
    /// DynamoDB writes, tables and indexes.
    pub const DYNAMODB_WRITES: &str = "DynamoDB writes (WRU, tables + indexes)";
    /// DynamoDB reads of the audience.
    pub const AUDIENCE_READS: &str = "DynamoDB reads of the audience (RRU)";
    /// Every other DynamoDB read.
    pub const OTHER_READS: &str = "DynamoDB other reads (RRU)";
    /// SQS requests.
    pub const SQS: &str = "SQS requests";
    /// Lambda requests.
    pub const LAMBDA_REQUESTS: &str = "Lambda requests";
    /// Lambda duration.
    pub const LAMBDA_DURATION: &str = "Lambda duration (GB-s)";
    /// WebSocket messages.
    pub const WEBSOCKET: &str = "API Gateway WebSocket messages (PostToConnection)";
    /// HTTP API requests.
    pub const HTTP_API: &str = "API Gateway HTTP API requests";
    /// Data transfer out.
    pub const TRANSFER: &str = "Data transfer out (frames to clients, GB)";
    /// Every line, in order.
    pub const ALL: [&str; 9] = [
        WEBSOCKET,
        TRANSFER,
        AUDIENCE_READS,
        OTHER_READS,
        DYNAMODB_WRITES,
        LAMBDA_DURATION,
        LAMBDA_REQUESTS,
        SQS,
        HTTP_API,
    ];
}

/// How the audience is read per comment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AudienceRead {
    /// As measured (Banter's subscription queries).
    Measured,
    /// A Scan of a connections table of `connections` items of `item_bytes` each.
    Scan {
        /// Connections in the table (the whole platform's, not only the room's).
        connections: f64,
        /// Size of one connection item.
        item_bytes: f64,
    },
}

/// Read units of one eventually consistent Scan over `bytes`, in 1 MB pages.
pub fn scan_read_units(bytes: f64) -> f64 {
    const PAGE: f64 = 1024.0 * 1024.0;
    let full_pages = (bytes / PAGE).floor();
    let rest = bytes - full_pages * PAGE;
    let last = if rest > 0.0 || full_pages == 0.0 {
        units(rest, 4096.0)
    } else {
        0.0
    };
    (full_pages * units(PAGE, 4096.0) + last) * 0.5
}

/// Whether a DynamoDB row of the comment phase is the read of the audience.
fn is_audience_read(operation: &str, table: &str) -> bool {
    operation == "Query" && table == "connections"
}

/// The cost per comment of `per_comment` (a comment phase divided by its comments), reading
/// the audience as `read` says.
pub fn costs(
    per_comment: &Phase,
    functions: &Functions,
    prices: &Prices,
    read: AudienceRead,
) -> Costs {
    let mut c = Costs::default();
    let rru_price = prices.dynamodb_per_million_rru / 1e6;
    let wru_price = prices.dynamodb_per_million_wru / 1e6;

    let posts = per_comment.posts_total();
    c.push(
        component::WEBSOCKET,
        posts.metered_messages,
        posts.metered_messages * prices.websocket_per_million_messages / 1e6,
    );
    let gb = posts.bytes / (1024.0 * 1024.0 * 1024.0);
    c.push(
        component::TRANSFER,
        gb,
        gb * prices.data_transfer_out_per_gb,
    );

    let (audience, other): (Vec<_>, Vec<_>) = per_comment
        .dynamodb
        .iter()
        .partition(|r| is_audience_read(&r.operation, &r.table));
    let audience_rru = match read {
        AudienceRead::Measured => audience.iter().map(|r| r.count.read_units).sum(),
        AudienceRead::Scan {
            connections,
            item_bytes,
        } => scan_read_units(connections * item_bytes),
    };
    c.push(
        component::AUDIENCE_READS,
        audience_rru,
        audience_rru * rru_price,
    );
    let other_rru: f64 = other.iter().map(|r| r.count.read_units).sum();
    c.push(component::OTHER_READS, other_rru, other_rru * rru_price);
    let total = per_comment.dynamodb_total();
    let wru = total.write_units + total.index_write_units;
    c.push(component::DYNAMODB_WRITES, wru, wru * wru_price);

    let per_gb_s = prices.per_gb_second(&functions.architecture);
    let gb_s: f64 = per_comment
        .lambda
        .iter()
        .map(|r| r.count.billed_ms / 1000.0 * functions.memory_of(&r.function) as f64 / 1024.0)
        .sum();
    c.push(component::LAMBDA_DURATION, gb_s, gb_s * per_gb_s);
    let invocations: f64 = per_comment.lambda.iter().map(|r| r.count.invocations).sum();
    c.push(
        component::LAMBDA_REQUESTS,
        invocations,
        invocations * prices.lambda_per_million_requests / 1e6,
    );

    let sqs = per_comment.sqs_work_total().billed_requests;
    c.push(
        component::SQS,
        sqs,
        sqs * prices.sqs_per_million_requests / 1e6,
    );

    // Every invocation of a REST function is one HTTP API request (the comment's POST).
    let rest: f64 = per_comment
        .lambda
        .iter()
        .filter(|r| {
            !matches!(
                r.function.as_str(),
                "fanout" | "ws-connect" | "ws-disconnect" | "ws-default"
            )
        })
        .map(|r| r.count.invocations)
        .sum();
    c.push(
        component::HTTP_API,
        rest,
        rest * prices.http_api_per_million_requests / 1e6,
    );
    c
}

/// Banter's and the naive design's dollars per comment for `run`; the second naive figure
/// with `platform_connections` connected to the platform (never fewer than the audience).
pub fn dollars(
    run: &AudienceRun,
    functions: &Functions,
    prices: &Prices,
    platform_connections: f64,
) -> Dollars {
    let scan = |connections: f64| AudienceRead::Scan {
        connections,
        item_bytes: run.connection_item_bytes,
    };
    let audience = run.audience as f64;
    Dollars {
        banter: costs(&run.per_comment, functions, prices, AudienceRead::Measured),
        naive: costs(&run.per_comment, functions, prices, scan(audience)),
        naive_platform: costs(
            &run.per_comment,
            functions,
            prices,
            scan(platform_connections.max(audience)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::counts::{DynamoCount, LambdaCount, PostCount};
    use crate::cost::phase::{DynamoRow, LambdaRow, PostRow};
    use std::collections::BTreeMap;

    fn phase() -> Phase {
        Phase {
            per: 1.0,
            dynamodb: vec![DynamoRow {
                operation: "Query".into(),
                table: "connections".into(),
                count: DynamoCount {
                    requests: 1.0,
                    read_units: 2.0,
                    ..DynamoCount::default()
                },
            }],
            lambda: vec![
                LambdaRow {
                    function: "fanout".into(),
                    count: LambdaCount {
                        invocations: 1.0,
                        billed_ms: 1000.0,
                        ..LambdaCount::default()
                    },
                },
                LambdaRow {
                    function: "comments".into(),
                    count: LambdaCount {
                        invocations: 1.0,
                        billed_ms: 0.0,
                        ..LambdaCount::default()
                    },
                },
            ],
            posts: vec![PostRow {
                function: "fanout".into(),
                count: PostCount {
                    delivered: 1000.0,
                    metered_messages: 1000.0,
                    ..PostCount::default()
                },
            }],
            ..Phase::default()
        }
    }

    #[test]
    fn components_add_up() {
        let functions = Functions {
            memory_mb: BTreeMap::from([("fanout".to_owned(), 512)]),
            architecture: "arm64".into(),
        };
        let prices = Prices::current();
        let c = costs(&phase(), &functions, &prices, AudienceRead::Measured);
        assert!((c.of(component::WEBSOCKET) - 1000.0 / 1e6).abs() < 1e-12);
        assert!((c.of(component::AUDIENCE_READS) - 2.0 * 0.125 / 1e6).abs() < 1e-15);
        // 1 s at 512 MB = 0.5 GB-s.
        assert!((c.of(component::LAMBDA_DURATION) - 0.5 * 0.000_013_333_4).abs() < 1e-15);
        assert!((c.of(component::HTTP_API) - 1.0 / 1e6).abs() < 1e-15);
        let naive = costs(
            &phase(),
            &functions,
            &prices,
            AudienceRead::Scan {
                connections: 10_000.0,
                item_bytes: 300.0,
            },
        );
        // 3,000,000 bytes: two full 1 MB pages (256 units each) and 902,848 bytes (221).
        assert_eq!(scan_read_units(3_000_000.0), (512.0 + 221.0) * 0.5);
        assert!(naive.per_comment() > c.per_comment());
        assert_eq!(scan_read_units(0.0), 0.5);
    }
}
