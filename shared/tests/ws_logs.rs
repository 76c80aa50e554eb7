//! The WebSocket handlers' logs: JSON lines, each in the invocation's `ws` span with the route,
//! API Gateway's request id and the connection id (plus user, message type and `message_id`
//! for frames), and never a token.
//!
//! This is its own test binary with a single test on purpose: `tracing` caches whether a log
//! site is enabled process-wide, and a site first reached by a concurrently running test with no
//! subscriber can stay disabled for the thread-local subscriber installed here.

use std::sync::{Arc, Mutex};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use banter::app::App;
use banter::config::Config;
use banter::ids::ConnectionId;
use banter::poster::memory::MemoryPoster;
use banter::ws;
use banter_testkit::users::seed_user;
use serde_json::{Value, json};

/// Collects what the JSON subscriber writes.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn request(
    route: &str,
    event_type: &str,
    connection: &ConnectionId,
    extra: Value,
) -> ApiGatewayWebsocketProxyRequest {
    let mut event = json!({
        "requestContext": {
            "routeKey": route,
            "eventType": event_type,
            "stage": "test",
            "connectedAt": 0,
            "requestTimeEpoch": 0,
            "requestId": format!("req-{route}"),
            "domainName": "abcd1234.execute-api.us-east-1.amazonaws.com",
            "connectionId": connection.as_str(),
        },
        "isBase64Encoded": false,
    });
    if let (Some(e), Some(x)) = (event.as_object_mut(), extra.as_object()) {
        e.extend(x.clone());
    }
    serde_json::from_value(event).unwrap()
}

#[tokio::test]
async fn every_invocation_logs_json_lines_in_one_span_with_its_ids() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (app, _queue) = App::in_memory(Config::default()).unwrap();
    let (user, token) = seed_user(&app, "logger").await;
    let user = user.user_id;
    let connection: ConnectionId = "LogTestConn1=".parse().unwrap();
    let poster = MemoryPoster::new();
    let _inbox = poster.open(connection.clone());

    let resp = ws::connect::handle(
        &app,
        request(
            "$connect",
            "CONNECT",
            &connection,
            json!({ "queryStringParameters": { "token": token } }),
        ),
    )
    .await;
    assert_eq!(resp.status_code, 200);
    let frame = r#"{"type":"subscribe","message_id":"m-log","payload":{"event_id":"0198f2a4-5c3e-7b21-9f4a-1c2d3e4f5a6b"}}"#;
    let resp = ws::router::handle(
        &app,
        &poster,
        request("$default", "MESSAGE", &connection, json!({ "body": frame })),
    )
    .await;
    assert_eq!(resp.status_code, 200);
    ws::disconnect::handle(
        &app,
        request("$disconnect", "DISCONNECT", &connection, json!({})),
    )
    .await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every log line is JSON"))
        .collect();
    let line = |message: &str| -> &Value {
        lines
            .iter()
            .find(|l| l["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} line in:\n{text}"))
    };

    let accepted = line("connection accepted");
    assert_eq!(accepted["level"], "INFO");
    assert_eq!(accepted["span"]["name"], "ws");
    assert_eq!(accepted["span"]["route"], "$connect");
    assert_eq!(accepted["span"]["request_id"], "req-$connect");
    assert_eq!(accepted["span"]["connection_id"], connection.as_str());
    assert_eq!(accepted["span"]["user_id"], user.to_string());

    let rejected = line("frame rejected");
    let span = &rejected["span"];
    assert_eq!(span["route"], "$default");
    assert_eq!(span["request_id"], "req-$default");
    assert_eq!(span["connection_id"], connection.as_str());
    assert_eq!(span["user_id"], user.to_string());
    assert_eq!(span["message_type"], "subscribe");
    assert_eq!(span["message_id"], "m-log");
    assert_eq!(rejected["fields"]["code"], "NOT_FOUND");
    assert_eq!(rejected["fields"]["reason"], "event not found");
    assert_eq!(rejected["fields"]["delivered"], true);
    assert!(rejected["fields"]["elapsed_ms"].is_u64());

    let removed = line("connection removed");
    assert_eq!(removed["span"]["route"], "$disconnect");
    assert_eq!(removed["span"]["request_id"], "req-$disconnect");

    assert!(!text.contains(&token), "tokens never reach the logs");
}
