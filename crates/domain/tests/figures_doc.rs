//! `docs/figures.md` carries the figures' definitions exactly as the code states them
//! ([`liaison_domain::figures::definitions_markdown`]). When a definition changes, regenerate the
//! table with `UPDATE_DOCS=1 cargo test -p liaison-domain --test figures_doc`.

use liaison_domain::figures::definitions_markdown;

const BEGIN: &str = "<!-- figures:begin (generated from crates/domain/src/figures.rs) -->\n";
const END: &str = "<!-- figures:end -->";

#[test]
fn the_written_definitions_are_the_codes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/figures.md");
    let doc = std::fs::read_to_string(path).expect("docs/figures.md exists");
    let (head, rest) = doc
        .split_once(BEGIN)
        .expect("docs/figures.md has the begin marker");
    let (table, tail) = rest
        .split_once(END)
        .expect("docs/figures.md has the end marker");
    let expected = definitions_markdown();
    if table != expected {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path, format!("{head}{BEGIN}{expected}{END}{tail}")).unwrap();
            return;
        }
        panic!(
            "docs/figures.md is out of step with the code; run \
             `UPDATE_DOCS=1 cargo test -p liaison-domain --test figures_doc`"
        );
    }
}
