//! The media bucket, locally: presigned POSTs and GETs that the in-memory object store signed
//! point at the HTTP API's address, under [`UPLOAD_PATH`] and [`DOWNLOAD_PREFIX`]. A posted
//! form (`multipart/form-data`, the file last) is checked against its signed policy as S3
//! checks it and stored in memory; then, as the bucket's object-created notification does,
//! the media function's handler runs on an S3 event of the new object, after the upload is
//! answered. A GET is served if its signature holds and it has not expired.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use banter::functions::Function;
use banter::media::process::MediaProcessor;
use banter::objects::memory::{DOWNLOAD_PREFIX, MemoryObjects, UPLOAD_PATH};
use serde_json::json;

use crate::stats::Invocations;
use crate::url::query_parameters;

/// The bucket's local name in the S3 events it sends.
pub const BUCKET_NAME: &str = "banter-local-media";

/// The local bucket and the media function its notifications invoke.
pub(crate) struct LocalBucket {
    pub(crate) objects: Arc<MemoryObjects>,
    pub(crate) processor: MediaProcessor,
    pub(crate) invocations: Arc<Invocations>,
}

/// Whether a request is for the bucket rather than the HTTP API.
pub(crate) fn is_bucket_request(method: &Method, path: &str) -> bool {
    (method == Method::POST && path == UPLOAD_PATH)
        || (matches!(*method, Method::GET | Method::HEAD) && path.starts_with(DOWNLOAD_PREFIX))
}

/// An S3-style error answer.
fn refused(status: StatusCode, code: &str, why: &str) -> Response {
    (
        status,
        [("content-type", "application/xml")],
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{why}</Message></Error>"),
    )
        .into_response()
}

impl LocalBucket {
    /// Serves one bucket request.
    pub(crate) async fn serve(
        self: &Arc<Self>,
        method: &Method,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Response {
        if method == Method::POST {
            return self.upload(headers, &body).await;
        }
        let key = &path[DOWNLOAD_PREFIX.len()..];
        let params = query_parameters(query);
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        match self.objects.serve_get(
            key,
            param("expires"),
            param("signature"),
            banter::time::now(),
        ) {
            Ok(Some(object)) => (
                StatusCode::OK,
                [("content-type", object.content_type)],
                if method == Method::HEAD {
                    Vec::new()
                } else {
                    object.body
                },
            )
                .into_response(),
            Ok(None) => refused(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            ),
            Err(e) => refused(StatusCode::FORBIDDEN, "AccessDenied", &e.to_string()),
        }
    }

    /// A presigned POST: stored if its policy allows it (204, as S3 answers), then checked
    /// by the media function in the background.
    async fn upload(self: &Arc<Self>, headers: &HeaderMap, body: &[u8]) -> Response {
        let boundary = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .and_then(boundary_of);
        let Some(boundary) = boundary else {
            return refused(
                StatusCode::BAD_REQUEST,
                "PreconditionFailed",
                "the body must be multipart/form-data",
            );
        };
        let Some((fields, file)) = parse_form(body, &boundary) else {
            return refused(
                StatusCode::BAD_REQUEST,
                "MalformedPOSTRequest",
                "the body is not a form with a file",
            );
        };
        let key = match self.objects.accept_post(&fields, file, banter::time::now()) {
            Ok(key) => key,
            Err(e) => return refused(StatusCode::FORBIDDEN, "AccessDenied", &e.to_string()),
        };
        let bucket = self.clone();
        tokio::spawn(async move { bucket.notify(key.as_str()).await });
        StatusCode::NO_CONTENT.into_response()
    }

    /// The object-created notification: the media function's handler on an S3 event.
    async fn notify(&self, key: &str) {
        let event = json!({"Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": banter::time::now(),
            "eventName": "ObjectCreated:Post",
            "userIdentity": {"principalId": "banter-local"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "banter-local-media",
                "bucket": {"name": BUCKET_NAME, "arn": format!("arn:aws:s3:::{BUCKET_NAME}")},
                "object": {"key": key}
            }
        }]});
        let event = match serde_json::from_value(event) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "the S3 event does not parse");
                return;
            }
        };
        let started = Instant::now();
        if let Err(e) = banter::media::lambda::handle(&self.processor, event).await {
            tracing::error!(key, error = %e, "media function failed");
        }
        self.invocations.record(Function::Media, started.elapsed());
    }
}

/// The `boundary` of a `multipart/form-data` content type.
fn boundary_of(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("boundary")).then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The form's text fields and its `file` part (which S3 wants last: fields after it are
/// ignored, as S3 ignores them).
fn parse_form(body: &[u8], boundary: &str) -> Option<(BTreeMap<String, String>, Vec<u8>)> {
    let delimiter = format!("--{boundary}");
    let mut rest = &body[find(body, delimiter.as_bytes())? + delimiter.len()..];
    let mut fields = BTreeMap::new();
    loop {
        if rest.starts_with(b"--") {
            return None;
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..head_end]).ok()?;
        let content = &rest[head_end + 4..];
        let end = find(content, format!("\r\n{delimiter}").as_bytes())?;
        let value = &content[..end];
        let disposition = head
            .split("\r\n")
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
        let name = disposition.split(';').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
        })?;
        if name == "file" {
            return Some((fields, value.to_vec()));
        }
        fields.insert(name, String::from_utf8(value.to_vec()).ok()?);
        rest = &content[end + 2 + delimiter.len()..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_parse_into_fields_and_the_file() {
        let body = b"--xx\r\ncontent-disposition: form-data; name=\"key\"\r\n\r\nuploads/a\r\n--xx\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a\"\r\ncontent-type: image/png\r\n\r\n\x89PNG\r\n\x00\r\n--xx--\r\n";
        let (fields, file) = parse_form(body, "xx").unwrap();
        assert_eq!(fields["key"], "uploads/a");
        assert_eq!(file, b"\x89PNG\r\n\x00");
        assert_eq!(
            boundary_of("multipart/form-data; boundary=\"xx\"").as_deref(),
            Some("xx")
        );
        assert_eq!(boundary_of("application/json"), None);
        // No file part, or not a form at all.
        assert!(
            parse_form(
                b"--xx\r\ncontent-disposition: form-data; name=\"key\"\r\n\r\nv\r\n--xx--\r\n",
                "xx"
            )
            .is_none()
        );
        assert!(parse_form(b"garbage", "xx").is_none());
    }
}
