//! `cargo xtask precache DIR`: fills the service worker's placeholders after trunk has staged the
//! site (trunk's `post_build` hook, see Trunk.toml).
//!
//! In `DIR/sw.js`:
//! - `__BUILD_ID__` becomes the first 16 hex digits of a SHA-256 over every file of the site
//!   (relative path and bytes, sorted by path; `sw.js` itself in its template form included), so
//!   the service worker's bytes, and with them its cache name, change whenever the app changes;
//! - `self.__PRECACHE_MANIFEST__` becomes a JSON array of the site-absolute paths of every file
//!   except `sw.js`, sorted, e.g. `["/index.html","/liaison-app-<hash>.js",...]`.

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

pub const SERVICE_WORKER: &str = "sw.js";
pub const MANIFEST_PLACEHOLDER: &str = "self.__PRECACHE_MANIFEST__";
pub const BUILD_ID_PLACEHOLDER: &str = "__BUILD_ID__";

#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    /// The site-absolute paths written into the manifest.
    pub urls: Vec<String>,
    pub build_id: String,
}

/// Every regular file under `dir`, as (`/`-separated relative path, absolute path), sorted by the
/// relative path.
fn files_under(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
        for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name
                .to_str()
                .with_context(|| format!("file name is not UTF-8: {}", path.display()))?;
            let rel = format!("{prefix}{name}");
            // `metadata` follows symlinks: a linked file is served like any other.
            let meta =
                fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
            if meta.is_dir() {
                walk(&path, &format!("{rel}/"), out)?;
            } else if meta.is_file() {
                out.push((rel, path));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// `TRUNK_PUBLIC_URL` (trunk's `public_url`, `/` unless configured) as a prefix ending in `/`.
pub fn normalize_base(public_url: Option<&str>) -> String {
    let base = public_url
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("/");
    if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    }
}

/// Rewrites `dir/sw.js` in place; `base` is the URL prefix of the site (normally `/`).
pub fn precache(dir: &Path, base: &str) -> Result<Summary> {
    let sw_path = dir.join(SERVICE_WORKER);
    if !sw_path.is_file() {
        bail!(
            "{} is missing: the site must ship a service worker at its root \
             (index.html: <link data-trunk rel=\"copy-file\" href=\"<path>/sw.js\" />)",
            sw_path.display()
        );
    }
    let template =
        fs::read_to_string(&sw_path).with_context(|| format!("reading {}", sw_path.display()))?;
    if !template.contains(MANIFEST_PLACEHOLDER) && !template.contains(BUILD_ID_PLACEHOLDER) {
        bail!(
            "{} has neither `{MANIFEST_PLACEHOLDER}` nor `{BUILD_ID_PLACEHOLDER}`: was it \
             already processed, or is it the wrong file?",
            sw_path.display()
        );
    }

    let files = files_under(dir)?;
    let mut hasher = Sha256::new();
    let mut urls = Vec::new();
    for (rel, path) in &files {
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        // Length-prefixed fields, so that no two different sites hash the same byte stream.
        hasher.update((rel.len() as u64).to_le_bytes());
        hasher.update(rel.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        if rel != SERVICE_WORKER {
            urls.push(format!("{base}{rel}"));
        }
    }
    let digest = hasher.finalize();
    let build_id: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();

    let manifest = serde_json::to_string(&urls)?;
    // The build id first: a file name can then never inject a placeholder into the result.
    let output = template
        .replace(BUILD_ID_PLACEHOLDER, &build_id)
        .replace(MANIFEST_PLACEHOLDER, &manifest);
    fs::write(&sw_path, output).with_context(|| format!("writing {}", sw_path.display()))?;
    Ok(Summary { urls, build_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh, empty directory, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "xtask-precache-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        fn write(&self, rel: &str, contents: &str) {
            let path = self.0.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, contents).unwrap();
        }

        fn read(&self, rel: &str) -> String {
            fs::read_to_string(self.0.join(rel)).unwrap()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const SW: &str = "const BUILD_ID = \"__BUILD_ID__\";\n\
                      const CACHE = `liaison-${BUILD_ID}`;\n\
                      const PRECACHE = self.__PRECACHE_MANIFEST__;\n";

    fn site(app_js: &str) -> TempDir {
        let dir = TempDir::new();
        dir.write("sw.js", SW);
        dir.write("index.html", "<!doctype html>");
        dir.write("liaison-app-1234abcd.js", app_js);
        dir.write("liaison-app-1234abcd_bg.wasm", "\0asm");
        dir.write("style/app-99.css", "body{}");
        dir.write("icons/icon-192.png", "png");
        dir
    }

    #[test]
    fn fills_manifest_and_build_id() {
        let dir = site("js");
        let summary = precache(&dir.0, "/").unwrap();
        let expected = [
            "/icons/icon-192.png",
            "/index.html",
            "/liaison-app-1234abcd.js",
            "/liaison-app-1234abcd_bg.wasm",
            "/style/app-99.css",
        ];
        assert_eq!(summary.urls, expected);
        assert_eq!(summary.build_id.len(), 16);
        assert!(summary.build_id.chars().all(|c| c.is_ascii_hexdigit()));

        let sw = dir.read("sw.js");
        assert!(
            !sw.contains(BUILD_ID_PLACEHOLDER) && !sw.contains(MANIFEST_PLACEHOLDER),
            "{sw}"
        );
        assert!(sw.contains(&format!("const BUILD_ID = \"{}\";", summary.build_id)));
        let json = serde_json::to_string(&expected).unwrap();
        assert!(sw.contains(&format!("const PRECACHE = {json};")), "{sw}");
        // The array is valid JSON and so a valid JS expression.
        let line = sw
            .lines()
            .find(|l| l.starts_with("const PRECACHE"))
            .unwrap();
        let array = line
            .trim_start_matches("const PRECACHE = ")
            .trim_end_matches(';');
        let parsed: Vec<String> = serde_json::from_str(array).unwrap();
        assert_eq!(parsed, expected);
    }

    #[test]
    fn build_id_changes_with_any_file() {
        let id = |dir: &TempDir| precache(&dir.0, "/").unwrap().build_id;
        let a = id(&site("js"));
        assert_eq!(a, id(&site("js")), "same site, same id");
        assert_ne!(a, id(&site("js changed")), "changed bytes, new id");
        let renamed = site("js");
        fs::rename(renamed.0.join("index.html"), renamed.0.join("index2.html")).unwrap();
        assert_ne!(a, id(&renamed), "renamed file, new id");
        let sw_changed = site("js");
        sw_changed.write("sw.js", &format!("{SW}// v2\n"));
        assert_ne!(a, id(&sw_changed), "changed service worker, new id");
    }

    #[test]
    fn uses_the_public_url_prefix() {
        let dir = site("js");
        let summary = precache(&dir.0, &normalize_base(Some("/app"))).unwrap();
        assert_eq!(summary.urls[1], "/app/index.html");
        assert_eq!(normalize_base(None), "/");
        assert_eq!(normalize_base(Some("")), "/");
        assert_eq!(normalize_base(Some("/x/")), "/x/");
    }

    #[test]
    fn fails_loudly_without_sw_or_placeholders() {
        let dir = TempDir::new();
        dir.write("index.html", "x");
        let err = precache(&dir.0, "/").unwrap_err().to_string();
        assert!(err.contains("sw.js is missing"), "{err}");

        dir.write("sw.js", "self.addEventListener('fetch', () => {});");
        let err = precache(&dir.0, "/").unwrap_err().to_string();
        assert!(err.contains("neither"), "{err}");
        assert_eq!(
            dir.read("sw.js"),
            "self.addEventListener('fetch', () => {});"
        );

        // Running twice fails too: the first run consumed the placeholders.
        let site = site("js");
        precache(&site.0, "/").unwrap();
        assert!(precache(&site.0, "/").is_err());
    }

    #[test]
    fn one_placeholder_is_enough() {
        let dir = TempDir::new();
        dir.write("sw.js", "const V = '__BUILD_ID__';");
        dir.write("index.html", "x");
        let summary = precache(&dir.0, "/").unwrap();
        assert_eq!(summary.urls, ["/index.html"]);
        assert_eq!(
            dir.read("sw.js"),
            format!("const V = '{}';", summary.build_id)
        );
    }
}
