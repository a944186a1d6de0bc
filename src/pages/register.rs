//! `/register`: the reception register (接待登记簿) of a period and scope, from the server, to
//! read, print (A4 landscape, see `style/print.css`) and export: each opinion recorded, with its
//! day, station, deputy, citizen (masked), category, summary, intake decision, on-site reply and
//! where it stands now.
//!
//! Online only, like the ledger. `#register[data-state]` is `loading`, `ready` or `error`, and so
//! is the table's: a table that is not `ready` prints no lines. Another period or scope, or a
//! failure, clears the lines at once ([`Fetched`]).

use crate::components::export::ExportButtons;
use crate::components::fetched::{Fetched, session_token};
use crate::components::period::{AddressQuery, PeriodScope, PeriodScopePicker};
use crate::components::print::{PrintButton, PrintHeader};
use crate::figures::{ExportKind, PeriodPreset, period_params, scope_name};
use crate::i18n::{text_with, tr, use_i18n};
use crate::names::category_label;
use crate::pages::dashboard::report_error_key;
use crate::state::use_app;
use crate::sync::reports;
use leptos::prelude::*;
use liaison_domain::followup::RegisterRow;

/// `address`: the period and scope the route's address asked for (the dashboard links here with
/// its own).
#[component]
pub fn RegisterScreen(#[prop(optional)] address: AddressQuery) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let session = app.sync.session;
    let token = session_token(session);
    let picked = PeriodScope::from_address(
        PeriodPreset::ThisMonth,
        crate::platform::today_in_china(),
        &address,
    );
    let choice = Memo::new(move |_| (picked.period(), picked.scope()));
    // The lines of the period and scope chosen: another choice clears the table at once, and so
    // does a failure, so the previous period's lines are never shown (nor printed) under the
    // new heading.
    let register = Fetched::new(
        move || {
            let token = token.get()?;
            let (period, scope) = choice.get();
            Some((token, period.ok()?, scope))
        },
        |(token, period, scope)| async move { reports::register(&token, &period, scope.as_ref()).await },
    );
    let rows = Signal::derive(move || register.value().get().unwrap_or_default());
    let loading = register.loading();
    let error = register.error();
    let state = Signal::derive(move || {
        if loading.get() {
            "loading"
        } else if error.with(Option::is_some)
            || session.with(Option::is_none)
            || choice.with(|c| c.0.is_err())
        {
            "error"
        } else {
            "ready"
        }
    });
    let scope_label = Signal::derive(move || {
        let scope = choice.get().1;
        app.directory
            .with(|d| scope_name(d, scope.as_ref()))
            .unwrap_or_else(|| i18n.t("scope.all"))
    });
    let dates = Signal::derive(move || match choice.get().0 {
        Ok(p) => (Some(p.from), Some(p.to)),
        Err(_) => (None, None),
    });
    let export_params = Signal::derive(move || {
        let (period, scope) = choice.get();
        period.ok().map(|p| period_params(&p, scope.as_ref()))
    });
    view! {
        <section id="register" class="register printable" data-state=state>
            <PrintHeader title_key="register.title" scope=scope_label dates=dates/>
            <div class="page-head no-print">
                <h1>{tr("register.title")}</h1>
                <div class="page-actions">
                    <PrintButton/>
                </div>
            </div>
            <Show when=move || session.with(Option::is_none)>
                <p class="hint no-print" id="register-sign-in">{tr("office.sign_in_first")} " "
                    <a href="/sync">{tr("nav.sync")}</a></p>
            </Show>
            <div class="dashboard-filters no-print">
                <PeriodScopePicker id="register" picked=picked presets=&PeriodPreset::OFFICE with_scope=true/>
            </div>
            <ExportButtons kind=ExportKind::Register params=export_params/>
            {move || error.get().map(|e| {
                let key = report_error_key(&e);
                view! {
                    <div class="problem-box no-print" role="alert" id="register-error">
                        <p>{move || i18n.t(&key)}</p>
                        <button id="register-retry" type="button" disabled=move || loading.get()
                            on:click=move |_| register.again()>{tr("office.retry")}</button>
                    </div>
                }
            })}
            <Show when=move || state.get() == "ready">
                <p class="hint register-count" id="register-count">{move || {
                    text_with(i18n.lang.get(), "register.count", &[("n", rows.with(Vec::len).to_string())])
                }}</p>
            </Show>
            <RegisterTable rows=rows loading=loading state=state/>
            <Show when=move || state.get() == "ready" && rows.with(Vec::is_empty)>
                <p class="hint" id="register-empty">{tr("register.empty")}</p>
            </Show>
        </section>
    }
}

/// The register's table (`#register-table`): one row per opinion (`data-id`), numbered, with the
/// citizen as the server masked them ("anonymous" when they gave nothing).
#[component]
pub fn RegisterTable(
    #[prop(into)] rows: Signal<Vec<RegisterRow>>,
    #[prop(into)] loading: Signal<bool>,
    /// The page's `data-state` (`loading`, `ready`, `error`), on the table too: a table that is
    /// not `ready` prints no lines (see `style/print.css`).
    #[prop(into, optional)]
    state: Option<Signal<&'static str>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let app = use_context::<crate::state::AppState>();
    let category_label = move |code: &str| {
        let english = i18n.lang.get().is_english();
        app.and_then(|app| app.directory.with(|d| category_label(d, code, english)))
            .unwrap_or_else(|| code.to_owned())
    };
    let state = move || match state {
        Some(state) => state.get(),
        None if loading.get() => "loading",
        None => "ready",
    };
    view! {
        <div class="table-scroll">
            <table id="register-table" class="ledger-table register-table" data-state=state>
                <thead>
                    <tr>
                        <th scope="col">{tr("register.col.no")}</th>
                        <th scope="col">{tr("register.col.date")}</th>
                        <th scope="col">{tr("register.col.station")}</th>
                        <th scope="col">{tr("register.col.deputy")}</th>
                        <th scope="col">{tr("register.col.citizen")}</th>
                        <th scope="col">{tr("register.col.category")}</th>
                        <th scope="col">{tr("register.col.summary")}</th>
                        <th scope="col">{tr("register.col.outcome")}</th>
                        <th scope="col">{tr("register.col.reply")}</th>
                        <th scope="col">{tr("register.col.status")}</th>
                    </tr>
                </thead>
                <tbody aria-busy=move || loading.get().to_string()>
                    {move || rows.get().into_iter().enumerate().map(|(i, row)| {
                        let outcome_key = format!("outcome.{}", row.outcome.code());
                        let status = row.status.code();
                        let status_key = format!("status.{status}");
                        let category = row.category.clone();
                        let citizen = if row.citizen.trim().is_empty() {
                            None
                        } else {
                            Some(row.citizen.clone())
                        };
                        view! {
                            <tr class="register-row" data-id=row.opinion_id.to_string() data-status=status>
                                <td>{i + 1}</td>
                                <td class="nowrap">{row.collected.to_string()}</td>
                                <td>{row.station_name.clone()}</td>
                                <td>{row.deputy_name.clone()}</td>
                                <td>{match citizen {
                                    Some(c) => view! { <span>{c}</span> }.into_any(),
                                    None => view! { <span class="anonymous">{tr("register.anonymous")}</span> }.into_any(),
                                }}</td>
                                <td>{move || category_label(&category)}</td>
                                <td class="summary">{row.summary.clone()}</td>
                                <td>{move || i18n.t(&outcome_key)}</td>
                                <td>{row.on_site_reply.clone()}</td>
                                <td><span class="status-badge" data-status=status>{move || i18n.t(&status_key)}</span></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
