//! DynamoDB store adapters.

pub mod tables;
