//! The `uploads` Lambda: API Gateway HTTP API routes of media uploads (presigned POSTs, checks).
//! All it does is in [`banter::functions`]; this file only names the function.

use banter::functions::{Error, Function, RestFunction};

#[tokio::main]
async fn main() -> Result<(), Error> {
    Function::Rest(RestFunction::Uploads).run().await
}
