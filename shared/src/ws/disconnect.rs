//! `$disconnect`: removes the connection and every subscription of it. Idempotent: a second
//! call, or a call for a connection that was never stored (its `$connect` was rejected), also
//! answers 200. API Gateway ignores the answer and delivers `$disconnect` at most once and not
//! always, so a failure here is logged and left to the rows' TTL (and to fan-out, which removes
//! a connection on its first `410 Gone`). Each event the connection watched is asked for a
//! new viewer count.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use tracing::Instrument;

use crate::app::App;

/// Handles `$disconnect`: 200 once the connection and its subscriptions are gone; 400 for an
/// event without a connection id; 500 when the store fails.
pub async fn handle(
    app: &App,
    request: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let span = super::invocation_span(super::DISCONNECT_ROUTE, &request);
    async {
        let connection = match super::connection_id(&request) {
            Ok(c) => c,
            Err(e) => {
                super::log_failure("disconnect", &e);
                return super::error_response(&e, &request);
            }
        };
        // Who held it, so that their presence ends with their last connection.
        let holder = match app.stores.connections.get_connection(&connection).await {
            Ok(c) => c.and_then(|c| c.user_id()),
            Err(e) => {
                let e: crate::error::AppError = e.into();
                super::log_failure("disconnect", &e);
                return super::error_response(&e, &request);
            }
        };
        match app.stores.connections.delete_connection(&connection).await {
            Ok(rooms) => {
                tracing::info!(
                    rooms = rooms.len(),
                    close_code = request.request_context.disconnect_status_code,
                    reason = request.request_context.disconnect_reason.as_deref(),
                    "connection removed"
                );
                for room in rooms {
                    app.audience_moved(room).await;
                }
                if let Some(user) = holder {
                    let desk = crate::service::presence::PresenceDesk::of(app);
                    if let Err(e) = desk.departed(user).await {
                        tracing::warn!(error = %e, "could not end the user's presence");
                    }
                }
                super::status(200)
            }
            Err(e) => {
                let e: crate::error::AppError = e.into();
                super::log_failure("disconnect", &e);
                super::error_response(&e, &request)
            }
        }
    }
    .instrument(span)
    .await
}
