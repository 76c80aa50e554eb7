//! AWS SDK configuration. Every client Banter builds takes its endpoint URL, region and
//! credentials from here, so the same code talks to AWS, to moto, or to the local gateway.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// Where and as whom the SDK clients connect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// Endpoint override (`http://127.0.0.1:5000` for moto); `None` for AWS itself.
    pub endpoint_url: Option<String>,
    /// Region; `None` for the environment's.
    pub region: Option<String>,
    /// Static credentials; `None` for the environment's provider chain (the Lambda role).
    pub credentials: Option<StaticCredentials>,
}

/// A fixed access key, for tests and local endpoints.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl AwsSettings {
    /// Settings for a local endpoint (moto, the local gateway) with throwaway credentials.
    pub fn local(endpoint_url: impl Into<String>) -> Self {
        Self {
            endpoint_url: Some(endpoint_url.into()),
            region: Some("us-east-1".into()),
            credentials: Some(StaticCredentials {
                access_key_id: "testing".into(),
                secret_access_key: "testing".into(),
            }),
        }
    }

    /// Loads the shared SDK configuration these settings describe.
    pub async fn load(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(c) = &self.credentials {
            loader = loader.credentials_provider(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                None,
                None,
                "banter-static",
            ));
        }
        loader.load().await
    }
}
