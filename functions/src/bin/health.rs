//! The `health` Lambda: API Gateway HTTP API route `GET /v1/health`.
//! All it does is in [`banter::functions`]; this file only names the function.

use banter::functions::{Error, Function, RestFunction};

#[tokio::main]
async fn main() -> Result<(), Error> {
    Function::Rest(RestFunction::Health).run().await
}
