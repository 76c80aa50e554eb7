//! The `media` Lambda: checks uploads, triggered by the media bucket's object-created events.
//! All it does is in [`banter::functions`]; this file only names the function.

use banter::functions::{Error, Function};

#[tokio::main]
async fn main() -> Result<(), Error> {
    Function::Media.run().await
}
