//! `/ledger`: the supervision ledger (工作台账) from the server, for every signed-in account (the
//! server narrows it to what the account may read: a handling unit sees only what was referred
//! to it). Filters by station, status, category, deputy, unit, period and deadline colour; the
//! server sorts overdue first, then due soon. The three colours (三色督办) are shown as colour
//! and words, never colour alone. Each row opens the item (`/items/<id>`).
//!
//! Online only: when the server cannot be reached the page says so and offers to try again.

use crate::components::export::ExportButtons;
use crate::components::fetched::{Fetched, session_token};
use crate::components::item::colour_badge;
use crate::components::print::{PrintButton, PrintHeader};
use crate::figures::ExportKind;
use crate::i18n::{text_with, tr, use_i18n};
use crate::names::{category_label, station_name};
use crate::platform::format_time;
use crate::state::use_app;
use crate::sync::office::{self, office_error_key, query_string};
use leptos::prelude::*;
use leptos_router::components::A;
use liaison_domain::followup::{Date, DeadlineColour, LedgerQuery, StatusKind};
use liaison_domain::{DeputyId, StationId, UnitId};

const COLOURS: [DeadlineColour; 3] = [
    DeadlineColour::Overdue,
    DeadlineColour::DueSoon,
    DeadlineColour::OnTime,
];

/// The filters as chosen (empty: any).
#[derive(Clone, Copy)]
struct Filters {
    station: RwSignal<String>,
    status: RwSignal<String>,
    category: RwSignal<String>,
    deputy: RwSignal<String>,
    unit: RwSignal<String>,
    from: RwSignal<String>,
    to: RwSignal<String>,
    colour: RwSignal<String>,
}

impl Filters {
    fn new() -> Filters {
        Filters {
            station: RwSignal::new(String::new()),
            status: RwSignal::new(String::new()),
            category: RwSignal::new(String::new()),
            deputy: RwSignal::new(String::new()),
            unit: RwSignal::new(String::new()),
            from: RwSignal::new(String::new()),
            to: RwSignal::new(String::new()),
            colour: RwSignal::new(String::new()),
        }
    }

    /// The query (tracked: the ledger reloads when a filter changes).
    fn query(self) -> LedgerQuery {
        let set = |signal: RwSignal<String>| Some(signal.get()).filter(|v| !v.is_empty());
        LedgerQuery {
            station: set(self.station).map(StationId),
            status: set(self.status).and_then(|s| StatusKind::from_code(&s)),
            category: set(self.category),
            deputy: set(self.deputy).map(DeputyId),
            unit: set(self.unit).map(UnitId),
            from: set(self.from).and_then(|d| Date::parse(&d)),
            to: set(self.to).and_then(|d| Date::parse(&d)),
            colour: set(self.colour).and_then(|c| COLOURS.into_iter().find(|k| k.code() == c)),
        }
    }

    fn clear(self) {
        for signal in [
            self.station,
            self.status,
            self.category,
            self.deputy,
            self.unit,
            self.from,
            self.to,
            self.colour,
        ] {
            signal.set(String::new());
        }
    }
}

#[component]
pub fn LedgerScreen() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let session = app.sync.session;
    let filters = Filters::new();
    let token = session_token(session);
    // The rows of the filters chosen: other filters clear the table at once, and so does a
    // failure, so rows of other filters are never shown (nor printed) under this heading. Busy
    // from the start, so that nobody reads an empty table as "nothing in the ledger".
    let ledger = Fetched::new(
        move || Some((token.get()?, filters.query())),
        |(token, query): (String, LedgerQuery)| async move { office::ledger(&token, &query).await },
    );
    let rows = Signal::derive(move || ledger.value().get().unwrap_or_default());
    let loading = ledger.loading();
    let error = ledger.error();
    let state = move || {
        if loading.get() {
            "loading"
        } else if error.with(Option::is_some) || session.with(Option::is_none) {
            "error"
        } else {
            "ready"
        }
    };
    leptos::task::spawn_local(async move { app.refresh_units_and_calendar().await });

    let station_name = move |id: &StationId| app.directory.with(|d| station_name(d, id));
    let category_label = move |code: &str| {
        let english = i18n.lang.get().is_english();
        app.directory
            .with(|d| category_label(d, code, english))
            .unwrap_or_else(|| code.to_owned())
    };
    let select = move |id: &'static str,
                       label: &'static str,
                       any: &'static str,
                       signal: RwSignal<String>,
                       options: Vec<(String, String)>| {
        view! {
            <label>
                <span>{tr(label)}</span>
                <select id=id on:change=move |ev| signal.set(event_target_value(&ev))>
                    <option value="" selected=move || signal.get().is_empty()>{tr(any)}</option>
                    {options.into_iter().map(|(value, text)| {
                        let chosen = value.clone();
                        view! { <option value=value selected=move || signal.get() == chosen>{text}</option> }
                    }).collect_view()}
                </select>
            </label>
        }
    };
    let date = move |id: &'static str, label: &'static str, signal: RwSignal<String>| {
        view! {
            <label>
                <span>{tr(label)}</span>
                <input id=id type="date" prop:value=move || signal.get()
                    on:change=move |ev| signal.set(event_target_value(&ev))/>
            </label>
        }
    };

    // What the printed ledger's heading says: the station (or all of them), the dates (both,
    // one or none), and every other filter chosen, so that a filtered ledger never prints as
    // the whole one.
    let print_scope = Signal::derive(move || {
        let station = filters.station.get();
        if station.is_empty() {
            i18n.t("ledger.any_station")
        } else {
            station_name(&StationId(station))
        }
    });
    let print_dates = Signal::derive(move || {
        let query = filters.query();
        (query.from, query.to)
    });
    let print_filters = Signal::derive(move || {
        let lang = i18n.lang.get();
        let query = filters.query();
        let filter = |name: &str, value: String| {
            text_with(
                lang,
                "print.filter",
                &[("name", i18n.t(name)), ("value", value)],
            )
        };
        let mut out = Vec::new();
        if let Some(status) = query.status {
            out.push(filter(
                "ledger.status",
                i18n.t(&format!("status.{}", status.code())),
            ));
        }
        if let Some(category) = &query.category {
            out.push(filter("ledger.category", category_label(category)));
        }
        if let Some(deputy) = &query.deputy {
            let name = app.directory.with(|d| {
                d.deputies
                    .iter()
                    .find(|dep| dep.id == *deputy)
                    .map_or_else(|| deputy.0.clone(), |dep| dep.name.clone())
            });
            out.push(filter("ledger.deputy", name));
        }
        if let Some(unit) = &query.unit {
            let name = app.units.with(|units| {
                units
                    .iter()
                    .find(|u| u.id == *unit)
                    .map_or_else(|| unit.0.clone(), |u| u.name.clone())
            });
            out.push(filter("ledger.unit", name));
        }
        if let Some(colour) = query.colour {
            out.push(filter(
                "ledger.colour",
                i18n.t(&format!("deadline.{}", colour.code())),
            ));
        }
        out
    });
    let export_params = Signal::derive(move || Some(query_string(&filters.query())));

    view! {
        <section class="ledger printable">
            <PrintHeader title_key="ledger.title" scope=print_scope dates=print_dates filters=print_filters/>
            <div class="page-head no-print">
                <h1>{tr("ledger.title")}</h1>
                <div class="page-actions">
                    <PrintButton/>
                </div>
            </div>
            <Show when=move || session.with(Option::is_none)>
                <p class="hint" id="office-sign-in">{tr("office.sign_in_first")} " "
                    <A href="/sync">{tr("nav.sync")}</A></p>
            </Show>
            <div class="ledger-filters no-print">
                {move || {
                    let stations = app.directory.with(|d| {
                        d.stations.iter().map(|s| (s.id.0.clone(), s.name.clone())).collect()
                    });
                    select("ledger-station", "ledger.station", "ledger.any_station", filters.station, stations)
                }}
                {move || {
                    let statuses = StatusKind::ALL
                        .iter()
                        .map(|s| (s.code().to_owned(), i18n.t(&format!("status.{}", s.code()))))
                        .collect();
                    select("ledger-status", "ledger.status", "ledger.any_status", filters.status, statuses)
                }}
                {move || {
                    let english = i18n.lang.get().is_english();
                    let categories = app.directory.with(|d| {
                        d.categories.iter().map(|c| (c.code.clone(), c.label(english).to_owned())).collect()
                    });
                    select("ledger-category", "ledger.category", "ledger.any_category", filters.category, categories)
                }}
                {move || {
                    let station = filters.station.get();
                    let deputies = app.directory.with(|d| {
                        d.deputies
                            .iter()
                            .filter(|dep| station.is_empty() || dep.station_ids.iter().any(|s| s.0 == station))
                            .map(|dep| (dep.id.0.clone(), dep.name.clone()))
                            .collect()
                    });
                    select("ledger-deputy", "ledger.deputy", "ledger.any_deputy", filters.deputy, deputies)
                }}
                {move || {
                    let units = app.units.with(|u| u.iter().map(|u| (u.id.0.clone(), u.name.clone())).collect());
                    select("ledger-unit", "ledger.unit", "ledger.any_unit", filters.unit, units)
                }}
                {date("ledger-from", "ledger.from", filters.from)}
                {date("ledger-to", "ledger.to", filters.to)}
                {move || {
                    let colours = COLOURS
                        .iter()
                        .map(|c| (c.code().to_owned(), i18n.t(&format!("deadline.{}", c.code()))))
                        .collect();
                    select("ledger-colour", "ledger.colour", "ledger.any_colour", filters.colour, colours)
                }}
                <button id="ledger-clear" type="button" class="secondary" on:click=move |_| filters.clear()>
                    {tr("ledger.clear")}
                </button>
            </div>
            <ExportButtons kind=ExportKind::Ledger params=export_params/>
            {move || error.get().map(|e| {
                let key = office_error_key(&e);
                view! {
                    <div class="problem-box no-print" role="alert" id="ledger-error">
                        <p>{move || i18n.t(&key)}</p>
                        <button id="ledger-retry" type="button" disabled=move || loading.get()
                            on:click=move |_| ledger.again()>{tr("office.retry")}</button>
                    </div>
                }
            })}
            <p class="hint ledger-count">{move || {
                let n = rows.with(Vec::len).to_string();
                text_with(i18n.lang.get(), "ledger.count", &[("n", n)])
            }}</p>
            <div class="table-scroll">
                <table id="ledger-rows" class="ledger-table" data-state=state>
                    <thead>
                        <tr>
                            <th scope="col">{tr("ledger.col.summary")}</th>
                            <th scope="col">{tr("ledger.col.status")}</th>
                            <th scope="col">{tr("ledger.col.deadline")}</th>
                            <th scope="col">{tr("ledger.col.unit")}</th>
                            <th scope="col">{tr("ledger.col.station")}</th>
                            <th scope="col">{tr("ledger.col.category")}</th>
                            <th scope="col">{tr("ledger.col.recorded")}</th>
                        </tr>
                    </thead>
                    <tbody aria-busy=move || loading.get().to_string()>
                        {move || rows.get().into_iter().map(|row| {
                            let status = row.status.code();
                            let colour = row.colour.map(|c| c.code()).unwrap_or_default();
                            let status_key = format!("status.{status}");
                            let station = row.station_id.clone();
                            let category = row.category.clone();
                            view! {
                                <tr class=format!("ledger-row colour-{colour}")
                                    data-id=row.opinion_id.to_string() data-status=status data-colour=colour>
                                    <td class="summary">
                                        <A href=format!("/items/{}", row.opinion_id) attr:class="ledger-open">
                                            {row.summary.clone()}
                                        </A>
                                    </td>
                                    <td><span class="status-badge" data-status=status>{move || i18n.t(&status_key)}</span></td>
                                    <td class="deadline">
                                        {row.due.map(|d| d.to_string())}
                                        " "
                                        {colour_badge(i18n, row.colour)}
                                    </td>
                                    <td>{row.unit_name.clone().unwrap_or_default()}</td>
                                    <td>{move || station_name(&station)}</td>
                                    <td>{move || category_label(&category)}</td>
                                    <td>{format_time(row.created_at_ms)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <Show when=move || state() == "ready" && rows.with(Vec::is_empty)>
                <p class="hint" id="ledger-empty">{tr("ledger.empty")}</p>
            </Show>
        </section>
    }
}
