//! The `ws-connect` Lambda: the WebSocket API's `$connect` route.
//! All it does is in [`banter::functions`]; this file only names the function.

use banter::functions::{Error, Function};

#[tokio::main]
async fn main() -> Result<(), Error> {
    Function::WsConnect.run().await
}
