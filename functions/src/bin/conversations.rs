//! The `conversations` Lambda: API Gateway HTTP API routes `/v1/conversations*` (conversations, participants).
//! All it does is in [`banter::functions`]; this file only names the function.

use banter::functions::{Error, Function, RestFunction};

#[tokio::main]
async fn main() -> Result<(), Error> {
    Function::Rest(RestFunction::Conversations).run().await
}
