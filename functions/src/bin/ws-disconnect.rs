//! The `ws-disconnect` Lambda: the WebSocket API's `$disconnect` route.
//! All it does is in [`banter::functions`]; this file only names the function.

use banter::functions::{Error, Function};

#[tokio::main]
async fn main() -> Result<(), Error> {
    Function::WsDisconnect.run().await
}
