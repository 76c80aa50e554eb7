//! SQS queue.
