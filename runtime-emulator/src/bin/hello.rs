//! The cold-start floor: a hello-world `lambda_runtime` function with nothing to initialise.
//! Cold-start measurements compare every Banter function with it
//! (`cargo run --release -p banter-runtime-emulator --example cold-start`).
//!
//! It answers every event with `{"message": "hello", "request_id": …}`, and fails the
//! invocation (a handler error, posted to `/error`) when the event is `{"fail": true}`, so the
//! emulator's error path can be tested with it too.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        if event.payload.get("fail") == Some(&Value::Bool(true)) {
            return Err(Error::from("asked to fail"));
        }
        Ok::<Value, Error>(json!({ "message": "hello", "request_id": event.context.request_id }))
    }))
    .await
}
