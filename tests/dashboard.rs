//! The statistics as the app asks for and shows them: periods, scopes and query strings; the
//! charts plotters draws (bars counted in the SVG, Chinese labels laid out); the cards, charts
//! and drill-down table rendered from a report built here (no server); the dashboard page's
//! offline and signed-out states; exports' URLs and file names; the print header.

use futures::channel::oneshot;
use leptos::prelude::*;
use liaison_app::charts::{MAX_GROUPS, SERIES, bars_svg, over_time_svg, series_colour};
use liaison_app::components::export::ExportButtons;
use liaison_app::components::fetched::Fetched;
use liaison_app::components::figures::{BreakdownTable, FiguresView, cell_text};
use liaison_app::components::period::{AddressQuery, PeriodScope};
use liaison_app::components::print::PrintHeader;
use liaison_app::figures::{
    ExportFormat, ExportKind, PeriodPreset, attachment_name, export_fallback_name, export_url,
    figures_query_string, over_time_breakdown, parse_scope, period_params, print_dates,
    print_heading, readable_scopes, scope_code,
};
use liaison_app::i18n::Lang;
use liaison_app::pages::dashboard::DashboardScreen;
use liaison_app::platform::format_china_time;
use liaison_app::state::AppState;
use liaison_app::storage::{Store, migrations};
use liaison_app::sync::office::OfficeError;
use liaison_app::sync::reports::{is_file_answer, read_export_refusal};
use liaison_domain::figures::{
    Breakdown, Figure, FigureQuery, FigureReport, FigureRow, Figures, Period,
};
use liaison_domain::followup::Date;
use liaison_domain::{Directory, Region, Role, Scope, Station};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

mod common;
use common::dom::mount_with_i18n;
use common::dom::{click, container, find, text_of, until};
use common::{office_session, test_source};

wasm_bindgen_test_configure!(run_in_browser);

fn d(text: &str) -> Date {
    Date::parse(text).unwrap()
}

fn period(from: &str, to: &str) -> Period {
    Period::new(d(from), d(to)).unwrap()
}

#[wasm_bindgen_test]
fn the_periods_people_pick() {
    let today = d("2026-05-17");
    let p = |preset: PeriodPreset| preset.period(today).unwrap();
    assert_eq!(p(PeriodPreset::Today), period("2026-05-17", "2026-05-17"));
    assert_eq!(
        p(PeriodPreset::ThisMonth),
        period("2026-05-01", "2026-05-17")
    );
    assert_eq!(
        p(PeriodPreset::LastMonth),
        period("2026-04-01", "2026-04-30")
    );
    assert_eq!(
        p(PeriodPreset::ThisQuarter),
        period("2026-04-01", "2026-05-17")
    );
    assert_eq!(
        p(PeriodPreset::ThisYear),
        period("2026-01-01", "2026-05-17")
    );
    assert_eq!(PeriodPreset::Custom.period(today), None);
    // Across a year's turn.
    let january = d("2026-01-09");
    assert_eq!(
        PeriodPreset::LastMonth.period(january),
        Some(period("2025-12-01", "2025-12-31"))
    );
    assert_eq!(
        PeriodPreset::ThisQuarter.period(d("2026-12-31")),
        Some(period("2026-10-01", "2026-12-31"))
    );
    for preset in PeriodPreset::ALL {
        assert_eq!(PeriodPreset::from_code(preset.code()), Some(preset));
    }
    assert_eq!(PeriodPreset::from_code("next_year"), None);
}

#[wasm_bindgen_test]
fn a_presets_period_moves_on_with_the_day_and_a_custom_one_stays() {
    let picked = PeriodScope::new(PeriodPreset::ThisMonth, d("2026-03-31"));
    assert_eq!(picked.period(), Ok(period("2026-03-01", "2026-03-31")));
    // Past midnight on the first: this month is April now.
    picked.refresh(d("2026-04-01"));
    assert_eq!(picked.period(), Ok(period("2026-04-01", "2026-04-01")));
    // Choosing a preset takes the day it is chosen on.
    picked.choose(PeriodPreset::LastMonth, d("2026-05-02"));
    assert_eq!(picked.period(), Ok(period("2026-04-01", "2026-04-30")));
    // Dates typed in stay what they are.
    picked.preset.set(PeriodPreset::Custom);
    picked.from.set("2026-01-05".into());
    picked.refresh(d("2026-06-01"));
    assert_eq!(picked.period(), Ok(period("2026-01-05", "2026-04-30")));
}

#[wasm_bindgen_test]
fn figures_over_time_go_by_day_up_to_62_days_then_by_month() {
    assert_eq!(
        over_time_breakdown(&period("2026-03-01", "2026-05-01")),
        Breakdown::Day,
        "62 days"
    );
    assert_eq!(
        over_time_breakdown(&period("2026-03-01", "2026-05-02")),
        Breakdown::Month,
        "63 days"
    );
    assert_eq!(
        over_time_breakdown(&period("2026-03-01", "2026-03-01")),
        Breakdown::Day
    );
}

#[wasm_bindgen_test]
fn scopes_and_query_strings() {
    let station = Scope::Station("st-a".into());
    let region = Scope::Region("r-1".into());
    assert_eq!(scope_code(Some(&station)), "station:st-a");
    assert_eq!(scope_code(Some(&region)), "region:r-1");
    assert_eq!(scope_code(None), "");
    assert_eq!(parse_scope("station:st-a"), Some(station.clone()));
    assert_eq!(parse_scope("region:r-1"), Some(region.clone()));
    assert_eq!(parse_scope(""), None);
    assert_eq!(parse_scope("station:"), None);
    assert_eq!(parse_scope("unit:u"), None);

    let query = FigureQuery {
        scope: Some(station),
        from: d("2026-03-01"),
        to: d("2026-03-31"),
        by: Some(Breakdown::Category),
    };
    assert_eq!(
        figures_query_string(&query),
        "?from=2026-03-01&to=2026-03-31&station=st-a&by=category"
    );
    let everything = FigureQuery {
        scope: None,
        by: None,
        ..query
    };
    assert_eq!(
        figures_query_string(&everything),
        "?from=2026-03-01&to=2026-03-31"
    );
    // Ids are encoded.
    assert_eq!(
        period_params(
            &period("2026-03-01", "2026-03-31"),
            Some(&Scope::Region("东 区&1".into()))
        ),
        "from=2026-03-01&to=2026-03-31&region=%E4%B8%9C%20%E5%8C%BA%261"
    );
}

#[wasm_bindgen_test]
fn a_reader_picks_among_the_regions_and_stations_in_their_scopes() {
    let region = |id: &str, parent: Option<&str>| Region {
        id: id.into(),
        name: format!("{id} 区"),
        parent_id: parent.map(Into::into),
    };
    let station = |id: &str, region: &str| Station {
        id: id.into(),
        region_id: region.into(),
        name: format!("{id} 站"),
        address: String::new(),
    };
    let directory = Directory {
        regions: vec![
            region("city", None),
            region("east", Some("city")),
            region("west", Some("city")),
        ],
        stations: vec![station("st-e", "east"), station("st-w", "west")],
        ..Directory::default()
    };
    let codes = |role: Role, scopes: &[Scope]| {
        readable_scopes(&directory, role, scopes)
            .iter()
            .map(|s| scope_code(Some(s)))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        codes(Role::OfficeStaff, &[Scope::Region("east".into())]),
        vec!["region:east", "station:st-e"]
    );
    assert_eq!(
        codes(Role::Deputy, &[Scope::Station("st-w".into())]),
        vec!["station:st-w"]
    );
    assert_eq!(codes(Role::Admin, &[]).len(), 5);
}

#[wasm_bindgen_test]
fn exports_go_with_the_pages_filters_and_personal_data_only_when_asked() {
    assert_eq!(
        export_url(
            ExportKind::Register,
            ExportFormat::Xlsx,
            "from=2026-03-01&to=2026-03-31&station=st-a",
            false
        ),
        "/api/v1/exports/register?format=xlsx&from=2026-03-01&to=2026-03-31&station=st-a"
    );
    assert_eq!(
        export_url(
            ExportKind::Ledger,
            ExportFormat::Csv,
            "?status=referred",
            true
        ),
        "/api/v1/exports/ledger?format=csv&status=referred&personal=true"
    );
    assert_eq!(
        export_url(ExportKind::Ledger, ExportFormat::Xlsx, "", false),
        "/api/v1/exports/ledger?format=xlsx"
    );
    assert_eq!(
        attachment_name(
            r#"attachment; filename="register.xlsx"; filename*=UTF-8''%E6%8E%A5%E5%BE%85%E7%99%BB%E8%AE%B0%E7%B0%BF.xlsx"#
        ),
        Some("接待登记簿.xlsx".into())
    );
    assert_eq!(
        attachment_name(r#"attachment; filename="ledger-2026-03.csv""#),
        Some("ledger-2026-03.csv".into())
    );
    assert_eq!(
        attachment_name(r#"attachment; filename="../../etc/passwd""#),
        Some("....etcpasswd".into())
    );
    assert_eq!(attachment_name("attachment"), None);
    // A Wi-Fi portal's page is not the file; the personal-data refusal says what to do.
    assert!(is_file_answer(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ));
    assert!(is_file_answer("text/csv; charset=utf-8"));
    assert!(!is_file_answer("text/html; charset=utf-8"));
    assert!(!is_file_answer("application/json"));
    assert_eq!(
        read_export_refusal(
            403,
            r#"{"error":{"code":"personal_data_not_permitted","message":"x"}}"#
        ),
        OfficeError::Refused("personal_data_not_permitted".into())
    );
    assert_eq!(
        read_export_refusal(403, r#"{"error":{"code":"forbidden","message":"x"}}"#),
        OfficeError::Forbidden
    );
    assert_eq!(
        read_export_refusal(404, "<html>portal</html>"),
        OfficeError::NotOurServer
    );
}

fn figures(collected: u64, answered: u64, referred: u64, concluded: u64) -> Figures {
    Figures {
        opinions_collected: collected,
        citizens_received: collected,
        answered_on_the_spot: answered,
        referred,
        concluded,
        referred_and_concluded: concluded.min(referred),
        ..Figures::default()
    }
}

fn row(key: &str, label: &str, figures: Figures) -> FigureRow {
    FigureRow {
        key: key.into(),
        label: label.into(),
        figures,
    }
}

/// The figures of the articles: 195 collected, 152 answered on the spot, 32 referred.
fn report(by: Breakdown, rows: Vec<FigureRow>) -> FigureReport {
    FigureReport {
        period: period("2026-01-01", "2026-03-31"),
        today: d("2026-04-01"),
        total: Figures {
            deputies_on_duty: 156,
            duty_shifts: 410,
            citizens_received: 370,
            opinions_collected: 195,
            answered_on_the_spot: 152,
            referred: 32,
            concluded: 30,
            overdue: 2,
            referred_and_concluded: 30,
            evaluated: 0,
            satisfied: 0,
        },
        by: Some(by),
        rows,
    }
}

fn months() -> FigureReport {
    report(
        Breakdown::Month,
        vec![
            row("2026-01", "", figures(60, 50, 8, 7)),
            row("2026-02", "", figures(55, 40, 10, 10)),
            row("2026-03", "", figures(80, 62, 14, 13)),
        ],
    )
}

fn categories() -> FigureReport {
    report(
        Breakdown::Category,
        vec![
            row("parking", "停车难", figures(90, 70, 12, 11)),
            row(
                "old_building_elevators",
                "老旧小区加装电梯",
                figures(60, 50, 10, 10),
            ),
            row("roads_lighting", "道路与照明", figures(45, 32, 10, 9)),
        ],
    )
}

fn stations() -> FigureReport {
    report(
        Breakdown::Station,
        vec![
            row("st-a", "幸福里联络站", figures(120, 100, 20, 19)),
            row("st-b", "光明路联络站", figures(75, 52, 12, 11)),
        ],
    )
}

/// The bars of one series in an SVG: its rectangles filled with the series' colour.
fn bars_of(svg: &str, figure: Figure) -> usize {
    let fill = format!("fill=\"{}\"", series_colour(figure).unwrap());
    svg.split("<rect")
        .skip(1)
        .filter(|r| r.split('>').next().unwrap_or("").contains(&fill))
        .count()
}

#[wasm_bindgen_test]
fn the_charts_draw_one_bar_per_figure_and_group() {
    let svg = over_time_svg(&months(), Lang::Zh);
    assert!(svg.starts_with("<svg"), "{svg}");
    for (figure, _) in SERIES {
        assert_eq!(bars_of(&svg, figure), 3, "{figure:?} over 3 months");
    }
    assert!(svg.contains("2026-02"), "months labelled");
    let daily = report(
        Breakdown::Day,
        vec![
            row("2026-03-01", "", figures(1, 1, 0, 0)),
            row("2026-03-02", "", figures(0, 0, 0, 0)),
        ],
    );
    let svg = over_time_svg(&daily, Lang::En);
    assert_eq!(
        bars_of(&svg, Figure::OpinionsCollected),
        2,
        "a day with nothing has its (empty) bar"
    );
    assert!(svg.contains("03-02"), "days labelled by month and day");

    let groups: Vec<(String, Figures)> = categories()
        .rows
        .iter()
        .map(|r| (r.label.clone(), r.figures))
        .collect();
    let svg = bars_svg(&groups, Lang::Zh);
    for (figure, _) in SERIES {
        assert_eq!(bars_of(&svg, figure), 3);
    }
    assert!(svg.contains("老旧小区加装电梯"), "Chinese labels");
    // Many stations: the largest 20 are drawn.
    let many: Vec<(String, Figures)> = (0..30)
        .map(|i| (format!("站 {i}"), figures(i, 0, 0, 0)))
        .collect();
    let svg = bars_svg(&many, Lang::Zh);
    assert_eq!(bars_of(&svg, Figure::OpinionsCollected), MAX_GROUPS);
    assert!(
        svg.contains("站 29") && !svg.contains("站 5<"),
        "the largest first"
    );
}

#[wasm_bindgen_test]
async fn the_cards_charts_and_legend_show_a_report() {
    let parent = container();
    let _mounted = mount_with_i18n(&parent, || {
        view! {
            <FiguresView
                over_time=Signal::stored(Some(months()))
                by_category=Signal::stored(Some(categories()))
                by_station=Signal::stored(Some(stations()))
            />
        }
    });
    let card = until("the cards", || find(&parent, "#figure-opinions_collected")).await;
    let text = card.text_content().unwrap();
    assert!(text.contains("195"), "{text}");
    assert!(text.contains(Figure::OpinionsCollected.name_zh()), "{text}");
    assert_eq!(card.get_attribute("data-value").as_deref(), Some("195"));
    for figure in Figure::ALL {
        let card = find(&parent, &format!("#figure-{}", figure.code())).expect("every card");
        assert_eq!(
            card.get_attribute("title").as_deref(),
            Some(figure.definition_zh()),
            "the definition is the code's"
        );
    }
    // 30 of 32 referred are concluded; nothing evaluated is a rate over nothing.
    assert!(
        find(&parent, "#figure-handling_rate")
            .unwrap()
            .text_content()
            .unwrap()
            .contains("93.8%")
    );
    assert!(
        find(&parent, "#figure-satisfaction_rate")
            .unwrap()
            .text_content()
            .unwrap()
            .contains("—")
    );
    // The legend lists every definition, as the domain words them.
    let legend = find(&parent, "#figure-legend")
        .unwrap()
        .text_content()
        .unwrap();
    for figure in Figure::ALL {
        assert!(legend.contains(figure.definition_zh()), "{figure:?}");
    }
    // The charts are SVG in the page, one bar per figure and group.
    let count = |chart: &str, figure: Figure| {
        let selector = format!(
            "{chart} svg rect[fill=\"{}\"]",
            series_colour(figure).unwrap()
        );
        parent.query_selector_all(&selector).unwrap().length()
    };
    for (figure, _) in SERIES {
        assert_eq!(count("#chart-over-time", figure), 3);
        assert_eq!(count("#chart-by-category", figure), 3);
        assert_eq!(count("#chart-by-station", figure), 2);
    }
    let station_labels = find(&parent, "#chart-by-station svg")
        .unwrap()
        .text_content()
        .unwrap();
    assert!(station_labels.contains("幸福里联络站"), "{station_labels}");
    // The browser laid the Chinese label out with a real width.
    let texts = parent
        .query_selector_all("#chart-by-station svg text")
        .unwrap();
    let label: web_sys::SvgGraphicsElement = (0..texts.length())
        .filter_map(|i| texts.get(i))
        .find(|t| t.text_content().unwrap_or_default().trim() == "幸福里联络站")
        .expect("the station's label")
        .unchecked_into();
    assert!(label.get_b_box().unwrap().width() > 40.0);
    // Each chart's data is there as text too: a visually hidden table, the chart's description,
    // one row per group with the value of each series (in the legend's order).
    for (chart, groups) in [
        ("chart-over-time", 3),
        ("chart-by-category", 3),
        ("chart-by-station", 2),
    ] {
        let figure = find(&parent, &format!("#{chart}")).unwrap();
        let data = format!("{chart}-data");
        assert_eq!(figure.get_attribute("aria-describedby"), Some(data.clone()));
        let table = find(&parent, &format!("#{data}")).expect("the chart's table");
        assert!(table.class_list().contains("visually-hidden"));
        assert_eq!(
            table.query_selector_all("tbody tr").unwrap().length(),
            groups,
            "{chart}"
        );
        assert_eq!(
            table.query_selector_all("thead th").unwrap().length() as usize,
            1 + SERIES.len()
        );
    }
    let parking = text_of(&parent, "#chart-by-category-data tbody tr:nth-child(1)").unwrap();
    assert_eq!(parking, "停车难90701211", "the values of the four series");
    let march = text_of(&parent, "#chart-over-time-data tbody tr:nth-child(3)").unwrap();
    assert!(march.starts_with("2026-03"), "{march}");
    let legend: Vec<String> = {
        let items = parent
            .query_selector_all("#chart-over-time + .chart-legend li")
            .unwrap();
        (0..items.length())
            .map(|i| items.get(i).unwrap().text_content().unwrap())
            .collect()
    };
    let heads: Vec<String> = {
        let cells = parent
            .query_selector_all("#chart-over-time-data thead th")
            .unwrap();
        (1..cells.length())
            .map(|i| cells.get(i).unwrap().text_content().unwrap())
            .collect()
    };
    assert_eq!(legend, heads, "the table's columns in the legend's order");
    parent.remove();
}

#[wasm_bindgen_test]
async fn the_drill_down_shows_only_the_figures_that_apply_and_a_station_narrows_the_scope() {
    assert_eq!(
        cell_text(
            &figures(5, 2, 1, 1),
            Figure::DutyShifts,
            Breakdown::Category
        ),
        ""
    );
    assert_eq!(
        cell_text(
            &figures(5, 2, 1, 1),
            Figure::OpinionsCollected,
            Breakdown::Category
        ),
        "5"
    );
    assert_eq!(
        cell_text(
            &figures(5, 2, 1, 1),
            Figure::OpinionsCollected,
            Breakdown::Unit
        ),
        ""
    );

    let parent = container();
    let tab = RwSignal::new(Breakdown::Station);
    let chosen = RwSignal::new(Vec::<String>::new());
    let report = Signal::derive(move || {
        Some(match tab.get() {
            Breakdown::Category => categories(),
            _ => stations(),
        })
    });
    let on_station = Callback::new(move |station: String| chosen.update(|c| c.push(station)));
    let _mounted = mount_with_i18n(&parent, move || {
        view! { <BreakdownTable tab=tab report=report on_station=on_station/> }
    });
    until("the station rows", || {
        find(&parent, "#breakdown-table tr[data-key=\"st-b\"]")
    })
    .await;
    let rows = parent
        .query_selector_all("#breakdown-table tbody tr[data-key]")
        .unwrap();
    assert_eq!(rows.length(), 2);
    let station_row = find(&parent, "#breakdown-table tr[data-key=\"st-a\"]").unwrap();
    assert!(station_row.text_content().unwrap().contains("幸福里联络站"));
    click(&parent, "#breakdown-table tr[data-key=\"st-b\"] button").await;
    assert_eq!(chosen.get_untracked(), vec!["st-b".to_owned()]);
    // The tabs are a tab list: each controls the panel, the chosen one is in the tab order.
    let station_tab = find(&parent, "#breakdown-tab-station").unwrap();
    assert_eq!(station_tab.get_attribute("role").as_deref(), Some("tab"));
    assert_eq!(
        station_tab.get_attribute("aria-controls").as_deref(),
        Some("breakdown-panel")
    );
    assert_eq!(station_tab.get_attribute("tabindex").as_deref(), Some("0"));
    assert_eq!(
        find(&parent, "#breakdown-tab-unit")
            .unwrap()
            .get_attribute("tabindex")
            .as_deref(),
        Some("-1")
    );
    let panel = find(&parent, "#breakdown-panel").unwrap();
    assert_eq!(panel.get_attribute("role").as_deref(), Some("tabpanel"));
    assert!(panel.query_selector("#breakdown-table").unwrap().is_some());
    // The arrow keys move between the tabs.
    js_sys::Function::new_with_args(
        "tab",
        "tab.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));",
    )
    .call1(&wasm_bindgen::JsValue::NULL, &station_tab)
    .unwrap();
    assert_eq!(tab.get_untracked(), Breakdown::Category);
    until("the category tab chosen", || {
        (find(&parent, "#breakdown-tab-category")?
            .get_attribute("aria-selected")
            .as_deref()
            == Some("true"))
        .then_some(())
    })
    .await;
    tab.set(Breakdown::Station);

    // By category: attendance figures are blank, the opinions' are there.
    click(&parent, "#breakdown-tab-category").await;
    let parking = until("the category rows", || {
        find(&parent, "#breakdown-table tr[data-key=\"parking\"]")
    })
    .await;
    let cells = parking.query_selector_all("td").unwrap();
    assert_eq!(cells.length() as usize, Figure::ALL.len());
    let cell = |i: usize| cells.get(i as u32).unwrap().text_content().unwrap();
    let position = |f: Figure| Figure::ALL.iter().position(|x| *x == f).unwrap();
    assert_eq!(cell(position(Figure::DutyShifts)), "");
    assert_eq!(cell(position(Figure::CitizensReceived)), "");
    assert_eq!(cell(position(Figure::OpinionsCollected)), "90");
    assert_eq!(
        find(&parent, "#breakdown-table")
            .unwrap()
            .get_attribute("data-by")
            .as_deref(),
        Some("category")
    );
    parent.remove();
}

#[wasm_bindgen_test]
async fn the_print_header_names_the_register_the_scope_and_the_period() {
    let (title, line) = print_heading(
        Lang::Zh,
        "register.title",
        "幸福里联络站",
        Some(d("2026-03-01")),
        Some(d("2026-03-31")),
        &[],
    );
    assert_eq!(title, "接待登记簿");
    assert_eq!(line, "幸福里联络站 · 2026-03-01 至 2026-03-31");
    let (title, line) = print_heading(Lang::Zh, "ledger.title", "全部联络站", None, None, &[]);
    assert_eq!(title, "工作台账");
    assert_eq!(line, "全部联络站 · 全部日期");
    // Open-ended periods have words of their own, and the filters are printed after them.
    assert_eq!(
        print_dates(Lang::Zh, Some(d("2026-03-01")), None),
        "自 2026-03-01 起"
    );
    assert_eq!(
        print_dates(Lang::Zh, None, Some(d("2026-03-31"))),
        "至 2026-03-31"
    );
    assert_eq!(
        print_dates(Lang::En, Some(d("2026-03-01")), None),
        "from 2026-03-01"
    );
    let (_, line) = print_heading(
        Lang::Zh,
        "ledger.title",
        "全部联络站",
        Some(d("2026-03-01")),
        None,
        &["状态：已交办".to_owned(), "督办颜色：已超期".to_owned()],
    );
    assert_eq!(
        line,
        "全部联络站 · 自 2026-03-01 起 · 状态：已交办 · 督办颜色：已超期"
    );

    let parent = container();
    let _mounted = mount_with_i18n(&parent, || {
        view! {
            <PrintHeader
                title_key="register.title"
                scope=Signal::stored("幸福里联络站".to_owned())
                dates=Signal::stored((Some(d("2026-03-01")), Some(d("2026-03-31"))))
            />
        }
    });
    let header = until("the print header", || find(&parent, "#print-header")).await;
    let text = header.text_content().unwrap();
    assert!(text.contains("接待登记簿"), "{text}");
    assert!(
        text.contains("幸福里联络站 · 2026-03-01 至 2026-03-31"),
        "{text}"
    );
    assert!(header.class_list().contains("print-only"), "for paper only");
    // When it was printed: China time, taken again as printing starts.
    let printed = || text_of(&parent, ".print-printed").unwrap();
    let now = format_china_time(liaison_app::platform::now_ms());
    assert!(printed().contains(&now[..10]), "{}", printed());
    assert!(printed().starts_with("制表时间："), "{}", printed());
    let taken = || {
        find(&parent, ".print-printed")
            .unwrap()
            .get_attribute("data-ms")
            .and_then(|ms| ms.parse::<u64>().ok())
            .unwrap()
    };
    let first = taken();
    gloo_timers::future::TimeoutFuture::new(20).await;
    web_sys::window()
        .unwrap()
        .dispatch_event(&web_sys::Event::new("beforeprint").unwrap())
        .unwrap();
    until("the time taken again", || (taken() > first).then_some(())).await;
    parent.remove();
}

#[wasm_bindgen_test]
fn printed_times_are_china_time() {
    // 2023-11-14 22:13:20 UTC is 06:13 the next morning in China.
    assert_eq!(format_china_time(1_700_000_000_000), "2023-11-15 06:13");
    assert_eq!(format_china_time(0), "1970-01-01 08:00");
}

/// The app's state over a fresh database, signed in as `role` (or signed out).
async fn app_state(name: &str, role: Option<Role>) -> AppState {
    Store::delete_database(name).await.unwrap();
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = Store::open_with(name, migrations::CURRENT_VERSION, test_source(&clock, 1))
        .await
        .unwrap();
    let app = AppState::load(store).await;
    app.sync.session.set(role.map(office_session));
    app
}

#[wasm_bindgen_test]
async fn without_the_server_the_dashboard_says_statistics_need_a_connection() {
    // The test server has no API: its answer is not the server's, as offline behind a portal.
    let app = app_state("test-dashboard-offline", Some(Role::OfficeStaff)).await;
    let parent = container();
    let _mounted = mount_with_i18n(&parent, move || {
        provide_context(app);
        view! { <DashboardScreen/> }
    });
    let state = until("the dashboard's state", || {
        find(&parent, "#dashboard-state")
    })
    .await;
    until("the error state", || {
        (state.get_attribute("data-state").as_deref() == Some("error")).then_some(())
    })
    .await;
    let link = until("the offline figures' link", || {
        find(&parent, "#dashboard-offline-link")
    })
    .await;
    assert_eq!(
        link.get_attribute("href").as_deref(),
        Some("/station-figures")
    );
    assert!(find(&parent, "#dashboard-retry").is_some());
    // The pickers are there, with the scope select's "everything".
    let scope: web_sys::HtmlSelectElement =
        find(&parent, "#dashboard-scope").unwrap().unchecked_into();
    assert_eq!(scope.value(), "");
    assert!(find(&parent, "#dashboard-from").is_some() && find(&parent, "#dashboard-to").is_some());
    // Office staff may ask for personal data in an export; the box is offered.
    assert!(find(&parent, "#export-personal").is_some());
    assert!(find(&parent, "#export-xlsx").is_some() && find(&parent, "#export-csv").is_some());
    parent.remove();
}

#[wasm_bindgen_test]
async fn signed_out_the_dashboard_asks_to_sign_in_and_a_deputy_gets_no_personal_data_box() {
    let app = app_state("test-dashboard-signed-out", None).await;
    let parent = container();
    let _mounted = mount_with_i18n(&parent, move || {
        provide_context(app);
        view! { <DashboardScreen/> }
    });
    until("the sign-in hint", || find(&parent, "#dashboard-sign-in")).await;
    assert_eq!(
        find(&parent, "#dashboard-state")
            .unwrap()
            .get_attribute("data-state")
            .as_deref(),
        Some("error")
    );
    parent.remove();

    let app = app_state("test-dashboard-deputy", Some(Role::Deputy)).await;
    let parent = container();
    let _mounted = mount_with_i18n(&parent, move || {
        provide_context(app);
        view! { <DashboardScreen/> }
    });
    until("the export buttons", || find(&parent, "#export-xlsx")).await;
    assert!(
        find(&parent, "#export-personal").is_none(),
        "deputies may not unmask"
    );
    parent.remove();
}

#[wasm_bindgen_test]
async fn leaving_the_dashboard_while_its_figures_load_breaks_nothing() {
    common::net::watch_panics();
    let panics = common::net::panics();
    let app = app_state("test-dashboard-leave", Some(Role::OfficeStaff)).await;
    let held = common::net::HeldFetch::install();
    let parent = container();
    let mounted = mount_with_i18n(&parent, move || {
        provide_context(app);
        view! { <DashboardScreen/> }
    });
    until("the three reports asked for", || {
        (held.waiting() >= 3).then_some(())
    })
    .await;
    assert!(
        held.urls().iter().all(|u| u.contains("/api/v1/figures?")),
        "{:?}",
        held.urls()
    );
    assert_eq!(
        find(&parent, "#dashboard-state")
            .unwrap()
            .get_attribute("data-state")
            .as_deref(),
        Some("loading")
    );
    // The page goes (another route), then the answers come.
    drop(mounted);
    parent.remove();
    held.answer(200, &serde_json::to_string(&months()).unwrap());
    gloo_timers::future::TimeoutFuture::new(300).await;
    assert_eq!(
        common::net::panics(),
        panics,
        "an answer after the page went"
    );
    drop(held);
}

/// The figures the test server gives for `url`: the fixture's reports by their breakdown.
fn answer_for(url: &str) -> (u16, String) {
    let by = url
        .split("by=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .unwrap_or("");
    let report = match by {
        "month" | "day" => months(),
        "category" => categories(),
        "station" => stations(),
        "deputy" => report(
            Breakdown::Deputy,
            vec![row("dep-1", "张建国", figures(50, 40, 5, 5))],
        ),
        "unit" => report(
            Breakdown::Unit,
            vec![row("unit-1", "区住建局", figures(0, 0, 9, 8))],
        ),
        _ => {
            return (
                404,
                r#"{"error":{"code":"not_found","message":"x"}}"#.into(),
            );
        }
    };
    (200, serde_json::to_string(&report).unwrap())
}

fn state_of(parent: &web_sys::HtmlElement) -> Option<String> {
    find(parent, "#dashboard-state")?.get_attribute("data-state")
}

#[wasm_bindgen_test]
async fn the_dashboard_keeps_each_drill_down_and_never_shows_a_previous_choices_figures() {
    let app = app_state("test-dashboard-drill", Some(Role::OfficeStaff)).await;
    let held = common::net::HeldFetch::install();
    let parent = container();
    let address = AddressQuery {
        from: Some("2026-01-01".into()),
        to: Some("2026-03-31".into()),
        scope: None,
        wall: false,
    };
    let _mounted = mount_with_i18n(&parent, move || {
        provide_context(app);
        view! { <DashboardScreen address=address/> }
    });
    until("the three reports asked for", || {
        (held.waiting() == 3).then_some(())
    })
    .await;
    held.answer_each(answer_for);
    until("ready", || (state_of(&parent)? == "ready").then_some(())).await;
    let card = until("the cards", || find(&parent, "#figure-opinions_collected")).await;
    assert_eq!(card.get_attribute("data-value").as_deref(), Some("195"));

    // By deputy, by unit: each asked for once, when its tab is first opened.
    click(&parent, "#breakdown-tab-deputy").await;
    until("the deputies asked for", || {
        (held.waiting() == 1).then_some(())
    })
    .await;
    assert!(held.urls()[0].contains("by=deputy"), "{:?}", held.urls());
    // Away and back before the answer: not asked again.
    click(&parent, "#breakdown-tab-unit").await;
    until("the units asked for", || {
        (held.waiting() == 2).then_some(())
    })
    .await;
    click(&parent, "#breakdown-tab-deputy").await;
    gloo_timers::future::TimeoutFuture::new(100).await;
    assert_eq!(held.waiting(), 2, "{:?}", held.urls());
    held.answer_each(answer_for);
    until("the deputy's row", || {
        find(&parent, "#breakdown-table tr[data-key=\"dep-1\"]")
    })
    .await;
    click(&parent, "#breakdown-tab-unit").await;
    until("the unit's row", || {
        find(&parent, "#breakdown-table tr[data-key=\"unit-1\"]")
    })
    .await;
    click(&parent, "#breakdown-tab-deputy").await;
    until("the deputy's row again", || {
        find(&parent, "#breakdown-table tr[data-key=\"dep-1\"]")
    })
    .await;
    gloo_timers::future::TimeoutFuture::new(100).await;
    assert_eq!(held.waiting(), 0, "kept: {:?}", held.urls());

    // Another period: the figures shown go at once; the new ones are loading.
    common::dom::type_into(&parent, "#dashboard-from", "2026-02-01");
    until("loading", || {
        (state_of(&parent)? == "loading").then_some(())
    })
    .await;
    assert!(
        find(&parent, "#figure-opinions_collected").is_none(),
        "the previous period's figures are not shown as this one's"
    );
    until("the new period asked for", || {
        (held.waiting() == 3).then_some(())
    })
    .await;
    assert!(held.urls().iter().all(|u| u.contains("from=2026-02-01")));
    // It fails: an error, no figures.
    held.answer(503, "busy");
    until("the error", || {
        (state_of(&parent)? == "error").then_some(())
    })
    .await;
    assert!(find(&parent, "#figure-opinions_collected").is_none());
    assert!(find(&parent, "#dashboard-retry").is_some());
    drop(held);
    parent.remove();
}

#[wasm_bindgen_test]
async fn what_a_page_loads_is_the_answer_for_its_key_only() {
    common::net::watch_panics();
    let panics = common::net::panics();
    type Pending = Rc<RefCell<Vec<(u32, oneshot::Sender<Result<String, String>>)>>>;
    let pending: Pending = Rc::default();
    let key = RwSignal::new(Some(1u32));
    let slot = Rc::new(Cell::new(None::<Fetched<String, String>>));
    let parent = container();
    let mounted = {
        let pending = pending.clone();
        let slot = slot.clone();
        mount_with_i18n(&parent, move || {
            let fetched = Fetched::new(
                move || key.get(),
                move |k: u32| {
                    let (tx, rx) = oneshot::channel();
                    pending.borrow_mut().push((k, tx));
                    async move { rx.await.unwrap_or_else(|_| Err("dropped".into())) }
                },
            );
            slot.set(Some(fetched));
            view! { <p id="fetched">{move || fetched.value().get().unwrap_or_default()}</p> }
        })
    };
    let fetched = slot.get().unwrap();
    let shown = || text_of(&parent, "#fetched").unwrap_or_default();
    let answer = |k: u32, answer: Result<&str, &str>| {
        let (asked, tx) = pending.borrow_mut().remove(0);
        assert_eq!(asked, k);
        let _ = tx.send(answer.map(str::to_owned).map_err(str::to_owned));
    };
    let asked = |n: usize| {
        let pending = pending.clone();
        move || (pending.borrow().len() == n).then_some(())
    };
    assert!(fetched.loading().get_untracked(), "busy from the start");
    until("asked for 1", asked(1)).await;
    answer(1, Ok("one"));
    until("one shown", || (shown() == "one").then_some(())).await;
    assert!(!fetched.loading().get_untracked());

    // Asked again for the same key (a retry, a wall screen's refresh): shown until the answer.
    fetched.again();
    until("asked again", asked(1)).await;
    assert!(fetched.loading().get_untracked());
    assert_eq!(shown(), "one");
    answer(1, Ok("one, later"));
    until("the new answer", || (shown() == "one, later").then_some(())).await;

    // A refresh and another key at once (a wall screen's tick as the choice changes): what was
    // shown is not the new key's, so it goes at once.
    fetched.again();
    key.set(Some(2));
    until("asked for 2", asked(1)).await;
    assert_eq!(
        shown(),
        "",
        "the previous key's answer is not shown as this one's"
    );
    assert!(fetched.loading().get_untracked());
    // Another key before the answer: the answer for 2 never lands.
    key.set(Some(3));
    until("asked for 3", asked(2)).await;
    answer(2, Ok("two"));
    gloo_timers::future::TimeoutFuture::new(50).await;
    assert_eq!(shown(), "", "a stale answer");
    answer(3, Ok("three"));
    until("three shown", || (shown() == "three").then_some(())).await;

    // A failure clears what was shown and says why.
    key.set(Some(4));
    until("asked for 4", asked(1)).await;
    answer(4, Err("no"));
    until("the error", || fetched.error().get_untracked()).await;
    assert_eq!(fetched.error().get_untracked().as_deref(), Some("no"));
    assert_eq!(shown(), "");
    assert_eq!(fetched.value().get_untracked(), None);
    // No key: nothing asked, nothing loading.
    key.set(None);
    until("the error gone", || {
        fetched.error().get_untracked().is_none().then_some(())
    })
    .await;
    assert!(!fetched.loading().get_untracked());
    assert_eq!(pending.borrow().len(), 0);

    // The page goes while a request is under way; its answer comes later and does nothing.
    key.set(Some(5));
    until("asked for 5", asked(1)).await;
    drop(mounted);
    parent.remove();
    answer(5, Ok("five"));
    gloo_timers::future::TimeoutFuture::new(100).await;
    assert_eq!(common::net::panics(), panics);
}

#[wasm_bindgen_test]
async fn asking_before_exporting_personal_data_takes_the_focus_and_goes_when_the_export_changes() {
    let app = app_state("test-export-confirm", Some(Role::OfficeStaff)).await;
    let params = RwSignal::new(Some("from=2026-03-01&to=2026-03-31".to_owned()));
    let parent = container();
    let _mounted = mount_with_i18n(&parent, move || {
        provide_context(app);
        view! { <ExportButtons kind=ExportKind::Register params=params/> }
    });
    let active = || {
        web_sys::window()
            .unwrap()
            .document()
            .unwrap()
            .active_element()
            .map(|e| e.id())
            .unwrap_or_default()
    };
    let ask = async || {
        click(&parent, "#export-personal").await;
        click(&parent, "#export-xlsx").await;
        until("the question", || find(&parent, "#export-confirm")).await
    };
    let dialog = ask().await;
    assert_eq!(dialog.get_attribute("role").as_deref(), Some("alertdialog"));
    assert_eq!(
        dialog.get_attribute("aria-labelledby").as_deref(),
        Some("export-confirm-text")
    );
    assert!(
        text_of(&parent, "#export-confirm-text")
            .unwrap()
            .contains("个人信息")
    );
    until("the question focused", || {
        (active() == "export-confirm").then_some(())
    })
    .await;
    // The box unticked: the question goes.
    click(&parent, "#export-personal").await;
    until("the question gone", || {
        find(&parent, "#export-confirm").is_none().then_some(())
    })
    .await;
    // Asked again, then the filters change: the question goes.
    let _ = ask().await;
    params.set(Some("from=2026-04-01&to=2026-04-30".to_owned()));
    until("the question gone", || {
        find(&parent, "#export-confirm").is_none().then_some(())
    })
    .await;
    parent.remove();
}

#[wasm_bindgen_test]
fn an_export_the_server_does_not_name_is_saved_under_a_chinese_name() {
    let today = d("2026-04-01");
    assert_eq!(
        export_fallback_name(
            ExportKind::Register,
            ExportFormat::Xlsx,
            "from=2026-03-01&to=2026-03-31&station=st-a",
            today
        ),
        "接待登记簿_2026-03-01至2026-03-31.xlsx"
    );
    assert_eq!(
        export_fallback_name(
            ExportKind::Ledger,
            ExportFormat::Csv,
            "?status=referred",
            today
        ),
        "工作台账_2026-04-01.csv"
    );
    assert_eq!(
        export_fallback_name(ExportKind::Register, ExportFormat::Csv, "", today),
        "接待登记簿_2026-04-01.csv"
    );
}
