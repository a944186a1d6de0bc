//! `/station-figures`: the station's figures from this tablet's own records, with no connection:
//! today, this month or a period typed in. Each local record's facts are derived from it and its
//! local follow-up steps ([`OpinionFacts::derive`](liaison_domain::figures::OpinionFacts::derive))
//! and counted by the domain's `count`, the function the server's figures are tested against
//! ([`crate::figures::station_figures`]).
//!
//! Only what is on this tablet counts: records made or synced here, attendance marked or synced
//! here. Station events are not kept on the tablet, so citizens received are the opinions
//! recorded. The page says so. `#station-figures[data-state]` is `loading`, `ready` or `error`.

use crate::components::fetched::Fetched;
use crate::components::figures::{FigureCards, FigureLegend};
use crate::components::period::{PeriodScope, PeriodScopePicker};
use crate::figures::{PeriodPreset, station_figures};
use crate::i18n::{tr, use_i18n};
use crate::names::station_name;
use crate::platform::today_in_china;
use crate::state::use_app;
use leptos::prelude::*;

#[component]
pub fn StationFiguresScreen() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let picked = PeriodScope::new(PeriodPreset::ThisMonth, today_in_china());
    // Counted again whenever a record changes here (the same station and period: what is shown
    // stays until the new count), and afresh for another station or period.
    let counted = Fetched::new(
        move || {
            app.records_version.track();
            let duty = app.duty.get()?;
            Some((duty.station_id, picked.period().ok()?))
        },
        move |(station, period)| async move {
            let store = app.store();
            let items = store.station_items(&station).await;
            let attendance = store
                .attendance_between(&station, period.from, period.to)
                .await;
            match (items, attendance) {
                (Ok(items), Ok(attendance)) => Ok(station_figures(
                    &items,
                    &attendance,
                    &period,
                    today_in_china(),
                )),
                (Err(e), _) | (_, Err(e)) => Err(e.message_key()),
            }
        },
    );
    let figures = counted.value();
    let error = counted.error();
    let loading = counted.loading();
    let state = move || {
        if error.with(Option::is_some) {
            "error"
        } else if loading.get() {
            "loading"
        } else if figures.with(Option::is_some) {
            "ready"
        } else {
            "error"
        }
    };
    let station_name = move || {
        app.duty
            .get()
            .map(|duty| app.directory.with(|d| station_name(d, &duty.station_id)))
    };
    let shown = Signal::derive(move || figures.get().unwrap_or_default());

    view! {
        <section id="station-figures" class="station-figures" data-state=state>
            <h1>
                {tr("station_figures.title")}
                {move || station_name().map(|name| view! { <span class="count">{name}</span> })}
            </h1>
            <p class="hint" id="station-figures-note">{tr("station_figures.local_only")}</p>
            <Show when=move || app.duty.with(Option::is_none)>
                <p class="hint" id="station-figures-no-station">{tr("station_figures.choose_station")}</p>
            </Show>
            <PeriodScopePicker id="station-figures" picked=picked presets=&PeriodPreset::TABLET/>
            {move || error.get().map(|key| view! {
                <p class="problem" role="alert" id="station-figures-error">{move || i18n.t(key)}</p>
            })}
            <Show when=move || figures.with(Option::is_some)>
                <FigureCards figures=shown id_prefix="station-figure-"/>
            </Show>
            <FigureLegend id="station-figures-legend"/>
            <p class="hint">
                {tr("station_figures.whole_picture")} " "
                <a href="/dashboard" id="station-figures-dashboard">{tr("nav.dashboard")}</a>
            </p>
        </section>
    }
}
