//! REST routes of the `uploads` function: declare an upload (the answer is a presigned POST of
//! the file straight to the bucket) and follow its checks.
//!
//! Every route needs a signed-in user; a media item is visible to its uploader only (404 to
//! anyone else, as for an id that does not exist).

use serde::Serialize;

use crate::app::App;
use crate::error::AppError;
use crate::http::{Reply, Req};
use crate::ids::FileId;
use crate::media::upload::{UploadInput, request_upload};
use crate::media::{LINK_TTL, MAX_URL_BYTES};
use crate::model::{Dimensions, MediaItem, MediaKind, ProcessingStatus};
use crate::time::Timestamp;

/// `POST /v1/media/uploads`
pub const UPLOAD: &str = "POST /v1/media/uploads";
/// `GET /v1/media/uploads/{file_id}`
pub const GET: &str = "GET /v1/media/uploads/{file_id}";

/// Route keys served by this function.
pub const ROUTES: &[&str] = &[UPLOAD, GET];

/// Dispatches one request of this function.
pub async fn route(app: &App, req: &Req) -> Result<Reply, AppError> {
    match req.route_key.as_str() {
        UPLOAD => upload(app, req).await,
        GET => get(app, req).await,
        other => Err(AppError::not_found(&format!("route {other}"))),
    }
}

/// `POST /v1/media/uploads`: `{message_type: image|file, file_name, content_type,
/// file_size}` → 201 `{file_id, processing_status: pending, upload: {url, fields},
/// expires_at, max_bytes}`.
async fn upload(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let body = req.fields()?;
    let input = UploadInput {
        kind: body.required::<MediaKind>("message_type")?,
        file_name: body.required("file_name")?,
        content_type: body.required("content_type")?,
        file_size: body.required::<WholeBytes>("file_size")?.0,
    };
    Ok(Reply::created(request_upload(app, user, input).await?))
}

/// A size in bytes, as JSON Schema counts integers (`2048.0` is `2048`).
#[derive(serde::Deserialize)]
struct WholeBytes(#[serde(deserialize_with = "crate::integer::exact")] u64);

/// A media item as its uploader sees it.
#[derive(Debug, Clone, Serialize)]
struct MediaView {
    file_id: FileId,
    message_type: MediaKind,
    file_name: String,
    file_type: String,
    file_size: u64,
    processing_status: ProcessingStatus,
    dimensions: Option<Dimensions>,
    rejection_reason: Option<String>,
    /// Presigned download of the file (`ready` only).
    file_url: Option<String>,
    /// Presigned download of the thumbnail (a `ready` image only).
    thumbnail_url: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// `GET /v1/media/uploads/{file_id}` → the caller's media item, with its links once `ready`.
async fn get(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let id: FileId = req.path("file_id")?;
    let item: MediaItem = app
        .stores
        .media
        .get_media(id)
        .await?
        .filter(|m| m.owner_id == user)
        .ok_or_else(|| AppError::not_found("file"))?;
    let ready = item.processing_status == ProcessingStatus::Ready;
    let sign = async |key: Option<crate::ids::ObjectKey>| -> Result<Option<String>, AppError> {
        let Some(key) = key.filter(|_| ready) else {
            return Ok(None);
        };
        let url = app
            .objects
            .presign_get(&key, LINK_TTL)
            .await
            .map_err(AppError::internal)?;
        Ok(Some(url).filter(|u| u.len() <= MAX_URL_BYTES))
    };
    let file_url = sign(Some(item.file_key())).await?;
    let thumbnail_url = sign(item.thumbnail_key()).await?;
    Ok(Reply::ok(MediaView {
        file_id: item.file_id,
        message_type: item.kind,
        file_name: item.file_name,
        file_type: item.file_type,
        file_size: item.file_size,
        processing_status: item.processing_status,
        dimensions: item.dimensions,
        rejection_reason: item.rejection_reason,
        file_url,
        thumbnail_url,
        created_at: item.created_at,
        updated_at: item.updated_at,
    }))
}
