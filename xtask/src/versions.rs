//! Just enough TOML reading to compare the wasm-bindgen versions that must agree, without pulling
//! a TOML parser into the xtask (keeps `cargo xtask` quick to compile on a fresh machine).
//!
//! The four places that must hold the same wasm-bindgen version:
//! - `Cargo.lock`: the resolved `wasm-bindgen` package (trunk reads it there too when
//!   Trunk.toml has no pin);
//! - the root `Cargo.toml`: the `=` pin of the `wasm-bindgen` dependency;
//! - `Trunk.toml`: `[tools] wasm_bindgen`, the CLI version trunk demands in offline mode;
//! - `wasm-bindgen --version`: the CLI installed on PATH (`cargo install wasm-bindgen-cli@X`).

use anyhow::{Context, Result, bail};

/// One logical line of a TOML file: the table it is in and its `key = value`, if any.
#[derive(Debug, PartialEq, Eq)]
struct Entry<'a> {
    table: &'a str,
    key: String,
    value: &'a str,
}

/// Strips a `#` comment that is not inside a basic or literal string.
fn strip_comment(line: &str) -> &str {
    let mut in_basic = false;
    let mut in_literal = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if in_basic && !escaped => {
                escaped = true;
                continue;
            }
            '"' if !in_literal && !escaped => in_basic = !in_basic,
            '\'' if !in_basic => in_literal = !in_literal,
            '#' if !in_basic && !in_literal => return &line[..i],
            _ => {}
        }
        escaped = false;
    }
    line
}

/// Removes one pair of surrounding `"` or `'` (TOML keys may be quoted).
fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

/// Line-oriented walk over `key = value` lines, remembering the current `[table]` /
/// `[[array-of-tables]]` header (without brackets). Lines that continue a multi-line array or
/// inline table are not entries unless they look like `key = value`, which is harmless for the
/// keys this module looks for.
fn entries(text: &str) -> Vec<Entry<'_>> {
    let mut table = "";
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            table = line.trim_start_matches('[').trim_end_matches(']').trim();
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let key = key.split('.').map(unquote).collect::<Vec<_>>().join(".");
            out.push(Entry {
                table,
                key,
                value: value.trim(),
            });
        }
    }
    out
}

/// The string value of a TOML basic/literal string (`"x"` or `'x'`), if `value` is one.
fn string_value(value: &str) -> Option<String> {
    let value = value.trim();
    let q = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &value[1..];
    let end = rest.find(q)?;
    Some(rest[..end].to_string())
}

/// `version = "..."` inside an inline table `{ ... }`.
fn inline_table_version(value: &str) -> Option<String> {
    let inner = value.trim().strip_prefix('{')?;
    let inner = inner.rsplit_once('}').map_or(inner, |(body, _)| body);
    inner.split(',').find_map(|part| {
        let (k, v) = part.split_once('=')?;
        (unquote(k) == "version").then(|| string_value(v)).flatten()
    })
}

/// The string value of `key` in `[table]` (e.g. `[tools] wasm_bindgen` in Trunk.toml).
pub fn table_string(text: &str, table: &str, key: &str) -> Option<String> {
    entries(text)
        .into_iter()
        .find(|e| e.table == table && e.key == key)
        .and_then(|e| string_value(e.value))
}

/// Every version of package `name` in a Cargo.lock.
pub fn lock_versions(lock: &str, name: &str) -> Vec<String> {
    let mut versions = Vec::new();
    let mut current_name: Option<String> = None;
    for e in entries(lock) {
        if e.table != "package" {
            continue;
        }
        match e.key.as_str() {
            "name" => current_name = string_value(e.value),
            "version" if current_name.as_deref() == Some(name) => {
                if let Some(v) = string_value(e.value) {
                    versions.push(v);
                }
                current_name = None;
            }
            _ => {}
        }
    }
    versions
}

/// The single version of package `name` in a Cargo.lock.
pub fn lock_version(lock: &str, name: &str) -> Result<String> {
    let versions = lock_versions(lock, name);
    match versions.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("Cargo.lock has no `{name}` package"),
        many => bail!(
            "Cargo.lock has several `{name}` versions ({}): there must be exactly one",
            many.join(", ")
        ),
    }
}

/// The version requirement(s) of dependency `dep` in a Cargo.toml, as written (e.g. `=0.2.130`),
/// from any `*dependencies` table (`dep = "..."`, `dep = { version = "..." }`) or a
/// `[dependencies.dep]` table. Entries without a version (`workspace = true`, `path = ...`) are
/// skipped; the workspace table is searched as well, so an inherited pin is found too.
pub fn dependency_requirements(manifest: &str, dep: &str) -> Vec<String> {
    let mut reqs = Vec::new();
    for e in entries(manifest) {
        let in_deps_table = e.table.ends_with("dependencies");
        let in_dep_table = e.table.ends_with(&format!("dependencies.{dep}"))
            || e.table.ends_with(&format!("dependencies.\"{dep}\""));
        let req = if in_deps_table && e.key == dep {
            string_value(e.value).or_else(|| inline_table_version(e.value))
        } else if (in_deps_table && e.key == format!("{dep}.version"))
            || (in_dep_table && e.key == "version")
        {
            string_value(e.value)
        } else {
            None
        };
        if let Some(req) = req {
            let req = req.trim().to_string();
            if !reqs.contains(&req) {
                reqs.push(req);
            }
        }
    }
    reqs
}

/// The exact version `dep` is pinned to with `=` in a Cargo.toml (`"=0.2.130"` gives `0.2.130`).
pub fn exact_pin(manifest: &str, dep: &str) -> Result<String> {
    let reqs = dependency_requirements(manifest, dep);
    let req = match reqs.as_slice() {
        [one] => one,
        [] => bail!("Cargo.toml has no `{dep}` dependency with a version"),
        many => bail!(
            "Cargo.toml has several `{dep}` requirements ({}): keep one `=` pin",
            many.join(", ")
        ),
    };
    let pinned = req
        .strip_prefix('=')
        .map(str::trim)
        .filter(|v| !v.is_empty() && !v.contains([',', '*', '<', '>', '^', '~']))
        .with_context(|| {
            format!("Cargo.toml's `{dep} = \"{req}\"` is not an exact pin: write `\"=X.Y.Z\"`")
        })?;
    Ok(pinned.to_string())
}

/// The version word of a tool's `--version` output: `wasm-bindgen 0.2.130` gives `0.2.130`,
/// `trunk 0.21.14` gives `0.21.14`.
pub fn version_word(output: &str) -> Option<String> {
    output
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)
        .map(|v| v.trim_start_matches('v').to_string())
}

/// Checks that all sources name one version; returns it, or an error naming every value.
pub fn all_equal(what: &str, values: &[(&str, Result<String>)]) -> Result<String> {
    let mut first: Option<&str> = None;
    let mut ok = true;
    for (_, value) in values {
        match (value, first) {
            (Err(_), _) => ok = false,
            (Ok(v), None) => first = Some(v),
            (Ok(v), Some(f)) => ok &= v == f,
        }
    }
    match (ok, first) {
        (true, Some(v)) => Ok(v.to_string()),
        _ => {
            let mut msg = format!("{what} versions disagree; they must all be the same:");
            for (source, value) in values {
                match value {
                    Ok(v) => msg.push_str(&format!("\n  {source}: {v}")),
                    Err(e) => msg.push_str(&format!("\n  {source}: ? ({e:#})")),
                }
            }
            bail!(msg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::anyhow;

    const LOCK: &str = r#"
# This file is automatically @generated by Cargo.
version = 4

[[package]]
name = "wasm-bindgen-futures"
version = "0.4.50"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "wasm-bindgen"
version = "0.2.130"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = [
 "cfg-if",
]

[[package]]
name = "xtask"
version = "0.1.0"
"#;

    const MANIFEST: &str = r#"
[package]
name = "app"
version = "0.1.0"

[dependencies]
# A comment with wasm-bindgen = "0.1" in it.
wasm-bindgen-futures = "0.4"
wasm-bindgen = "=0.2.130" # pinned
web-sys = { version = "0.3", features = [
    "Blob", "Window",
] }

[dev-dependencies]
wasm-bindgen-test = "0.3"
"#;

    #[test]
    fn reads_the_locked_version_and_ignores_similar_names() {
        assert_eq!(lock_versions(LOCK, "wasm-bindgen"), ["0.2.130"]);
        assert_eq!(lock_version(LOCK, "wasm-bindgen").unwrap(), "0.2.130");
        assert_eq!(
            lock_version(LOCK, "wasm-bindgen-futures").unwrap(),
            "0.4.50"
        );
        assert!(lock_version(LOCK, "leptos").is_err());
        let two = format!("{LOCK}\n[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.100\"\n");
        let err = lock_version(&two, "wasm-bindgen").unwrap_err().to_string();
        assert!(err.contains("0.2.130") && err.contains("0.2.100"), "{err}");
    }

    #[test]
    fn reads_the_exact_pin_in_every_spelling() {
        assert_eq!(exact_pin(MANIFEST, "wasm-bindgen").unwrap(), "0.2.130");
        let inline = "[dependencies]\nwasm-bindgen = { version = \"= 0.2.130\", default-features = false }\n";
        assert_eq!(exact_pin(inline, "wasm-bindgen").unwrap(), "0.2.130");
        let table = "[dependencies.wasm-bindgen]\nversion = \"=0.2.130\"\n";
        assert_eq!(exact_pin(table, "wasm-bindgen").unwrap(), "0.2.130");
        let dotted = "[dependencies]\nwasm-bindgen.version = \"=0.2.130\"\n";
        assert_eq!(exact_pin(dotted, "wasm-bindgen").unwrap(), "0.2.130");
        let inherited = "[workspace.dependencies]\nwasm-bindgen = \"=0.2.130\"\n\n\
                         [dependencies]\nwasm-bindgen.workspace = true\n";
        assert_eq!(exact_pin(inherited, "wasm-bindgen").unwrap(), "0.2.130");
    }

    #[test]
    fn rejects_a_missing_or_loose_pin() {
        let loose = "[dependencies]\nwasm-bindgen = \"0.2.130\"\n";
        let err = exact_pin(loose, "wasm-bindgen").unwrap_err().to_string();
        assert!(err.contains("not an exact pin"), "{err}");
        assert!(exact_pin("[dependencies]\nwasm-bindgen = \">=0.2\"\n", "wasm-bindgen").is_err());
        assert!(exact_pin("[dependencies]\nserde = \"1\"\n", "wasm-bindgen").is_err());
        let two = "[dependencies]\nwasm-bindgen = \"=0.2.130\"\n[dev-dependencies]\nwasm-bindgen = \"=0.2.129\"\n";
        assert!(exact_pin(two, "wasm-bindgen").is_err());
    }

    #[test]
    fn reads_trunk_tools() {
        let trunk = "trunk-version = \"=0.21.14\"\n[build]\ntarget = \"index.html\"\n\n\
                     [tools]\n# why\nwasm_bindgen = \"0.2.130\"  # pinned\nwasm_opt = 'version_132'\n";
        assert_eq!(
            table_string(trunk, "tools", "wasm_bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(
            table_string(trunk, "tools", "wasm_opt").as_deref(),
            Some("version_132")
        );
        assert_eq!(table_string(trunk, "build", "wasm_bindgen"), None);
        assert_eq!(
            table_string(trunk, "", "trunk-version").as_deref(),
            Some("=0.21.14")
        );
    }

    #[test]
    fn comments_inside_strings_are_kept() {
        assert_eq!(strip_comment(r#"a = "x#y" # c"#), r#"a = "x#y" "#);
        assert_eq!(strip_comment(r#"a = 'x#y'"#), r#"a = 'x#y'"#);
        assert_eq!(strip_comment(r##"a = "q\"#" # c"##), r##"a = "q\"#" "##);
    }

    #[test]
    fn reads_tool_version_output() {
        assert_eq!(
            version_word("wasm-bindgen 0.2.130\n").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(version_word("trunk 0.21.14").as_deref(), Some("0.21.14"));
        assert_eq!(version_word("garbage"), None);
    }

    #[test]
    fn all_equal_names_every_value_on_mismatch() {
        let same = [("a", Ok("1".to_string())), ("b", Ok("1".to_string()))];
        assert_eq!(all_equal("x", &same).unwrap(), "1");
        let differ = [
            ("Cargo.lock", Ok("0.2.130".to_string())),
            ("Trunk.toml", Ok("0.2.129".to_string())),
            ("wasm-bindgen --version", Err(anyhow!("not installed"))),
        ];
        let err = all_equal("wasm-bindgen", &differ).unwrap_err().to_string();
        for part in [
            "Cargo.lock: 0.2.130",
            "Trunk.toml: 0.2.129",
            "not installed",
        ] {
            assert!(err.contains(part), "{err}");
        }
        let missing = [("a", Ok("1".to_string())), ("b", Err(anyhow!("gone")))];
        assert!(all_equal("x", &missing).is_err());
    }

    /// The repository's own files agree (the installed CLI is checked by `check-versions`).
    #[test]
    fn repository_pins_agree() {
        let root = crate::repo_root();
        let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap();
        let lock = lock_version(&read("Cargo.lock"), "wasm-bindgen").unwrap();
        assert_eq!(
            exact_pin(&read("Cargo.toml"), "wasm-bindgen").unwrap(),
            lock
        );
        let trunk = read("Trunk.toml");
        assert_eq!(table_string(&trunk, "tools", "wasm_bindgen").unwrap(), lock);
        assert_eq!(
            table_string(&trunk, "tools", "wasm_opt").unwrap(),
            format!("version_{}", crate::WASM_OPT_VERSION)
        );
        assert_eq!(
            table_string(&trunk, "", "trunk-version").unwrap(),
            format!("={}", crate::TRUNK_VERSION)
        );
    }
}
