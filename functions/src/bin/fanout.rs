//! The `fanout` Lambda: the fan-out, triggered by the fan-out and shard SQS queues (`ReportBatchItemFailures`).
//! All it does is in [`banter::functions`]; this file only names the function.

use banter::functions::{Error, Function};

#[tokio::main]
async fn main() -> Result<(), Error> {
    Function::Fanout.run().await
}
