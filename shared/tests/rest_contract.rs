//! What every route shares, as `docs/openapi.yaml` documents it and `scripts/fuzz-contract`
//! checks it: the `X-Request-ID` header's limits, and the answers to requests no route
//! declares (the HTTP API's `$default` route: 405 with `Allow` for a declared path, 404
//! otherwise), both in the REST error envelope.

mod support;

use banter::functions::RestFunction;
use serde_json::json;
use support::rest::{Call, Resp, World, check_error_envelope};

/// The request API Gateway sends to the `$default` route for `method` `path`, from the
/// health sample (the function the template gives that route).
fn unrouted(method: &str, path: &str) -> Call {
    let mut call = Call::to("GET /v1/health");
    let e = &mut call.event;
    e["routeKey"] = json!("$default");
    e["rawPath"] = json!(path);
    e["requestContext"]["routeKey"] = json!("$default");
    e["requestContext"]["http"]["method"] = json!(method);
    e["requestContext"]["http"]["path"] = json!(path);
    call
}

/// Serves `call` as the function of the `$default` route does in AWS.
async fn serve_default(w: &World, call: &Call) -> Resp {
    Resp::read(
        &RestFunction::DEFAULT_ROUTE
            .serve(&w.app, call.request())
            .await,
    )
}

#[tokio::test]
async fn an_unusable_x_request_id_is_a_400_naming_the_header() {
    let w = World::new();
    for (case, value) in [
        ("129 characters", "a".repeat(129)),
        ("a space", "my request".to_owned()),
        ("non-ASCII", "req-é".to_owned()),
    ] {
        let r = Call::to("GET /v1/health")
            .header("x-request-id", &value)
            .send(&w)
            .await
            .expect_error(400, "VALIDATION_ERROR")
            .expect_field_in(case, "X-Request-ID");
        check_error_envelope(&r);
        // The refused id is not echoed: the answer carries API Gateway's.
        assert_eq!(r.header("x-request-id"), Some("Kx3mZg13IAMEbQ="), "{case}");
        assert_eq!(r.body["error"]["request_id"], "Kx3mZg13IAMEbQ=", "{case}");
    }
    let longest = "b".repeat(128);
    let r = Call::to("GET /v1/health")
        .header("x-request-id", &longest)
        .send(&w)
        .await
        .expect(200);
    assert_eq!(r.header("x-request-id"), Some(longest.as_str()));
}

#[tokio::test]
async fn an_empty_x_request_id_is_a_400_too() {
    let w = World::new();
    Call::to("GET /v1/health")
        .header("x-request-id", "")
        .send(&w)
        .await
        .expect_error(400, "VALIDATION_ERROR")
        .expect_field("X-Request-ID");
}

#[tokio::test]
async fn an_undeclared_method_on_a_declared_path_is_a_405_listing_the_declared_ones() {
    let w = World::new();
    for (method, path, allow) in [
        ("DELETE", "/v1/users/me", "GET, PATCH"),
        ("TRACE", "/v1/health", "GET"),
        ("GET", "/v1/auth/login", "POST"),
        // `search` is also a `{user_id}`: only GET is routed there.
        ("POST", "/v1/users/search", "GET"),
        (
            "PATCH",
            "/v1/conversations/0198f2c0-2222-7d33-9b44-5566778899aa/messages",
            "GET, POST",
        ),
        ("OPTIONS", "/v1/messages/not-an-id", "DELETE, PUT"),
    ] {
        let r = serve_default(&w, &unrouted(method, path)).await;
        let case = format!("{method} {path}");
        assert_eq!(r.status, 405, "{case}: {}", r.body);
        assert_eq!(r.code(), "METHOD_NOT_ALLOWED", "{case}");
        assert_eq!(r.header("allow"), Some(allow), "{case}");
        check_error_envelope(&r);
    }
}

#[tokio::test]
async fn a_path_no_route_declares_is_a_404_in_the_envelope() {
    let w = World::new();
    for (method, path) in [
        ("GET", "/v1/nowhere"),
        ("GET", "/v1/users/"),
        ("POST", "/v1/events/a/b/c"),
        ("GET", "/"),
    ] {
        let r = serve_default(&w, &unrouted(method, path)).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
        assert_eq!(r.code(), "NOT_FOUND", "{method} {path}");
        assert_eq!(r.header("allow"), None, "{method} {path}");
        check_error_envelope(&r);
    }
}

#[tokio::test]
async fn an_empty_idempotency_key_is_a_400_and_posts_nothing() {
    let w = World::new();
    let ada = w.user("ada").await;
    let event = w.live_event(ada.id).await;
    let post = || {
        Call::sample("http-comments-create")
            .path_param("event_id", event)
            .by(&ada)
            .json(json!({ "content": "first" }))
    };
    let r = post()
        .header("idempotency-key", "")
        .send(&w)
        .await
        .expect_error(400, "VALIDATION_ERROR")
        .expect_field("Idempotency-Key");
    check_error_envelope(&r);
    let listed = Call::sample("http-comments-list")
        .path_param("event_id", event)
        .by(&ada)
        .no_query()
        .send(&w)
        .await
        .expect(200);
    assert_eq!(listed.body["comments"], json!([]), "nothing was posted");
    post()
        .header("idempotency-key", "retry-1")
        .send(&w)
        .await
        .expect(201);
}

#[tokio::test]
async fn an_integer_written_with_a_zero_fraction_is_that_integer() {
    let w = World::new();
    let ada = w.user("ada").await;
    let create = |max: serde_json::Value, slow: serde_json::Value| {
        Call::sample("http-events-create").by(&ada).json(json!({
            "title": "Final",
            "event_type": "sports",
            "start_time": "2026-11-20T19:00:00Z",
            "max_participants": max,
            "comment_settings": {"slow_mode_seconds": slow},
        }))
    };
    // JSON Schema's `integer` (and clients that only have floats) count 706.0 as 706.
    let r = create(json!(706.0), json!(5.0)).send(&w).await.expect(201);
    assert_eq!(r.body["max_participants"], 706);
    assert_eq!(r.body["comment_settings"]["slow_mode_seconds"], 5);
    let r = create(json!(706.5), json!(5))
        .send(&w)
        .await
        .expect_error(400, "VALIDATION_ERROR");
    check_error_envelope(&r);
    create(json!(706), json!(0.25))
        .send(&w)
        .await
        .expect_error(400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn an_empty_query_value_is_a_400_naming_the_parameter() {
    let w = World::new();
    let ada = w.user("ada").await;
    for name in ["limit", "cursor", "status"] {
        let r = Call::sample("http-events-list")
            .by(&ada)
            .no_query()
            .query(name, "")
            .send(&w)
            .await
            .expect_error(400, "VALIDATION_ERROR")
            .expect_field_in(name, name);
        check_error_envelope(&r);
    }
    Call::sample("http-events-list")
        .by(&ada)
        .no_query()
        .send(&w)
        .await
        .expect(200);
}

#[tokio::test]
async fn text_longer_than_its_maximum_is_refused_even_when_blank_around() {
    let w = World::new();
    let ada = w.user("ada").await;
    let patch = |body: serde_json::Value| Call::sample("http-users-me-patch").by(&ada).json(body);
    // The documented maxLength counts what was sent, white space included.
    patch(json!({ "status_message": " ".repeat(141) }))
        .send(&w)
        .await
        .expect_error(400, "VALIDATION_ERROR")
        .expect_field("status_message");
    patch(json!({ "display_name": format!("  {}  ", "a".repeat(62)) }))
        .send(&w)
        .await
        .expect_error(400, "VALIDATION_ERROR")
        .expect_field("display_name");
    let r =
        patch(json!({ "display_name": format!(" {} ", "a".repeat(62)), "status_message": " " }))
            .send(&w)
            .await
            .expect(200);
    assert_eq!(r.body["display_name"], "a".repeat(62));
}
