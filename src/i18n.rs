//! Languages. Chinese is the default; English is available. Every text the UI shows comes from
//! the translation files in `locales/` (flat JSON: key → text), embedded at build time so they
//! work offline. The choice is remembered in `localStorage`.

use leptos::prelude::*;
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    fn from_code(code: &str) -> Option<Lang> {
        match code {
            "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn is_english(self) -> bool {
        self == Lang::En
    }
}

pub const ZH_SOURCE: &str = include_str!("../locales/zh-CN.json");
pub const EN_SOURCE: &str = include_str!("../locales/en.json");

fn table(lang: Lang) -> &'static HashMap<String, String> {
    static ZH: OnceLock<HashMap<String, String>> = OnceLock::new();
    static EN: OnceLock<HashMap<String, String>> = OnceLock::new();
    let (cell, source) = match lang {
        Lang::Zh => (&ZH, ZH_SOURCE),
        Lang::En => (&EN, EN_SOURCE),
    };
    cell.get_or_init(|| serde_json::from_str(source).expect("translation file is valid JSON"))
}

/// The text for `key` in `lang`. A missing key shows the key itself, so it is noticed (and the
/// translation test fails) rather than showing nothing.
pub fn text(lang: Lang, key: &str) -> String {
    table(lang)
        .get(key)
        .cloned()
        .unwrap_or_else(|| key.to_owned())
}

/// Like [`text`], replacing `{name}` placeholders.
pub fn text_with(lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    let mut s = text(lang, key);
    for (name, value) in args {
        s = s.replace(&format!("{{{name}}}"), value);
    }
    s
}

const STORAGE_KEY: &str = "liaison.lang";

/// The current language, shared through context.
#[derive(Clone, Copy)]
pub struct I18n {
    pub lang: RwSignal<Lang>,
}

impl I18n {
    /// Reads the remembered choice; Chinese when there is none.
    pub fn load() -> I18n {
        let remembered = local_storage()
            .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
            .and_then(|code| Lang::from_code(&code));
        let lang = remembered.unwrap_or(Lang::Zh);
        set_document_lang(lang);
        I18n {
            lang: RwSignal::new(lang),
        }
    }

    pub fn set(&self, lang: Lang) {
        self.lang.set(lang);
        if let Some(storage) = local_storage() {
            let _ = storage.set_item(STORAGE_KEY, lang.code());
        }
        set_document_lang(lang);
    }

    /// The text for `key`, following the language signal.
    pub fn t(&self, key: &str) -> String {
        text(self.lang.get(), key)
    }
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn set_document_lang(lang: Lang) {
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", lang.code());
    }
}

pub fn use_i18n() -> I18n {
    expect_context::<I18n>()
}

/// A reactive text for views: `{tr("capture.title")}`.
pub fn tr(key: &'static str) -> impl Fn() -> String + Send + Sync + Copy + 'static {
    let i18n = use_i18n();
    move || i18n.t(key)
}
