//! The figures as the dashboard and the tablet show them: ten big cards (each figure's name and
//! value, [`Figures::display`]: a rate over nothing is "—"), the legend of their definitions (the
//! domain's words, the same as the code's), the charts, and the drill-down table.
//!
//! Names and definitions come from [`Figure`] itself, never from a second copy in the
//! translation files, so the screen says exactly what is counted.

use crate::charts::{SERIES, bars_svg, largest, over_time_svg, series_colour};
use crate::i18n::{Lang, tr, use_i18n};
use leptos::prelude::*;
use liaison_domain::figures::{Breakdown, Figure, FigureReport, FigureRow, Figures};

/// The figure's name in `lang` (`收集意见建议（件）` / `Opinions collected`).
pub fn figure_name(figure: Figure, lang: Lang) -> &'static str {
    if lang.is_english() {
        figure.name_en()
    } else {
        figure.name_zh()
    }
}

/// The figure's definition in `lang`.
pub fn figure_definition(figure: Figure, lang: Lang) -> &'static str {
    if lang.is_english() {
        figure.definition_en()
    } else {
        figure.definition_zh()
    }
}

/// The ten figures as cards, each `id="<id_prefix><code>"` with its displayed value in its text
/// and in `data-value`, and its definition as the card's title.
#[component]
pub fn FigureCards(
    #[prop(into)] figures: Signal<Figures>,
    id_prefix: &'static str,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <div class="figure-cards">
            {Figure::ALL
                .into_iter()
                .map(|figure| {
                    let code = figure.code();
                    view! {
                        <div
                            class="figure-card"
                            class:rate=figure.is_rate()
                            id=format!("{id_prefix}{code}")
                            data-figure=code
                            data-value=move || figures.get().display(figure)
                            title=move || figure_definition(figure, i18n.lang.get())
                        >
                            <span class="figure-name">{move || figure_name(figure, i18n.lang.get())}</span>
                            <span class="figure-value">{move || figures.get().display(figure)}</span>
                        </div>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// What each figure means, as the domain defines it.
#[component]
pub fn FigureLegend(id: &'static str) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <details class="figure-legend" id=id>
            <summary>{tr("figures.definitions")}</summary>
            <dl>
                {Figure::ALL
                    .into_iter()
                    .map(|figure| {
                        view! {
                            <dt data-figure=figure.code()>{move || figure_name(figure, i18n.lang.get())}</dt>
                            <dd>{move || figure_definition(figure, i18n.lang.get())}</dd>
                        }
                    })
                    .collect_view()}
            </dl>
        </details>
    }
}

/// The colours of the charts' bars and what they stand for, in the order the bars of a group
/// are drawn (left to right, or top to bottom).
#[component]
fn ChartLegend() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <ol class="chart-legend">
            {SERIES
                .iter()
                .map(|(figure, _)| {
                    let figure = *figure;
                    let colour = series_colour(figure).unwrap_or_default();
                    view! {
                        <li>
                            <span class="swatch" style=format!("background:{colour}") aria-hidden="true"></span>
                            {move || figure_name(figure, i18n.lang.get())}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}

/// One chart: its caption, the SVG plotters drew, the legend, and the same data as a table for
/// those who do not see the chart (`<id>-data`, visually hidden, the chart's description):
/// one row per group with the value of each series, so nothing is told by colour alone.
#[component]
fn Chart(
    id: &'static str,
    caption: &'static str,
    /// The heading of the groups' column (a translation key).
    group_key: &'static str,
    #[prop(into)] svg: Signal<String>,
    /// The groups drawn, labelled, in order.
    #[prop(into)]
    groups: Signal<Vec<(String, Figures)>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let data_id = format!("{id}-data");
    view! {
        <figure class="chart-box">
            <figcaption id=format!("{id}-caption")>{tr(caption)}</figcaption>
            <div
                class="chart"
                id=id
                role="img"
                aria-label=move || i18n.t(caption)
                aria-describedby=data_id.clone()
                inner_html=move || svg.get()
            ></div>
            <ChartLegend/>
            <table class="visually-hidden chart-data" id=data_id>
                <caption>{tr(caption)}</caption>
                <thead>
                    <tr>
                        <th scope="col">{tr(group_key)}</th>
                        {SERIES
                            .iter()
                            .map(|(figure, _)| {
                                let figure = *figure;
                                view! { <th scope="col">{move || figure_name(figure, i18n.lang.get())}</th> }
                            })
                            .collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        groups
                            .get()
                            .into_iter()
                            .map(|(label, figures)| {
                                view! {
                                    <tr>
                                        <th scope="row">{label}</th>
                                        {SERIES
                                            .iter()
                                            .map(|(figure, _)| view! { <td>{figures.count(*figure)}</td> })
                                            .collect_view()}
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </figure>
    }
}

/// A row's label as people read it: its label, or its key when it has none.
pub fn row_label(row: &FigureRow) -> String {
    if row.label.trim().is_empty() {
        row.key.clone()
    } else {
        row.label.clone()
    }
}

/// The rows of a report as chart groups: each row's label ([`row_label`]) and its figures.
pub fn chart_groups(rows: &[FigureRow]) -> Vec<(String, Figures)> {
    rows.iter()
        .map(|row| (row_label(row), row.figures))
        .collect()
}

/// The cards, the three charts and the legend, for the reports of one period and scope: over
/// time (by month or day; its totals are the cards'), by category and by station. Nothing is
/// shown for a report that is not there. Each chart is drawn in a memo of its own report (and
/// the language), so a change to one report draws one chart again.
#[component]
pub fn FiguresView(
    #[prop(into)] over_time: Signal<Option<FigureReport>>,
    #[prop(into)] by_category: Signal<Option<FigureReport>>,
    #[prop(into)] by_station: Signal<Option<FigureReport>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let total = Memo::new(move |_| {
        over_time
            .with(|r| r.as_ref().map(|r| r.total))
            .unwrap_or_default()
    });
    let time_groups = Memo::new(move |_| {
        over_time.with(|r| {
            r.as_ref()
                .map(|r| chart_groups(&r.rows))
                .unwrap_or_default()
        })
    });
    let time_svg = Memo::new(move |_| {
        let lang = i18n.lang.get();
        over_time
            .with(|r| r.as_ref().map(|r| over_time_svg(r, lang)))
            .unwrap_or_default()
    });
    let bars_of = move |report: Signal<Option<FigureReport>>| {
        let groups = Memo::new(move |_| {
            report.with(|r| {
                r.as_ref()
                    .map(|r| largest(&chart_groups(&r.rows)))
                    .unwrap_or_default()
            })
        });
        let svg = Memo::new(move |_| {
            let lang = i18n.lang.get();
            groups.with(|g| {
                if g.is_empty() && report.with(Option::is_none) {
                    String::new()
                } else {
                    bars_svg(g, lang)
                }
            })
        });
        (groups, svg)
    };
    let (category_groups, category_svg) = bars_of(by_category);
    let (station_groups, station_svg) = bars_of(by_station);
    view! {
        <div class="figures-view">
            <FigureCards figures=total id_prefix="figure-"/>
            <div class="charts">
                <Chart id="chart-over-time" caption="dashboard.chart.over_time" group_key="charts.time"
                    svg=time_svg groups=time_groups/>
                <Chart id="chart-by-category" caption="dashboard.chart.by_category" group_key="breakdown.category"
                    svg=category_svg groups=category_groups/>
                <Chart id="chart-by-station" caption="dashboard.chart.by_station" group_key="breakdown.station"
                    svg=station_svg groups=station_groups/>
            </div>
            <FigureLegend id="figure-legend"/>
        </div>
    }
}

/// The drill-down tabs.
pub const DRILL_DOWN: [Breakdown; 4] = [
    Breakdown::Station,
    Breakdown::Category,
    Breakdown::Deputy,
    Breakdown::Unit,
];

/// A breakdown cell: the figure's value where it applies to the breakdown, blank where it does
/// not ([`Figure::applies_to`]).
pub fn cell_text(figures: &Figures, figure: Figure, by: Breakdown) -> String {
    if figure.applies_to(by) {
        figures.display(figure)
    } else {
        String::new()
    }
}

/// The drill-down table: a tab per breakdown, then one row per station, category, deputy or
/// unit (`data-key`) with its figures, and the totals. A station row narrows the scope to that
/// station (`on_station`). `report` is `None` while the tab's report loads.
#[component]
pub fn BreakdownTable(
    tab: RwSignal<Breakdown>,
    #[prop(into)] report: Signal<Option<FigureReport>>,
    #[prop(into)] on_station: Callback<String>,
) -> impl IntoView {
    let i18n = use_i18n();
    // The tabs as a tab list: the chosen one is the one in the tab order, the arrow keys (and
    // Home, End) move between them.
    let key_down = move |ev: leptos::ev::KeyboardEvent| {
        let at = DRILL_DOWN
            .iter()
            .position(|b| *b == tab.get_untracked())
            .unwrap_or(0);
        let n = DRILL_DOWN.len();
        let next = match ev.key().as_str() {
            "ArrowRight" | "ArrowDown" => (at + 1) % n,
            "ArrowLeft" | "ArrowUp" => (at + n - 1) % n,
            "Home" => 0,
            "End" => n - 1,
            _ => return,
        };
        ev.prevent_default();
        let by = DRILL_DOWN[next];
        tab.set(by);
        if let Some(button) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(&format!("breakdown-tab-{}", by.code())))
            .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
        {
            let _ = button.focus();
        }
    };
    view! {
        <div class="breakdown">
            <div class="tabs" role="tablist" aria-label=move || i18n.t("dashboard.drill_down") on:keydown=key_down>
                {DRILL_DOWN
                    .into_iter()
                    .map(|by| {
                        let key = format!("breakdown.{}", by.code());
                        view! {
                            <button
                                type="button"
                                role="tab"
                                id=format!("breakdown-tab-{}", by.code())
                                class:selected=move || tab.get() == by
                                aria-selected=move || (tab.get() == by).to_string()
                                aria-controls="breakdown-panel"
                                tabindex=move || if tab.get() == by { "0" } else { "-1" }
                                on:click=move |_| tab.set(by)
                            >
                                {move || i18n.t(&key)}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
            <div
                class="table-scroll"
                role="tabpanel"
                id="breakdown-panel"
                aria-labelledby=move || format!("breakdown-tab-{}", tab.get().code())
            >
                <table
                    id="breakdown-table"
                    class="breakdown-table"
                    data-by=move || tab.get().code()
                    aria-busy=move || report.with(Option::is_none).to_string()
                >
                    <thead>
                        <tr>
                            <th scope="col">{move || i18n.t(&format!("breakdown.{}", tab.get().code()))}</th>
                            {Figure::ALL
                                .into_iter()
                                .map(|figure| {
                                    view! {
                                        <th scope="col" title=move || figure_definition(figure, i18n.lang.get())>
                                            {move || figure_name(figure, i18n.lang.get())}
                                        </th>
                                    }
                                })
                                .collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            let by = tab.get();
                            report
                                .get()
                                .map(|report| {
                                    report
                                        .rows
                                        .into_iter()
                                        .map(|row| {
                                            let key = row.key.clone();
                                            let drill = by == Breakdown::Station;
                                            let label = row_label(&row);
                                            view! {
                                                <tr
                                                    data-key=row.key.clone()
                                                    class:drill=drill
                                                    on:click=move |_| {
                                                        if drill {
                                                            on_station.run(key.clone());
                                                        }
                                                    }
                                                >
                                                    <th scope="row">
                                                        {if drill {
                                                            view! { <button type="button" class="link">{label}</button> }.into_any()
                                                        } else {
                                                            view! { <span>{label}</span> }.into_any()
                                                        }}
                                                    </th>
                                                    {Figure::ALL
                                                        .into_iter()
                                                        .map(|figure| {
                                                            view! {
                                                                <td class:na=!figure.applies_to(by)>
                                                                    {cell_text(&row.figures, figure, by)}
                                                                </td>
                                                            }
                                                        })
                                                        .collect_view()}
                                                </tr>
                                            }
                                        })
                                        .collect_view()
                                })
                        }}
                    </tbody>
                    <tfoot>
                        {move || {
                            report
                                .get()
                                .map(|report| {
                                    view! {
                                        <tr class="total">
                                            <th scope="row">{tr("breakdown.total")}</th>
                                            {Figure::ALL
                                                .into_iter()
                                                .map(|figure| view! { <td>{report.total.display(figure)}</td> })
                                                .collect_view()}
                                        </tr>
                                    }
                                })
                        }}
                    </tfoot>
                </table>
            </div>
            <Show when=move || report.with(|r| r.as_ref().is_some_and(|r| r.rows.is_empty()))>
                <p class="hint" id="breakdown-empty">{tr("breakdown.empty")}</p>
            </Show>
            <p class="hint breakdown-note">{tr("breakdown.note")}</p>
        </div>
    }
}
