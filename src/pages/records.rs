//! The station's records: newest first, searchable by text and filtered by category and
//! outcome, 50 at a time ("more" loads the next page), so 10,000 records stay fast. Each shows
//! where its follow-up stands and opens its page (`/records/<id>`).

use crate::i18n::{I18n, text_with, tr, use_i18n};
use crate::pages::capture::PhotoThumb;
use crate::platform::format_time;
use crate::state::use_app;
use leptos::prelude::*;
use leptos_router::components::A;
use liaison_domain::followup::StatusKind;
use liaison_domain::opinion::OpinionFilter;
use liaison_domain::{Directory, Opinion, OpinionId, Outcome, OutcomeKind};

const PAGE_SIZE: usize = 50;

#[component]
pub fn RecordsScreen() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let text = RwSignal::new(String::new());
    let category = RwSignal::new(String::new());
    let outcome = RwSignal::new(String::new());
    let items = RwSignal::new(Vec::<(Opinion, StatusKind)>::new());
    let next_after = RwSignal::new(None::<OpinionId>);
    let total = RwSignal::new(None::<u32>);
    let error = RwSignal::new(None::<String>);

    let filter = move || OpinionFilter {
        text: text.get_untracked(),
        category: Some(category.get_untracked()).filter(|c| !c.is_empty()),
        outcome: OutcomeKind::from_code(&outcome.get_untracked()),
        // A deputy sees only what it received, never another deputy's records.
        deputy_id: app
            .unlocked
            .with_untracked(|u| u.as_ref().and_then(|u| u.deputy_id.clone())),
    };
    let load = move |after: Option<OpinionId>| {
        let Some(duty) = app.duty.get_untracked() else {
            items.set(Vec::new());
            return;
        };
        let filter = filter();
        let filter_deputy = filter.deputy_id.clone();
        leptos::task::spawn_local(async move {
            let store = app.store();
            match store
                .list_opinions(&duty.station_id, &filter, after, PAGE_SIZE)
                .await
            {
                Ok(page) => {
                    let listed = page.items.into_iter().zip(page.statuses);
                    if after.is_none() {
                        items.set(listed.collect());
                    } else {
                        items.update(|v| v.extend(listed));
                    }
                    next_after.set(page.next_after);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.message_key().to_owned())),
            }
            // A deputy counts its own records; station staff the station's.
            let count = match &filter_deputy {
                Some(deputy) => store.count_deputy_opinions(&duty.station_id, deputy).await,
                None => store.count_opinions(&duty.station_id).await,
            };
            total.set(count.ok());
        });
    };
    // Reload from the top when the station, the filters or the records change.
    Effect::new(move |_| {
        app.duty.track();
        app.records_version.track();
        text.track();
        category.track();
        outcome.track();
        load(None);
    });

    view! {
        <section class="records">
            <h1>
                {tr("records.title")}
                <span id="records-total" class="count">
                    {move || total.get().map(|n| text_with(i18n.lang.get(), "records.total", &[("n", n.to_string())]))}
                </span>
            </h1>
            <p class="records-links">
                <A href="/station-figures" attr:id="records-station-figures">{tr("records.station_figures")}</A>
            </p>
            <div class="filters">
                <input id="filter-text" type="search" placeholder=move || i18n.t("records.search")
                    on:input=move |ev| text.set(event_target_value(&ev))/>
                <select id="filter-category" on:change=move |ev| category.set(event_target_value(&ev))>
                    <option value="">{tr("records.all_categories")}</option>
                    {move || {
                        let english = i18n.lang.get().is_english();
                        app.directory.get().categories.into_iter()
                            .map(|c| view! { <option value=c.code.clone()>{c.label(english).to_owned()}</option> })
                            .collect_view()
                    }}
                </select>
                <select id="filter-outcome" on:change=move |ev| outcome.set(event_target_value(&ev))>
                    <option value="">{tr("records.all_outcomes")}</option>
                    {OutcomeKind::ALL.into_iter().map(|k| {
                        let key = format!("outcome.{}", k.code());
                        view! { <option value=k.code()>{move || i18n.t(&key)}</option> }
                    }).collect_view()}
                </select>
            </div>
            <Show when=move || error.get().is_some()>
                <p class="error" role="alert">{move || error.get().map(|k| i18n.t(&k))}</p>
            </Show>
            <Show when=move || app.duty.get().is_none()>
                <p class="hint">{tr("capture.need_duty")}</p>
            </Show>
            <Show when=move || app.duty.get().is_some() && items.with(Vec::is_empty)>
                <p class="hint" id="records-empty">{tr("records.empty")}</p>
            </Show>
            <ul id="records-list" class="record-list">
                // Keyed by status too: a record whose status changed is drawn again.
                <For each=move || items.get() key=|(o, status)| (o.id, *status)
                    children=move |(o, status)| view! { <RecordCard opinion=o status=status/> }/>
            </ul>
            <Show when=move || next_after.get().is_some()>
                <button id="records-more" class="secondary" on:click=move |_| load(next_after.get_untracked())>
                    {tr("records.more")}
                </button>
            </Show>
        </section>
    }
}

fn category_label(directory: &Directory, code: &str, english: bool) -> String {
    directory
        .categories
        .iter()
        .find(|c| c.code == code)
        .map_or_else(|| code.to_owned(), |c| c.label(english).to_owned())
}

fn deputy_name(directory: &Directory, opinion: &Opinion) -> String {
    directory
        .deputy(&opinion.deputy_id)
        .map_or_else(|| opinion.deputy_id.0.clone(), |d| d.name.clone())
}

fn outcome_text(i18n: I18n, outcome: &Outcome) -> String {
    let base = i18n.t(&format!("outcome.{}", outcome.kind().code()));
    match outcome {
        Outcome::NotAccepted { channel } => format!(
            "{base}（{}）",
            i18n.t(&format!("channel.{}", channel.code()))
        ),
        _ => base,
    }
}

/// One record: a summary line with its status, every field when opened, and a link to its page.
/// Personal data is masked.
#[component]
fn RecordCard(opinion: Opinion, status: StatusKind) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let open = RwSignal::new(false);
    let o = StoredValue::new(opinion);
    let id = o.with_value(|o| o.id.to_string());
    let row = move |key: &'static str, class: &'static str, value: String| {
        view! {
            <div class=format!("row {class}")>
                <dt>{move || i18n.t(key)}</dt>
                <dd>{value}</dd>
            </div>
        }
    };
    let status_key = format!("status.{}", status.code());
    let href = format!("/records/{id}");
    view! {
        <li class="record" data-id=id>
            <button class="record-head" aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|v| *v = !*v)>
                <span class="summary">{o.with_value(|o| o.summary.clone())}</span>
                <span class="meta">
                    <span class="record-status status-badge" data-status=status.code()>{move || i18n.t(&status_key)}</span>
                    <span class="category">{move || o.with_value(|o| category_label(&app.directory.get(), &o.category, i18n.lang.get().is_english()))}</span>
                    <span class="outcome">{move || o.with_value(|o| outcome_text(i18n, &o.outcome))}</span>
                    <span class="time">{o.with_value(|o| format_time(o.created_at_ms))}</span>
                    {o.with_value(|o| (!o.photos.is_empty()).then(|| view! { <span class="photo-count">{format!("📷{}", o.photos.len())}</span> }))}
                </span>
            </button>
            <A href=href attr:class="record-open">{tr("records.open")}</A>
            <Show when=move || open.get()>
                <dl class="record-detail">
                    {o.with_value(|o| {
                        let citizen = &o.citizen;
                        let who = if citizen.anonymous {
                            i18n.t("records.anonymous")
                        } else {
                            citizen.masked_summary().unwrap_or_else(|| i18n.t("records.not_given"))
                        };
                        view! {
                            {row("field.details", "details", o.details.clone())}
                            {row("field.place", "place", o.place.clone())}
                            {row("records.citizen", "citizen", who)}
                            {row("field.citizen_address", "address", citizen.address.as_ref().map(|_| "****".to_owned()).unwrap_or_default())}
                            {row("field.on_site_reply", "reply", o.on_site_reply.clone())}
                            {row("records.deputy", "deputy", deputy_name(&app.directory.get_untracked(), o))}
                            {row("records.id", "id", o.id.to_string())}
                        }
                    })}
                    <div class="thumbs">
                        {o.with_value(|o| o.photos.iter().map(|p| view! { <PhotoThumb id=p.id fetch=(o.id, p.clone())/> }).collect_view())}
                    </div>
                </dl>
            </Show>
        </li>
    }
}
