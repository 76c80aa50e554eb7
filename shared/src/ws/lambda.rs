//! The `ws-default` function's wiring: the [`App`] and the Management API poster built from
//! the environment, and each invocation handed to [`router::handle`](super::router::handle).
//!
//! The poster is built once the management endpoint is known: at start when
//! `WEBSOCKET_MANAGEMENT_ENDPOINT` is set, otherwise from the first event
//! ([`management_endpoint`](super::management_endpoint)), so a cold start never waits for it.

use std::sync::OnceLock;

use aws_config::SdkConfig;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use lambda_runtime::LambdaEvent;

use crate::app::App;
use crate::aws::AwsSettings;
use crate::env;
use crate::error::AppError;
use crate::poster::apigw::ApiGatewayPoster;

/// No management endpoint: neither configured nor derivable from the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no management endpoint: set WEBSOCKET_MANAGEMENT_ENDPOINT")]
pub struct NoManagementEndpoint;

/// The `$default` route of a deployed function. See the [module documentation](self).
pub struct DefaultRoute {
    app: App,
    sdk: SdkConfig,
    poster: OnceLock<ApiGatewayPoster>,
}

impl DefaultRoute {
    /// The route of the deployed function: [`App::from_sdk`] and, when
    /// `WEBSOCKET_MANAGEMENT_ENDPOINT` is set, its poster.
    pub async fn from_env() -> Result<Self, AppError> {
        let sdk = AwsSettings::default().load().await;
        let app = App::from_sdk(&sdk, crate::functions::Function::WsDefault.key_role())?;
        let poster = OnceLock::new();
        if let Some(endpoint) = env::optional(env::process, "WEBSOCKET_MANAGEMENT_ENDPOINT") {
            tracing::info!(%endpoint, "management endpoint from WEBSOCKET_MANAGEMENT_ENDPOINT");
            let _ = poster.set(ApiGatewayPoster::new(&sdk, endpoint));
        }
        Ok(Self { app, sdk, poster })
    }

    /// Handles one invocation. Fails only when there is no way to answer the caller.
    pub async fn handle(
        &self,
        event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
    ) -> Result<ApiGatewayProxyResponse, NoManagementEndpoint> {
        let poster = self.poster(&event.payload)?;
        Ok(super::router::handle(&self.app, poster, event.payload).await)
    }

    /// The poster, built from the first event's endpoint when none was configured.
    fn poster(
        &self,
        request: &ApiGatewayWebsocketProxyRequest,
    ) -> Result<&ApiGatewayPoster, NoManagementEndpoint> {
        if let Some(p) = self.poster.get() {
            return Ok(p);
        }
        let region = self.sdk.region().map(|r| r.as_ref());
        let endpoint = super::management_endpoint(request, region).ok_or(NoManagementEndpoint)?;
        Ok(self.poster.get_or_init(|| {
            tracing::info!(%endpoint, "management endpoint from the first event");
            ApiGatewayPoster::new(&self.sdk, endpoint)
        }))
    }
}
