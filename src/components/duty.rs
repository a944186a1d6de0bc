//! The duty context: which station this tablet is at and which deputy is on duty. Chosen from
//! the directory copy, so it works offline; remembered across visits. Beside it, the deputy on
//! duty signs in and out of the shift (出勤登记), and today's attendance at the station is listed.
//!
//! A sign-in or sign-out is recorded like any local change: merged into what the tablet shows
//! and queued in the outbox in one transaction ([`Store::mark_attendance`]), so it works offline.
//! The list is the server's attendance with this tablet's unsynced marks merged in: the earliest
//! sign-in and the latest sign-out of each deputy, one line per deputy however many tablets
//! recorded them.
//!
//! [`Store::mark_attendance`]: crate::storage::Store::mark_attendance

use crate::i18n::{text_with, tr, use_i18n};
use crate::platform::{format_clock, now_ms, today_in_china};
use crate::state::use_app;
use leptos::prelude::*;
use liaison_domain::followup::{Attendance, AttendanceKey, AttendanceMark, Mark};
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
    // The duty context can also be set elsewhere (a deputy signing in is put on duty): follow it.
    Effect::new(move |_| {
        if let Some(duty) = app.duty.get() {
            station.set(duty.station_id.0);
        }
    });
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
            <AttendanceArea/>
        </section>
    }
}

/// Sign-in and sign-out for the deputy on duty, and today's attendance at the station.
#[component]
fn AttendanceArea() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let error = RwSignal::new(None::<&'static str>);
    let attendance = LocalResource::new(move || {
        app.records_version.track();
        let station = app.duty.with(|d| d.as_ref().map(|d| d.station_id.clone()));
        async move {
            match station {
                Some(station) => app
                    .store()
                    .attendance_on(&station, today_in_china())
                    .await
                    .unwrap_or_default(),
                None => Vec::new(),
            }
        }
    });
    let on_duty_record = move || -> Option<Attendance> {
        let deputy = app.duty.with(|d| d.as_ref().map(|d| d.deputy_id.clone()))?;
        attendance
            .get()?
            .into_iter()
            .find(|a| a.key.deputy_id == deputy)
    };
    let signed_in = move || on_duty_record().is_some_and(|a| a.signed_in_at_ms.is_some());
    let mark = move |mark: Mark| {
        let Some(duty) = app.duty.get_untracked() else {
            return;
        };
        error.set(None);
        let mark = AttendanceMark {
            key: AttendanceKey {
                station_id: duty.station_id,
                deputy_id: duty.deputy_id,
                day: today_in_china(),
            },
            mark,
            at_ms: now_ms(),
        };
        leptos::task::spawn_local(async move {
            match app.store().mark_attendance(&mark).await {
                Ok(_) => app.local_change(),
                Err(e) => error.set(Some(match e {
                    crate::storage::StorageError::QuotaExceeded => "attendance.storage_full",
                    _ => "attendance.storage_failed",
                })),
            }
        });
    };
    let deputy_name = move |id: &DeputyId| {
        app.directory.with(|d| {
            d.deputy(id)
                .map_or_else(|| id.0.clone(), |d| d.name.clone())
        })
    };
    let line = move |a: &Attendance| {
        let lang = i18n.lang.get();
        let mut parts = vec![deputy_name(&a.key.deputy_id)];
        if let Some(ms) = a.signed_in_at_ms {
            parts.push(text_with(
                lang,
                "attendance.signed_in_at",
                &[("time", format_clock(ms))],
            ));
        }
        if let Some(ms) = a.signed_out_at_ms {
            parts.push(text_with(
                lang,
                "attendance.signed_out_at",
                &[("time", format_clock(ms))],
            ));
        }
        if a.on_duty() {
            parts.push(i18n.t("attendance.on_duty"));
        }
        parts.join(" · ")
    };
    let ms = |v: Option<u64>| v.map(|ms| ms.to_string()).unwrap_or_default();
    view! {
        <Show when=move || app.duty.with(Option::is_some)>
            <div class="attendance-area" role="group" aria-labelledby="attendance-title">
                <div class="attendance-bar">
                    <span id="attendance-title" class="attendance-title">{tr("attendance.title")}</span>
                    <button id="duty-sign-in" type="button" class="primary"
                        disabled=signed_in
                        on:click=move |_| mark(Mark::SignIn)>
                        {tr("attendance.sign_in")}
                    </button>
                    <button id="duty-sign-out" type="button"
                        disabled=move || !signed_in()
                        on:click=move |_| mark(Mark::SignOut)>
                        {tr("attendance.sign_out")}
                    </button>
                </div>
                {move || error.get().map(|key| view! { <p class="error" role="alert">{move || i18n.t(key)}</p> })}
                <ul id="duty-attendance" class="attendance-list">
                    {move || attendance.get().unwrap_or_default().into_iter().map(|a| {
                        let (deputy, signed_in, signed_out) =
                            (a.key.deputy_id.0.clone(), ms(a.signed_in_at_ms), ms(a.signed_out_at_ms));
                        let on_duty = a.on_duty();
                        view! {
                            <li class="attendance" class:on-duty=on_duty
                                data-deputy=deputy data-in=signed_in data-out=signed_out>
                                {move || line(&a)}
                            </li>
                        }
                    }).collect_view()}
                </ul>
                <Show when=move || attendance.get().is_some_and(|l| l.is_empty())>
                    <p class="hint">{tr("attendance.none_today")}</p>
                </Show>
            </div>
        </Show>
    }
}
