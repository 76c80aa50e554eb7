//! The `events` Lambda: API Gateway HTTP API routes `/v1/events*` (live events and their status).
//! All it does is in [`banter::functions`]; this file only names the function.

use banter::functions::{Error, Function, RestFunction};

#[tokio::main]
async fn main() -> Result<(), Error> {
    Function::Rest(RestFunction::Events).run().await
}
