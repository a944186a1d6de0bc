//! The rules ARCHITECTURE.md states as absences, checked on the source tree, so that a change
//! that breaks one fails the test run rather than a review.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn only_the_storage_module_touches_indexeddb() {
    let storage = root().join("src/storage");
    for file in rust_files(&root().join("src")) {
        if file.starts_with(&storage) {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        for forbidden in ["indexed_db_futures", "Idb", "indexedDB"] {
            assert!(
                !text.contains(forbidden),
                "{} mentions {forbidden}",
                file.display()
            );
        }
    }
}

#[test]
fn the_domain_crate_depends_on_no_browser_runtime_or_database() {
    let manifest = fs::read_to_string(root().join("crates/domain/Cargo.toml")).unwrap();
    let dependencies = manifest.split("[dev-dependencies]").next().unwrap();
    for forbidden in [
        "web-sys",
        "wasm-bindgen",
        "js-sys",
        "tokio",
        "sqlx",
        "getrandom",
        "rand",
    ] {
        assert!(
            !dependencies.contains(forbidden),
            "the domain crate depends on {forbidden}"
        );
    }
}

#[test]
fn no_text_becomes_markup_outside_the_charts() {
    // The only `inner_html` is a chart's SVG, drawn by plotters, which escapes its labels.
    let allowed = root().join("src/components/figures.rs");
    for file in rust_files(&root().join("src")) {
        if file == allowed {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
        for line in code {
            assert!(
                !line.contains("inner_html"),
                "{} sets inner HTML: {line}",
                file.display()
            );
        }
    }
}

#[test]
fn the_server_is_built_for_speed_and_unwinds() {
    let manifest = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let release = manifest
        .split("[profile.release]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("a [profile.release] section")
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !release.contains("panic") && !release.contains("opt-level = \"z\""),
        "the release profile (the server's) must unwind and optimise for speed: {release}"
    );
    let html = fs::read_to_string(root().join("index.html")).unwrap();
    assert!(
        html.contains("data-cargo-profile-release=\"wasm-release\""),
        "trunk builds the app with the size profile"
    );
}

/// Keys the app asks for literally: `tr("…")`, `.t("…")`, `row("…"`.
fn literal_keys(text: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for opener in ["tr(\"", ".t(\"", "row(\""] {
        for (start, _) in text.match_indices(opener) {
            let rest = &text[start + opener.len()..];
            if let Some(end) = rest.find('"') {
                let key = &rest[..end];
                let is_key = key.contains('.')
                    && key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || "._0123456789".contains(c));
                if is_key {
                    keys.insert(key.to_owned());
                }
            }
        }
    }
    keys
}

#[test]
fn every_text_key_used_in_the_app_exists_in_both_languages() {
    let locales: Vec<(String, serde_json::Map<String, serde_json::Value>)> = ["zh-CN", "en"]
        .iter()
        .map(|lang| {
            let text = fs::read_to_string(root().join(format!("locales/{lang}.json"))).unwrap();
            (lang.to_string(), serde_json::from_str(&text).unwrap())
        })
        .collect();
    let mut used = BTreeSet::new();
    for file in rust_files(&root().join("src")) {
        used.extend(literal_keys(&fs::read_to_string(&file).unwrap()));
    }
    assert!(
        used.len() > 40,
        "the scan finds the app's keys ({} found)",
        used.len()
    );
    for key in &used {
        for (lang, map) in &locales {
            assert!(
                map.contains_key(key),
                "`{key}` is used in src/ but missing in locales/{lang}.json"
            );
        }
    }
}

#[test]
fn the_key_scan_finds_keys_and_ignores_other_strings() {
    let keys = literal_keys(
        r#"tr("nav.capture") i18n.t("status.online") row("field.place", "x") x.t("Not A Key")"#,
    );
    let want: BTreeSet<String> = ["nav.capture", "status.online", "field.place"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(keys, want);
}
