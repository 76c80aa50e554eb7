//! Dollars per million comments of a run's live delivery, at the cost model's prices
//! (`cost::pricing`): API Gateway WebSocket messages (metered per started 32 KB), data
//! transfer out, and the fan-out function's requests and duration (the template's memory and
//! architecture). These are the lines the delivery design changes with the comment rate; the
//! comment's own write path (REST request, DynamoDB writes, its enqueue) does not depend on
//! the rate and is in `docs/cost.md` (`banter-bench cost`).

use serde_json::{Value, json};

use crate::cost::pricing::{Functions, Prices};

/// What one run's delivery used, over all its comments.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliveryUse {
    /// Comments of the run.
    pub comments: u64,
    /// WebSocket messages as API Gateway meters them (one per started 32 KB of each post).
    pub metered_messages: u64,
    /// Bytes posted.
    pub bytes: u64,
    /// Fan-out invocations.
    pub invocations: u64,
    /// Their summed duration, in milliseconds (billed per millisecond).
    pub milliseconds: f64,
}

/// The delivery's lines and their total, in dollars per million comments.
pub fn per_million(used: &DeliveryUse, functions: &Functions, prices: &Prices) -> Value {
    let per = 1e6 / used.comments.max(1) as f64;
    let messages = used.metered_messages as f64 * prices.websocket_per_million_messages / 1e6;
    let transfer = used.bytes as f64 / (1024.0 * 1024.0 * 1024.0) * prices.data_transfer_out_per_gb;
    let requests = used.invocations as f64 * prices.lambda_per_million_requests / 1e6;
    let gb_s = used.milliseconds / 1000.0 * functions.memory_of("fanout") as f64 / 1024.0;
    let duration = gb_s * prices.per_gb_second(&functions.architecture);
    let lines = [
        ("websocket_messages", messages),
        ("data_transfer_out", transfer),
        ("fanout_lambda_requests", requests),
        ("fanout_lambda_duration", duration),
    ];
    let total: f64 = lines.iter().map(|(_, d)| d * per).sum();
    json!({
        "note": "the delivery's lines at the cost model's prices (bench/src/cost/pricing.rs); the write path, the same at every rate, is in docs/cost.md",
        "prices_checked": prices.checked,
        "lines": lines.iter().map(|(k, d)| (k.to_string(), json!(d * per))).collect::<serde_json::Map<String, Value>>(),
        "total": total,
    })
}
