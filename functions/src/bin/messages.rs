//! The `messages` Lambda: API Gateway HTTP API routes of messages (history, edits, reactions, receipts).
//! All it does is in [`banter::functions`]; this file only names the function.

use banter::functions::{Error, Function, RestFunction};

#[tokio::main]
async fn main() -> Result<(), Error> {
    Function::Rest(RestFunction::Messages).run().await
}
