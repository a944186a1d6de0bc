//! `/duty`: a station's duty, for signed-in accounts other than handling units (station staff,
//! office staff, deputies): the duty roster (排班) of the next 14 days, the attendance of the last
//! 7 days as recorded on the tablets, and the station's activities (活动: collective receptions,
//! inspections, surveys) with a form to record one. Days are China days whatever zone the device
//! is set to.
//!
//! Online only, like the ledger: everything comes from the server and is written to it
//! (`crate::sync::duty`). When a call fails the page says what to do, in the user's language.
//! Staff who keep the roster (station staff, office staff, administrators who may write the
//! station) tick who is on duty each day and save that day; the page then shows the day as the
//! server has it. Whoever may write the station records activities; the form makes the
//! activity's id when it opens and keeps it until the activity is saved, so pressing "save"
//! again after a lost answer records it once.

use crate::i18n::{text_with, tr, use_i18n};
use crate::pages::capture::error_message;
use crate::platform::{event_checked, format_clock, now_ms};
use crate::state::use_app;
use crate::sync::api::SignedInUser;
use crate::sync::duty::{
    self, ActivityInput, ActivityProblems, RosterDay, attendance_period, china_day, roster_days,
};
use crate::sync::office::{OfficeError, office_error_key};
use leptos::prelude::*;
use leptos_router::components::A;
use liaison_domain::account::{can_manage_devices, can_read_station, can_write_station};
use liaison_domain::followup::{
    Activity, ActivityKind, Attendance, Date, RosterEntry, Weekday, attendance::limits,
};
use liaison_domain::{Deputy, DeputyId, Directory, Field, Role, StationId};
use std::collections::BTreeMap;

/// The stations `user` may read, as the server decides (`may_read`): within the account's
/// scopes, and on an enrolled tablet only its station. A session kept by an older app version
/// has no scopes until `GET /me` answers: then the tablet's station, or the deputy's.
pub fn readable_stations(user: &SignedInUser, directory: &Directory) -> Vec<StationId> {
    let on_device = |station: &StationId| {
        user.device
            .as_ref()
            .is_none_or(|d| &d.station_id == station)
    };
    let scoped = |station: &StationId| {
        if user.scopes.is_empty() && user.role != Role::Admin {
            // Not known yet: what the tablet or the deputy is bound to.
            user.device
                .as_ref()
                .is_some_and(|d| &d.station_id == station)
                || user
                    .deputy_id
                    .as_ref()
                    .and_then(|id| directory.deputy(id))
                    .is_some_and(|d| d.station_ids.contains(station))
        } else {
            can_read_station(user.role, &user.scopes, station, directory)
        }
    };
    directory
        .stations
        .iter()
        .map(|s| &s.id)
        .filter(|station| on_device(station) && scoped(station))
        .cloned()
        .collect()
}

/// Whether `user` may record the station's activities (whoever may write the station).
pub fn may_record_activities(
    user: &SignedInUser,
    directory: &Directory,
    station: &StationId,
) -> bool {
    user.device
        .as_ref()
        .is_none_or(|d| &d.station_id == station)
        && can_write_station(user.role, &user.scopes, station, directory)
}

/// Whether `user` keeps the station's roster: staff (not deputies, who are on it) who may
/// write the station.
pub fn may_keep_roster(user: &SignedInUser, directory: &Directory, station: &StationId) -> bool {
    matches!(
        user.role,
        Role::Admin | Role::OfficeStaff | Role::StationStaff
    ) && may_record_activities(user, directory, station)
}

/// The message for a write that failed: what to do now. After no clear answer the write may
/// have been taken; saving again is safe (a roster day is replaced, an activity is stored once
/// per id), and the message says so.
pub fn save_error_key(error: &OfficeError) -> String {
    match error {
        OfficeError::Refused(code) if code == "already_exists" || code == "unknown_station" => {
            format!("duty.save_error.{code}")
        }
        other => format!("duty.save_error.{}", other.code()),
    }
}

fn weekday_key(day: Date) -> &'static str {
    match day.weekday() {
        Weekday::Monday => "weekday.mon",
        Weekday::Tuesday => "weekday.tue",
        Weekday::Wednesday => "weekday.wed",
        Weekday::Thursday => "weekday.thu",
        Weekday::Friday => "weekday.fri",
        Weekday::Saturday => "weekday.sat",
        Weekday::Sunday => "weekday.sun",
    }
}

/// A deputy's name from the directory (the id when unknown).
fn deputy_name(directory: &Directory, id: &DeputyId) -> String {
    directory
        .deputy(id)
        .map_or_else(|| id.0.clone(), |d| d.name.clone())
}

/// Where saving one roster day stands.
#[derive(Clone, Debug, PartialEq)]
enum DaySave {
    Saving,
    Saved,
    /// The translation key of what went wrong and what to do.
    Failed(String),
}

#[component]
pub fn DutyScreen() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let session = app.sync.session;
    let stations = Memo::new(move |_| {
        session.with(|s| {
            s.as_ref().map_or_else(Vec::new, |s| {
                app.directory.with(|d| readable_stations(&s.user, d))
            })
        })
    });
    let chosen = RwSignal::new(String::new());
    // The station on duty here when readable, else the first one the account may read.
    Effect::new(move |_| {
        let readable = stations.get();
        if readable.iter().any(|s| s.0 == chosen.get_untracked()) {
            return;
        }
        let here = app
            .duty
            .with_untracked(|d| d.as_ref().map(|d| d.station_id.clone()));
        let pick = here
            .filter(|h| readable.contains(h))
            .or_else(|| readable.first().cloned());
        chosen.set(pick.map(|s| s.0).unwrap_or_default());
    });
    let station = Memo::new(move |_| Some(chosen.get()).filter(|s| !s.is_empty()).map(StationId));
    let today = RwSignal::new(china_day(now_ms()));
    let days = Memo::new(move |_| roster_days(today.get()));
    let keeps_roster = Memo::new(move |_| {
        let (Some(station), Some(session)) = (station.get(), session.get()) else {
            return false;
        };
        app.directory
            .with(|d| may_keep_roster(&session.user, d, &station))
    });
    let records_activities = Memo::new(move |_| {
        let (Some(station), Some(session)) = (station.get(), session.get()) else {
            return false;
        };
        app.directory
            .with(|d| may_record_activities(&session.user, d, &station))
    });
    let deputies = Memo::new(move |_| {
        let Some(station) = station.get() else {
            return Vec::new();
        };
        app.directory
            .with(|d| d.deputies_at(&station).cloned().collect::<Vec<Deputy>>())
    });

    // What the server has.
    let roster = RwSignal::new(Vec::<RosterEntry>::new());
    let attendance = RwSignal::new(Vec::<Attendance>::new());
    let activities = RwSignal::new(Vec::<Activity>::new());
    // Who is ticked for each day (starts as the roster; saved day by day).
    let picked = RwSignal::new(BTreeMap::<Date, Vec<DeputyId>>::new());
    let day_saves = RwSignal::new(BTreeMap::<Date, DaySave>::new());
    let load_error = RwSignal::new(None::<OfficeError>);
    let loading = RwSignal::new(false);
    let retry = RwSignal::new(0u32);
    let request = StoredValue::new(0u64);
    Effect::new(move |_| {
        retry.track();
        let (Some(station), Some(session)) = (station.get(), session.get()) else {
            roster.set(Vec::new());
            attendance.set(Vec::new());
            activities.set(Vec::new());
            return;
        };
        // The day may have turned since the page opened.
        let now = china_day(now_ms());
        today.set(now);
        let number = request.get_value() + 1;
        request.set_value(number);
        loading.set(true);
        leptos::task::spawn_local(async move {
            let token = session.token;
            let shown = roster_days(now);
            let (from, to) = (shown[0], shown[shown.len() - 1]);
            let (att_from, att_to) = attendance_period(now);
            let rostered = duty::roster(&token, &station, from, to).await;
            let attended = duty::attendance(&token, &station, att_from, att_to).await;
            let recorded = duty::activities(&token, &station).await;
            // Another station was chosen meanwhile: only its answers count. (Or the page went:
            // nothing of it is read then.)
            if request.try_get_value() != Some(number) {
                return;
            }
            let mut failure = None;
            match rostered {
                Ok(entries) => {
                    picked.set(
                        shown
                            .iter()
                            .map(|day| (*day, duty::on_duty(&entries, &station, *day)))
                            .collect(),
                    );
                    day_saves.set(BTreeMap::new());
                    roster.set(entries);
                }
                Err(e) => failure = Some(e),
            }
            match attended {
                Ok(mut records) => {
                    records.sort_by(|a, b| {
                        b.key
                            .day
                            .cmp(&a.key.day)
                            .then(a.key.deputy_id.cmp(&b.key.deputy_id))
                    });
                    attendance.set(records);
                }
                Err(e) => failure = failure.or(Some(e)),
            }
            match recorded {
                Ok(mut list) => {
                    list.sort_by(|a, b| b.day.cmp(&a.day).then(b.id.cmp(&a.id)));
                    activities.set(list);
                }
                Err(e) => failure = failure.or(Some(e)),
            }
            load_error.set(failure);
            loading.set(false);
        });
    });

    let save_day = move |day: Date| {
        let (Some(station), Some(session)) = (station.get_untracked(), session.get_untracked())
        else {
            return;
        };
        if day_saves.with_untracked(|s| s.get(&day) == Some(&DaySave::Saving)) {
            return;
        }
        let deputy_ids = picked.with_untracked(|p| p.get(&day).cloned().unwrap_or_default());
        let body = RosterDay {
            station_id: station.clone(),
            day,
            deputy_ids: deputy_ids.clone(),
        };
        day_saves.update(|s| {
            s.insert(day, DaySave::Saving);
        });
        leptos::task::spawn_local(async move {
            let answer = duty::set_roster(&session.token, &body).await;
            if moved_away(&station, chosen) {
                return;
            }
            let outcome = match answer {
                Ok(stored) => {
                    roster.update(|r| {
                        r.retain(|e| !(e.station_id == station && e.day == day));
                        r.extend(stored.iter().map(|deputy_id| RosterEntry {
                            station_id: station.clone(),
                            day,
                            deputy_id: deputy_id.clone(),
                        }));
                    });
                    if duty::same_deputies(&stored, &deputy_ids) {
                        DaySave::Saved
                    } else {
                        picked.update(|p| {
                            p.insert(day, stored);
                        });
                        DaySave::Failed("duty.roster_differs".into())
                    }
                }
                Err(OfficeError::Invalid(_)) => DaySave::Failed("duty.roster_invalid".into()),
                Err(e) => DaySave::Failed(save_error_key(&e)),
            };
            day_saves.update(|s| {
                s.insert(day, outcome);
            });
        });
    };

    let submit = Action::new_local(move |activity: &Activity| {
        let activity = activity.clone();
        async move {
            let Some(session) = session.get_untracked() else {
                return Err(OfficeError::SignInNeeded);
            };
            let stored = duty::add_activity(&session.token, &activity).await?;
            // The page may have gone while the server answered.
            if chosen.try_get_untracked().as_deref() == Some(stored.station_id.0.as_str()) {
                activities.update(|list| {
                    list.retain(|a| a.id != stored.id);
                    list.push(stored.clone());
                    list.sort_by(|a, b| b.day.cmp(&a.day).then(b.id.cmp(&a.id)));
                });
            }
            Ok(stored)
        }
    });

    let names = move |ids: &[DeputyId]| {
        app.directory.with(|d| {
            ids.iter()
                .map(|id| deputy_name(d, id))
                .collect::<Vec<_>>()
                .join("、")
        })
    };

    view! {
        <section class="duty-page">
            <h1>{tr("duty_page.title")}</h1>
            <Show when=move || session.with(Option::is_none)>
                <p class="hint" id="duty-page-sign-in">{tr("duty_page.sign_in_first")} " "
                    <A href="/sync">{tr("nav.sync")}</A></p>
            </Show>
            <Show when=move || session.with(Option::is_some) && stations.with(Vec::is_empty)>
                <p class="hint" id="duty-page-no-station">{tr("duty_page.no_station")}</p>
            </Show>
            <div class="duty-page-head">
                <label>
                    <span>{tr("duty.station")}</span>
                    <select id="duty-page-station" on:change=move |ev| chosen.set(event_target_value(&ev))>
                        {move || app.directory.with(|d| {
                            stations.get().into_iter().map(|id| {
                                let name = d.station(&id).map_or_else(|| id.0.clone(), |s| s.name.clone());
                                let value = id.0.clone();
                                view! { <option value=value selected=move || chosen.get() == id.0>{name}</option> }
                            }).collect_view()
                        })}
                    </select>
                </label>
                <button id="duty-page-reload" type="button" class="secondary" disabled=move || loading.get()
                    on:click=move |_| retry.update(|n| *n += 1)>{tr("duty_page.reload")}</button>
            </div>
            {move || load_error.get().map(|e| {
                let key = office_error_key(&e);
                view! {
                    <div class="problem-box" role="alert" id="duty-page-error">
                        <p>{move || i18n.t(&key)}</p>
                        <button type="button" disabled=move || loading.get()
                            on:click=move |_| retry.update(|n| *n += 1)>{tr("office.retry")}</button>
                    </div>
                }
            })}

            <section class="panel roster-panel" aria-labelledby="roster-title">
                <h2 id="roster-title">{tr("duty_page.roster")}</h2>
                <p class="hint">{move || if keeps_roster.get() { i18n.t("duty_page.roster_hint_edit") } else { i18n.t("duty_page.roster_hint") }}</p>
                <ul id="roster" aria-busy=move || loading.get().to_string()>
                    {move || days.get().into_iter().map(|day| {
                        let on_duty = move || roster.with(|r| {
                            station.get().map(|s| duty::on_duty(r, &s, day)).unwrap_or_default()
                        });
                        let is_today = move || today.get() == day;
                        view! {
                            <li class="roster-day" class:today=is_today data-day=day.to_string()>
                                <div class="roster-head">
                                    <span class="roster-date">
                                        {day.to_string()} " " {move || i18n.t(weekday_key(day))}
                                        {move || is_today().then(|| view! { <span class="today-badge">{move || i18n.t("duty_page.today")}</span> })}
                                    </span>
                                    <span class="roster-names">{move || {
                                        let ids = on_duty();
                                        if ids.is_empty() { i18n.t("duty_page.nobody") } else { names(&ids) }
                                    }}</span>
                                </div>
                                <Show when=move || keeps_roster.get()>
                                    <div class="roster-edit">
                                        <div class="chips">
                                            {move || deputies.get().into_iter().map(|deputy| {
                                                let id = deputy.id.clone();
                                                let checked = {
                                                    let id = id.clone();
                                                    move || picked.with(|p| p.get(&day).is_some_and(|ids| ids.contains(&id)))
                                                };
                                                view! {
                                                    <label class="check chip">
                                                        <input type="checkbox" class="roster-pick" value=id.0.clone()
                                                            data-deputy=id.0.clone() prop:checked=checked
                                                            on:change=move |ev| {
                                                                let on = event_checked(&ev);
                                                                let id = id.clone();
                                                                picked.update(|p| {
                                                                    let ids = p.entry(day).or_default();
                                                                    ids.retain(|d| d != &id);
                                                                    if on { ids.push(id); }
                                                                });
                                                                day_saves.update(|s| { s.remove(&day); });
                                                            }/>
                                                        <span>{deputy.name.clone()}</span>
                                                    </label>
                                                }
                                            }).collect_view()}
                                        </div>
                                        <button type="button" id=format!("roster-save-{day}") class="primary"
                                            disabled=move || day_saves.with(|s| s.get(&day) == Some(&DaySave::Saving))
                                            on:click=move |_| save_day(day)>
                                            {tr("duty_page.roster_save")}
                                        </button>
                                        {move || day_saves.with(|s| s.get(&day).cloned()).map(|state| match state {
                                            DaySave::Saving => view! { <p class="hint roster-status" data-state="saving">{tr("duty_page.saving")}</p> }.into_any(),
                                            DaySave::Saved => view! { <p class="ok roster-status" data-state="saved" role="status">{tr("duty_page.roster_saved")}</p> }.into_any(),
                                            DaySave::Failed(key) => view! { <p class="error roster-status" data-state="failed" role="alert">{move || i18n.t(&key)}</p> }.into_any(),
                                        })}
                                    </div>
                                </Show>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>

            <section class="panel" aria-labelledby="duty-page-attendance-title">
                <h2 id="duty-page-attendance-title">{tr("duty_page.attendance")}</h2>
                <ul id="duty-page-attendance" class="attendance-list">
                    {move || attendance.get().into_iter().map(|record| {
                        let deputy = record.key.deputy_id.clone();
                        let name = app.directory.with(|d| deputy_name(d, &deputy));
                        let signed_in = record.signed_in_at_ms.map(format_clock);
                        let signed_out = record.signed_out_at_ms.map(format_clock);
                        view! {
                            <li class="attendance-day" data-deputy=deputy.0.clone() data-day=record.key.day.to_string()
                                data-in=record.signed_in_at_ms.map(|m| m.to_string()).unwrap_or_default()
                                data-out=record.signed_out_at_ms.map(|m| m.to_string()).unwrap_or_default()>
                                <span class="attendance-when">{record.key.day.to_string()}</span>
                                <span class="attendance-who">{name}</span>
                                <span class="attendance-times">{move || {
                                    let lang = i18n.lang.get();
                                    let none = i18n.t("duty_page.no_time");
                                    text_with(lang, "duty_page.in_out", &[
                                        ("in", signed_in.clone().unwrap_or_else(|| none.clone())),
                                        ("out", signed_out.clone().unwrap_or_else(|| none.clone())),
                                    ])
                                }}</span>
                            </li>
                        }
                    }).collect_view()}
                </ul>
                <Show when=move || !loading.get() && attendance.with(Vec::is_empty) && station.with(Option::is_some)>
                    <p class="hint" id="duty-page-attendance-empty">{tr("duty_page.attendance_empty")}</p>
                </Show>
            </section>

            {move || {
                let (Some(station), Some(session)) = (station.get(), session.get()) else {
                    return None;
                };
                let on_this_tablet = session.user.device.as_ref().is_none_or(|d| d.station_id == station);
                let manages = on_this_tablet
                    && app.directory.with(|d| can_manage_devices(session.user.role, &session.user.scopes, &station, d));
                manages.then(|| view! { <StationTablets station=station token=session.token/> })
            }}

            <section class="panel" aria-labelledby="activities-title">
                <h2 id="activities-title">{tr("duty_page.activities")}</h2>
                <ul id="activities">
                    {move || activities.get().into_iter().map(|activity| {
                        let kind_key = format!("activity.{}", activity.kind.code());
                        let who = names(&activity.attendees);
                        let citizens = activity.citizens_received.to_string();
                        view! {
                            <li class="activity" data-id=activity.id.clone() data-kind=activity.kind.code()
                                data-day=activity.day.to_string()>
                                <div class="activity-head">
                                    <span class="activity-day">{activity.day.to_string()}</span>
                                    <span class="activity-kind">{move || i18n.t(&kind_key)}</span>
                                    <strong class="activity-title">{activity.title.clone()}</strong>
                                </div>
                                <p class="activity-attendees">{move || text_with(i18n.lang.get(), "duty_page.attendees_list", &[("names", who.clone())])}</p>
                                <p class="activity-citizens">{move || text_with(i18n.lang.get(), "duty_page.citizens_count", &[("n", citizens.clone())])}</p>
                                {(!activity.note.is_empty()).then(|| view! { <p class="activity-note">{activity.note.clone()}</p> })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
                <Show when=move || !loading.get() && activities.with(Vec::is_empty) && station.with(Option::is_some)>
                    <p class="hint" id="activities-empty">{tr("duty_page.activities_empty")}</p>
                </Show>
                <Show when=move || records_activities.get()>
                    <ActivityForm station=Signal::derive(move || station.get())
                        deputies=Signal::derive(move || deputies.get()) submit=submit/>
                </Show>
            </section>
        </section>
    }
}

/// Whether the page moved to another station while a save was on its way (its answer is then
/// not shown).
fn moved_away(station: &StationId, chosen: RwSignal<String>) -> bool {
    chosen.get_untracked() != station.0
}

/// The form that records an activity at `station`, sent through `submit`. It makes the
/// activity's id when it opens and sends that id on every press of "save" until the server
/// stored it; then it clears and makes a new one. The domain's rules are checked before
/// sending; the server's `invalid` answer is shown the same way, next to the fields.
#[component]
pub fn ActivityForm(
    #[prop(into)] station: Signal<Option<StationId>>,
    /// The deputies of the station (who may have attended).
    #[prop(into)]
    deputies: Signal<Vec<Deputy>>,
    /// Sends the activity; `Ok` with the activity as stored.
    submit: Action<Activity, Result<Activity, OfficeError>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let id = StoredValue::new(duty::new_activity_id());
    let kind = RwSignal::new(ActivityKind::CollectiveReception.code().to_owned());
    let title = RwSignal::new(String::new());
    let day = RwSignal::new(china_day(now_ms()).to_string());
    let attendees = RwSignal::new(Vec::<DeputyId>::new());
    let citizens = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    // Bumped to remount the inputs empty after a save (they are uncontrolled while typing, so
    // that a Chinese IME composition is never disturbed).
    let generation = RwSignal::new(0u32);
    let problems = RwSignal::new(ActivityProblems::default());
    let failure = RwSignal::new(None::<String>);
    let saved = RwSignal::new(None::<String>);
    // What the server answered to the last submission.
    Effect::new(move |_| {
        let Some(result) = submit.value().get() else {
            return;
        };
        match result {
            Ok(stored) if stored.id == id.get_value() => {
                id.set_value(duty::new_activity_id());
                kind.set(ActivityKind::CollectiveReception.code().to_owned());
                title.set(String::new());
                day.set(china_day(now_ms()).to_string());
                attendees.set(Vec::new());
                citizens.set(String::new());
                note.set(String::new());
                problems.set(ActivityProblems::default());
                failure.set(None);
                saved.set(Some(stored.title));
                generation.update(|g| *g += 1);
            }
            Ok(_) => {}
            Err(OfficeError::Invalid(errors)) => {
                problems.set(ActivityProblems {
                    fields: errors,
                    ..ActivityProblems::default()
                });
                failure.set(Some("duty.save_error.invalid".into()));
            }
            Err(error) => failure.set(Some(save_error_key(&error))),
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if submit.pending().get_untracked() {
            return;
        }
        let Some(station) = station.get_untracked() else {
            return;
        };
        let input = ActivityInput {
            kind: kind.get_untracked(),
            title: title.get_untracked(),
            day: day.get_untracked(),
            attendees: attendees.get_untracked(),
            citizens: citizens.get_untracked(),
            note: note.get_untracked(),
        };
        saved.set(None);
        match input.build(&id.get_value(), &station) {
            Ok(activity) => {
                problems.set(ActivityProblems::default());
                failure.set(None);
                submit.dispatch(activity);
            }
            Err(found) => {
                problems.set(found);
                failure.set(Some("duty.save_error.invalid".into()));
            }
        }
    };
    let field_error = move |field: Field, element: &'static str| {
        move || {
            problems.with(|p| p.fields.get(field).cloned()).map(|e| {
                view! { <p class="field-error error" id=element role="alert">{error_message(i18n, &e)}</p> }
            })
        }
    };
    let invalid = move |field: Field| problems.with(|p| p.fields.get(field).is_some());

    view! {
        <form id="activity-form" class="activity-form" on:submit=on_submit novalidate=true>
            <h3>{tr("duty_page.activity_new")}</h3>
            {move || {
                generation.track();
                view! {
                    <div class="field">
                        <label for="activity-kind">{tr("duty_page.activity_kind")}</label>
                        <select id="activity-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                            {ActivityKind::ALL.into_iter().map(|k| {
                                let key = format!("activity.{}", k.code());
                                view! { <option value=k.code() selected=kind.get_untracked() == k.code()>{move || i18n.t(&key)}</option> }
                            }).collect_view()}
                        </select>
                    </div>
                    <div class="field" class:invalid=move || invalid(Field::Title)>
                        <label for="activity-title">{tr("duty_page.activity_title")} <span class="required">"*"</span></label>
                        <input id="activity-title" type="text" maxlength=limits::TITLE.to_string()
                            prop:value=title.get_untracked()
                            on:input=move |ev| title.set(event_target_value(&ev))/>
                        {field_error(Field::Title, "activity-title-error")}
                    </div>
                    <div class="field" class:invalid=move || problems.with(|p| p.day)>
                        <label for="activity-day">{tr("duty_page.activity_day")}</label>
                        <input id="activity-day" type="date" prop:value=day.get_untracked()
                            on:change=move |ev| day.set(event_target_value(&ev))/>
                        <Show when=move || problems.with(|p| p.day)>
                            <p class="field-error error" id="activity-day-error" role="alert">{tr("duty_page.activity_day_invalid")}</p>
                        </Show>
                    </div>
                    <fieldset id="activity-attendees" class:invalid=move || invalid(Field::Attendees)>
                        <legend>{tr("duty_page.activity_attendees")}</legend>
                        <div class="chips">
                            {move || deputies.get().into_iter().map(|deputy| {
                                let id = deputy.id.clone();
                                let checked = attendees.with_untracked(|a| a.contains(&id));
                                view! {
                                    <label class="check chip">
                                        <input type="checkbox" class="activity-attendee" value=id.0.clone()
                                            data-deputy=id.0.clone() prop:checked=checked
                                            on:change=move |ev| {
                                                let on = event_checked(&ev);
                                                let id = id.clone();
                                                attendees.update(|a| {
                                                    a.retain(|d| d != &id);
                                                    if on { a.push(id); }
                                                });
                                            }/>
                                        <span>{deputy.name.clone()}</span>
                                    </label>
                                }
                            }).collect_view()}
                        </div>
                        {field_error(Field::Attendees, "activity-attendees-error")}
                    </fieldset>
                    <div class="field" class:invalid=move || problems.with(|p| p.citizens)>
                        <label for="activity-citizens">{tr("duty_page.activity_citizens")}</label>
                        <input id="activity-citizens" type="number" min="0" step="1" inputmode="numeric"
                            prop:value=citizens.get_untracked()
                            on:input=move |ev| citizens.set(event_target_value(&ev))/>
                        <Show when=move || problems.with(|p| p.citizens)>
                            <p class="field-error error" id="activity-citizens-error" role="alert">{tr("duty_page.activity_citizens_invalid")}</p>
                        </Show>
                    </div>
                    <div class="field" class:invalid=move || invalid(Field::Note)>
                        <label for="activity-note">{tr("duty_page.activity_note")}</label>
                        <textarea id="activity-note" rows="3" prop:value=note.get_untracked()
                            on:input=move |ev| note.set(event_target_value(&ev))></textarea>
                        {field_error(Field::Note, "activity-note-error")}
                    </div>
                }
            }}
            {move || failure.get().map(|key| view! {
                <p class="error" id="activity-error" role="alert">{move || i18n.t(&key)}</p>
            })}
            {move || saved.get().map(|title| view! {
                <p class="ok" id="activity-saved" role="status">
                    {move || text_with(i18n.lang.get(), "duty_page.activity_saved", &[("title", title.clone())])}
                </p>
            })}
            <div class="form-actions">
                <button id="activity-save" type="submit" class="primary" disabled=move || submit.pending().get()>
                    {move || if submit.pending().get() { i18n.t("duty_page.saving") } else { i18n.t("duty_page.activity_save") }}
                </button>
            </div>
        </form>
    }
}

/// The station's tablets for whoever may enrol and revoke them there: each with when it was
/// enrolled and whether it was revoked, and "停用" (asked twice) for a lost or retired one. The
/// revoked tablet's sessions stop at once; it deletes its data at its next contact.
#[component]
fn StationTablets(station: StationId, token: String) -> impl IntoView {
    let i18n = use_i18n();
    let tablets = RwSignal::new(Vec::<duty::StationTablet>::new());
    let error = RwSignal::new(None::<String>);
    let asking = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let station = StoredValue::new(station);
    let token = StoredValue::new(token);
    let load = move || {
        leptos::task::spawn_local(async move {
            match duty::tablets(&token.get_value(), &station.get_value()).await {
                Ok(list) => {
                    tablets.set(list);
                    error.set(None);
                }
                Err(e) => error.set(Some(save_error_key(&e))),
            }
        });
    };
    load();
    let revoke = move |id: String| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            match duty::revoke_tablet(&token.get_value(), &id).await {
                Ok(()) => {
                    asking.set(None);
                    load();
                }
                Err(e) => error.set(Some(save_error_key(&e))),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="panel" aria-labelledby="tablets-title">
            <h2 id="tablets-title">{tr("tablets.title")}</h2>
            <p class="hint">{tr("tablets.hint")}</p>
            <ul id="station-tablets">
                {move || tablets.get().into_iter().map(|tablet| {
                    let id = tablet.id.clone();
                    let confirm_id = tablet.id.clone();
                    let asked = {
                        let id = tablet.id.clone();
                        move || asking.with(|a| a.as_deref() == Some(id.as_str()))
                    };
                    let enrolled = crate::platform::format_time(u64::try_from(tablet.created_at_ms).unwrap_or(0));
                    let revoked = tablet.revoked_at_ms.is_some();
                    view! {
                        <li class="tablet" data-id=tablet.id.clone() data-revoked=revoked.to_string()>
                            <span class="tablet-name">{tablet.name.clone()}</span>
                            <span class="hint">{move || text_with(i18n.lang.get(), "tablets.enrolled_at", &[("time", enrolled.clone())])}</span>
                            {if revoked {
                                view! { <span class="tablet-revoked">{tr("tablets.revoked")}</span> }.into_any()
                            } else {
                                view! {
                                    <Show when=asked.clone() fallback=move || {
                                        let id = id.clone();
                                        view! {
                                            <button class="tablet-revoke" type="button"
                                                on:click=move |_| asking.set(Some(id.clone()))>
                                                {tr("tablets.revoke")}
                                            </button>
                                        }
                                    }>
                                        <span class="warning">{tr("tablets.revoke_warning")}</span>
                                        <button class="tablet-revoke-confirm" type="button" disabled=move || busy.get()
                                            on:click={
                                                let id = confirm_id.clone();
                                                move |_| revoke(id.clone())
                                            }>
                                            {tr("tablets.revoke_confirm")}
                                        </button>
                                        <button type="button" on:click=move |_| asking.set(None)>
                                            {tr("tablets.revoke_cancel")}
                                        </button>
                                    </Show>
                                }.into_any()
                            }}
                        </li>
                    }
                }).collect_view()}
            </ul>
            <Show when=move || tablets.with(Vec::is_empty) && error.with(Option::is_none)>
                <p class="hint" id="station-tablets-empty">{tr("tablets.none")}</p>
            </Show>
            {move || error.get().map(|key| view! { <p class="error" role="alert">{move || i18n.t(&key)}</p> })}
        </section>
    }
}
