//! What the Lambda service knows about a function: its name, memory, timeout and environment.

use std::collections::BTreeMap;
use std::time::Duration;

/// A function as deployed: the settings Lambda turns into the process's environment and the
/// invocation headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    /// Function name (`AWS_LAMBDA_FUNCTION_NAME`, part of the ARN and log group).
    pub name: String,
    /// Memory in MB (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
    pub memory_mb: u32,
    /// Invocation timeout: the deadline sent with each event, and how long an invocation may
    /// run before it counts as timed out.
    pub timeout: Duration,
    /// Version (`AWS_LAMBDA_FUNCTION_VERSION`), `$LATEST` by default.
    pub version: String,
    /// Region (`AWS_REGION`, `AWS_DEFAULT_REGION`, the ARN).
    pub region: String,
    /// Account id in the ARN.
    pub account_id: String,
    /// The function's own environment variables (set after, so over, Lambda's).
    pub env: BTreeMap<String, String>,
}

impl FunctionConfig {
    /// A function named `name` with Lambda's defaults: 128 MB, 3 s, `$LATEST`, `us-east-1`,
    /// account `123456789012`, no variables of its own.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            version: "$LATEST".into(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            env: BTreeMap::new(),
        }
    }

    /// With `memory_mb` of memory.
    pub fn memory_mb(mut self, memory_mb: u32) -> Self {
        self.memory_mb = memory_mb;
        self
    }

    /// With an invocation timeout of `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// In `region`.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// With the environment variable `name=value`.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// With every `(name, value)` of `vars` as environment variables.
    pub fn envs<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The function's ARN (`Lambda-Runtime-Invoked-Function-Arn`).
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.name
        )
    }

    /// The function's log group, `/aws/lambda/<name>`.
    pub fn log_group(&self) -> String {
        format!("/aws/lambda/{}", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_and_log_group() {
        let f = FunctionConfig::new("auth").region("eu-west-1");
        assert_eq!(
            f.arn(),
            "arn:aws:lambda:eu-west-1:123456789012:function:auth"
        );
        assert_eq!(f.log_group(), "/aws/lambda/auth");
        let f = f.env("A", "1").envs([("B", "2")]).memory_mb(512);
        assert_eq!(f.env.len(), 2);
        assert_eq!(f.memory_mb, 512);
    }
}
