//! The period and scope pickers of the dashboard, the register and the tablet's station figures:
//! a preset (this month, last month, this quarter, this year; today on the tablet) or dates typed
//! in, and on the back office's pages the scope (everything the reader may read, a region or a
//! station, from the directory copy).

use crate::figures::{PeriodPreset, parse_scope, readable_scopes, scope_code, scope_name};
use crate::i18n::{tr, use_i18n};
use crate::state::use_app;
use leptos::prelude::*;
use liaison_domain::figures::{Period, PeriodError};
use liaison_domain::followup::Date;
use liaison_domain::{Role, Scope};

/// What a page's address asks for: `?from=…&to=…&scope=…&wall=1`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub scope: Option<String>,
    /// `wall=1`: the dashboard as a wall screen.
    pub wall: bool,
}

impl AddressQuery {
    /// The query of the route being shown (inside the router: the address bar is updated only
    /// after the new page is drawn).
    pub fn from_router() -> AddressQuery {
        let query = leptos_router::hooks::use_query_map().get_untracked();
        AddressQuery {
            from: query.get("from"),
            to: query.get("to"),
            scope: query.get("scope"),
            wall: query.get("wall").is_some_and(|w| w == "1" || w == "true"),
        }
    }
}

/// The chosen period and scope. `from`/`to` are the date inputs' texts (`YYYY-MM-DD`), `scope`
/// the scope select's value ([`scope_code`]).
#[derive(Clone, Copy)]
pub struct PeriodScope {
    pub preset: RwSignal<PeriodPreset>,
    pub from: RwSignal<String>,
    pub to: RwSignal<String>,
    pub scope: RwSignal<String>,
}

impl PeriodScope {
    /// `preset`'s period on `today`, everything in scope.
    pub fn new(preset: PeriodPreset, today: Date) -> PeriodScope {
        let picked = PeriodScope {
            preset: RwSignal::new(preset),
            from: RwSignal::new(String::new()),
            to: RwSignal::new(String::new()),
            scope: RwSignal::new(String::new()),
        };
        picked.choose(preset, today);
        picked
    }

    /// As [`PeriodScope::new`], unless the page's address said `?from=…&to=…&scope=…` (links
    /// from the dashboard to the register carry its choice).
    pub fn from_address(preset: PeriodPreset, today: Date, address: &AddressQuery) -> PeriodScope {
        let picked = PeriodScope::new(preset, today);
        let date = |d: &Option<String>| d.as_deref().and_then(Date::parse);
        if let (Some(from), Some(to)) = (date(&address.from), date(&address.to)) {
            picked.preset.set(PeriodPreset::Custom);
            picked.from.set(from.to_string());
            picked.to.set(to.to_string());
        }
        if let Some(scope) = &address.scope {
            picked.scope.set(scope.clone());
        }
        picked
    }

    /// Picks a preset: its dates on `today` go into the inputs (a custom period keeps the dates
    /// typed). Pass today as it is now ([`crate::platform::today_in_china`]), not as it was
    /// when the page opened.
    pub fn choose(&self, preset: PeriodPreset, today: Date) {
        self.preset.set(preset);
        self.refresh(today);
    }

    /// Takes `today` afresh: a preset's period is worked out again on it ("this month" moves on
    /// at midnight on the first), a custom period stays. Only a date that changes is written,
    /// so nothing is asked again while the day is the same.
    pub fn refresh(&self, today: Date) {
        let Some(period) = self.preset.get_untracked().period(today) else {
            return;
        };
        for (signal, date) in [(self.from, period.from), (self.to, period.to)] {
            let text = date.to_string();
            if signal.with_untracked(|t| *t != text) {
                signal.set(text);
            }
        }
    }

    /// The period chosen (tracked), or the translation key of what is wrong with it.
    pub fn period(&self) -> Result<Period, &'static str> {
        let (Some(from), Some(to)) = (Date::parse(&self.from.get()), Date::parse(&self.to.get()))
        else {
            return Err("period.error.missing");
        };
        Period::new(from, to).map_err(|e| match e {
            PeriodError::EndsBeforeStart => "period.error.ends_before_start",
            PeriodError::TooLong => "period.error.too_long",
            PeriodError::OutOfRange => "period.error.out_of_range",
        })
    }

    /// The scope chosen (tracked); `None`: everything the reader may read.
    pub fn scope(&self) -> Option<Scope> {
        parse_scope(&self.scope.get())
    }

    /// The address parameters that carry this choice to another page.
    pub fn address_params(&self) -> String {
        format!(
            "from={}&to={}&scope={}",
            self.from.get(),
            self.to.get(),
            crate::figures::encode(&self.scope.get())
        )
    }
}

/// How often an open picker looks whether the day (China time) has turned.
const DAY_CHECK_MS: u32 = 60_000;

/// The pickers, with ids `<id>-period`, `<id>-from`, `<id>-to` and (with `with_scope`)
/// `<id>-scope`. A date typed in makes the period custom.
#[component]
pub fn PeriodScopePicker(
    id: &'static str,
    picked: PeriodScope,
    presets: &'static [PeriodPreset],
    #[prop(optional)] with_scope: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    // A page left open past midnight (a wall screen, a tablet on the desk) moves a preset's
    // period on with the day; the timer goes with the picker.
    let day_watch = StoredValue::new_local(Some(gloo_timers::callback::Interval::new(
        DAY_CHECK_MS,
        move || picked.refresh(crate::platform::today_in_china()),
    )));
    on_cleanup(move || day_watch.dispose());
    // A date typed in makes the period custom (a date input has a value only once complete).
    let typed = move |signal: RwSignal<String>, value: String| {
        if signal.get_untracked() != value {
            signal.set(value);
            picked.preset.set(PeriodPreset::Custom);
        }
    };
    let date = move |suffix: &'static str, label: &'static str, signal: RwSignal<String>| {
        view! {
            <label>
                <span>{tr(label)}</span>
                <input
                    id=format!("{id}-{suffix}")
                    type="date"
                    prop:value=move || signal.get()
                    on:change=move |ev| typed(signal, event_target_value(&ev))
                    on:input=move |ev| typed(signal, event_target_value(&ev))
                />
            </label>
        }
    };
    view! {
        <div class="period-picker">
            <label>
                <span>{tr("period.label")}</span>
                <select
                    id=format!("{id}-period")
                    on:change=move |ev| {
                        if let Some(preset) = PeriodPreset::from_code(&event_target_value(&ev)) {
                            picked.choose(preset, crate::platform::today_in_china());
                        }
                    }
                >
                    {presets
                        .iter()
                        .map(|preset| {
                            let preset = *preset;
                            let key = format!("period.{}", preset.code());
                            view! {
                                <option value=preset.code() selected=move || picked.preset.get() == preset>
                                    {move || i18n.t(&key)}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            {date("from", "period.from", picked.from)}
            {date("to", "period.to", picked.to)}
            {with_scope.then(|| view! { <ScopeSelect id=id picked=picked/> })}
            {move || {
                picked
                    .period()
                    .err()
                    .map(|key| {
                        view! {
                            <p class="problem" role="alert" id=format!("{id}-period-error")>
                                {move || i18n.t(key)}
                            </p>
                        }
                    })
            }}
        </div>
    }
}

/// The scope select: everything, then the regions and the stations the reader may read.
#[component]
fn ScopeSelect(id: &'static str, picked: PeriodScope) -> impl IntoView {
    let app = use_app();
    let options = Memo::new(move |_| {
        let (role, scopes) = app.sync.session.with(|s| match s {
            Some(s) => (s.user.role, s.user.scopes.clone()),
            None => (Role::Admin, Vec::new()),
        });
        app.directory.with(|d| {
            readable_scopes(d, role, &scopes)
                .into_iter()
                .map(|scope| {
                    let name = scope_name(d, Some(&scope)).unwrap_or_default();
                    (scope, name)
                })
                .collect::<Vec<_>>()
        })
    });
    let group = move |regions: bool| {
        options
            .get()
            .into_iter()
            .filter(move |(scope, _)| matches!(scope, Scope::Region(_)) == regions)
            .map(|(scope, name)| {
                let value = scope_code(Some(&scope));
                let chosen = value.clone();
                view! { <option value=value selected=move || picked.scope.get() == chosen>{name}</option> }
            })
            .collect_view()
    };
    let i18n = use_i18n();
    view! {
        <label>
            <span>{tr("scope.label")}</span>
            <select
                id=format!("{id}-scope")
                prop:value=move || picked.scope.get()
                on:change=move |ev| picked.scope.set(event_target_value(&ev))
            >
                <option value="" selected=move || picked.scope.get().is_empty()>{tr("scope.all")}</option>
                <optgroup label=move || i18n.t("scope.regions")>{move || group(true)}</optgroup>
                <optgroup label=move || i18n.t("scope.stations")>{move || group(false)}</optgroup>
            </select>
        </label>
    }
}
