//! The state every server task shares (the REST, WebSocket and management APIs), and the
//! ids in API Gateway's style they hand out. Depends only on the leaf modules.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use banter::app::App;
use banter::poster::Poster;
use tokio::sync::watch;

use crate::config::Limits;
use crate::registry::Registry;
use crate::rest_routes::RouteTable;
use crate::stats::Invocations;
use crate::template::Cors;
use crate::web::WebRoot;
use crate::ws_routes::WsRouting;

/// State shared by every server task.
pub(crate) struct Shared {
    pub(crate) app: App,
    pub(crate) rest_addr: SocketAddr,
    pub(crate) stage: String,
    pub(crate) limits: Limits,
    pub(crate) api_id: String,
    pub(crate) http_api_id: String,
    pub(crate) registry: Registry,
    pub(crate) ws: WsRouting,
    pub(crate) rest: RouteTable,
    pub(crate) cors: Option<Cors>,
    /// The router's poster (its replies to the sender), counted as `ws-default`'s posts.
    pub(crate) poster: Arc<dyn Poster>,
    /// Every function invocation and its duration.
    pub(crate) invocations: Arc<Invocations>,
    pub(crate) web: WebRoot,
    pub(crate) deliver_disconnect: bool,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Connection id → HTTP status the management API answers every POST to it with.
    pub(crate) faults: Mutex<HashMap<String, u16>>,
    /// The media bucket (presigned uploads and downloads) and its notifications.
    pub(crate) bucket: Arc<crate::media::LocalBucket>,
    /// Faults drawn for every POST and, through the decorated ports, for stream-store calls and fan-out jobs (`--inject`).
    pub(crate) injector: std::sync::Arc<crate::faults::Injector>,
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
pub(crate) fn api_id() -> String {
    (0..10)
        .map(|_| {
            let c = fastrand::alphanumeric();
            c.to_ascii_lowercase()
        })
        .collect()
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
        assert_eq!(api_id().len(), 10);
    }
}
