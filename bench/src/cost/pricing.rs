//! The public prices the cost model uses (AWS, US East (N. Virginia), on-demand, first
//! pricing tier, no free tier), the date they were checked and where they come from; and
//! each function's memory and architecture, read from `template.yaml`.

use std::collections::BTreeMap;
use std::path::Path;

use banter_deployment::Deployment;
use serde::{Deserialize, Serialize};

use crate::BoxError;

/// Prices in US dollars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    /// When these figures were checked.
    pub checked: String,
    /// The region they are for.
    pub region: String,
    /// DynamoDB on demand (Standard table class), per million write request units.
    pub dynamodb_per_million_wru: f64,
    /// DynamoDB on demand (Standard table class), per million read request units.
    pub dynamodb_per_million_rru: f64,
    /// SQS standard queue, per million requests (each 64 KB chunk of payload is one).
    pub sqs_per_million_requests: f64,
    /// Lambda, per million requests.
    pub lambda_per_million_requests: f64,
    /// Lambda duration on arm64, per GB-second (first 7.5 billion GB-s a month).
    pub lambda_arm64_per_gb_second: f64,
    /// Lambda duration on x86_64, per GB-second (first 6 billion GB-s a month).
    pub lambda_x86_per_gb_second: f64,
    /// API Gateway WebSocket API, per million messages (32 KB each; first billion a month).
    pub websocket_per_million_messages: f64,
    /// API Gateway WebSocket API, per million connection minutes.
    pub websocket_per_million_connection_minutes: f64,
    /// API Gateway HTTP API, per million requests (512 KB each; first 300 million a month).
    pub http_api_per_million_requests: f64,
    /// Data transfer out to the internet, per GB (first 10 TB a month after the free 100 GB).
    pub data_transfer_out_per_gb: f64,
    /// Where each figure comes from.
    pub sources: Vec<String>,
}

impl Prices {
    /// The figures this benchmark uses.
    pub fn current() -> Self {
        Self {
            checked: "2026-11-21".into(),
            region: "us-east-1".into(),
            dynamodb_per_million_wru: 0.625,
            dynamodb_per_million_rru: 0.125,
            sqs_per_million_requests: 0.40,
            lambda_per_million_requests: 0.20,
            lambda_arm64_per_gb_second: 0.000_013_333_4,
            lambda_x86_per_gb_second: 0.000_016_666_7,
            websocket_per_million_messages: 1.00,
            websocket_per_million_connection_minutes: 0.25,
            http_api_per_million_requests: 1.00,
            data_transfer_out_per_gb: 0.09,
            sources: vec![
                "DynamoDB on-demand: https://aws.amazon.com/dynamodb/pricing/on-demand/ \
                 ($0.625 per million WRU, $0.125 per million RRU since the 50% on-demand \
                 price cut of 1 November 2024)"
                    .into(),
                "SQS: https://aws.amazon.com/sqs/pricing/ (standard queues, $0.40 per \
                 million requests for the first 100 billion a month; 64 KB chunks)"
                    .into(),
                "Lambda: https://aws.amazon.com/lambda/pricing/ ($0.20 per million \
                 requests; Arm $0.0000133334 and x86 $0.0000166667 per GB-second; 1 ms \
                 billing granularity)"
                    .into(),
                "API Gateway: https://aws.amazon.com/api-gateway/pricing/ (WebSocket: $1.00 \
                 per million messages for the first billion, metered in 32 KB increments, \
                 $0.25 per million connection minutes; HTTP API: $1.00 per million requests \
                 for the first 300 million, metered in 512 KB increments)"
                    .into(),
                "Data transfer out to the internet: https://aws.amazon.com/ec2/pricing/on-demand/ \
                 ($0.09 per GB for the first 10 TB a month)"
                    .into(),
            ],
        }
    }

    /// Price per GB-second on `architecture` (`arm64` or `x86_64`).
    pub fn per_gb_second(&self, architecture: &str) -> f64 {
        if architecture == "arm64" {
            self.lambda_arm64_per_gb_second
        } else {
            self.lambda_x86_per_gb_second
        }
    }
}

/// Each function's `MemorySize` (MB) by its binary name, and the architecture they run on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Functions {
    /// `MemorySize` by binary name (`Metadata.BuildProperties.Binary`).
    pub memory_mb: BTreeMap<String, u64>,
    /// `Architectures` of the functions (`Globals.Function`, unless every function agrees
    /// otherwise): `arm64` or `x86_64`.
    pub architecture: String,
}

impl Functions {
    /// Memory of `binary` (Lambda's default, 128 MB, when the template does not say).
    pub fn memory_of(&self, binary: &str) -> u64 {
        self.memory_mb.get(binary).copied().unwrap_or(128)
    }
}

/// Reads every `AWS::Serverless::Function`'s binary, memory and architecture from the
/// template at `path`.
pub fn functions(path: &Path) -> Result<Functions, BoxError> {
    let deployment = Deployment::load(path)?;
    from_deployment(&deployment).ok_or_else(|| format!("no functions in {}", path.display()).into())
}

/// Every function's binary and memory, and the architecture they run on (`Globals.Function`'s,
/// unless every function agrees otherwise; x86_64 when nothing says), from the deployment
/// model. `None` when it has no function.
pub fn from_deployment(deployment: &Deployment) -> Option<Functions> {
    let globals = banter_deployment::document::path(&deployment.document, &["Globals", "Function"]);
    let global_architecture = globals
        .and_then(|g| g.get("Architectures"))
        .map(|v| deployment.doc().strings(v))
        .and_then(|a| a.first().cloned());
    let memory_mb: BTreeMap<String, u64> = deployment
        .functions
        .values()
        .map(|f| (f.binary.clone(), u64::from(f.memory_mb)))
        .collect();
    if memory_mb.is_empty() {
        return None;
    }
    // Each function's `Architectures` has `Globals` applied already.
    let mut architectures = deployment
        .functions
        .values()
        .map(|f| f.architectures.first());
    let first = architectures.next().flatten();
    let architecture = match first {
        Some(a) if architectures.all(|x| x == Some(a)) => a.clone(),
        _ => global_architecture.unwrap_or_else(|| "x86_64".into()),
    };
    Some(Functions {
        memory_mb,
        architecture,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_template_gives_every_function_its_memory() {
        let f = functions(&super::super::moto::repository_root().join("template.yaml"));
        let f = f.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.architecture, "arm64");
        assert_eq!(f.memory_of("comments"), 256);
        assert_eq!(f.memory_of("fanout"), 512);
        assert_eq!(f.memory_of("ws-connect"), 256);
        assert!(f.memory_mb.len() >= 11, "{:?}", f.memory_mb);
        let p = Prices::current();
        assert!(p.per_gb_second("arm64") < p.per_gb_second("x86_64"));
    }

    #[test]
    fn the_architecture_is_the_globals_unless_every_function_agrees_otherwise() {
        let read = |a: &str, b: &str| {
            let text = format!(
                "Globals: {{Function: {{Architectures: [arm64], MemorySize: 256}}}}\n\
                 Resources:\n  \
                   A: {{Type: AWS::Serverless::Function, \
                        Metadata: {{BuildProperties: {{Binary: a}}}}, Properties: {a}}}\n  \
                   B: {{Type: AWS::Serverless::Function, \
                        Metadata: {{BuildProperties: {{Binary: b}}}}, Properties: {b}}}\n"
            );
            from_deployment(&Deployment::parse(&text).unwrap()).unwrap()
        };
        let f = read("{}", "{MemorySize: 1024}");
        assert_eq!(f.architecture, "arm64");
        assert_eq!((f.memory_of("a"), f.memory_of("b")), (256, 1024));
        assert_eq!(
            read("{Architectures: [x86_64]}", "{}").architecture,
            "arm64"
        );
        let x86 = "{Architectures: [x86_64]}";
        assert_eq!(read(x86, x86).architecture, "x86_64");
        assert!(from_deployment(&Deployment::parse("Resources: {}").unwrap()).is_none());
    }
}
