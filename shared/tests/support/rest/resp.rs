//! [`Resp`]: a function's response, read back, and the checks tests make of it.

use lambda_http::Body;
use lambda_http::Response;
use lambda_http::http::HeaderMap;
use serde_json::Value;

/// A response, read back. The `expect…` checks take and return it, so that they chain on a
/// request (`call.send(&w).await.expect(201).body`) as well as on a named response.
#[derive(Debug, Clone)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// The JSON body (`Null` when empty).
    pub body: Value,
}

impl Resp {
    /// The status, headers and JSON body of `response`; panics on a body that is not JSON.
    pub fn read(response: &Response<Body>) -> Self {
        let body = match response.body() {
            Body::Empty => Value::Null,
            Body::Text(t) => serde_json::from_str(t).unwrap_or_else(|e| panic!("body {t:?}: {e}")),
            Body::Binary(b) => serde_json::from_slice(b).unwrap_or_else(|e| panic!("body: {e}")),
            _ => Value::Null,
        };
        Self {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body,
        }
    }

    /// Header `name` as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body on failure.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts an error response with `status` and REST `code`, in the documented envelope
    /// (see [`check_error_envelope`]).
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        let r = self.expect(status);
        check_error_envelope(&r);
        assert_eq!(r.body["error"]["code"], code, "body: {}", r.body);
        r
    }

    /// Asserts a 400 `VALIDATION_ERROR` naming `field` among its details.
    #[track_caller]
    pub fn expect_field(self, field: &str) -> Self {
        self.expect_field_in("", field)
    }

    /// [`expect_field`](Self::expect_field), naming `case` on failure: for the rows of a
    /// table of invalid requests.
    #[track_caller]
    pub fn expect_field_in(self, case: &str, field: &str) -> Self {
        assert_eq!(
            self.status, 400,
            "{case}: expected 400; body: {}",
            self.body
        );
        assert_eq!(self.code(), "VALIDATION_ERROR", "{case}");
        assert!(
            self.fields().iter().any(|f| f == field),
            "{case}: expected a detail for {field}; body: {}",
            self.body
        );
        self
    }

    /// The `position` of every item of the list `key` of the body (`comments`, `messages`).
    pub fn positions(&self, key: &str) -> Vec<u64> {
        self.body[key]
            .as_array()
            .unwrap_or_else(|| panic!("no list {key}: {}", self.body))
            .iter()
            .map(|item| item["position"].as_u64().expect("position"))
            .collect()
    }

    /// The body's `next_cursor`, which must be there.
    pub fn cursor(&self) -> String {
        self.body["next_cursor"]
            .as_str()
            .expect("next_cursor")
            .to_owned()
    }

    /// The error's `code`.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// The error's `message`.
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    /// The `field` of every entry of the error's `details`, in order (`""` for an entry
    /// without one).
    pub fn fields(&self) -> Vec<String> {
        self.body["error"]["details"]
            .as_array()
            .map(|d| {
                d.iter()
                    .map(|f| f["field"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Asserts the error envelope of an error response:
/// `{"error": {code, message, details, request_id, timestamp}}` as JSON, with `request_id`
/// equal to the `X-Request-ID` header.
#[track_caller]
pub fn check_error_envelope(r: &Resp) {
    let e = &r.body["error"];
    assert!(e.is_object(), "no error object: {}", r.body);
    assert!(e["code"].is_string(), "{}", r.body);
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.body
    );
    assert!(e["details"].is_array(), "{}", r.body);
    assert!(e["timestamp"].is_string(), "{}", r.body);
    assert_eq!(
        e["request_id"].as_str(),
        r.header("x-request-id"),
        "request_id must match X-Request-ID"
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
}
