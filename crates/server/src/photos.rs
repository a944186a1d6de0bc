//! The photo routes, nested under `/api/v1`, behind the [`Auth`] extractor:
//!
//! - `PUT /photos/{id}?opinion=<opinion id>&sha256=<hex>`: the tablet uploads one photo of an
//!   opinion it has pushed, the bytes as the body (`image/jpeg`, `image/png` or `image/webp`,
//!   within the server's body limit; the tablet downscales to 1600 px JPEG, a few hundred KB).
//!   The server checks that the body's SHA-256 is the one named (422 `digest_mismatch`: a cut-off
//!   upload is never stored), that the opinion exists and lists this photo (404), and that the
//!   user may write the opinion's station (403, the same rule as a push). 201 when stored, 200
//!   when this photo was stored before with the same content (a resend after a lost answer),
//!   both with `{"id", "sha256"}`; 422 `photo_conflict` when the id holds other content. The
//!   bytes are stored once per content.
//! - `GET /photos/{id}?opinion=<opinion id>`: the bytes, to a user who may read the photo's
//!   station (otherwise 404, so that nobody learns which photos exist elsewhere). Cacheable for
//!   good: a photo's content never changes.
//!
//! A photo is stored per opinion (the key is the opinion and the photo id), so nobody can block
//! another station's upload by sending something else under a photo id its opinion lists.
//!
//! Uploads are resumable at photo granularity: the tablet keeps a queue of photos not yet
//! uploaded, sends them one by one after the opinions are pushed, and marks each done only on
//! a 200 or 201; a photo cut off mid-way is simply sent again.

use crate::auth::{Auth, now_ms};
use crate::db::photos::{NewPhoto, PhotoStored};
use crate::error::AppError;
use crate::state::AppState;
use crate::sync::{may_write, readable_stations};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Json, Router};
use liaison_domain::{OpinionId, PhotoId};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

pub fn router() -> Router<AppState> {
    Router::new().route("/photos/{id}", put(upload).get(download))
}

/// Image types a photo may have.
const ACCEPTED_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

#[derive(Deserialize)]
struct UploadQuery {
    opinion: String,
    sha256: String,
}

#[derive(Deserialize)]
struct DownloadQuery {
    opinion: String,
}

fn photo_id(id: &str) -> Result<PhotoId, AppError> {
    PhotoId::parse(id).ok_or(AppError::NotFound)
}

/// `PUT /api/v1/photos/{id}`.
async fn upload(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let id = photo_id(&id)?;
    let opinion_id = OpinionId::parse(&query.opinion).ok_or(AppError::Invalid {
        code: "invalid_opinion_id",
        message: "`opinion` must be an opinion id",
    })?;
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|v| ACCEPTED_TYPES.contains(&v.as_str()))
        .ok_or(AppError::Status(StatusCode::UNSUPPORTED_MEDIA_TYPE))?;
    if body.is_empty() {
        return Err(AppError::Invalid {
            code: "empty_photo",
            message: "The photo is empty",
        });
    }
    let sha256 = hex::encode(Sha256::digest(&body));
    if !sha256.eq_ignore_ascii_case(query.sha256.trim()) {
        return Err(AppError::Invalid {
            code: "digest_mismatch",
            message: "The photo's SHA-256 is not the one named: it was cut off or changed",
        });
    }

    let state_of_opinion = state.db.opinion_state(opinion_id).await?;
    let opinion = state_of_opinion
        .as_ref()
        .and_then(|s| s.opinion())
        .filter(|o| o.photos.iter().any(|p| p.id == id))
        .ok_or(AppError::NotFound)?;
    let hierarchy = state.db.station_hierarchy().await?;
    if !may_write(&auth, &hierarchy, &opinion.station_id) {
        return Err(AppError::Forbidden);
    }
    let stored = state
        .db
        .put_photo(&NewPhoto {
            id,
            opinion_id,
            station_id: &opinion.station_id,
            sha256: &sha256,
            mime: &mime,
            bytes: &body,
            uploaded_by: &auth.user_id,
            now_ms: now_ms(),
        })
        .await?;
    // The answer names what was stored, so that the tablet can tell it from a captive portal's
    // page that also says 200.
    let answer = Json(json!({ "id": id, "sha256": sha256 }));
    match stored {
        PhotoStored::Created => Ok((StatusCode::CREATED, answer).into_response()),
        PhotoStored::AlreadyThere => Ok((StatusCode::OK, answer).into_response()),
        PhotoStored::Conflict => Err(AppError::Invalid {
            code: "photo_conflict",
            message: "This opinion's photo holds another picture",
        }),
    }
}

/// `GET /api/v1/photos/{id}`.
async fn download(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(query): Query<DownloadQuery>,
) -> Result<Response, AppError> {
    let id = photo_id(&id)?;
    let opinion = OpinionId::parse(&query.opinion).ok_or(AppError::NotFound)?;
    let photo = state
        .db
        .photo(opinion, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let hierarchy = state.db.station_hierarchy().await?;
    if !readable_stations(&auth, &hierarchy).contains(&photo.station_id) {
        return Err(AppError::NotFound);
    }
    let bytes = state
        .db
        .photo_bytes(&photo.sha256)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    if let Ok(mime) = HeaderValue::from_str(&photo.mime) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    // Private: behind a bearer token. Immutable: an id's content never changes.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    Ok(response)
}
