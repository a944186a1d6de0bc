//! `/dashboard`: the statistics (驾驶舱) for a period and a scope, from the server: the ten
//! figures as cards, charts over time (by day up to 62 days, by month beyond), by category and
//! by station, the definitions, and a drill-down table by station, category, deputy or unit
//! (a station row narrows the scope to it). For every account that reads figures
//! ([`may_read_figures`](liaison_domain::account::may_read_figures)).
//!
//! Online only. Offline it says so and points to the tablet's own station figures
//! (`/station-figures`), which need no connection. `#dashboard-state[data-state]` is `loading`,
//! `ready` or `error`. `?wall=1` (or the "wall screen" button) hides the navigation and enlarges
//! everything for a screen on the wall, and refreshes the figures every five minutes.

use crate::components::export::ExportButtons;
use crate::components::fetched::{Fetched, session_token};
use crate::components::figures::{BreakdownTable, FiguresView};
use crate::components::period::{AddressQuery, PeriodScope, PeriodScopePicker};
use crate::figures::{ExportKind, PeriodPreset, over_time_breakdown, period_params, scope_code};
use crate::i18n::{tr, use_i18n};
use crate::names::category_label;
use crate::state::use_app;
use crate::sync::office::{OfficeError, office_error_key};
use crate::sync::reports;
use leptos::prelude::*;
use liaison_domain::figures::{Breakdown, FigureQuery, FigureReport, Period};
use liaison_domain::{Directory, Scope, StationId};
use std::collections::{HashMap, HashSet};

/// How often a wall screen refreshes its figures.
const WALL_REFRESH_MS: u32 = 5 * 60 * 1000;

/// The three reports behind the cards and charts, for one period and scope.
#[derive(Clone, Debug, PartialEq)]
pub struct DashboardReports {
    pub period: Period,
    pub scope: Option<Scope>,
    /// By day or month ([`over_time_breakdown`]); its totals are the cards'.
    pub over_time: FigureReport,
    pub by_category: FigureReport,
    pub by_station: FigureReport,
}

/// The drill-downs fetched when their tab is first opened (by deputy, by unit), for the
/// answer numbered `.0` (see [`Fetched::answers`]): kept per choice, so going back to a tab
/// asks nothing again; a new answer (another choice, a wall screen's refresh) starts afresh.
type DrillDowns = (u64, HashMap<Breakdown, Result<FigureReport, OfficeError>>);

/// Where the page stands.
#[derive(Clone, Debug, PartialEq)]
pub enum DashboardState {
    /// Nobody is signed in.
    SignedOut,
    /// The period is not a period (the translation key says why).
    BadPeriod(&'static str),
    Loading,
    Ready,
    Failed(OfficeError),
}

impl DashboardState {
    /// `data-state`: `loading`, `ready` or `error`.
    pub fn code(&self) -> &'static str {
        match self {
            DashboardState::Loading => "loading",
            DashboardState::Ready => "ready",
            _ => "error",
        }
    }
}

/// The message for a report that could not be had: a refusal says the account may not read
/// this scope's figures; anything else as the back office says it.
pub fn report_error_key(error: &OfficeError) -> String {
    match error {
        OfficeError::Forbidden => "reports.forbidden".into(),
        other => office_error_key(other),
    }
}

/// A report's category rows labelled as the directory names them in `english` or Chinese (the
/// server labels them once, in its language); a category the directory does not know keeps
/// the server's label.
pub fn label_categories(
    mut report: FigureReport,
    directory: &Directory,
    english: bool,
) -> FigureReport {
    for row in &mut report.rows {
        if let Some(label) = category_label(directory, &row.key, english) {
            row.label = label;
        }
    }
    report
}

fn set_body_class(class: &str, on: bool) {
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let list = body.class_list();
        let _ = if on {
            list.add_1(class)
        } else {
            list.remove_1(class)
        };
    }
}

fn query(period: &Period, scope: &Option<Scope>, by: Breakdown) -> FigureQuery {
    FigureQuery {
        scope: scope.clone(),
        from: period.from,
        to: period.to,
        by: Some(by),
    }
}

/// The three reports, asked for side by side; the first failure is the answer's.
async fn dashboard_reports(
    token: String,
    period: Period,
    scope: Option<Scope>,
) -> Result<DashboardReports, OfficeError> {
    let (time, category, station) = futures::future::join3(
        reports::figures(
            &token,
            &query(&period, &scope, over_time_breakdown(&period)),
        ),
        reports::figures(&token, &query(&period, &scope, Breakdown::Category)),
        reports::figures(&token, &query(&period, &scope, Breakdown::Station)),
    )
    .await;
    Ok(DashboardReports {
        over_time: time?,
        by_category: category?,
        by_station: station?,
        period,
        scope,
    })
}

/// `address`: what the route's address asked for (the period, the scope, a wall screen).
#[component]
pub fn DashboardScreen(#[prop(optional)] address: AddressQuery) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let session = app.sync.session;
    let token = session_token(session);
    let picked = PeriodScope::from_address(
        PeriodPreset::ThisMonth,
        crate::platform::today_in_china(),
        &address,
    );
    let wall = RwSignal::new(address.wall);
    Effect::new(move |_| set_body_class("wall", wall.get()));
    on_cleanup(|| set_body_class("wall", false));

    let choice = Memo::new(move |_| (picked.period(), picked.scope()));
    // The three reports behind the cards and charts, whenever the choice, the session or a
    // retry asks. Another choice clears the figures shown at once (its own are loading); a
    // wall screen's refresh of the same choice keeps them until the new ones arrive.
    let reports = Fetched::new(
        move || {
            let token = token.get()?;
            let (period, scope) = choice.get();
            Some((token, period.ok()?, scope))
        },
        |(token, period, scope)| dashboard_reports(token, period, scope),
    );
    // The drill-down by deputy or unit is fetched when its tab is first opened, once per answer.
    let tab = RwSignal::new(Breakdown::Station);
    let drill = RwSignal::new(DrillDowns::default());
    let asked = StoredValue::new(HashSet::<(u64, Breakdown)>::new());
    Effect::new(move |_| {
        let by = tab.get();
        if !matches!(by, Breakdown::Deputy | Breakdown::Unit) {
            return;
        }
        let number = reports.answers().get();
        let Some((period, scope)) = reports
            .value()
            .with(|r| r.as_ref().map(|r| (r.period, r.scope.clone())))
        else {
            return;
        };
        let had = drill.with_untracked(|(n, map)| *n == number && map.contains_key(&by));
        if had || asked.with_value(|a| a.contains(&(number, by))) {
            return;
        }
        let Some(token) = token.get_untracked() else {
            return;
        };
        asked.update_value(|a| {
            a.retain(|(n, _)| *n == number);
            a.insert((number, by));
        });
        leptos::task::spawn_local(async move {
            let answer = reports::figures(&token, &query(&period, &scope, by)).await;
            // The page may have gone meanwhile: only `try_*` from here, which do nothing then.
            asked.try_update_value(|a| a.remove(&(number, by)));
            drill.try_maybe_update(|(n, map)| {
                if *n > number {
                    return (false, ());
                }
                if *n < number {
                    *n = number;
                    map.clear();
                }
                map.insert(by, answer);
                (true, ())
            });
        });
    });
    // A wall screen refreshes by itself, taking today afresh (a preset's period moves on with
    // the day); the timer goes with the page.
    let refresher = StoredValue::new_local(None::<gloo_timers::callback::Interval>);
    Effect::new(move |_| {
        let timer = wall.get().then(|| {
            gloo_timers::callback::Interval::new(WALL_REFRESH_MS, move || {
                picked.refresh(crate::platform::today_in_china());
                reports.again();
            })
        });
        refresher.set_value(timer);
    });

    let state = Memo::new(move |_| {
        if session.with(Option::is_none) {
            return DashboardState::SignedOut;
        }
        if let Err(key) = choice.get().0 {
            return DashboardState::BadPeriod(key);
        }
        if let Some(e) = reports.error().get() {
            return DashboardState::Failed(e);
        }
        if reports.value().with(Option::is_some) {
            DashboardState::Ready
        } else {
            DashboardState::Loading
        }
    });
    // One memo per report: a chart is drawn again only when its own report changes.
    let over_time = Memo::new(move |_| {
        reports
            .value()
            .with(|r| r.as_ref().map(|r| r.over_time.clone()))
    });
    let by_station = Memo::new(move |_| {
        reports
            .value()
            .with(|r| r.as_ref().map(|r| r.by_station.clone()))
    });
    let by_category = Memo::new(move |_| {
        let english = i18n.lang.get().is_english();
        let report = reports
            .value()
            .with(|r| r.as_ref().map(|r| r.by_category.clone()))?;
        Some(app.directory.with(|d| label_categories(report, d, english)))
    });
    let drilled = move |by: Breakdown| {
        let number = reports.answers().get();
        drill.with(|(n, map)| (*n == number).then(|| map.get(&by).cloned()).flatten())
    };
    let tab_report = Memo::new(move |_| match tab.get() {
        Breakdown::Category => by_category.get(),
        Breakdown::Station => by_station.get(),
        by => drilled(by).and_then(Result::ok),
    });
    let tab_error = move || match drilled(tab.get()) {
        Some(Err(e)) => Some(report_error_key(&e)),
        _ => None,
    };
    let is_empty = move || {
        over_time.with(|r| {
            r.as_ref()
                .is_some_and(|r| r.total == liaison_domain::figures::Figures::default())
        })
    };
    let export_params = Signal::derive(move || {
        let (period, scope) = choice.get();
        period.ok().map(|p| period_params(&p, scope.as_ref()))
    });
    let register_link = move || format!("/register?{}", picked.address_params());
    let retry = move || reports.again();
    let on_station = Callback::new(move |station: String| {
        picked
            .scope
            .set(scope_code(Some(&Scope::Station(StationId(station)))))
    });

    view! {
        <section id="dashboard" class="dashboard" class:wall=move || wall.get()
            aria-busy=move || reports.loading().get().to_string()>
            <div class="page-head">
                <h1>{tr("dashboard.title")}</h1>
                <div class="page-actions">
                    <a href=register_link id="dashboard-register">{tr("dashboard.register_link")}</a>
                    <button id="wall-toggle" type="button" class="secondary" aria-pressed=move || wall.get().to_string()
                        on:click=move |_| wall.update(|w| *w = !*w)>
                        {move || if wall.get() { i18n.t("dashboard.wall_off") } else { i18n.t("dashboard.wall_on") }}
                    </button>
                </div>
            </div>
            <div class="dashboard-filters">
                <PeriodScopePicker id="dashboard" picked=picked presets=&PeriodPreset::OFFICE with_scope=true/>
            </div>
            <ExportButtons kind=ExportKind::Register params=export_params caption="dashboard.export_caption"/>
            <div id="dashboard-state" data-state=move || state.get().code() role="status" aria-live="polite">
                {move || match state.get() {
                    DashboardState::Loading => view! { <p class="hint">{tr("dashboard.loading")}</p> }.into_any(),
                    DashboardState::Ready => {
                        view! {
                            <Show when=is_empty>
                                <p class="hint" id="dashboard-empty">{tr("dashboard.empty")}</p>
                            </Show>
                        }
                        .into_any()
                    }
                    DashboardState::SignedOut => view! {
                        <p class="hint" id="dashboard-sign-in">{tr("dashboard.sign_in_first")} " "
                            <a href="/sync">{tr("nav.sync")}</a></p>
                    }.into_any(),
                    DashboardState::BadPeriod(_) => view! {
                        <p class="hint">{tr("dashboard.bad_period")}</p>
                    }.into_any(),
                    DashboardState::Failed(error) => {
                        let offline = matches!(error, OfficeError::Unreachable | OfficeError::NotOurServer);
                        let key = report_error_key(&error);
                        view! {
                            <div class="problem-box" role="alert" id="dashboard-error">
                                {if offline {
                                    view! {
                                        <p>{tr("dashboard.offline")} " "
                                            <a href="/station-figures" id="dashboard-offline-link">{tr("dashboard.offline_link")}</a></p>
                                    }.into_any()
                                } else {
                                    view! { <p>{move || i18n.t(&key)}</p> }.into_any()
                                }}
                                <button id="dashboard-retry" type="button" on:click=move |_| retry()>
                                    {tr("office.retry")}
                                </button>
                            </div>
                        }
                        .into_any()
                    }
                }}
            </div>
            <Show when=move || state.get() == DashboardState::Ready>
                <FiguresView over_time=over_time by_category=by_category by_station=by_station/>
                <h2>{tr("dashboard.drill_down")}</h2>
                {move || tab_error().map(|key| view! {
                    <p class="problem" role="alert" id="breakdown-error">{move || i18n.t(&key)}</p>
                })}
                <BreakdownTable tab=tab report=tab_report on_station=on_station/>
            </Show>
        </section>
    }
}
