//! The demo page: files of `local-gateway/web/` served on the REST port, `index.html` at `/`
//! and every other file by its name, with its content type. Files are read from disk on every
//! request, so edits to the page show on reload without a rebuild; the directory is located
//! from this crate's source directory, so `cargo run` works from any working directory.
//!
//! HTML files get the WebSocket API's address filled into their empty
//! `<meta name="banter-ws" content="">` (the host the page was requested on, the gateway's
//! WebSocket port), so the page finds the API on whatever ports the gateway runs.

use std::path::{Component, Path, PathBuf};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The directory the page is served from.
#[derive(Debug, Clone)]
pub(crate) struct WebRoot {
    dir: PathBuf,
    ws_port: u16,
}

/// The empty WebSocket address of the demo page, which [`WebRoot`] fills in.
const WS_META: &str = r#"<meta name="banter-ws" content="">"#;

/// The content type of a file, by extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "wasm" => "application/wasm",
        "txt" | "md" => "text/plain; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

impl WebRoot {
    pub(crate) fn new(dir: PathBuf, ws_port: u16) -> Self {
        Self { dir, ws_port }
    }

    /// `html` with the WebSocket URL for a page requested on `host` filled in.
    fn fill_in(&self, html: Vec<u8>, host: Option<&str>) -> Vec<u8> {
        let Ok(text) = String::from_utf8(html) else {
            return Vec::new();
        };
        if !text.contains(WS_META) {
            return text.into_bytes();
        }
        let hostname = host
            .map(|h| match h.rsplit_once(':') {
                Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
                _ => h,
            })
            .filter(|h| {
                !h.is_empty()
                    && h.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':')
                    })
            })
            .unwrap_or("127.0.0.1");
        let url = format!("ws://{hostname}:{}", self.ws_port);
        text.replacen(
            WS_META,
            &format!(r#"<meta name="banter-ws" content="{url}">"#),
            1,
        )
        .into_bytes()
    }

    /// The file for a request path, if it names one inside the directory: `/` is
    /// `index.html`; `..`, hidden files and anything outside the directory are not served.
    fn resolve(&self, raw_path: &str) -> Option<PathBuf> {
        let decoded = crate::url::percent_decode(raw_path);
        let rel = decoded.trim_start_matches('/');
        let rel = if rel.is_empty() || rel.ends_with('/') {
            format!("{rel}index.html")
        } else {
            rel.to_owned()
        };
        let rel = Path::new(&rel);
        let safe = rel.components().all(|c| match c {
            Component::Normal(part) => !part.to_string_lossy().starts_with('.'),
            _ => false,
        });
        if !safe || rel.as_os_str().to_string_lossy().contains('\\') {
            return None;
        }
        let root = self.dir.canonicalize().ok()?;
        let file = root.join(rel).canonicalize().ok()?;
        (file.starts_with(&root) && file.is_file()).then_some(file)
    }

    /// The response for `raw_path`, or `None` when there is no such file.
    pub(crate) async fn serve(&self, raw_path: &str, host: Option<&str>) -> Option<Response> {
        let file = self.resolve(raw_path)?;
        let mut bytes = tokio::fs::read(&file).await.ok()?;
        if content_type(&file).starts_with("text/html") {
            let original = bytes.clone();
            bytes = self.fill_in(bytes, host);
            if bytes.is_empty() {
                bytes = original;
            }
        }
        let mut r = (StatusCode::OK, bytes).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(&file)),
        );
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_inside_are_served() {
        let dir = std::env::temp_dir().join(format!("banter-web-{}", fastrand::u64(..)));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("index.html"), "<h1>hi</h1>").unwrap();
        std::fs::write(dir.join("app.js"), "1").unwrap();
        std::fs::write(dir.join(".secret"), "x").unwrap();
        let root = WebRoot::new(dir.clone(), 3101);
        let page = root.fill_in(
            br#"<head><meta name="banter-ws" content=""></head>"#.to_vec(),
            Some("localhost:3000"),
        );
        assert_eq!(
            String::from_utf8(page).unwrap(),
            r#"<head><meta name="banter-ws" content="ws://localhost:3101"></head>"#
        );
        assert!(root.resolve("/").is_some_and(|p| p.ends_with("index.html")));
        assert!(root.resolve("/app.js").is_some());
        assert!(root.resolve("/sub/").is_none());
        assert!(root.resolve("/.secret").is_none());
        assert!(root.resolve("/../Cargo.toml").is_none());
        assert!(root.resolve("/%2e%2e/Cargo.toml").is_none());
        assert!(root.resolve("/nope.css").is_none());
        assert_eq!(content_type(Path::new("a.css")), "text/css; charset=utf-8");
        assert_eq!(
            content_type(Path::new("a.JS")),
            "text/javascript; charset=utf-8"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
