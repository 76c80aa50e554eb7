//! The largest image message fits one 32 KB frame with its links: 2000 four-byte characters,
//! every reaction a message may hold, and [`MAX_ATTACHMENTS`] files, each with a file and a
//! thumbnail link signed by the real S3 presigner for the longest bucket name the template
//! makes and a long session token (a Lambda role's credentials), as a deployed function signs
//! them. Presigning is local work: no request is made.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use banter::ids::{ConversationId, FileId, MessageId, UserId};
use banter::media::MAX_URL_BYTES;
use banter::media::attach::sign_links;
use banter::model::{
    Content, Dimensions, MAX_ATTACHMENTS, MAX_CONTENT_CHARS, MAX_REACTION_KINDS, MAX_REACTIONS,
    MediaAttachment, MessageType, NewMessage,
};
use banter::objects::s3::S3Objects;
use banter::poster::METERING_UNIT_BYTES;
use banter::protocol::{MessageChanged, ServerMessage, ServerPayload, StreamItem};
use banter::room::{Position, Room};
use banter::views::MessageView;

/// A deployed function's S3 client: temporary credentials with a 1,400-character session
/// token (Lambda role sessions carry about 1,000), in the region with the longest name.
fn deployed() -> S3Objects {
    // Base64 as STS writes it (its `+` and `/` are escaped in a URL), from a fixed seed.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = fastrand::Rng::with_seed(7);
    let token: String = (0..1400)
        .map(|_| char::from(alphabet[rng.usize(..alphabet.len())]))
        .collect();
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("ap-southeast-4"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "ASIA3EXAMPLEEXAMPLE1",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            Some(token),
            None,
            "test",
        )))
        .build();
    // The template's name: banter-<stage>-media-<account>-<region>.
    S3Objects::new(&sdk, "banter-prod-media-123456789012-ap-southeast-4")
}

/// The longest emoji (in bytes), `n` of them.
fn longest_emoji(n: usize) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = emojis::iter()
        .flat_map(|e| e.skin_tones().into_iter().flatten().chain([e]))
        .map(|e| e.as_str())
        .collect();
    all.sort_by_key(|e| std::cmp::Reverse(e.len()));
    all.dedup();
    all.truncate(n);
    all
}

#[tokio::test]
async fn the_largest_image_message_fits_one_unit_with_its_signed_links() {
    let c = char::from_u32(0x20000).unwrap();
    let mut text: String = std::iter::repeat_n(c, MAX_CONTENT_CHARS - 1).collect();
    text.push('"');
    let attachments = (0..MAX_ATTACHMENTS)
        .map(|_| MediaAttachment {
            file_id: FileId::new(),
            file_type: "image/webp".into(),
            file_size: banter::model::media::MAX_IMAGE_BYTES,
            dimensions: Some(Dimensions {
                width: 8192,
                height: 8192,
            }),
            has_thumbnail: true,
        })
        .collect();
    let mut m = NewMessage {
        message_id: MessageId::new(),
        conversation_id: ConversationId::new(),
        sender_id: UserId::new(),
        message_type: MessageType::Image,
        content: Content::parse("content", &text).unwrap(),
        media_attachments: attachments,
        client_message_id: "k".repeat(64).parse().unwrap(),
        reply_to_message_id: Some(MessageId::new()),
        created_at: banter::time::now(),
    }
    .into_message(Position(u64::MAX / 2));
    let emoji = longest_emoji(MAX_REACTION_KINDS);
    for i in 0..MAX_REACTIONS {
        m.toggle_reaction(emoji[i % MAX_REACTION_KINDS], UserId::new())
            .unwrap();
    }
    let mut view = MessageView::from(&m);
    sign_links(&deployed(), &mut view).await;
    for a in &view.media_attachments {
        for url in [&a.file_url, &a.thumbnail_url] {
            let url = url.as_deref().expect("signed");
            assert!(url.len() <= MAX_URL_BYTES, "{} bytes: {url}", url.len());
            assert!(url.contains("X-Amz-Security-Token"), "{url}");
        }
    }
    let changed = MessageChanged {
        conversation_id: m.conversation_id,
        message: view,
    };
    let frame = serde_json::to_string(&ServerMessage::new(ServerPayload::NewMessage(
        changed.clone(),
    )))
    .unwrap();
    assert!(
        frame.len() <= METERING_UNIT_BYTES,
        "new_message is {} bytes",
        frame.len()
    );
    // Delivered live, it is one item of one stream_batch frame.
    let frames = banter::stream::batches(
        Room::Conversation(m.conversation_id),
        Position(0),
        m.position,
        vec![StreamItem {
            position: m.position,
            payload: ServerPayload::NewMessage(changed),
        }],
    );
    assert_eq!(frames.len(), 1);
    let batch = serde_json::to_string(&frames[0]).unwrap();
    assert!(
        batch.len() <= METERING_UNIT_BYTES,
        "stream_batch is {} bytes",
        batch.len()
    );
    eprintln!(
        "new_message {} bytes, stream_batch {} bytes",
        frame.len(),
        batch.len()
    );
}
