//! [`Call`]: an API Gateway v2 event under construction, starting from a sample.

use lambda_http::Request;
use serde_json::{Value, json};

use super::resp::Resp;
use super::samples::{load_sample, sample_for_route};
use super::world::{Actor, World};

/// Percent-encodes a query-string component.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An API Gateway v2 event under construction: a sample with path parameters, query,
/// headers and body overridden, its raw path and query string kept in step.
#[derive(Debug, Clone)]
pub struct Call {
    /// The event JSON.
    pub event: Value,
}

impl Call {
    /// Starts from the sample file `events/<name>.json` (`name` with or without `.json`).
    pub fn sample(name: &str) -> Self {
        Self {
            event: load_sample(name),
        }
    }

    /// Starts from the sample of `route_key`.
    pub fn to(route_key: &str) -> Self {
        Self {
            event: sample_for_route(route_key),
        }
    }

    /// The route key of the event.
    pub fn route_key(&self) -> String {
        self.event["routeKey"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Recomputes `rawPath` from the route key and the path parameters.
    fn sync_path(&mut self) {
        let route = self.route_key();
        let mut path = route
            .split_once(' ')
            .map(|(_, p)| p)
            .unwrap_or("/")
            .to_owned();
        if let Some(params) = self.event["pathParameters"].as_object() {
            for (k, v) in params {
                path = path.replace(&format!("{{{k}}}"), v.as_str().unwrap_or_default());
            }
        }
        self.event["rawPath"] = json!(path);
        self.event["requestContext"]["http"]["path"] = json!(path);
    }

    /// Recomputes `rawQueryString` from the query parameters.
    fn sync_query(&mut self) {
        let raw = self.event["queryStringParameters"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        format!("{}={}", encode(k), encode(v.as_str().unwrap_or_default()))
                    })
                    .collect::<Vec<_>>()
                    .join("&")
            })
            .unwrap_or_default();
        self.event["rawQueryString"] = json!(raw);
    }

    /// Sets path parameter `name` (and the raw path).
    pub fn path_param(mut self, name: &str, value: impl ToString) -> Self {
        if !self.event["pathParameters"].is_object() {
            self.event["pathParameters"] = json!({});
        }
        self.event["pathParameters"][name] = json!(value.to_string());
        self.sync_path();
        self
    }

    /// Sets query parameter `name`.
    pub fn query(mut self, name: &str, value: impl ToString) -> Self {
        if !self.event["queryStringParameters"].is_object() {
            self.event["queryStringParameters"] = json!({});
        }
        self.event["queryStringParameters"][name] = json!(value.to_string());
        self.sync_query();
        self
    }

    /// Removes query parameter `name`.
    pub fn without_query(mut self, name: &str) -> Self {
        if let Some(m) = self.event["queryStringParameters"].as_object_mut() {
            m.remove(name);
        }
        self.sync_query();
        self
    }

    /// Removes every query parameter.
    pub fn no_query(mut self) -> Self {
        if let Some(o) = self.event.as_object_mut() {
            o.remove("queryStringParameters");
        }
        self.sync_query();
        self
    }

    /// Sets the body to `value` as JSON text.
    pub fn json(self, value: Value) -> Self {
        self.raw_body(&value.to_string())
    }

    /// Sets the body to `text` as is, declared as JSON of its length.
    pub fn raw_body(mut self, text: &str) -> Self {
        self.event["body"] = json!(text);
        self.event["isBase64Encoded"] = json!(false);
        self.event["headers"]["content-length"] = json!(text.len().to_string());
        self.event["headers"]["content-type"] = json!("application/json");
        self
    }

    /// Removes the body.
    pub fn no_body(mut self) -> Self {
        if let Some(m) = self.event.as_object_mut() {
            m.remove("body");
        }
        self
    }

    /// Sets header `name` (lowercase, as API Gateway sends them).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event["headers"][name.to_ascii_lowercase()] = json!(value);
        self
    }

    /// Removes header `name`.
    pub fn without_header(mut self, name: &str) -> Self {
        if let Some(h) = self.event["headers"].as_object_mut() {
            h.remove(&name.to_ascii_lowercase());
        }
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// Signs the request as `actor`.
    pub fn by(self, actor: &Actor) -> Self {
        self.bearer(&actor.token)
    }

    /// No `Authorization` header.
    pub fn anonymous(self) -> Self {
        self.without_header("authorization")
    }

    /// The client IP API Gateway reports.
    pub fn source_ip(mut self, ip: &str) -> Self {
        self.event["requestContext"]["http"]["sourceIp"] = json!(ip);
        self
    }

    /// The `lambda_http` request Lambda would hand the function.
    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.event.to_string())
            .unwrap_or_else(|e| panic!("not an API Gateway v2 event: {e}"))
    }

    /// Serves the request in `world` by the function that lists its route key.
    pub async fn send(self, world: &World) -> Resp {
        super::serve::serve(&world.app, &self).await
    }

    /// The route key, path and query of the request, to name it in a failure.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}?{})",
            self.route_key(),
            self.event["rawPath"].as_str().unwrap_or_default(),
            self.event["rawQueryString"].as_str().unwrap_or_default()
        )
    }

    /// Serves the request and asserts a 200, naming the request on failure: the shape of
    /// most reads, on one line. An async fn cannot report its caller's line, so the failure
    /// names the request instead.
    pub async fn ok(self, world: &World) -> Resp {
        let what = self.describe();
        let r = self.send(world).await;
        assert_eq!(r.status, 200, "{what}: unexpected status; body: {}", r.body);
        r
    }
}

/// Sends each `(case, call)` of `cases` and asserts a 400 `VALIDATION_ERROR` naming `field`
/// (see [`Resp::expect_field_in`]): the many invalid-input checks of a route as one table.
pub async fn check_fields(w: &World, cases: Vec<(&str, Call, &str)>) {
    for (case, call, field) in cases {
        call.send(w).await.expect_field_in(case, field);
    }
}

/// Asserts that `call` is refused with 401 `UNAUTHORIZED` without a token and with `forged`
/// (a token of another deployment), naming its route on failure: every signed-in route of a
/// function is checked alike.
pub async fn check_needs_token(w: &World, call: &Call, forged: &str) {
    let key = call.route_key();
    let r = call.clone().anonymous().send(w).await;
    assert_eq!(r.status, 401, "{key} anonymous: {}", r.body);
    assert_eq!(r.code(), "UNAUTHORIZED");
    let r = call.clone().bearer(forged).send(w).await;
    assert_eq!(r.status, 401, "{key} forged: {}", r.body);
}

/// Sends each `(case, call, status, code)` of `cases` and asserts an error with that status
/// and REST `code`, naming the case on failure: the refusals of a route as one table.
pub async fn check_errors(w: &World, cases: Vec<(&str, Call, u16, &str)>) {
    for (case, call, status, code) in cases {
        let r = call.send(w).await;
        assert_eq!(r.status, status, "{case}: body {}", r.body);
        assert_eq!(r.code(), code, "{case}: body {}", r.body);
    }
}
