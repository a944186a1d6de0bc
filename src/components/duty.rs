//! The duty context: which station this tablet is at and which deputy is on duty. Chosen from
//! the directory copy, so it works offline; remembered across visits.

use crate::i18n::{tr, use_i18n};
use crate::state::use_app;
use leptos::prelude::*;
use liaison_domain::{DeputyId, DutyContext, StationId};

#[component]
pub fn DutyPicker() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let station = RwSignal::new(
        app.duty
            .get_untracked()
            .map(|d| d.station_id.0)
            .unwrap_or_default(),
    );
    let choose = move |station_id: String, deputy_id: String| {
        if station_id.is_empty() || deputy_id.is_empty() {
            return;
        }
        let duty = DutyContext {
            station_id: StationId(station_id),
            deputy_id: DeputyId(deputy_id),
        };
        leptos::task::spawn_local(async move { app.set_duty(duty).await });
    };
    view! {
        <section class="duty" aria-label=move || i18n.t("duty.title")>
            <label>
                <span>{tr("duty.station")}</span>
                <select
                    id="duty-station"
                    on:change=move |ev| {
                        station.set(event_target_value(&ev));
                        app.duty.set(None);
                    }
                    prop:value=move || station.get()
                >
                    <option value="">{tr("duty.choose_station")}</option>
                    {move || {
                        app.directory
                            .get()
                            .stations
                            .into_iter()
                            .map(|s| {
                                let selected = s.id.0 == station.get_untracked();
                                view! { <option value=s.id.0.clone() selected=selected>{s.name}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            <label>
                <span>{tr("duty.deputy")}</span>
                <select
                    id="duty-deputy"
                    on:change=move |ev| choose(station.get_untracked(), event_target_value(&ev))
                    prop:value=move || app.duty.get().map(|d| d.deputy_id.0).unwrap_or_default()
                >
                    <option value="">{tr("duty.choose_deputy")}</option>
                    {move || {
                        let directory = app.directory.get();
                        let station_id = StationId(station.get());
                        let current = app.duty.get_untracked().map(|d| d.deputy_id.0);
                        directory
                            .deputies_at(&station_id)
                            .map(|d| {
                                let selected = Some(&d.id.0) == current.as_ref();
                                view! {
                                    <option value=d.id.0.clone() selected=selected>
                                        {format!("{}（{}）", d.name, d.level)}
                                    </option>
                                }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            <Show when=move || app.directory.get().stations.is_empty()>
                <p class="hint">{tr("duty.no_directory")}</p>
            </Show>
        </section>
    }
}
