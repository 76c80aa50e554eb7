//! The stack the cost benchmark measures: moto (see [`moto`](super::moto)), the AWS request
//! meter in front of it, and the local gateway in this process with DynamoDB storage and the
//! SQS fan-out queue on that moto through the meter (tables and queue created fresh, with a
//! prefix of their own), rate limits no run reaches, and connections that never time out.

use std::time::Duration;

use banter::fanout::FanoutConfig;
use banter_local::{Gateway, GatewayConfig, QueueBackend, RunningGateway, Storage};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::meter::Meter;
use super::moto::Moto;
use crate::BoxError;
use crate::clients;

/// How the measured stack differs from the defaults.
#[derive(Debug, Clone)]
pub struct StackSettings {
    /// Delay of every `PostToConnection` (the round trip to API Gateway; see
    /// `Limits::post_latency`).
    pub post_latency: Duration,
    /// Fan-out tuning (the production defaults unless changed).
    pub fanout: FanoutConfig,
    /// A moto (or DynamoDB/SQS) endpoint to use instead of starting moto.
    pub aws_endpoint: Option<String>,
    /// Whether closed sockets invoke `$disconnect` (off when it is not measured, so that
    /// closing a large audience at once does not flood moto).
    pub deliver_disconnect: bool,
}

/// The running stack. Stop it with [`Stack::stop`].
#[derive(Debug)]
pub struct Stack {
    /// The gateway (its `invocations()` and `posts()` are counted too).
    pub gateway: RunningGateway,
    /// The meter every DynamoDB and SQS request goes through.
    pub meter: Meter,
    moto: Moto,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl Stack {
    /// Starts moto (or uses the endpoint given), the meter and the gateway.
    pub async fn start(settings: &StackSettings) -> Result<Self, BoxError> {
        clients::raise_open_files();
        let moto = Moto::start_or_use(settings.aws_endpoint.as_deref()).await?;
        // The random tail of a UUID v7: tables and queue of their own per run.
        let id = banter::ids::UserId::new().to_string().replace('-', "");
        let prefix = format!("cost-{}", &id[id.len().saturating_sub(12)..]);
        let meter = Meter::start(moto.endpoint(), &prefix).await?;
        let config = GatewayConfig {
            rest_addr: "127.0.0.1:0".parse()?,
            ws_addr: "127.0.0.1:0".parse()?,
            limits: clients::bench_limits(settings.post_latency),
            app: clients::unlimited_rates(),
            fanout: settings.fanout.clone(),
            deliver_disconnect: settings.deliver_disconnect,
            aws_endpoint: Some(meter.url()),
            storage: Storage::DynamoDb {
                table_prefix: prefix.clone(),
                create_tables: true,
            },
            queue: QueueBackend::Sqs {
                queue_url: None,
                queue_name: format!("{prefix}-fanout"),
            },
            ..GatewayConfig::default()
        };
        let gateway = Gateway::start(config).await?;
        Ok(Self {
            gateway,
            meter,
            moto,
            http: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// `POST /v1/events/{event}/comments` as the holder of `token`; returns the comment id.
    pub async fn post_comment(
        &self,
        token: &str,
        event: &str,
        content: &str,
    ) -> Result<String, BoxError> {
        let request = hyper::Request::builder()
            .method("POST")
            .uri(format!(
                "{}/v1/events/{event}/comments",
                self.gateway.rest_url()
            ))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                json!({ "content": content }).to_string(),
            )))?;
        let answer = self.http.request(request).await?;
        let status = answer.status();
        let body = answer.into_body().collect().await?.to_bytes();
        if status.as_u16() != 201 {
            return Err(format!(
                "posting a comment: {status} {}",
                String::from_utf8_lossy(&body)
            )
            .into());
        }
        let v: Value = serde_json::from_slice(&body)?;
        v["comment_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no comment_id in {v}").into())
    }

    /// Stops the gateway, the meter and (if started here) moto.
    pub async fn stop(self) {
        self.gateway.shutdown().await;
        self.meter.stop().await;
        self.moto.stop().await;
    }
}
