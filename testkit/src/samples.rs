//! What the sample events in `events/` refer to: their ids, and [`seed`] to store the users,
//! event, comment, conversations and messages they name, so that each sample can succeed.

use banter::app::App;
use banter::model::{Event, EventStatus};
use banter::time::now;

use crate::comments::store_comment;
use crate::conversations::{store_group, store_message};
use crate::events::{event_by, store_event};
use crate::users::{store_user, user_named};

/// Ids the samples in `events/` refer to.
pub mod ids {
    /// The caller of the REST samples (`sub` of their placeholder token).
    pub const CALLER: &str = "0198f1e0-1234-7abc-8def-0123456789ab";
    /// Another user, already in the REST samples' conversation.
    pub const OTHER: &str = "0198f1e0-5678-7abc-8def-0123456789ac";
    /// A third user, not in the conversation: the one the participants sample adds.
    pub const THIRD: &str = "0198f1e0-9abc-7abc-8def-0123456789ad";
    /// The WebSocket samples' user (`sub` of their placeholder token).
    pub const WS_USER: &str = "0198f2a3-1b2c-7a10-8d3e-0f1a2b3c4d5e";
    /// The event of every sample.
    pub const EVENT: &str = "0198f2a4-5c3e-7b21-9f4a-1c2d3e4f5a6b";
    /// A comment of the caller on the event.
    pub const COMMENT: &str = "0198f2b0-1111-7c22-8a33-445566778899";
    /// The REST samples' group, owned by the caller, with OTHER.
    pub const CONVERSATION: &str = "0198f2c0-2222-7d33-9b44-5566778899aa";
    /// A second group of the caller with OTHER: the one the leave sample leaves, so that the
    /// other samples keep their conversation.
    pub const LEAVING: &str = "0198f2c0-2222-7d33-9b44-5566778899ab";
    /// A message of the caller in the REST samples' conversation.
    pub const MESSAGE: &str = "0198f2d0-3333-7e44-ac55-66778899aabb";
    /// The WebSocket samples' group, owned by WS_USER, with the caller.
    pub const WS_CONVERSATION: &str = "0198f2a4-6d4f-7c32-8a5b-2d3e4f5a6b7c";
    /// The message of the caller the WebSocket receipts refer to.
    pub const WS_MESSAGE: &str = "0198f2a5-0e1a-7d43-9b6c-3e4f5a6b7c8d";
    /// A checked image of the caller (`ready`), for the media samples.
    pub const FILE: &str = "0198f2e0-4444-7f55-bd66-778899aabbcc";
    /// A declared upload of the caller whose bytes the media sample (`events/media-uploaded.json`)
    /// announces.
    pub const UPLOAD: &str = "0198f2e0-5555-7a66-8e77-8899aabbccdd";
    /// The WebSocket samples' connection.
    pub const CONNECTION: &str = "YkqIzdLkIAMCJfg=";
    /// A session of the caller (signed in on a phone): the one the session-revoke sample
    /// signs out.
    pub const SESSION: &str = "0198f2e0-4444-7f55-bd66-778899aabbcc";
}

/// Parses the sample id `s` (one of [`ids`]).
pub fn id<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse()
        .unwrap_or_else(|e| panic!("bad sample id {s}: {e:?}"))
}

/// Stores everything the samples name: their users (the caller is `grace_h`), the event
/// with `event_status` (scheduled for running the events samples first, which take it live;
/// live for the comments samples alone), the caller's comment on it, the REST and
/// WebSocket groups with a message of the caller each, and a session of the caller.
pub async fn seed(app: &App, event_status: EventStatus) {
    use ids::*;
    for (user, name) in [
        (CALLER, "grace_h"),
        (OTHER, "sample_other"),
        (THIRD, "sample_third"),
        (WS_USER, "ws_sample"),
    ] {
        let user = banter::model::User {
            user_id: id(user),
            ..user_named(name)
        };
        store_user(app, &user).await;
    }
    let event = Event {
        event_id: id(EVENT),
        ..event_by(id(CALLER), event_status, now())
    };
    store_event(app, &event).await;
    store_comment(app, id(COMMENT), id(EVENT), id(CALLER), "Kick-off!").await;
    store_ready_image(app, id(FILE), id(CALLER)).await;
    for (conversation, owner, member, message) in [
        (CONVERSATION, CALLER, OTHER, MESSAGE),
        (WS_CONVERSATION, WS_USER, CALLER, WS_MESSAGE),
    ] {
        store_group(app, id(conversation), id(owner), &[id(member)]).await;
        let client_message_id = format!("seed-{conversation}");
        store_message(
            app,
            id(message),
            id(conversation),
            id(CALLER),
            "Hello everyone",
            &client_message_id,
        )
        .await;
    }
    store_group(app, id(LEAVING), id(CALLER), &[id(OTHER)]).await;
    store_session(app).await;
}

/// The caller's [`ids::SESSION`], unless it is stored already (seeding twice).
async fn store_session(app: &App) {
    let t = now();
    let family = banter::store::RefreshFamily {
        family_id: id(ids::SESSION),
        user_id: id(ids::CALLER),
        current_jti: banter::ids::TokenId::new(),
        revoked: false,
        expires_at: t + std::time::Duration::from_secs(30 * 24 * 3600),
        previous_jti: None,
        issued_at: t,
        access_jti: banter::ids::TokenId::new(),
        created_at: t,
        device: banter::model::Device {
            device_id: Some(id("sample-phone-1")),
            device_type: Some(banter::model::DeviceType::Ios),
            platform: Some("iOS 18.1".into()),
        },
    };
    match app.stores.sessions.create_family(&family).await {
        Ok(()) | Err(banter::store::StoreError::Conflict(_)) => {}
        Err(e) => panic!("seeding the sample session: {e}"),
    }
}

/// Stores a checked (`ready`) 640 × 480 PNG of `owner` as media item `file`, with a
/// thumbnail: the item only (no bytes in the bucket).
pub async fn store_ready_image(app: &App, file: banter::ids::FileId, owner: banter::ids::UserId) {
    let t = now();
    app.stores
        .media
        .create_media(&banter::model::MediaItem {
            file_id: file,
            owner_id: owner,
            kind: banter::model::MediaKind::Image,
            file_name: "kick-off.png".into(),
            file_type: "image/png".into(),
            file_size: 48_213,
            processing_status: banter::model::ProcessingStatus::Ready,
            dimensions: Some(banter::model::Dimensions {
                width: 640,
                height: 480,
            }),
            has_thumbnail: true,
            rejection_reason: None,
            created_at: t,
            updated_at: t,
        })
        .await
        .expect("store the media item");
}

/// Declares `file` as a pending PNG upload of `owner` and stores `png` as its uploaded object
/// (what a presigned POST leaves in the bucket before the media function runs).
pub async fn store_pending_upload(
    app: &App,
    file: banter::ids::FileId,
    owner: banter::ids::UserId,
    png: Vec<u8>,
) {
    let t = now();
    app.stores
        .media
        .create_media(&banter::model::MediaItem {
            file_id: file,
            owner_id: owner,
            kind: banter::model::MediaKind::Image,
            file_name: "upload.png".into(),
            file_type: "image/png".into(),
            file_size: png.len() as u64,
            processing_status: banter::model::ProcessingStatus::Pending,
            dimensions: None,
            has_thumbnail: false,
            rejection_reason: None,
            created_at: t,
            updated_at: t,
        })
        .await
        .expect("store the media item");
    app.objects
        .put(&banter::model::media::upload_key(file), png, "image/png")
        .await
        .expect("store the upload");
}
