//! `/audit`: the audit log for administrators and office staff (`GET /api/v1/audit`): who did
//! what with the data and when, newest first, each record in words (the time in China time, the
//! account, the action, the station, and its detail: the purpose of an unmasking, an export's
//! format and whether personal data went out, a step's action; the raw detail otherwise).
//!
//! The filters (action, account, station, days) go into the address (`/audit?action=…`), so a
//! filtered view can be bookmarked; the route reads them back ([`AuditFilters::from_query`]).
//! "Older" asks for the records below the last id shown (`before`). Online only, like every
//! back-office page: the first page goes through [`Fetched`] (another choice clears the table
//! at once, leaving the page cancels); an older page's answer is dropped if the filters changed
//! or the page went meanwhile. `#audit-state[data-state]` is `loading`, `ready`, `error`,
//! `forbidden` (a role the server does not let read the log) or `signed_out`.

use crate::components::fetched::{Fetched, session_token};
use crate::i18n::{I18n, text_with, tr, use_i18n};
use crate::names::station_name;
use crate::platform::format_china_time;
use crate::state::use_app;
use crate::sync::audit::{AUDIT_PAGE, AuditFilters, audit_address, audit_records};
use crate::sync::office::{OfficeError, office_error_key};
use leptos::prelude::*;
use liaison_domain::StationId;
use liaison_domain::audit::{AuditRecord, actions};
use serde_json::Value;

/// The action in words: `audit.action.<code>`, or the code itself for one this app does not
/// know (a newer server's).
pub fn action_text(i18n: I18n, code: &str) -> String {
    if actions::ALL.contains(&code) {
        i18n.t(&format!("audit.action.{code}"))
    } else {
        code.to_owned()
    }
}

/// A record's detail in words where the action's detail has a known shape, else the raw
/// detail (empty when there is none).
pub fn detail_text(i18n: I18n, record: &AuditRecord) -> String {
    let lang = i18n.lang.get();
    let detail = &record.detail;
    let text = |name: &str| match detail.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let worded = match record.action.as_str() {
        actions::UNMASK => text("purpose")
            .map(|purpose| text_with(lang, "audit.detail.unmask", &[("purpose", purpose)])),
        actions::EXPORT_REGISTER | actions::EXPORT_LEDGER => text("format").map(|format| {
            let key = if detail.get("personal").and_then(Value::as_bool) == Some(true) {
                "audit.detail.export_personal"
            } else {
                "audit.detail.export_masked"
            };
            text_with(
                lang,
                key,
                &[
                    ("format", format.to_uppercase()),
                    ("rows", text("rows").unwrap_or_else(|| "?".into())),
                ],
            )
        }),
        actions::STEP => text("action").map(|code| {
            text_with(
                lang,
                "audit.detail.step",
                &[("action", i18n.t(&format!("action.{code}")))],
            )
        }),
        actions::SIGN_IN_FAILED | actions::LOCKOUT => text("username")
            .map(|username| text_with(lang, "audit.detail.username", &[("username", username)])),
        actions::DEVICE_ENROLLED => {
            text("name").map(|name| text_with(lang, "audit.detail.device", &[("name", name)]))
        }
        actions::ACCOUNT_CREATED | actions::ACCOUNT_CHANGED => text("account")
            .map(|account| text_with(lang, "audit.detail.account", &[("account", account)])),
        actions::RETENTION_PURGE => {
            text("purged").map(|n| text_with(lang, "audit.detail.retention_purge", &[("n", n)]))
        }
        actions::AUDIT_PURGE => {
            text("deleted").map(|n| text_with(lang, "audit.detail.audit_purge", &[("n", n)]))
        }
        _ => None,
    };
    worded.unwrap_or_else(|| match detail {
        Value::Null => String::new(),
        Value::Object(fields) if fields.is_empty() => String::new(),
        other => other.to_string(),
    })
}

/// `filters`: those the route's address holds.
#[component]
pub fn AuditScreen(#[prop(optional)] filters: AuditFilters) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let session = app.sync.session;
    let token = session_token(session);
    // The inputs as typed; the account's name is applied when it is committed (change), not
    // on every keystroke.
    let action = RwSignal::new(filters.action.clone());
    let actor = RwSignal::new(filters.actor.clone());
    let station = RwSignal::new(filters.station.clone());
    let from = RwSignal::new(filters.from.clone());
    let to = RwSignal::new(filters.to.clone());
    let applied = Memo::new(move |_| AuditFilters {
        action: action.get(),
        actor: actor.get().trim().to_owned(),
        station: station.get(),
        from: from.get(),
        to: to.get(),
    });
    // The address follows the filters (replaced, not pushed: the back button leaves the page),
    // only while this page is the one in the address bar.
    Effect::new(move |_| {
        let address = audit_address(&applied.get());
        let Some(window) = web_sys::window() else {
            return;
        };
        if window.location().pathname().is_ok_and(|p| p == "/audit")
            && let Ok(history) = window.history()
        {
            let _ =
                history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&address));
        }
    });
    let first = Fetched::new(
        move || Some((token.get()?, applied.get())),
        |(token, filters)| async move { audit_records(&token, &filters, None).await },
    );
    // The older pages asked for since the first page's answer, and whether more may be there.
    let older = RwSignal::new(Vec::<AuditRecord>::new());
    let older_error = RwSignal::new(None::<OfficeError>);
    let older_loading = RwSignal::new(false);
    let last_page_full = RwSignal::new(false);
    // Each new first page (new filters, a retry) starts the list again.
    let generation = RwSignal::new(0u64);
    Effect::new(move |_| {
        first.answers().track();
        applied.track();
        let full = first
            .value()
            .with(|v| v.as_ref().is_some_and(|v| v.len() >= AUDIT_PAGE));
        older.set(Vec::new());
        older_error.set(None);
        older_loading.set(false);
        last_page_full.set(full);
        generation.update(|g| *g += 1);
    });
    let records = Signal::derive(move || {
        let mut all = first.value().get().unwrap_or_default();
        older.with(|o| all.extend(o.iter().cloned()));
        all
    });
    let load_older = move |_| {
        if older_loading.get_untracked() {
            return;
        }
        let Some(token) = token.get_untracked() else {
            return;
        };
        let Some(last) = records.with_untracked(|r| r.last().map(|r| r.id)) else {
            return;
        };
        let filters = applied.get_untracked();
        let asked_in = generation.get_untracked();
        older_loading.set(true);
        older_error.set(None);
        leptos::task::spawn_local(async move {
            let answer = audit_records(&token, &filters, Some(last)).await;
            // The filters changed (or the page went) meanwhile: not this list's page.
            if generation.try_get_untracked() != Some(asked_in) {
                return;
            }
            match answer {
                Ok(page) => {
                    last_page_full.try_set(page.len() >= AUDIT_PAGE);
                    older.try_update(|o| o.extend(page));
                }
                Err(error) => {
                    older_error.try_set(Some(error));
                }
            }
            older_loading.try_set(false);
        });
    };
    let loading = first.loading();
    let error = first.error();
    let state = Signal::derive(move || {
        if session.with(Option::is_none) {
            "signed_out"
        } else if loading.get() {
            "loading"
        } else if error.with(|e| matches!(e, Some(OfficeError::Forbidden))) {
            "forbidden"
        } else if error.with(Option::is_some) {
            "error"
        } else {
            "ready"
        }
    });
    let station_label = move |id: &Option<String>| match id {
        Some(id) => app
            .directory
            .with(|d| station_name(d, &StationId(id.clone()))),
        None => "—".to_owned(),
    };
    let action_options = move || {
        actions::ALL
            .iter()
            .map(|code| {
                let code = *code;
                view! {
                    <option value=code selected=move || action.get() == code>
                        {move || action_text(i18n, code)}
                    </option>
                }
            })
            .collect_view()
    };
    let station_options = move || {
        app.directory.with(|d| {
            d.stations
                .iter()
                .map(|s| {
                    let id = s.id.0.clone();
                    let chosen = id.clone();
                    view! {
                        <option value=id selected=move || station.get() == chosen>{s.name.clone()}</option>
                    }
                })
                .collect_view()
        })
    };

    view! {
        <section class="audit-page">
            <h1>{tr("audit.title")}</h1>
            <p class="hint" id="audit-state" data-state=state>{tr("audit.intro")}</p>
            <Show when=move || !app.online.get()>
                <p class="hint" id="audit-offline">{tr("audit.online_only")}</p>
            </Show>
            <Show when=move || session.with(Option::is_none)>
                <p class="hint" id="audit-sign-in">{tr("office.sign_in_first")} " "
                    <a href="/sync">{tr("nav.sync")}</a></p>
            </Show>
            <div class="ledger-filters audit-filters">
                <div class="field">
                    <label for="audit-action">{tr("audit.filter.action")}</label>
                    <select id="audit-action" on:change=move |ev| action.set(event_target_value(&ev))>
                        <option value="" selected=move || action.get().is_empty()>{tr("audit.filter.any_action")}</option>
                        {action_options}
                    </select>
                </div>
                <div class="field">
                    <label for="audit-actor">{tr("audit.filter.actor")}</label>
                    <input id="audit-actor" type="search" autocomplete="off"
                        prop:value=move || actor.get()
                        on:change=move |ev| actor.set(event_target_value(&ev))/>
                </div>
                <div class="field">
                    <label for="audit-station">{tr("audit.filter.station")}</label>
                    <select id="audit-station" on:change=move |ev| station.set(event_target_value(&ev))>
                        <option value="" selected=move || station.get().is_empty()>{tr("audit.filter.any_station")}</option>
                        {station_options}
                    </select>
                </div>
                <div class="field">
                    <label for="audit-from">{tr("audit.filter.from")}</label>
                    <input id="audit-from" type="date" prop:value=move || from.get()
                        on:change=move |ev| from.set(event_target_value(&ev))/>
                </div>
                <div class="field">
                    <label for="audit-to">{tr("audit.filter.to")}</label>
                    <input id="audit-to" type="date" prop:value=move || to.get()
                        on:change=move |ev| to.set(event_target_value(&ev))/>
                </div>
            </div>
            {move || error.get().map(|e| {
                let key = if e == OfficeError::Forbidden {
                    "audit.forbidden".to_owned()
                } else {
                    office_error_key(&e)
                };
                let retry = (e != OfficeError::Forbidden).then(|| view! {
                    <button id="audit-retry" type="button" disabled=move || loading.get()
                        on:click=move |_| first.again()>{tr("office.retry")}</button>
                });
                view! {
                    <div class="problem-box" role="alert" id="audit-error">
                        <p>{move || i18n.t(&key)}</p>
                        {retry}
                    </div>
                }
            })}
            <Show when=move || loading.get()>
                <p class="loading">{tr("app.loading")}</p>
            </Show>
            <div class="table-scroll">
                <table id="audit-table" class="ledger-table audit-table">
                    <thead>
                        <tr>
                            <th scope="col">{tr("audit.col.time")}</th>
                            <th scope="col">{tr("audit.col.who")}</th>
                            <th scope="col">{tr("audit.col.action")}</th>
                            <th scope="col">{tr("audit.col.station")}</th>
                            <th scope="col">{tr("audit.col.detail")}</th>
                        </tr>
                    </thead>
                    <tbody aria-busy=move || loading.get().to_string()>
                        {move || records.get().into_iter().map(|record| {
                            let code = record.action.clone();
                            let who = if record.display_name.trim().is_empty() {
                                record.username.clone()
                            } else {
                                format!("{}（{}）", record.display_name, record.username)
                            };
                            let station = station_label(&record.station_id);
                            let at = format_china_time(u64::try_from(record.at_ms).unwrap_or(0));
                            let id = record.id.to_string();
                            let action_code = record.action.clone();
                            view! {
                                <tr class="audit-row" data-action=action_code data-id=id>
                                    <td class="nowrap">{at}</td>
                                    <td>{who}</td>
                                    <td class="audit-action">{move || action_text(i18n, &code)}</td>
                                    <td>{station}</td>
                                    <td class="audit-detail">{move || detail_text(i18n, &record)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <Show when=move || state.get() == "ready" && records.with(Vec::is_empty)>
                <p class="hint" id="audit-empty">{tr("audit.empty")}</p>
            </Show>
            {move || older_error.get().map(|e| {
                let key = office_error_key(&e);
                view! { <p class="error" role="alert" id="audit-older-error">{move || i18n.t(&key)}</p> }
            })}
            <Show when=move || state.get() == "ready" && last_page_full.get()>
                <button id="audit-more" type="button" disabled=move || older_loading.get()
                    on:click=load_older>{tr("audit.older")}</button>
            </Show>
        </section>
    }
}
