//! `$default`: every client frame. The frame is parsed with
//! [`protocol::parse_client_frame`](crate::protocol::parse_client_frame), its user is the one
//! stored with the connection at `$connect`, and the operation runs through the same services
//! as the REST API. The caller, and only the caller, is answered through the [`Poster`]
//! (`PostToConnection` to its own connection):
//!
//! - `ack` with the client's `message_id` and what was created or changed, or
//! - `error` with the client's `message_id` (when it could be read) and a code from the closed
//!   set `INVALID_MESSAGE`, `UNAUTHORIZED`, `FORBIDDEN`, `ACCOUNT_SUSPENDED`, `NOT_FOUND`,
//!   `RATE_LIMIT_EXCEEDED`, `PAYLOAD_TOO_LARGE`, `INTERNAL` ([`ErrorCode::ws_code`](crate::error::ErrorCode::ws_code)),
//!   mapped from the [`AppError`] in one place (`reply::Replier::fail`), or
//! - `pong` for `ping`.
//!
//! API Gateway always gets 200 (400 only for an event without a connection id): the answer
//! travels over the socket, and API Gateway would not retry anyway.
//!
//! Order of work: parse (a frame that cannot be read counts against the connection's control
//! rate, and nothing else is read) → `ping` is answered at once without a store read, after
//! the same control count (it is the keep-alive every client sends every 30 s) → the
//! connection's user is read (unknown or expired connection → `UNAUTHORIZED`) → its session
//! and account are checked ([`App::check_connection`]: signed out → `UNAUTHORIZED`, suspended
//! → `ACCOUNT_SUSPENDED`) → the operation: one handler per
//! message type, in [`commands`](super::commands).
//!
//! `subscribe` with `since` posts the missed frames (oldest first, at most
//! [`Config::catch_up_limit`](crate::config::Config::catch_up_limit)) **before** its `ack`, whose
//! `last_position` is where to resume (`subscribe` again with `since`, or REST `after=`) when
//! `has_more` is set; a catch-up also stops posting at
//! [`Config::catch_up_budget`](crate::config::Config::catch_up_budget) and acks `has_more` with
//! the last position it sent. If a catch-up post fails, the remaining frames are not sent and the answer
//! is an `INTERNAL` error: the subscription stands, and the client subscribes again with `since`
//! set to the last position it has.
//!
//! Replies are posted with up to [`REPLY_ATTEMPTS`] attempts when API Gateway throttles or
//! fails transiently; a reply that still fails is logged, and the client's retry with the same
//! `message_id` (comments) or `client_message_id` (messages) returns the same item.

use std::borrow::Cow;
use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use base64::Engine as _;
use tracing::Instrument;

use crate::app::App;
use crate::config::RateKind;
use crate::error::{AppError, ErrorCode};
use crate::poster::Poster;
use crate::protocol::{ParseError, parse_client_frame};

use super::commands;
use super::reply::{Outcome, Replier};

pub use super::reply::REPLY_ATTEMPTS;

/// Handles one client frame (`$default`) and answers the caller through `poster`. Returns 200
/// once the frame is handled, whatever the answer; 400 only for an event without a usable
/// connection id (there is no one to answer).
pub async fn handle(
    app: &App,
    poster: &dyn Poster,
    request: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let span = super::invocation_span(super::DEFAULT_ROUTE, &request);
    async {
        let connection = match super::connection_id(&request) {
            Ok(c) => c,
            Err(e) => {
                super::log_failure("frame", &e);
                return super::error_response(&e, &request);
            }
        };
        let started = Instant::now();
        let out = Replier::new(poster, &connection);
        let outcome = process(app, &out, frame_text(&request)).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &outcome.error {
            None => tracing::info!(
                answer = outcome.answer,
                delivered = outcome.delivered,
                elapsed_ms,
                "frame handled"
            ),
            Some(e) if matches!(e.code, ErrorCode::Internal | ErrorCode::Unavailable) => {
                tracing::error!(
                    answer = outcome.answer,
                    code = e.code.ws_code(),
                    reason = %e.message,
                    delivered = outcome.delivered,
                    elapsed_ms,
                    "frame failed"
                );
            }
            Some(e) => tracing::info!(
                answer = outcome.answer,
                code = e.code.ws_code(),
                reason = %e.message,
                delivered = outcome.delivered,
                elapsed_ms,
                "frame rejected"
            ),
        }
        super::status(200)
    }
    .instrument(span)
    .await
}

/// The text of the frame: the body, base64-decoded for binary frames.
fn frame_text(request: &ApiGatewayWebsocketProxyRequest) -> Result<Cow<'_, str>, AppError> {
    let body = request.body.as_deref().unwrap_or_default();
    if !request.is_base64_encoded {
        return Ok(Cow::Borrowed(body));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| AppError::field("frame", "is not valid base64"))?;
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| AppError::field("frame", "must be UTF-8 JSON text"))
}

/// Parses, runs and answers one frame.
async fn process(app: &App, out: &Replier<'_>, frame: Result<Cow<'_, str>, AppError>) -> Outcome {
    let parsed = frame
        .map_err(|error| ParseError {
            message_id: None,
            error,
        })
        .and_then(|text| parse_client_frame(&text));
    let envelope = match parsed {
        Ok(envelope) => envelope,
        Err(p) => {
            // Each unreadable frame is answered with a post: it counts as a control frame.
            let limited = app
                .rate_limit(RateKind::Control, out.connection().as_str())
                .await;
            let error = limited.err().unwrap_or(p.error);
            return out.fail(p.message_id.as_deref(), &error).await;
        }
    };
    let span = tracing::Span::current();
    span.record("message_type", envelope.body.kind().name());
    span.record("message_id", envelope.message_id.as_str());
    let message_id = envelope.message_id.as_str();
    match commands::run(app, out, &envelope.message_id, envelope.body).await {
        Ok(answer) => out.answer(&answer).await,
        Err(e) => out.fail(Some(message_id), &e).await,
    }
}
