//! REST route of the `health` function: `GET /v1/health` → 200
//! `{"status": "ok", "version": "<crate version>", "time": "<RFC 3339>"}`. No authentication
//! and no store or AWS call: it answers whether the API and a Lambda instance are up, nothing
//! more, so it stays cheap enough for load-balancer and uptime probes.

use serde::Serialize;

use crate::app::App;
use crate::error::AppError;
use crate::http::{Reply, Req};
use crate::time::{Timestamp, now};

/// `GET /v1/health`.
pub const HEALTH: &str = "GET /v1/health";

/// Route keys served by this function.
pub const ROUTES: &[&str] = &[HEALTH];

/// The health response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// Always `"ok"`.
    pub status: &'static str,
    /// Version of the deployed code (the `banter` crate's version).
    pub version: &'static str,
    /// The server's clock.
    pub time: Timestamp,
}

/// The current health report.
pub fn report() -> Health {
    Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        time: now(),
    }
}

/// Dispatches one request of this function.
pub async fn route(_app: &App, req: &Req) -> Result<Reply, AppError> {
    match req.route_key.as_str() {
        HEALTH => Ok(Reply::ok(report())),
        other => Err(AppError::not_found(&format!("route {other}"))),
    }
}
