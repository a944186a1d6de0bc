//! Request limits beyond the body size: the nesting depth of JSON bodies.
//!
//! Every `/api` request whose `Content-Type` is JSON (`application/json`, or any
//! `application/…+json`, which axum's `Json` also reads) has its body scanned before a handler
//! sees it: more than [`Settings::json_max_depth`] nested arrays and objects (32 by default;
//! the app's deepest message nests 6) is answered 400 `json_too_deep`. serde_json would stop at
//! 128 levels anyway; this keeps hostile nesting from reaching any handler, whatever it
//! deserialises into. The body is read within the body-size limit (the layer sits inside
//! it: a body over the limit is 413 `payload_too_large` as before) and handed on unchanged.
//!
//! The scan is a byte state machine (strings and their escapes skipped), not a parser: it
//! only counts brackets, so malformed JSON passes to the handler's own parser, which refuses it
//! (400).
//!
//! [`Settings::json_max_depth`]: crate::Settings::json_max_depth

use crate::error::AppError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The deepest nesting of `[` and `{` in `bytes`, outside strings; stops counting past `max`.
pub fn json_depth_exceeds(bytes: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in bytes {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|mime| {
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

/// Middleware (`axum::middleware::from_fn_with_state`, the maximum depth as its state).
pub async fn json_depth(State(max): State<usize>, request: Request, next: Next) -> Response {
    if !is_json(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // The body is already limited by the layers outside; reading it here cannot exceed that.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(_) => return AppError::Status(StatusCode::PAYLOAD_TOO_LARGE).into_response(),
    };
    if json_depth_exceeds(&bytes, max) {
        return AppError::BadRequest {
            code: "json_too_deep",
            message: "The JSON body is nested too deeply",
        }
        .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_brackets_outside_strings() {
        assert!(!json_depth_exceeds(br#"{"a": [1, {"b": 2}]}"#, 3));
        assert!(json_depth_exceeds(br#"{"a": [1, {"b": 2}]}"#, 2));
        assert!(!json_depth_exceeds(br#"{"a": "[[[[[[[[[[{{{{{"}"#, 1));
        assert!(!json_depth_exceeds(br#"{"a": "\"[[[[[["}"#, 1));
        assert!(json_depth_exceeds(br#"{"a": "\\", "b": [[[1]]]}"#, 3));
        assert!(json_depth_exceeds(&[b'['; 33], 32));
        assert!(!json_depth_exceeds(&b"[]".repeat(1000), 1));
        assert!(!json_depth_exceeds(b"\xff\xfe not json", 0));
    }
}
