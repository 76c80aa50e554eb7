//! The `ws-default` Lambda: the WebSocket API's `$default` route (every client frame).
//! All it does is in [`banter::functions`]; this file only names the function.

use banter::functions::{Error, Function};

#[tokio::main]
async fn main() -> Result<(), Error> {
    Function::WsDefault.run().await
}
