//! What the fan-out function reads, from the template: its queues and their event sources.

use banter::functions::Function;

use crate::start_error::StartError;
use crate::template::{self, Deployment};

/// Which queues the fan-out function reads, from the template: the fan-out queue (the queue
/// of `FANOUT_QUEUE_URL`) and, when `FANOUT_SHARD_QUEUE_URL` names another queue, the shard
/// queue; each with its enabled event source.
pub(crate) struct FanoutPlan {
    pub(crate) function: banter_deployment::Function,
    pub(crate) queue: template::Queue,
    pub(crate) source: template::EventSource,
    pub(crate) shard_queue: Option<template::Queue>,
    pub(crate) shard_source: Option<template::EventSource>,
}

impl FanoutPlan {
    /// The plan of `template`'s fan-out function (the one with an enabled SQS event source).
    pub(crate) fn of(template: &Deployment) -> Result<Self, StartError> {
        let sources: Vec<&template::EventSource> = template
            .event_sources
            .iter()
            .filter(|s| {
                s.enabled && template::handler_of(template, &s.function) == Some(Function::Fanout)
            })
            .collect();
        let first = sources.first().ok_or_else(|| {
            StartError::Setup("the fan-out's SQS event source is disabled".into())
        })?;
        let function = template
            .function(&first.function)
            .cloned()
            .ok_or_else(|| StartError::Setup(format!("no function {}", first.function)))?;
        let source_of = |queue: &str| {
            sources
                .iter()
                .find(|s| s.queue == queue && s.function == function.logical_id)
                .map(|s| (*s).clone())
                .ok_or_else(|| {
                    StartError::Setup(format!(
                        "{} has no enabled SQS event source on queue {queue}",
                        function.logical_id
                    ))
                })
        };
        let queue_def = |id: &str| {
            template
                .queues
                .get(id)
                .cloned()
                .ok_or_else(|| StartError::Setup(format!("no queue {id}")))
        };
        let queue_id = function
            .queue_variables
            .get("FANOUT_QUEUE_URL")
            .cloned()
            .unwrap_or_else(|| first.queue.clone());
        let shard_id = function
            .queue_variables
            .get("FANOUT_SHARD_QUEUE_URL")
            .filter(|id| **id != queue_id)
            .cloned();
        Ok(Self {
            queue: queue_def(&queue_id)?,
            source: source_of(&queue_id)?,
            shard_queue: shard_id.as_deref().map(queue_def).transpose()?,
            shard_source: shard_id.as_deref().map(source_of).transpose()?,
            function,
        })
    }
}
