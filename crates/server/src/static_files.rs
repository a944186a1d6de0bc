//! The app bundle from `--dist`: files as they are, `index.html` for the app's own routes (SPA
//! fallback), and the headers that make caching and the service worker behave.
//!
//! Caching: trunk puts a content hash in the names of the files it generates
//! (`liaison-app-0123456789abcdef_bg.wasm`, `style-0123456789abcdef.css`), so those can be cached
//! forever; a new build has new names. Everything else (`/`, `index.html`, `sw.js`, the manifest,
//! icons) must be revalidated, or tablets would keep an old `index.html` pointing at old files.

use crate::error::AppError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";

/// The bundle directory, ready to serve.
#[derive(Clone, Debug)]
pub(crate) struct StaticFiles {
    dir: ServeDir,
    index: PathBuf,
}

impl StaticFiles {
    pub(crate) fn new(dist_dir: &Path) -> Self {
        StaticFiles {
            dir: ServeDir::new(dist_dir).append_index_html_on_directories(true),
            index: dist_dir.join("index.html"),
        }
    }
}

/// The router's fallback: every path that is not an API route.
pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    // Kept for the SPA fallback, which answers the same conditional request with index.html.
    let headers = request.headers().clone();

    let files = &state.static_files;
    let response = match files.dir.clone().oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    };

    let (served_name, mut response) = match response.status() {
        StatusCode::NOT_FOUND
            if (method == Method::GET || method == Method::HEAD)
                && !looks_like_file(&path)
                && !is_api_path(&path) =>
        {
            let response = serve_index(&files.index, method, headers).await;
            ("index.html", response)
        }
        StatusCode::NOT_FOUND => (file_name(&path), AppError::NotFound.into_response()),
        _ => (file_name(&path), response),
    };
    set_file_headers(served_name, &mut response);
    response
}

/// `index.html` for a path of the app's own (`/records`, `/records/42`), so a reload or a link
/// opens the app, which then routes on the client.
async fn serve_index(index: &Path, method: Method, headers: HeaderMap) -> Response {
    let mut request = Request::new(Body::empty());
    *request.method_mut() = method;
    *request.headers_mut() = headers;
    match ServeFile::new(index).oneshot(request).await {
        Ok(response) if response.status() == StatusCode::NOT_FOUND => {
            tracing::warn!(index = %index.display(), "index.html is missing: is the app built?");
            AppError::NotFound.into_response()
        }
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

/// The API router answers its own unknown paths, but some (`/api/`) do not reach it; none of them
/// may get index.html, which a client would try to parse as JSON.
fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// A path whose last segment has an extension names a file: when it is missing, that is a real
/// 404 (a stale hashed asset, a typo), not an app route. The app's routes have no dots.
fn looks_like_file(path: &str) -> bool {
    file_name(path).contains('.')
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

fn set_file_headers(name: &str, response: &mut Response) {
    let status = response.status();
    let ok = status.is_success() || status == StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();

    // Only a file that was actually found may be cached forever; a 404 for a hashed name must not
    // stick.
    let cache = if ok && is_hashed_file_name(name) {
        IMMUTABLE
    } else {
        NO_CACHE
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));

    if name == "sw.js" {
        // Lets the worker at /sw.js control the whole origin (the default scope is its own
        // directory, which is `/` already; the header keeps it working if the file moves).
        headers.insert("service-worker-allowed", HeaderValue::from_static("/"));
    }

    // A content type only replaces one that the file response already has (not on 304 or
    // errors). Browsers refuse a module or a service worker with a non-JavaScript type, and
    // `WebAssembly.instantiateStreaming` requires `application/wasm`, so these are set
    // explicitly rather than left to the mime table.
    if status.is_success()
        && headers.contains_key(header::CONTENT_TYPE)
        && let Some(content_type) = content_type_override(name)
    {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
}

fn content_type_override(name: &str) -> Option<&'static str> {
    let extension = name.rsplit_once('.').map(|(_, ext)| ext)?;
    match extension {
        "js" | "mjs" => Some("text/javascript"),
        "wasm" => Some("application/wasm"),
        "webmanifest" => Some("application/manifest+json"),
        _ => None,
    }
}

/// Whether a file name carries a trunk content hash: a `-`, then the hash in lowercase hex, then
/// the extension (`style-0123456789abcdef.css`) or wasm-bindgen's suffix (`app-…_bg.wasm`).
///
/// Trunk writes the 64-bit hash with `{:x}`, which does not pad with zeros, so about one build in
/// sixteen has a 15-digit hash. Requiring exactly 16 digits would only cost that build its
/// long-lived caching, but accepting 12 to 16 digits keeps it, while hand-named files
/// (`icon-192.png`, `photo-20240101.jpg`) still do not qualify.
pub fn is_hashed_file_name(name: &str) -> bool {
    const MIN_DIGITS: usize = 12;
    const MAX_DIGITS: usize = 16;
    name.match_indices('-').any(|(dash, _)| {
        let rest = &name[dash + 1..];
        let digits = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .count();
        let after = &rest[digits..];
        (MIN_DIGITS..=MAX_DIGITS).contains(&digits)
            && (after.starts_with('.') || after.starts_with('_'))
            && after
                .rsplit_once('.')
                .is_some_and(|(_, ext)| !ext.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_hashed_names_are_recognised() {
        for name in [
            "liaison-app-0123456789abcdef_bg.wasm",
            "liaison-app-0123456789abcdef.js",
            "liaison-app-0123456789abcdef_loader.js",
            "style-0123456789abcdef.css",
            "app-0123456789abcdef_bg.wasm",
            // `{:x}` of a hash with a leading zero nibble.
            "style-123456789abcdef.css",
        ] {
            assert!(is_hashed_file_name(name), "{name} should count as hashed");
        }
    }

    #[test]
    fn other_names_are_not_hashed() {
        for name in [
            "",
            "index.html",
            "sw.js",
            "manifest.webmanifest",
            "icon-192.png",
            "icon-512x512.png",
            "photo-20240101.jpg",
            // Upper case is not what trunk writes.
            "style-0123456789ABCDEF.css",
            // More than a 64-bit hash.
            "style-0123456789abcdef0.css",
            // No extension after the hash.
            "style-0123456789abcdef",
            "style-0123456789abcdef.",
            // Not hex.
            "style-0123456789abcdeg.css",
            // A hash with no dash before it.
            "style0123456789abcdef.css",
        ] {
            assert!(
                !is_hashed_file_name(name),
                "{name} should not count as hashed"
            );
        }
    }

    #[test]
    fn paths_with_an_extension_are_files_and_others_app_routes() {
        assert!(looks_like_file("/missing-0123456789abcdef.js"));
        assert!(looks_like_file("/favicon.ico"));
        assert!(!looks_like_file("/records"));
        assert!(!looks_like_file("/records/42"));
        assert!(!looks_like_file("/"));
        assert!(is_api_path("/api/"));
        assert!(is_api_path("/api/v2/anything"));
        assert!(!is_api_path("/apiary"));
    }

    #[test]
    fn content_types_for_the_files_browsers_are_strict_about() {
        assert_eq!(content_type_override("sw.js"), Some("text/javascript"));
        assert_eq!(content_type_override("a_bg.wasm"), Some("application/wasm"));
        assert_eq!(
            content_type_override("manifest.webmanifest"),
            Some("application/manifest+json")
        );
        assert_eq!(content_type_override("index.html"), None);
        assert_eq!(content_type_override("README"), None);
    }
}
