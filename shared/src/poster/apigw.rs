//! API Gateway Management API poster: `PostToConnection` on the WebSocket API's management
//! endpoint, with its errors mapped to [`PostError`].

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::config::http::HttpResponse;
use aws_sdk_apigatewaymanagement::config::retry::RetryConfig;
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, SdkError};
use aws_sdk_apigatewaymanagement::primitives::Blob;

use super::{PostError, Poster};
use crate::ids::ConnectionId;

/// Posts frames to WebSocket connections through the API Gateway Management API.
///
/// **The SDK's own retries are disabled** ([`RetryConfig::disabled`]): every call is exactly
/// one HTTP request. Fan-out retries `Throttled` and `Transient` failures itself, with jittered
/// backoff bounded by the Lambda's remaining time, and must see every failure at once; SDK
/// retries underneath would multiply attempts and hide how long a post really took.
#[derive(Debug, Clone)]
pub struct ApiGatewayPoster {
    client: Client,
}

impl ApiGatewayPoster {
    /// A poster for the management endpoint `endpoint_url`: `https://{domain}/{stage}` on AWS
    /// (`https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`), or a local or test
    /// server's URL including the stage path. The endpoint is per API, so it overrides any
    /// endpoint in `sdk`; region and credentials come from `sdk`. SDK retries are disabled
    /// (see the type's documentation).
    pub fn new(sdk: &SdkConfig, endpoint_url: impl Into<String>) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint_url)
            .retry_config(RetryConfig::disabled())
            .build();
        Self {
            client: Client::from_conf(config),
        }
    }

    /// A poster over an existing client, used as configured (callers should disable its
    /// retries as [`ApiGatewayPoster::new`] does).
    pub fn from_client(client: Client) -> Self {
        Self { client }
    }

    /// The management API client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Disconnects `connection` (`DeleteConnection`). A connection that is already gone is
    /// not an error; other failures map as for [`Poster::post`].
    pub async fn delete_connection(&self, connection: &ConnectionId) -> Result<(), PostError> {
        match self
            .client
            .delete_connection()
            .connection_id(connection.as_str())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let service = e.as_service_error();
                let kind = classify(
                    &e,
                    service.is_some_and(|s| s.is_gone_exception()),
                    service.is_some_and(|s| s.is_limit_exceeded_exception()),
                    false,
                    service.is_some_and(|s| s.is_forbidden_exception()),
                );
                match kind {
                    PostError::Gone => Ok(()),
                    other => Err(other),
                }
            }
        }
    }
}

/// Maps an SDK failure to a [`PostError`]: the modelled exception if the service sent one,
/// otherwise the HTTP status (410 Gone, 429 Throttled, 413 PayloadTooLarge, 403 Forbidden,
/// anything else Transient); no response at all (timeout, dispatch failure, unreadable
/// response, request construction) is Transient.
fn classify<E>(
    e: &SdkError<E, HttpResponse>,
    gone: bool,
    throttled: bool,
    too_large: bool,
    forbidden: bool,
) -> PostError
where
    E: std::error::Error + 'static,
{
    if gone {
        return PostError::Gone;
    }
    if throttled {
        return PostError::Throttled;
    }
    if too_large {
        return PostError::PayloadTooLarge;
    }
    if forbidden {
        return PostError::Forbidden;
    }
    if let SdkError::ServiceError(ctx) = e {
        let status = ctx.raw().status().as_u16();
        return match status {
            410 => PostError::Gone,
            429 => PostError::Throttled,
            413 => PostError::PayloadTooLarge,
            403 => PostError::Forbidden,
            _ => PostError::Transient(format!("HTTP {status}: {}", DisplayErrorContext(e))),
        };
    }
    PostError::Transient(DisplayErrorContext(e).to_string())
}

#[async_trait]
impl Poster for ApiGatewayPoster {
    /// `PostToConnection` with `data` as the frame. Errors: `GoneException`/410 →
    /// [`PostError::Gone`]; `LimitExceededException`/429 → [`PostError::Throttled`];
    /// `PayloadTooLargeException`/413 → [`PostError::PayloadTooLarge`];
    /// `ForbiddenException`/403 → [`PostError::Forbidden`]; 5xx, other statuses, timeouts and
    /// transport failures → [`PostError::Transient`]. One request, never retried here.
    async fn disconnect(&self, connection: &ConnectionId) -> Result<(), PostError> {
        self.delete_connection(connection).await
    }

    async fn post(&self, connection: &ConnectionId, data: &[u8]) -> Result<(), PostError> {
        match self
            .client
            .post_to_connection()
            .connection_id(connection.as_str())
            .data(Blob::new(data))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let service = e.as_service_error();
                Err(classify(
                    &e,
                    service.is_some_and(|s| s.is_gone_exception()),
                    service.is_some_and(|s| s.is_limit_exceeded_exception()),
                    service.is_some_and(|s| s.is_payload_too_large_exception()),
                    service.is_some_and(|s| s.is_forbidden_exception()),
                ))
            }
        }
    }
}
