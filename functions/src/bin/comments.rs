//! The `comments` Lambda: API Gateway HTTP API routes of comments, replies, likes and moderation.
//! All it does is in [`banter::functions`]; this file only names the function.

use banter::functions::{Error, Function, RestFunction};

#[tokio::main]
async fn main() -> Result<(), Error> {
    Function::Rest(RestFunction::Comments).run().await
}
