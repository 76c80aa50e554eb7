//! API Gateway Management API poster.
