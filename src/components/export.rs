//! The export buttons of the ledger, the register and the dashboard: "导出 Excel" and
//! "导出 CSV" (`#export-xlsx`, `#export-csv`) download the server's export of what the page shows,
//! with its filters. The API authenticates with a bearer header, so the file is fetched with it
//! and saved through a blob, not linked.
//!
//! Citizens' personal data is left out unless asked for: the box (`#export-personal`) is offered
//! only to roles that may have it ([`may_unmask_personal_data`]), and asks again before the
//! export, because the server records it in the audit log. Every export is audited there.

use crate::figures::{ExportFormat, ExportKind, export_fallback_name, export_url};
use crate::i18n::{tr, use_i18n};
use crate::platform::{event_checked, today_in_china};
use crate::state::use_app;
use crate::sync::office::{OfficeError, office_error_key};
use crate::sync::reports::{PERSONAL_DATA_NOT_PERMITTED, download_export};
use leptos::prelude::*;
use liaison_domain::account::may_unmask_personal_data;

/// The message for a failed export: the personal-data refusal and no connection in words of
/// their own, anything else as the back office says it.
pub fn export_error_key(error: &OfficeError) -> String {
    match error {
        OfficeError::Refused(code) if code == PERSONAL_DATA_NOT_PERMITTED => {
            "exports.error.personal_data_not_permitted".into()
        }
        OfficeError::Unreachable => "exports.error.unreachable".into(),
        other => office_error_key(other),
    }
}

#[component]
pub fn ExportButtons(
    kind: ExportKind,
    /// The page's filters as a query string; `None` while they are not valid (no export then).
    #[prop(into)]
    params: Signal<Option<String>>,
    /// What is exported, said before the buttons (a translation key).
    #[prop(optional)]
    caption: Option<&'static str>,
) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let session = app.sync.session;
    let may_unmask = move || {
        session.with(|s| {
            s.as_ref()
                .is_some_and(|s| may_unmask_personal_data(s.user.role))
        })
    };
    let personal = RwSignal::new(false);
    // The question before an export with personal data: the format, and the filters it was
    // asked about.
    let confirming = RwSignal::new(None::<(ExportFormat, Option<String>)>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(false);

    // Personal data only when asked for and allowed at the moment of the export: the box may
    // have been unticked, or the account changed, since the question was asked.
    let start = move |format: ExportFormat, with_personal: bool| {
        confirming.set(None);
        error.set(None);
        done.set(false);
        let Some(session) = session.get_untracked() else {
            error.set(Some("exports.error.sign_in".into()));
            return;
        };
        let Some(params) = params.get_untracked() else {
            return;
        };
        let with_personal = with_personal
            && personal.get_untracked()
            && may_unmask_personal_data(session.user.role);
        let url = export_url(kind, format, &params, with_personal);
        let fallback = export_fallback_name(kind, format, &params, today_in_china());
        busy.set(true);
        leptos::task::spawn_local(async move {
            let answer = download_export(&session.token, &url, &fallback).await;
            // The page may have gone meanwhile: setting a signal then does nothing.
            match answer {
                Ok(()) => {
                    done.try_set(true);
                }
                Err(e) => {
                    error.try_set(Some(export_error_key(&e)));
                }
            }
            busy.try_set(false);
        });
    };
    let ask = move |format: ExportFormat| {
        if personal.get_untracked() && may_unmask() {
            confirming.set(Some((format, params.get_untracked())));
        } else {
            start(format, false);
        }
    };
    // The question is about the export as it stood: when the box (below) or the filters change,
    // it is put away (the buttons ask again).
    Effect::new(move |_| {
        let now = params.get();
        confirming.maybe_update(|asked| {
            let other = asked.as_ref().is_some_and(|(_, about)| *about != now);
            if other {
                *asked = None;
            }
            other
        });
    });
    // The question takes the focus when it opens, so that it is read out and answered first.
    let dialog = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if let Some(dialog) = dialog.get() {
            let _ = dialog.focus();
        }
    });
    let disabled =
        move || busy.get() || params.with(Option::is_none) || session.with(Option::is_none);

    view! {
        <div class="export-bar no-print">
            {caption.map(|key| view! { <span class="export-caption">{tr(key)}</span> })}
            <button id="export-xlsx" type="button" class="secondary" disabled=disabled
                on:click=move |_| ask(ExportFormat::Xlsx)>{tr("exports.xlsx")}</button>
            <button id="export-csv" type="button" class="secondary" disabled=disabled
                on:click=move |_| ask(ExportFormat::Csv)>{tr("exports.csv")}</button>
            <Show when=may_unmask>
                <label class="export-personal">
                    <input id="export-personal" type="checkbox" prop:checked=move || personal.get()
                        on:change=move |ev| {
                            personal.set(event_checked(&ev));
                            confirming.set(None);
                        }/>
                    <span>{tr("exports.personal")}</span>
                </label>
            </Show>
            <Show when=move || busy.get()>
                <span class="hint" id="export-busy" role="status">{tr("exports.busy")}</span>
            </Show>
            <Show when=move || done.get()>
                <span class="ok" id="export-done" role="status">{tr("exports.done")}</span>
            </Show>
            {move || confirming.get().filter(|_| may_unmask()).map(|(format, _)| view! {
                <div class="problem-box" role="alertdialog" id="export-confirm" tabindex="-1"
                    aria-labelledby="export-confirm-text" node_ref=dialog>
                    <p id="export-confirm-text">{tr("exports.personal_confirm")}</p>
                    <button id="export-confirm-yes" type="button" on:click=move |_| start(format, true)>
                        {tr("exports.personal_confirm_yes")}
                    </button>
                    " "
                    <button id="export-confirm-no" type="button" class="secondary" on:click=move |_| confirming.set(None)>
                        {tr("exports.personal_confirm_no")}
                    </button>
                </div>
            })}
            {move || error.get().map(|key| view! {
                <p class="problem" role="alert" id="export-error">{move || i18n.t(&key)}</p>
            })}
        </div>
    }
}
