//! Security headers, and a Content-Security-Policy that a trunk-built wasm app can live with.
//!
//! Trunk injects its loader into `index.html` as an inline `<script type="module">` (it imports
//! the hashed JS glue and calls `init` with the hashed wasm name, so its text changes with every
//! build). `script-src 'self'` alone blocks it. Rather than allow every inline script
//! (`'unsafe-inline'`) or rewrite `index.html` per response to insert a nonce (trunk's
//! `create_nonce`, which `trunk serve` does), the server hashes the inline scripts of the
//! `index.html` it serves and lists those hashes (`'sha256-…'`) in `script-src`: exactly that
//! loader may run, nothing injected may. The hashes are taken when the server starts, so a new
//! bundle needs a restart (which deploying a new version does anyway).
//!
//! `'wasm-unsafe-eval'` is what `WebAssembly.instantiateStreaming` needs, and no more than that
//! (unlike `'unsafe-eval'`). `style-src 'unsafe-inline'` is for the `style="…"` attributes that
//! Leptos views set.

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The policy without the hashes of inline scripts. Each directive is one string so that the
/// hashes can be added to `script-src`.
pub const BASE_POLICY: &[&str] = &[
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
];

/// The policy for the bundle in `dist_dir`: [`BASE_POLICY`] plus the hashes of the inline scripts
/// of its `index.html`. Without an `index.html` (app not built yet) it is the base policy.
pub fn content_security_policy_for_dist(dist_dir: &Path) -> HeaderValue {
    let index = dist_dir.join("index.html");
    let policy = match std::fs::read_to_string(&index) {
        Ok(html) => content_security_policy(&inline_script_hashes(&html)),
        Err(err) => {
            tracing::warn!(
                index = %index.display(),
                error = %err,
                "cannot read index.html: CSP allows no inline script"
            );
            content_security_policy(&[])
        }
    };
    HeaderValue::from_str(&policy)
        .expect("a policy made of ASCII constants and base64 hashes is a valid header value")
}

/// [`BASE_POLICY`] with `script_hashes` (already in `'sha256-…'` form) added to `script-src`.
pub fn content_security_policy(script_hashes: &[String]) -> String {
    BASE_POLICY
        .iter()
        .map(|directive| {
            if directive.starts_with("script-src ") && !script_hashes.is_empty() {
                format!("{directive} {}", script_hashes.join(" "))
            } else {
                (*directive).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `'sha256-…'` sources for every inline `<script>` (one without `src`) in `html`, in document
/// order, without duplicates.
///
/// This is a scanner, not an HTML parser: enough for trunk's output, which writes the loader as a
/// plain `<script type="module">…</script>`. The text is hashed as the browser sees it, i.e. after
/// the HTML parser's newline normalisation (CRLF and CR become LF).
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    // ASCII lowercasing keeps every byte offset, so positions found in `lower` index `html`.
    let lower = html.to_ascii_lowercase();
    let mut hashes = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find("<script") {
        let tag_start = at + found;
        let after_name = tag_start + "<script".len();
        // `<scripts>` or `<script-x>` are other elements.
        if !lower[after_name..].starts_with(|c: char| c == '>' || c.is_ascii_whitespace()) {
            at = after_name;
            continue;
        }
        let Some(tag_len) = lower[tag_start..].find('>') else {
            break;
        };
        let content_start = tag_start + tag_len + 1;
        let Some(content_len) = lower[content_start..].find("</script") else {
            break;
        };
        let tag = &lower[tag_start..content_start];
        let content = &html[content_start..content_start + content_len];
        if !has_src_attribute(tag) {
            let hash = script_hash(content);
            if !hashes.contains(&hash) {
                hashes.push(hash);
            }
        }
        at = content_start + content_len;
    }
    hashes
}

fn has_src_attribute(tag: &str) -> bool {
    tag.trim_start_matches("<script")
        .trim_end_matches('>')
        .split_ascii_whitespace()
        .any(|attribute| attribute == "src" || attribute.starts_with("src="))
}

fn script_hash(content: &str) -> String {
    let normalised = content.replace("\r\n", "\n").replace('\r', "\n");
    let digest = Sha256::digest(normalised.as_bytes());
    format!("'sha256-{}'", BASE64.encode(digest))
}

/// Middleware for `axum::middleware::map_response_with_state`, with the policy as its state.
/// Headers are set only when absent, so a handler can send a stricter policy of its own.
/// Generic over the body so that it can sit anywhere in the middleware stack.
pub async fn add_security_headers<B>(
    State(content_security_policy): State<HeaderValue>,
    mut response: Response<B>,
) -> Response<B> {
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: HeaderValue| {
        headers.entry(name).or_insert(value);
    };
    set(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    set(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    set(header::CONTENT_SECURITY_POLICY, content_security_policy);
    // No other site's window keeps a handle on ours, and no other site embeds our resources.
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    set(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    // The capture form takes photos with the camera; nothing needs the rest.
    set(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(
            "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
        ),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    // What trunk 0.21 writes for an app without an initializer (see the tests' fake bundle).
    const TRUNK_INDEX: &str = "<!DOCTYPE html><html><head>\
        <link rel=\"modulepreload\" href=\"/app-0123456789abcdef.js\" crossorigin=\"anonymous\">\
        </head><body>\n<script type=\"module\">\nimport init from '/app-0123456789abcdef.js';\n\
        const wasm = await init({ module_or_path: '/app-0123456789abcdef_bg.wasm' });\n</script>\
        <script src=\"/extra.js\"></script></body></html>";

    #[test]
    fn hashes_the_inline_loader_and_skips_scripts_with_src() {
        let hashes = inline_script_hashes(TRUNK_INDEX);
        let loader = "\nimport init from '/app-0123456789abcdef.js';\n\
            const wasm = await init({ module_or_path: '/app-0123456789abcdef_bg.wasm' });\n";
        assert_eq!(hashes, vec![script_hash(loader)]);
        assert!(hashes[0].starts_with("'sha256-") && hashes[0].ends_with("='"));
    }

    #[test]
    fn known_hash_of_a_short_script() {
        // `printf 'alert(1)' | openssl dgst -sha256 -binary | base64`
        assert_eq!(
            script_hash("alert(1)"),
            "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
        );
    }

    #[test]
    fn newlines_are_hashed_as_the_browser_normalises_them() {
        assert_eq!(script_hash("a\r\nb\rc"), script_hash("a\nb\nc"));
    }

    #[test]
    fn other_elements_and_case_are_handled() {
        let html = "<scripts>x</scripts><SCRIPT>one()</SCRIPT><script async src=a.js></script>";
        assert_eq!(inline_script_hashes(html), vec![script_hash("one()")]);
        assert!(inline_script_hashes("<p>no scripts</p>").is_empty());
        assert!(inline_script_hashes("<script>unterminated").is_empty());
    }

    #[test]
    fn hashes_go_into_script_src_only() {
        let policy = content_security_policy(&["'sha256-abc='".to_owned()]);
        assert!(policy.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-abc=';"));
        assert!(!policy.contains("unsafe-inline' 'sha256"));
        assert_eq!(policy.matches("sha256").count(), 1);
        assert!(policy.starts_with("default-src 'self'; "));
        assert!(policy.ends_with("frame-ancestors 'none'"));
        assert!(!content_security_policy(&[]).contains("sha256"));
    }
}
