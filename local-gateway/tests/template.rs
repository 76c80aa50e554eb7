//! The start-up check of the local gateway against the real `template.yaml`: every route and
//! event source of the template has a local handler and every handler has its route, and a
//! template with an unmapped route (or a handler route missing) is an error, at start-up too.

use std::time::Duration;

use banter_local::template::{self, Deployment, check};
use banter_local::{Gateway, GatewayConfig, StartError, TemplateSource};

fn real_template_text() -> String {
    std::fs::read_to_string(template::default_path()).expect("read template.yaml")
}

/// The real template with `resource` (YAML indented for `Resources:`) added first.
fn with_resource(resource: &str) -> String {
    let text = real_template_text();
    text.replacen("\nResources:\n", &format!("\nResources:\n{resource}"), 1)
}

fn errors_of(text: &str) -> Vec<String> {
    let t = Deployment::parse(text).expect("parses");
    check(&t).expect_err("must be refused")
}

fn assert_mentions(errors: &[String], needle: &str) {
    assert!(
        errors.iter().any(|e| e.contains(needle)),
        "no error mentions {needle:?}: {errors:#?}"
    );
}

#[test]
fn every_template_route_has_a_handler_and_every_handler_a_route() {
    let t = Deployment::load(&template::default_path()).expect("template.yaml parses");
    if let Err(errors) = check(&t) {
        panic!(
            "template.yaml cannot be served locally:\n{}",
            errors.join("\n")
        );
    }
    // What the gateway will serve, read from the template: every documented route, and the
    // catch-all `$default` on the function that answers it (405/404).
    let expected_routes: usize = banter::functions::all_routes()
        .iter()
        .map(|(_, r)| r.len())
        .sum();
    assert_eq!(t.http_routes.len(), expected_routes + 1);
    let default = t
        .http_routes
        .iter()
        .find(|r| r.route_key == banter::http::unrouted::ROUTE_KEY)
        .expect("the $default route");
    assert_eq!(
        template::handler_of(&t, &default.function),
        Some(banter::functions::Function::Rest(
            banter::functions::RestFunction::DEFAULT_ROUTE
        ))
    );
    let ws = t.websocket_api().expect("one WebSocket API");
    let mut keys: Vec<&str> = ws.routes.iter().map(|r| r.route_key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["$connect", "$default", "$disconnect"]);
    assert!(ws.route_selection_expression.starts_with("$request.body."));
    assert!(ws.stage.as_deref().is_some_and(|s| !s.is_empty()));
    let source = t.event_sources.first().expect("an SQS event source");
    assert!(source.report_batch_item_failures);
    assert!(source.batch_size >= 1);
    let queue = &t.queues[&source.queue];
    assert!(
        queue.max_receive_count.is_some(),
        "the fan-out queue has a redrive policy"
    );
    assert!(queue.dead_letter_queue.is_some());
    assert!(queue.visibility_timeout >= Duration::from_secs(1));
    let fanout = t.function(&source.function).expect("the fan-out function");
    assert_eq!(fanout.binary, "fanout");
    assert!(t.http_cors.is_some(), "the HTTP API's CorsConfiguration");
}

#[test]
fn a_route_to_a_function_without_handler_is_an_error() {
    let text = with_resource(
        "  StrayFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: stray
    Properties:
      Events:
        Stray:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Method: GET
            Path: /v1/stray
",
    );
    let errors = errors_of(&text);
    assert_mentions(&errors, "GET /v1/stray");
    assert_mentions(&errors, "no local handler");
}

#[test]
fn a_route_its_module_does_not_serve_is_an_error() {
    let text = with_resource(
        "  ExtraCommentsFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: comments
    Properties:
      Events:
        Extra:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Method: GET
            Path: /v1/comments/{comment_id}/stray
",
    );
    let errors = errors_of(&text);
    assert_mentions(&errors, "GET /v1/comments/{comment_id}/stray");
    assert_mentions(&errors, "banter::rest::comments::ROUTES does not list it");
}

#[test]
fn a_handler_route_missing_from_the_template_is_an_error() {
    let text = real_template_text().replacen("Path: /v1/health\n", "Path: /v1/healthz\n", 1);
    let errors = errors_of(&text);
    assert_mentions(
        &errors,
        "GET /v1/health of banter::rest::health has no route",
    );
    assert_mentions(&errors, "GET /v1/healthz");
}

#[test]
fn websocket_and_sqs_wiring_is_checked() {
    // $default integrated with the $connect function.
    let text = real_template_text().replacen(
        "integrations/${WsDefaultIntegration}",
        "integrations/${WsConnectIntegration}",
        1,
    );
    assert_mentions(&errors_of(&text), "WebSocket route $default");
    // An event source whose batch failures would be ignored.
    let text = real_template_text().replacen(
        "FunctionResponseTypes:\n              - ReportBatchItemFailures",
        "FunctionResponseTypes: []",
        1,
    );
    assert_ne!(text, real_template_text(), "the fixture edit must apply");
    assert_mentions(&errors_of(&text), "ReportBatchItemFailures");
    // A template without functions at all.
    let bare = "Resources:\n  T:\n    Type: AWS::SQS::Queue\n";
    let errors = errors_of(bare);
    assert_mentions(&errors, "no WebSocket API");
    assert_mentions(&errors, "has no SQS event source");
    assert_mentions(&errors, "POST /v1/auth/login");
}

#[tokio::test]
async fn the_gateway_refuses_to_start_on_an_unmapped_route() {
    let config = GatewayConfig {
        rest_addr: "127.0.0.1:0".parse().expect("addr"),
        ws_addr: "127.0.0.1:0".parse().expect("addr"),
        template: TemplateSource::Text(with_resource(
            "  StrayFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: stray
    Properties:
      Events:
        Stray:
          Type: HttpApi
          Properties:
            Method: GET
            Path: /v1/stray
",
        )),
        ..GatewayConfig::default()
    };
    match Gateway::start(config).await {
        Err(StartError::Unmapped(errors)) => assert_mentions(&errors, "GET /v1/stray"),
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("started with an unmapped route"),
    }
}
