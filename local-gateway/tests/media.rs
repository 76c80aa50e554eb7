//! On the local stack, with real HTTP and WebSocket clients: media attachments. A real PNG is
//! declared, posted with its presigned form to the gateway's in-memory bucket, checked and
//! thumbnailed by the media function's handler, sent as an image message over the WebSocket
//! and read back over REST with working links; bytes that are not their declared type are
//! rejected and deleted, and a message naming them is refused.

mod support;

use std::time::Duration;

use banter::service::conversations::{self, ConversationInput};
use banter_local::{Gateway, GatewayConfig, RunningGateway};
use banter_testkit::http;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(10);

async fn gateway() -> RunningGateway {
    Gateway::start(GatewayConfig {
        rest_addr: "127.0.0.1:0".parse().expect("address"),
        ws_addr: "127.0.0.1:0".parse().expect("address"),
        ..GatewayConfig::default()
    })
    .await
    .expect("the gateway starts")
}

async fn call(
    gw: &RunningGateway,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, _, text) = support::exchange(gw.rest_addr, method, path, Some(token), &body).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([(x * 7 % 256) as u8, (y * 5 % 256) as u8, 90, 255])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("a PNG");
    out.into_inner()
}

/// Declares `bytes` as `content_type`, posts them with the form it gets and waits until the
/// media function has settled the file: its id and its media item.
async fn upload(
    gw: &RunningGateway,
    token: &str,
    content_type: &str,
    bytes: &[u8],
) -> (String, Value) {
    let (status, ticket) = call(
        gw,
        "POST",
        "/v1/media/uploads",
        token,
        json!({"message_type": "image", "file_name": "photo.png", "content_type": content_type, "file_size": bytes.len()}),
    )
    .await;
    assert_eq!(status, 201, "{ticket}");
    let id = ticket["file_id"].as_str().expect("an id").to_owned();
    let url = ticket["upload"]["url"].as_str().expect("a url");
    assert!(url.starts_with(&gw.rest_url()), "{url}");
    let fields = serde_json::from_value(ticket["upload"]["fields"].clone()).expect("fields");
    let answer = http::post_form(url, &fields, bytes, content_type).await;
    assert_eq!(
        answer.status,
        204,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (status, media) = call(
            gw,
            "GET",
            &format!("/v1/media/uploads/{id}"),
            token,
            Value::Null,
        )
        .await;
        assert_eq!(status, 200, "{media}");
        if media["processing_status"] != "pending" {
            return (id, media);
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} still pending");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_is_checked_thumbnailed_sent_and_read_back_with_working_links() {
    let gw = gateway().await;
    let app = gw.app().clone();
    let (ada, ada_token) = support::registered(&app, "ada", None).await;
    let (bob, bob_token) = support::registered(&app, "bob", None).await;
    let conversation = conversations::create(
        &app,
        ada,
        ConversationInput {
            conversation_type: banter::model::ConversationType::Group,
            title: Some("Photos".into()),
            description: None,
            participant_ids: vec![bob],
        },
    )
    .await
    .expect("a group")
    .view
    .conversation_id;

    let bytes = png(800, 600);
    let (id, media) = upload(&gw, &ada_token, "image/png", &bytes).await;
    assert_eq!(media["processing_status"], "ready", "{media}");
    assert_eq!(media["dimensions"], json!({"width": 800, "height": 600}));
    assert_eq!(media["file_size"], bytes.len());
    // Another user cannot see it.
    let (status, _) = call(
        &gw,
        "GET",
        &format!("/v1/media/uploads/{id}"),
        &bob_token,
        Value::Null,
    )
    .await;
    assert_eq!(status, 404);

    // Sent over the WebSocket: the ack carries the file with links.
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("{}/?token={ada_token}", gw.ws_url()))
            .await
            .expect("connects");
    socket
        .send(Message::text(
            json!({"type": "send_message", "message_id": "m1", "payload": {
                "conversation_id": conversation, "content": "Check out this photo!",
                "client_message_id": "photo-1", "message_type": "image",
                "media_attachments": [{"file_id": id}]}})
            .to_string(),
        ))
        .await
        .expect("sent");
    let ack = loop {
        let frame = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("an answer")
            .expect("open")
            .expect("a frame");
        if let Message::Text(t) = frame {
            let v: Value = serde_json::from_str(&t).expect("JSON");
            if v["type"] == "ack" || v["type"] == "error" {
                break v;
            }
        }
    };
    assert_eq!(ack["type"], "ack", "{ack}");
    let acked = ack.to_string();
    assert!(acked.contains(&id), "{acked}");

    // Bob reads it back over REST, and both links download.
    let (status, history) = call(
        &gw,
        "GET",
        &format!("/v1/conversations/{conversation}/messages"),
        &bob_token,
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{history}");
    let message = &history["messages"][0];
    assert_eq!(message["message_type"], "image");
    let file = &message["media_attachments"][0];
    assert_eq!(file["file_id"], id.as_str());
    assert_eq!(file["file_type"], "image/png");
    assert_eq!(file["dimensions"], json!({"width": 800, "height": 600}));
    let got = http::get(file["file_url"].as_str().expect("a file_url")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.headers["content-type"], "image/png");
    assert_eq!(got.body, bytes);
    let thumb = http::get(file["thumbnail_url"].as_str().expect("a thumbnail_url")).await;
    assert_eq!(thumb.status, 200);
    let thumb = image::load_from_memory(&thumb.body).expect("a decodable thumbnail");
    assert_eq!((thumb.width(), thumb.height()), (320, 240));
    // A link that was tampered with does not download.
    let forged = file["file_url"]
        .as_str()
        .unwrap()
        .replace("signature=", "signature=0");
    assert_eq!(http::get(&forged).await.status, 403);
    assert!(gw.invocations().get("media").is_some_and(|s| s.count >= 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_are_not_their_declared_type_are_rejected_gone_and_refused() {
    let gw = gateway().await;
    let app = gw.app().clone();
    let (ada, ada_token) = support::registered(&app, "ada", None).await;
    let (bob, _) = support::registered(&app, "bob", None).await;
    let conversation = conversations::create(
        &app,
        ada,
        ConversationInput {
            conversation_type: banter::model::ConversationType::Group,
            title: Some("Files".into()),
            description: None,
            participant_ids: vec![bob],
        },
    )
    .await
    .expect("a group")
    .view
    .conversation_id;
    let script = b"<svg onload=alert(1)></svg> not a PNG at all";
    let (id, media) = upload(&gw, &ada_token, "image/png", script).await;
    assert_eq!(media["processing_status"], "rejected", "{media}");
    assert_eq!(media["file_url"], Value::Null);
    // The upload is gone from the bucket: its form's key cannot be downloaded either.
    let link = app
        .objects
        .presign_get(
            &banter::model::media::upload_key(id.parse().unwrap()),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(http::get(&link).await.status, 404);
    let (status, refused) = call(
        &gw,
        "POST",
        &format!("/v1/conversations/{conversation}/messages"),
        &ada_token,
        json!({"content": "look", "client_message_id": "bad-1", "message_type": "image",
               "media_attachments": [{"file_id": id}]}),
    )
    .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "CONFLICT");
    // A form posted outside its policy is refused by the bucket itself.
    let (_, ticket) = call(
        &gw,
        "POST",
        "/v1/media/uploads",
        &ada_token,
        json!({"message_type": "image", "file_name": "p.png", "content_type": "image/png", "file_size": 10}),
    )
    .await;
    let mut fields: std::collections::BTreeMap<String, String> =
        serde_json::from_value(ticket["upload"]["fields"].clone()).unwrap();
    fields.insert("Content-Type".into(), "text/html".into());
    let answer = http::post_form(
        ticket["upload"]["url"].as_str().unwrap(),
        &fields,
        b"<b>x</b>",
        "text/html",
    )
    .await;
    assert_eq!(answer.status, 403);
}
