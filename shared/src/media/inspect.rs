//! What an upload really is, from its bytes alone: its type from its magic numbers (`infer`),
//! its size against the kind's limit, and for images their dimensions and a thumbnail, decoded
//! with bounded dimensions and allocation so that a decompression bomb (a small file that
//! decodes to gigabytes) is refused instead of exhausting the function's memory.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

use crate::model::{Dimensions, MediaKind};

/// Widest or tallest image decoded, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 8192;

/// Most memory one decode may allocate: 128 MiB (an 5,600 × 5,600 RGBA image).
pub const MAX_DECODE_BYTES: u64 = 128 * 1024 * 1024;

/// The longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 320;

/// What the checks found in an accepted upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// Its real content type (the declared one, confirmed).
    pub file_type: String,
    /// An image's size.
    pub dimensions: Option<Dimensions>,
    /// An image's thumbnail, as PNG.
    pub thumbnail: Option<Vec<u8>>,
}

/// Why an upload is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Over the kind's limit (checked after the upload: S3-compatible test servers ignore
    /// the policy's `content-length-range`).
    #[error("the file is {size} bytes, over the limit of {max}")]
    TooLarge {
        /// Its real size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Nothing arrived.
    #[error("the file is empty")]
    Empty,
    /// The bytes are of another type than declared.
    #[error("the file's content is {found}, not the declared {declared}")]
    TypeMismatch {
        /// What the uploader declared.
        declared: String,
        /// What its bytes are (`unrecognized` when nothing matched).
        found: String,
    },
    /// An image that does not decode.
    #[error("the image cannot be decoded: {0}")]
    Undecodable(String),
    /// An image larger than [`MAX_IMAGE_SIDE`] on a side, or whose decode would allocate
    /// more than [`MAX_DECODE_BYTES`]: refused before its pixels are decoded.
    #[error("the image is too large to decode")]
    TooManyPixels,
}

/// Checks `bytes` (the first bytes of an object of `size` bytes, at least one more than the
/// limit when it is larger) as an upload of `kind` declared as `declared`.
pub fn inspect(
    kind: MediaKind,
    declared: &str,
    bytes: &[u8],
    size: u64,
) -> Result<Inspected, Rejection> {
    let max = kind.max_bytes();
    if size > max || bytes.len() as u64 > max {
        return Err(Rejection::TooLarge { size, max });
    }
    if size == 0 || bytes.is_empty() {
        return Err(Rejection::Empty);
    }
    let found = infer::get(bytes).map(|t| t.mime_type());
    let mismatch = |found: Option<&str>| Rejection::TypeMismatch {
        declared: declared.to_owned(),
        found: found.unwrap_or("unrecognized").to_owned(),
    };
    if declared == "text/plain" {
        // Text has no magic number: it must be UTF-8 without NUL, and nothing binary.
        if found.is_some() || bytes.contains(&0) || std::str::from_utf8(bytes).is_err() {
            return Err(mismatch(found.or(Some("binary data"))));
        }
    } else if found != Some(declared) || !kind.allowed_types().contains(&declared) {
        return Err(mismatch(found));
    }
    let (dimensions, thumbnail) = match kind {
        MediaKind::Image => {
            let (d, t) = thumbnail(declared, bytes)?;
            (Some(d), Some(t))
        }
        MediaKind::File => (None, None),
    };
    Ok(Inspected {
        file_type: declared.to_owned(),
        dimensions,
        thumbnail,
    })
}

/// The decoder of an allowed image type.
fn format_of(content_type: &str) -> Option<ImageFormat> {
    match content_type {
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/png" => Some(ImageFormat::Png),
        "image/gif" => Some(ImageFormat::Gif),
        "image/webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

/// Decodes the image within the bounds and returns its dimensions and a PNG thumbnail.
fn thumbnail(content_type: &str, bytes: &[u8]) -> Result<(Dimensions, Vec<u8>), Rejection> {
    let format = format_of(content_type)
        .ok_or_else(|| Rejection::Undecodable(format!("no decoder for {content_type}")))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => Rejection::TooManyPixels,
        other => Rejection::Undecodable(other.to_string()),
    })?;
    let dimensions = Dimensions {
        width: image.width(),
        height: image.height(),
    };
    let mut png = Vec::new();
    image
        .thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| Rejection::Undecodable(e.to_string()))?;
    Ok((dimensions, png))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `width` × `height` PNG.
    pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn a_real_png_is_measured_and_thumbnailed() {
        let bytes = png(640, 480);
        let found = inspect(MediaKind::Image, "image/png", &bytes, bytes.len() as u64).unwrap();
        assert_eq!(found.file_type, "image/png");
        assert_eq!(
            found.dimensions,
            Some(Dimensions {
                width: 640,
                height: 480
            })
        );
        let thumb = image::load_from_memory(&found.thumbnail.unwrap()).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (320, 240));
    }

    #[test]
    fn bytes_of_another_type_are_rejected() {
        let bytes = png(4, 4);
        assert!(matches!(
            inspect(MediaKind::Image, "image/jpeg", &bytes, bytes.len() as u64),
            Err(Rejection::TypeMismatch { found, .. }) if found == "image/png"
        ));
        let text = b"just some text, not a picture";
        assert!(matches!(
            inspect(MediaKind::Image, "image/png", text, text.len() as u64),
            Err(Rejection::TypeMismatch { found, .. }) if found == "unrecognized"
        ));
        // A PDF declared as text, and text with NUL bytes.
        let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n";
        assert!(inspect(MediaKind::File, "text/plain", pdf, pdf.len() as u64).is_err());
        assert!(inspect(MediaKind::File, "text/plain", b"a\0b", 3).is_err());
        assert!(inspect(MediaKind::File, "application/pdf", pdf, pdf.len() as u64).is_ok());
        assert!(inspect(MediaKind::File, "text/plain", "héllo\n".as_bytes(), 7).is_ok());
    }

    #[test]
    fn sizes_over_the_limit_and_empty_files_are_rejected() {
        let max = MediaKind::Image.max_bytes();
        let bytes = png(4, 4);
        assert_eq!(
            inspect(MediaKind::Image, "image/png", &bytes, max + 1),
            Err(Rejection::TooLarge { size: max + 1, max })
        );
        assert_eq!(
            inspect(MediaKind::File, "text/plain", b"", 0),
            Err(Rejection::Empty)
        );
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_it_is_decoded() {
        // The header of a 20,000 × 20,000 PNG (1.2 GB decoded) and its first row: a few
        // hundred bytes that would make an unbounded decoder allocate the whole image.
        let mut bytes = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut bytes, 20_000, 20_000);
            encoder.set_color(png::ColorType::Rgb);
            let mut writer = encoder.write_header().unwrap();
            let mut stream = writer.stream_writer().unwrap();
            std::io::Write::write_all(&mut stream, &[0u8; 60_000]).unwrap();
            // Dropped unfinished: the rest of the pixels never come.
        }
        assert!(bytes.len() < 4096, "{} bytes", bytes.len());
        assert_eq!(
            inspect(MediaKind::Image, "image/png", &bytes, bytes.len() as u64),
            Err(Rejection::TooManyPixels)
        );
    }
}
