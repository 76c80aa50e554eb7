//! SQS queues and the event source mappings that feed functions from them.

use std::time::Duration;

use serde_yaml_ng::Value;

use crate::document::get;
use crate::reader::Reader;

/// SQS's default visibility timeout.
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);

/// The default `BatchSize` of an SQS event source.
pub const DEFAULT_BATCH_SIZE: usize = 10;

/// An SQS queue of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// Logical id.
    pub logical_id: String,
    /// `VisibilityTimeout`.
    pub visibility_timeout: Duration,
    /// `RedrivePolicy.maxReceiveCount`, when it has a redrive policy.
    pub max_receive_count: Option<u32>,
    /// Logical id of the `RedrivePolicy.deadLetterTargetArn` queue.
    pub dead_letter_queue: Option<String>,
}

/// An SQS event source mapping (a function's `SQS` event or an
/// `AWS::Lambda::EventSourceMapping`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSource {
    /// Logical id of the function it invokes.
    pub function: String,
    /// The event's name, or the mapping's logical id.
    pub name: String,
    /// Logical id of the queue it reads.
    pub queue: String,
    /// `BatchSize`.
    pub batch_size: usize,
    /// `MaximumBatchingWindowInSeconds`.
    pub max_batching_window: Duration,
    /// `FunctionResponseTypes`.
    pub response_types: Vec<String>,
    /// Whether `FunctionResponseTypes` holds `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
    /// `Enabled` (default true).
    pub enabled: bool,
}

impl Reader<'_> {
    /// Reads a function's `SQS` event; returns the queue it reads when that is a queue of the
    /// template.
    pub(crate) fn read_sqs_event(
        &mut self,
        function: &str,
        name: &str,
        props: Option<&Value>,
    ) -> Option<String> {
        let doc = self.doc;
        let Some(props) = props else {
            self.problem(format!(
                "function {function}, event {name}: an SQS event needs Properties.Queue"
            ));
            return None;
        };
        let queue = match get(props, "Queue").map(|q| doc.reference_to(q, &["AWS::SQS::Queue"])) {
            Some(Ok(q)) => q,
            Some(Err(e)) => {
                self.problem(format!(
                    "function {function}, event {name}: Queue {e} of the template"
                ));
                return None;
            }
            None => {
                self.problem(format!(
                    "function {function}, event {name}: an SQS event needs Properties.Queue"
                ));
                return None;
            }
        };
        self.push_event_source(function, name, queue.clone(), props);
        Some(queue)
    }

    fn push_event_source(&mut self, function: &str, name: &str, queue: String, props: &Value) {
        let doc = self.doc;
        let batch_size = match doc.number(get(props, "BatchSize")) {
            None => DEFAULT_BATCH_SIZE,
            Some(Ok(n)) => usize::try_from(n).unwrap_or(usize::MAX),
            Some(Err(e)) => {
                self.problem(format!("function {function}, event {name}: BatchSize {e}"));
                DEFAULT_BATCH_SIZE
            }
        };
        let window = match doc.number(get(props, "MaximumBatchingWindowInSeconds")) {
            None => Duration::ZERO,
            Some(Ok(n)) => Duration::from_secs(n),
            Some(Err(e)) => {
                self.problem(format!(
                    "function {function}, event {name}: MaximumBatchingWindowInSeconds {e}"
                ));
                Duration::ZERO
            }
        };
        let response_types = get(props, "FunctionResponseTypes")
            .map(|v| doc.strings(v))
            .unwrap_or_default();
        let enabled = get(props, "Enabled")
            .and_then(|v| doc.scalar(v))
            .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
        self.out.event_sources.push(EventSource {
            function: function.to_owned(),
            name: name.to_owned(),
            queue,
            batch_size,
            max_batching_window: window,
            report_batch_item_failures: response_types
                .iter()
                .any(|t| t == "ReportBatchItemFailures"),
            response_types,
            enabled,
        });
    }

    pub(crate) fn read_event_source_mappings(&mut self) {
        let doc = self.doc;
        for (id, resource) in doc.resources_of("AWS::Lambda::EventSourceMapping") {
            let Some(props) = get(resource, "Properties") else {
                continue;
            };
            let queue =
                get(props, "EventSourceArn").map(|v| doc.reference_to(v, &["AWS::SQS::Queue"]));
            let Some(Ok(queue)) = queue else {
                self.problem(format!(
                    "event source mapping {id}: EventSourceArn is not a queue of the template; \
                     only SQS event sources are emulated"
                ));
                continue;
            };
            match get(props, "FunctionName")
                .map(|v| doc.reference_to(v, &["AWS::Serverless::Function"]))
            {
                Some(Ok(function)) => self.push_event_source(&function, &id, queue, props),
                Some(Err(e)) => self.problem(format!(
                    "event source mapping {id}: FunctionName {e} of the template"
                )),
                None => self.problem(format!("event source mapping {id}: no FunctionName")),
            }
        }
    }

    pub(crate) fn read_queues(&mut self) {
        let doc = self.doc;
        for (id, resource) in doc.resources_of("AWS::SQS::Queue") {
            let props = get(resource, "Properties");
            let visibility_timeout =
                match doc.number(props.and_then(|p| get(p, "VisibilityTimeout"))) {
                    None => DEFAULT_VISIBILITY_TIMEOUT,
                    Some(Ok(n)) => Duration::from_secs(n),
                    Some(Err(e)) => {
                        self.problem(format!("queue {id}: VisibilityTimeout {e}"));
                        DEFAULT_VISIBILITY_TIMEOUT
                    }
                };
            let (max_receive_count, dead_letter_queue) = match props
                .and_then(|p| get(p, "RedrivePolicy"))
            {
                None => (None, None),
                Some(r) => {
                    let count = match doc.number(get(r, "maxReceiveCount")) {
                        Some(Ok(n)) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
                        Some(Err(e)) => {
                            self.problem(format!("queue {id}: RedrivePolicy.maxReceiveCount {e}"));
                            None
                        }
                        None => {
                            self.problem(format!(
                                "queue {id}: RedrivePolicy has no maxReceiveCount"
                            ));
                            None
                        }
                    };
                    let dlq = get(r, "deadLetterTargetArn")
                        .and_then(|v| doc.reference_to(v, &["AWS::SQS::Queue"]).ok());
                    (count, dlq)
                }
            };
            self.out.queues.insert(
                id.clone(),
                Queue {
                    logical_id: id,
                    visibility_timeout,
                    max_receive_count,
                    dead_letter_queue,
                },
            );
        }
    }
}
