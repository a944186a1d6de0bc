//! Photos from the tablet's camera are large (often 4000×3000, several MB). They are downscaled
//! in the browser before they are stored, so a station's tablet keeps hundreds of them and a
//! later upload is quick.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// The longest side after downscaling, in pixels.
pub const MAX_SIDE: u32 = 1600;
/// Encoder qualities tried in turn until the photo fits [`MAX_BYTES`].
const JPEG_QUALITIES: [f64; 4] = [0.82, 0.7, 0.55, 0.4];
/// The largest photo kept: it must fit the server's request limit (1 MiB) with room to spare,
/// or it could never be uploaded.
pub const MAX_BYTES: f64 = 900.0 * 1024.0;

pub struct Downscaled {
    pub blob: web_sys::Blob,
    pub width: u32,
    pub height: u32,
}

/// The size that fits within `max_side`, keeping the aspect ratio; never enlarges.
pub fn fit(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= max_side || longest == 0 {
        return (width.max(1), height.max(1));
    }
    let scale = f64::from(max_side) / f64::from(longest);
    (
        ((f64::from(width) * scale).round() as u32).max(1),
        ((f64::from(height) * scale).round() as u32).max(1),
    )
}

/// Decodes an image file (honouring its EXIF orientation) and re-encodes it as a JPEG whose
/// longest side is at most [`MAX_SIDE`].
pub async fn downscale(file: &web_sys::Blob) -> Result<Downscaled, String> {
    let window = web_sys::window().ok_or("no window")?;
    let bitmap: web_sys::ImageBitmap = JsFuture::from(
        window
            .create_image_bitmap_with_blob(file)
            .map_err(|e| format!("{e:?}"))?,
    )
    .await
    .map_err(|e| format!("not an image: {e:?}"))?
    .unchecked_into();
    let (width, height) = fit(bitmap.width(), bitmap.height(), MAX_SIDE);
    let document = window.document().ok_or("no document")?;
    let canvas: web_sys::HtmlCanvasElement = document
        .create_element("canvas")
        .map_err(|e| format!("{e:?}"))?
        .unchecked_into();
    canvas.set_width(width);
    canvas.set_height(height);
    let context: web_sys::CanvasRenderingContext2d = canvas
        .get_context("2d")
        .map_err(|e| format!("{e:?}"))?
        .ok_or("no 2d context")?
        .unchecked_into();
    context
        .draw_image_with_image_bitmap_and_dw_and_dh(
            &bitmap,
            0.0,
            0.0,
            f64::from(width),
            f64::from(height),
        )
        .map_err(|e| format!("{e:?}"))?;
    bitmap.close();
    // A detailed scene can exceed the limit at the first quality: step down until it fits (the
    // last step is kept whatever its size; at 1600 px and 0.4 that does not happen in practice).
    let mut blob = encode(&canvas, JPEG_QUALITIES[0]).await?;
    for quality in &JPEG_QUALITIES[1..] {
        if blob.size() <= MAX_BYTES {
            break;
        }
        blob = encode(&canvas, *quality).await?;
    }
    Ok(Downscaled {
        blob,
        width,
        height,
    })
}

/// The canvas as a JPEG of the given quality.
async fn encode(
    canvas: &web_sys::HtmlCanvasElement,
    quality: f64,
) -> Result<web_sys::Blob, String> {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let reject_later = reject.clone();
        let callback = Closure::once_into_js(move |blob: JsValue| {
            let _ = if blob.is_null() {
                reject_later.call1(&JsValue::NULL, &JsValue::from_str("encoding failed"))
            } else {
                resolve.call1(&JsValue::NULL, &blob)
            };
        });
        if let Err(e) = canvas.to_blob_with_type_and_encoder_options(
            callback.unchecked_ref(),
            "image/jpeg",
            &JsValue::from_f64(quality),
        ) {
            let _ = reject.call1(&JsValue::NULL, &e);
        }
    });
    let blob = JsFuture::from(promise)
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(blob.unchecked_into())
}
