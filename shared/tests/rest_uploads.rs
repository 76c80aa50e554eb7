//! The `uploads` function's routes and media on messages, end to end through
//! `banter::http::serve` over the in-memory adapters: a declared upload, its bytes posted as
//! the presigned form allows, checked by the media function's processor, then attached to a
//! message whose views carry working download links.

mod support;

use std::sync::Arc;

use banter::media::process::{MediaProcessor, Outcome};
use banter::objects::memory::{DOWNLOAD_PREFIX, MemoryObjects};
use banter::objects::{ObjectStore, PresignedPost};
use banter::rest::uploads::ROUTES;
use banter::time::now;
use serde_json::{Value, json};
use support::rest::{
    Actor, Call, World, check_errors, check_fields, check_needs_token, check_samples,
    forged_token_for,
};

/// A world whose bucket is a memory store the test can post forms to.
fn world() -> (World, Arc<MemoryObjects>) {
    let objects = Arc::new(MemoryObjects::new("http://media.test"));
    let w = World::new();
    let app = w.app.clone().with_objects(objects.clone());
    (w.with_app(app), objects)
}

fn processor(w: &World) -> MediaProcessor {
    MediaProcessor {
        media: w.app.stores.media.clone(),
        objects: w.app.objects.clone(),
    }
}

/// A `width` × `height` PNG.
fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 200])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn declare(by: &Actor, body: Value) -> Call {
    Call::sample("http-uploads-create").by(by).json(body)
}

fn image_of(size: usize) -> Value {
    json!({"message_type": "image", "file_name": "p.png", "content_type": "image/png", "file_size": size})
}

/// Declares an upload of `bytes` as `kind` / `content_type`, posts them with its form and
/// runs the media function on them: the file id and what processing came to.
async fn uploaded(
    w: &World,
    objects: &MemoryObjects,
    by: &Actor,
    kind: &str,
    content_type: &str,
    bytes: &[u8],
) -> (String, Outcome) {
    let ticket = declare(
        by,
        json!({"message_type": kind, "file_name": "f", "content_type": content_type, "file_size": bytes.len()}),
    )
    .send(w)
    .await
    .expect(201)
    .body;
    let post: PresignedPost = serde_json::from_value(ticket["upload"].clone()).unwrap();
    let key = objects
        .accept_post(&post.fields, bytes.to_vec(), now())
        .expect("the form takes the file");
    let outcome = processor(w).process(key.as_str()).await.expect("processed");
    (ticket["file_id"].as_str().unwrap().to_owned(), outcome)
}

fn get_media(by: &Actor, id: &str) -> Call {
    Call::sample("http-uploads-get")
        .path_param("file_id", id)
        .by(by)
}

async fn group(w: &World, owner: &Actor, members: &[&Actor]) -> String {
    w.group(owner, members).await["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn send_media(conversation: &str, by: &Actor, message_type: &str, files: &[&str]) -> Call {
    let attachments: Vec<Value> = files.iter().map(|f| json!({ "file_id": f })).collect();
    Call::sample("http-messages-send")
        .path_param("conversation_id", conversation)
        .by(by)
        .json(json!({
            "content": "Check out this photo!",
            "client_message_id": uuid::Uuid::now_v7().to_string(),
            "message_type": message_type,
            "media_attachments": attachments,
        }))
}

/// The bytes a presigned GET of the memory store serves.
fn download(objects: &MemoryObjects, url: &str) -> Option<Vec<u8>> {
    let (path, query) = url.split_once('?')?;
    let key = &path[path.find(DOWNLOAD_PREFIX)? + DOWNLOAD_PREFIX.len()..];
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or("")
    };
    objects
        .serve_get(key, param("expires"), param("signature"), now())
        .ok()
        .flatten()
        .map(|o| o.body)
}

#[tokio::test]
async fn samples_are_served() {
    check_samples("uploads", ROUTES).await;
}

#[tokio::test]
async fn every_route_needs_a_token() {
    let (w, _) = world();
    let ada = w.user("ada").await;
    for call in [
        declare(&ada, image_of(10)),
        get_media(&ada, &banter::ids::FileId::new().to_string()),
    ] {
        check_needs_token(&w, &call, &forged_token_for(ada.id)).await;
    }
}

#[tokio::test]
async fn a_declared_upload_is_pending_with_a_form_for_exactly_that_file() {
    let (w, _) = world();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let ticket = declare(&ada, image_of(2048))
        .send(&w)
        .await
        .expect(201)
        .body;
    let id = ticket["file_id"].as_str().unwrap();
    assert_eq!(ticket["processing_status"], "pending");
    assert_eq!(ticket["upload"]["url"], "http://media.test/_objects");
    assert_eq!(ticket["upload"]["fields"]["key"], format!("uploads/{id}"));
    assert_eq!(ticket["upload"]["fields"]["Content-Type"], "image/png");
    assert_eq!(ticket["max_bytes"], banter::model::media::MAX_IMAGE_BYTES);
    let mine = get_media(&ada, id).send(&w).await.expect(200).body;
    assert_eq!(mine["processing_status"], "pending");
    assert_eq!(mine["file_url"], Value::Null);
    // Someone else's file does not exist for them.
    get_media(&bob, id)
        .send(&w)
        .await
        .expect_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn bad_declarations_name_their_field() {
    let (w, _) = world();
    let ada = w.user("ada").await;
    let over = banter::model::media::MAX_IMAGE_BYTES + 1;
    let file_over = banter::model::media::MAX_FILE_BYTES + 1;
    let with = |k: &str, v: Value| {
        let mut body = image_of(100);
        body[k] = v;
        declare(&ada, body)
    };
    check_fields(
        &w,
        vec![
            ("no kind", with("message_type", Value::Null), "message_type"),
            ("text kind", with("message_type", json!("text")), "message_type"),
            ("svg", with("content_type", json!("image/svg+xml")), "content_type"),
            ("html", with("content_type", json!("text/html")), "content_type"),
            ("pdf as image", with("content_type", json!("application/pdf")), "content_type"),
            ("empty", with("file_size", json!(0)), "file_size"),
            ("negative", with("file_size", json!(-1)), "file_size"),
            ("too large", with("file_size", json!(over)), "file_size"),
            ("not a number", with("file_size", json!("big")), "file_size"),
            ("a fraction", with("file_size", json!(10.5)), "file_size"),
            ("upper case type", with("content_type", json!("IMAGE/PNG")), "content_type"),
            ("no name", with("file_name", json!("")), "file_name"),
            ("a path", with("file_name", json!("../etc/passwd")), "file_name"),
            ("a long name", with("file_name", json!("n".repeat(256))), "file_name"),
            (
                "exe as file",
                declare(&ada, json!({"message_type": "file", "file_name": "x.exe", "content_type": "application/x-msdownload", "file_size": 10})),
                "content_type",
            ),
            (
                "file too large",
                declare(&ada, json!({"message_type": "file", "file_name": "x.pdf", "content_type": "application/pdf", "file_size": file_over})),
                "file_size",
            ),
        ],
    )
    .await;
    get_media(&ada, "not-an-id")
        .send(&w)
        .await
        .expect_field("file_id");
}

#[tokio::test]
async fn a_real_image_is_checked_thumbnailed_and_attached_with_working_links() {
    let (w, objects) = world();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let bytes = png(640, 480);
    let (id, outcome) = uploaded(&w, &objects, &ada, "image", "image/png", &bytes).await;
    assert!(matches!(outcome, Outcome::Ready(_)), "{outcome:?}");
    let media = get_media(&ada, &id).send(&w).await.expect(200).body;
    assert_eq!(media["processing_status"], "ready");
    assert_eq!(media["dimensions"], json!({"width": 640, "height": 480}));
    assert_eq!(media["file_size"], bytes.len());
    assert_eq!(
        download(&objects, media["file_url"].as_str().unwrap()),
        Some(bytes.clone())
    );
    // The upload moved out of uploads/: what is left there is only what was never checked.
    assert_eq!(
        objects
            .keys()
            .iter()
            .map(|k| k.as_str().split('/').next().unwrap().to_owned())
            .collect::<Vec<_>>(),
        ["files", "thumbnails"]
    );

    let conv = group(&w, &ada, &[&bob]).await;
    let sent = send_media(&conv, &ada, "image", &[&id])
        .send(&w)
        .await
        .expect(201)
        .body;
    assert_eq!(sent["message_type"], "image");
    let a = &sent["media_attachments"][0];
    assert_eq!(a["file_id"], id.as_str());
    assert_eq!(a["file_type"], "image/png");
    assert_eq!(a["file_size"], bytes.len());
    assert_eq!(a["dimensions"], json!({"width": 640, "height": 480}));
    assert_eq!(
        download(&objects, a["file_url"].as_str().unwrap()),
        Some(bytes.clone())
    );
    let thumb = download(&objects, a["thumbnail_url"].as_str().unwrap()).expect("a thumbnail");
    let thumb = image::load_from_memory(&thumb).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 240));

    // Bob reads the history: the links are signed for his read, and work.
    let history = Call::sample("http-messages-list")
        .no_query()
        .path_param("conversation_id", &conv)
        .by(&bob)
        .send(&w)
        .await
        .expect(200)
        .body;
    let read = &history["messages"][0]["media_attachments"][0];
    assert_eq!(
        download(&objects, read["file_url"].as_str().unwrap()),
        Some(bytes)
    );
    // The stored message holds no URL: every view signs its own.
    let stored = w
        .app
        .stores
        .messages
        .get_message(sent["message_id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!serde_json::to_string(&stored).unwrap().contains("http"));
    // The frame broadcast to the conversation carries the attachment too.
    let frames = w.drain().await;
    assert!(
        frames.iter().any(|f| f["type"] == "new_message"
            && f["payload"]["message"]["media_attachments"][0]["file_url"].is_string()),
        "{frames:?}"
    );
}

#[tokio::test]
async fn bytes_that_are_not_their_declared_type_are_rejected_and_deleted() {
    let (w, objects) = world();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let conv = group(&w, &ada, &[&bob]).await;
    let (text_as_png, outcome) = uploaded(
        &w,
        &objects,
        &ada,
        "image",
        "image/png",
        b"<html><script>x</script></html>",
    )
    .await;
    assert!(matches!(outcome, Outcome::Rejected(_)), "{outcome:?}");
    let (png_as_jpeg, _) = uploaded(&w, &objects, &ada, "image", "image/jpeg", &png(8, 8)).await;
    let (pdf_as_text, _) = uploaded(
        &w,
        &objects,
        &ada,
        "file",
        "text/plain",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    )
    .await;
    assert!(objects.keys().is_empty(), "{:?}", objects.keys());
    for id in [&text_as_png, &png_as_jpeg, &pdf_as_text] {
        let media = get_media(&ada, id).send(&w).await.expect(200).body;
        assert_eq!(media["processing_status"], "rejected", "{media}");
        assert!(
            media["rejection_reason"]
                .as_str()
                .unwrap()
                .contains("not the declared")
        );
    }
    send_media(&conv, &ada, "image", &[&text_as_png])
        .send(&w)
        .await
        .expect_error(409, "CONFLICT");
}

#[tokio::test]
async fn messages_carry_only_the_sender_s_ready_files_of_their_kind() {
    let (w, objects) = world();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let conv = group(&w, &ada, &[&bob]).await;
    let (image, _) = uploaded(&w, &objects, &ada, "image", "image/png", &png(4, 4)).await;
    let (doc, _) = uploaded(
        &w,
        &objects,
        &ada,
        "file",
        "text/plain",
        b"minutes of the meeting\n",
    )
    .await;
    let (bobs, _) = uploaded(&w, &objects, &bob, "image", "image/png", &png(4, 4)).await;
    let pending = declare(&ada, image_of(100)).send(&w).await.expect(201).body["file_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown = banter::ids::FileId::new().to_string();
    let mut four = Vec::new();
    for _ in 0..=banter::model::MAX_ATTACHMENTS {
        four.push(
            uploaded(&w, &objects, &ada, "image", "image/png", &png(2, 2))
                .await
                .0,
        );
    }
    let four: Vec<&str> = four.iter().map(String::as_str).collect();
    check_fields(
        &w,
        vec![
            (
                "files on a text message",
                send_media(&conv, &ada, "text", &[&image]),
                "media_attachments",
            ),
            (
                "an image message without files",
                send_media(&conv, &ada, "image", &[]),
                "media_attachments",
            ),
            (
                "twice the same",
                send_media(&conv, &ada, "image", &[&image, &image]),
                "media_attachments",
            ),
            (
                "too many",
                send_media(&conv, &ada, "image", &four),
                "media_attachments",
            ),
            (
                "not an id",
                send_media(&conv, &ada, "image", &["nope"]),
                "media_attachments",
            ),
            (
                "an unknown type",
                send_media(&conv, &ada, "video", &[&image]),
                "message_type",
            ),
        ],
    )
    .await;
    check_errors(
        &w,
        vec![
            (
                "still being checked",
                send_media(&conv, &ada, "image", &[&pending]),
                409,
                "CONFLICT",
            ),
            (
                "someone else's",
                send_media(&conv, &ada, "image", &[&bobs]),
                404,
                "NOT_FOUND",
            ),
            (
                "unknown",
                send_media(&conv, &ada, "image", &[&unknown]),
                404,
                "NOT_FOUND",
            ),
            (
                "a file in an image message",
                send_media(&conv, &ada, "image", &[&doc]),
                409,
                "CONFLICT",
            ),
            (
                "an image in a file message",
                send_media(&conv, &ada, "file", &[&image]),
                409,
                "CONFLICT",
            ),
            (
                "a field besides file_id",
                Call::sample("http-messages-send")
                    .path_param("conversation_id", &conv)
                    .by(&ada)
                    .json(json!({"content": "x", "client_message_id": "extra-1",
                        "message_type": "image",
                        "media_attachments": [{"file_id": image, "file_url": "http://x"}]})),
                400,
                "VALIDATION_ERROR",
            ),
        ],
    )
    .await;
    let sent = send_media(&conv, &ada, "file", &[&doc])
        .send(&w)
        .await
        .expect(201)
        .body;
    assert_eq!(sent["media_attachments"][0]["file_type"], "text/plain");
    assert_eq!(sent["media_attachments"][0]["thumbnail_url"], Value::Null);
    send_media(
        &conv,
        &ada,
        "image",
        &four[..banter::model::MAX_ATTACHMENTS],
    )
    .send(&w)
    .await
    .expect(201);
    // A deleted message shows no files.
    let deleted = Call::sample("http-messages-delete")
        .path_param("message_id", sent["message_id"].as_str().unwrap())
        .by(&ada)
        .send(&w)
        .await
        .expect(200)
        .body;
    assert_eq!(deleted["message"]["media_attachments"], json!([]));
}

#[tokio::test]
async fn over_the_limit_uploads_are_rejected_after_the_fact() {
    // moto and other S3-compatible servers ignore the policy's content-length-range: the
    // media function checks the real size.
    let (w, objects) = world();
    let ada = w.user("ada").await;
    let ticket = declare(&ada, image_of(100)).send(&w).await.expect(201).body;
    let id = ticket["file_id"].as_str().unwrap();
    let key: banter::ids::ObjectKey = format!("uploads/{id}").parse().unwrap();
    let big = vec![0u8; (banter::model::media::MAX_IMAGE_BYTES + 1) as usize];
    objects.put(&key, big, "image/png").await.unwrap();
    let outcome = processor(&w).process(key.as_str()).await.unwrap();
    assert!(matches!(outcome, Outcome::Rejected(_)), "{outcome:?}");
    assert!(objects.keys().is_empty());
    // A redelivered event changes nothing.
    assert_eq!(
        processor(&w).process(key.as_str()).await.unwrap(),
        Outcome::Skipped("settled already")
    );
    // Keys that are not uploads, and uploads nobody declared, are not processed.
    assert_eq!(
        processor(&w).process("thumbnails/x.png").await.unwrap(),
        Outcome::Skipped("not an upload key")
    );
    let stray: banter::ids::ObjectKey = format!("uploads/{}", banter::ids::FileId::new())
        .parse()
        .unwrap();
    objects.put(&stray, vec![1], "image/png").await.unwrap();
    assert_eq!(
        processor(&w).process(stray.as_str()).await.unwrap(),
        Outcome::Skipped("no media item")
    );
    assert!(objects.keys().is_empty());
}
