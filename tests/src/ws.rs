//! A WebSocket client for the tests (tokio-tungstenite, plain `ws://` on loopback).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A refused handshake: the HTTP status and body.
#[derive(Debug, Clone)]
pub struct Refused {
    /// HTTP status of the answer to the upgrade.
    pub status: u16,
    /// Its body.
    pub body: String,
}

/// What ended a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The close code the server sent (`None`: no close frame).
    pub code: Option<u16>,
    /// The reason.
    pub reason: String,
}

/// A connected client.
pub struct Client {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The subprotocol the server chose.
    pub protocol: Option<String>,
    /// Frames read and not yet taken.
    pending: Vec<Value>,
    /// Entries of a `stream_batch` read and not yet returned by `read`.
    unpacked: std::collections::VecDeque<Value>,
    /// `stream_batch` frames received.
    pub batches: usize,
    closed: Option<Closed>,
    counter: u64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("protocol", &self.protocol)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

/// Connects to `url` (with its query), offering `protocols`.
pub async fn connect_with(url: &str, protocols: &[&str]) -> Result<Client, Refused> {
    let mut request = url.into_client_request().map_err(|e| Refused {
        status: 0,
        body: e.to_string(),
    })?;
    if !protocols.is_empty()
        && let Ok(v) = HeaderValue::from_str(&protocols.join(", "))
    {
        request.headers_mut().insert("sec-websocket-protocol", v);
    }
    let connected = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::connect_async(request),
    )
    .await
    .map_err(|_| Refused {
        status: 0,
        body: "handshake timed out".into(),
    })?;
    match connected {
        Ok((stream, response)) => Ok(Client {
            stream,
            protocol: response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            pending: Vec::new(),
            unpacked: std::collections::VecDeque::new(),
            batches: 0,
            closed: None,
            counter: 0,
        }),
        Err(tungstenite::Error::Http(response)) => Err(Refused {
            status: response.status().as_u16(),
            body: response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
        }),
        Err(e) => Err(Refused {
            status: 0,
            body: e.to_string(),
        }),
    }
}

/// Connects to `ws_base` with `?token=<token>` and extra query `params`.
pub async fn connect(ws_base: &str, token: &str, params: &str) -> Result<Client, Refused> {
    let extra = if params.is_empty() {
        String::new()
    } else {
        format!("&{params}")
    };
    connect_with(&format!("{ws_base}/?token={token}{extra}"), &[]).await
}

impl Client {
    /// Sends a JSON frame.
    pub async fn send(&mut self, frame: &Value) {
        self.stream
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("send a frame");
    }

    /// Sends a raw text frame (any size).
    pub async fn send_text(&mut self, text: String) -> Result<(), String> {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| e.to_string())
    }

    /// A fresh client `message_id`.
    pub fn next_id(&mut self) -> String {
        self.counter += 1;
        format!("m-{}-{}", self.counter, fastid())
    }

    /// Reads the next JSON frame, waiting at most `wait`, as a client of the protocol reads
    /// it: a `stream_batch` is its entries (`{position, type, payload}`), one by one. `None`
    /// on timeout or close.
    async fn read(&mut self, wait: Duration) -> Option<Value> {
        loop {
            if let Some(entry) = self.unpacked.pop_front() {
                return Some(entry);
            }
            let frame = self.read_frame(wait).await?;
            if frame["type"] != "stream_batch" {
                return Some(frame);
            }
            self.batches += 1;
            if let Some(entries) = frame["payload"]["entries"].as_array() {
                self.unpacked.extend(entries.iter().cloned());
            }
        }
    }

    /// Reads the next JSON frame as sent.
    async fn read_frame(&mut self, wait: Duration) -> Option<Value> {
        if self.closed.is_some() {
            return None;
        }
        let deadline = Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.stream.next()).await;
            match next {
                Err(_) => return None,
                Ok(None) => {
                    self.closed.get_or_insert(Closed {
                        code: None,
                        reason: String::new(),
                    });
                    return None;
                }
                Ok(Some(Err(_))) => {
                    self.closed.get_or_insert(Closed {
                        code: None,
                        reason: "error".into(),
                    });
                    return None;
                }
                Ok(Some(Ok(Message::Text(t)))) => {
                    return Some(serde_json::from_str(&t).unwrap_or(Value::String(t.to_string())));
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    self.closed = Some(frame.map_or(
                        Closed {
                            code: None,
                            reason: String::new(),
                        },
                        |f: CloseFrame| Closed {
                            code: Some(f.code.into()),
                            reason: f.reason.to_string(),
                        },
                    ));
                    return None;
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// The first frame (pending or new) that `matches`, waiting at most `wait`; frames that
    /// do not match stay pending.
    pub async fn wait_for(
        &mut self,
        wait: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        if let Some(i) = self.pending.iter().position(&matches) {
            return Some(self.pending.remove(i));
        }
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = self.read(left).await?;
            if matches(&frame) {
                return Some(frame);
            }
            self.pending.push(frame);
        }
    }

    /// The answer (`ack`, `error` or `pong`) to the frame `message_id`.
    pub async fn answer(&mut self, message_id: &str, wait: Duration) -> Option<Value> {
        self.wait_for(wait, |f| {
            f["message_id"] == message_id
                && matches!(f["type"].as_str(), Some("ack" | "error" | "pong"))
        })
        .await
    }

    /// Sends `{type, message_id, payload}` and returns its answer.
    pub async fn request(&mut self, kind: &str, payload: Value, wait: Duration) -> Option<Value> {
        let id = self.next_id();
        self.send(&json!({"type": kind, "message_id": id, "payload": payload}))
            .await;
        self.answer(&id, wait).await
    }

    /// Every frame (pending and new) received until nothing arrives for `quiet`, at most
    /// `max` in total.
    pub async fn drain(&mut self, quiet: Duration, max: Duration) -> Vec<Value> {
        let mut out = std::mem::take(&mut self.pending);
        let deadline = Instant::now() + max;
        while Instant::now() < deadline {
            let wait = quiet.min(deadline.saturating_duration_since(Instant::now()));
            match self.read(wait).await {
                Some(f) => out.push(f),
                None => break,
            }
        }
        out
    }

    /// Waits for the server to close the socket; returns how (`None` on timeout).
    pub async fn closed(&mut self, wait: Duration) -> Option<Closed> {
        let deadline = Instant::now() + wait;
        while self.closed.is_none() && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Some(f) = self.read(left).await {
                self.pending.push(f);
            }
        }
        self.closed.clone()
    }

    /// Closes the socket (1000) and waits briefly for the server's reply.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.stream.next().await {}
        })
        .await;
    }

    /// Drops the TCP connection without a close handshake.
    pub fn drop_abruptly(self) {
        drop(self);
    }
}

fn fastid() -> String {
    uuid::Uuid::now_v7().simple().to_string()[20..].to_owned()
}
