//! A TCP proxy in front of moto that models DynamoDB's network and service latency: each
//! request (each chunk a client sends) waits `latency` before it is forwarded. moto answers
//! in about a millisecond and, with its DynamoDB lock, one request at a time; DynamoDB
//! answers single-item writes in single-digit milliseconds and transactions in about ten,
//! many at once. Requests wait here concurrently, outside moto's lock, so the latency
//! overlaps as it would against DynamoDB, and only moto's own service time is serialised.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::BoxError;

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct LatencyProxy {
    url: String,
    requests: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl LatencyProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, latency: Duration) -> Result<Self, BoxError> {
        let target = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let requests = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let target = target.clone();
                let counted = Arc::clone(&counted);
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&target).await {
                        let _ = pipe(client, server, latency, &counted).await;
                    }
                });
            }
        });
        Ok(Self {
            url,
            requests,
            task,
        })
    }

    /// The endpoint to give the SDK.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// HTTP requests forwarded so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies both ways; client chunks wait `latency` first (a chunk that starts a request is
/// counted).
async fn pipe(
    client: TcpStream,
    server: TcpStream,
    latency: Duration,
    requests: &AtomicU64,
) -> std::io::Result<()> {
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = client_rx.read(&mut buf).await?;
            if n == 0 {
                return server_tx.shutdown().await;
            }
            if buf[..n].starts_with(b"POST ") {
                requests.fetch_add(1, Ordering::Relaxed);
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
            }
            server_tx.write_all(&buf[..n]).await?;
        }
    };
    let down = async {
        tokio::io::copy(&mut server_rx, &mut client_tx).await?;
        client_tx.shutdown().await
    };
    let (a, b) = tokio::join!(up, down);
    a.and(b)
}
