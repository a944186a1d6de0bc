//! The figures as the app asks for and shows them: the periods people pick ("this month", "last
//! quarter"), the scope they read (everything, a region, a station), the query strings of the
//! figures, register and export calls, and the tablet's own station figures.
//!
//! What each figure means and how it is counted is defined once, in
//! [`liaison_domain::figures`]: the tablet's offline figures ([`station_figures`]) are that
//! module's [`count`] over [`OpinionFacts::derive`] of each local record, the same function the
//! server's SQL is tested against. Nothing here counts on its own.

use crate::storage::LocalItem;
use liaison_domain::figures::{
    AttendanceFact, Breakdown, FigureQuery, Figures, OpinionFacts, Period, count,
};
use liaison_domain::followup::{Attendance, Date};
use liaison_domain::{Directory, Hierarchy, RegionId, Role, Scope, StationId};

/// A period people pick; `Custom` takes the dates typed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodPreset {
    Today,
    ThisMonth,
    LastMonth,
    ThisQuarter,
    ThisYear,
    Custom,
}

impl PeriodPreset {
    /// Every preset.
    pub const ALL: [PeriodPreset; 6] = [
        PeriodPreset::Today,
        PeriodPreset::ThisMonth,
        PeriodPreset::LastMonth,
        PeriodPreset::ThisQuarter,
        PeriodPreset::ThisYear,
        PeriodPreset::Custom,
    ];

    /// What the dashboard and the register offer.
    pub const OFFICE: [PeriodPreset; 5] = [
        PeriodPreset::ThisMonth,
        PeriodPreset::LastMonth,
        PeriodPreset::ThisQuarter,
        PeriodPreset::ThisYear,
        PeriodPreset::Custom,
    ];

    /// What the tablet's station figures offer.
    pub const TABLET: [PeriodPreset; 3] = [
        PeriodPreset::Today,
        PeriodPreset::ThisMonth,
        PeriodPreset::Custom,
    ];

    /// Stable code: `<option>` values and translation keys (`period.<code>`).
    pub fn code(self) -> &'static str {
        match self {
            PeriodPreset::Today => "today",
            PeriodPreset::ThisMonth => "this_month",
            PeriodPreset::LastMonth => "last_month",
            PeriodPreset::ThisQuarter => "this_quarter",
            PeriodPreset::ThisYear => "this_year",
            PeriodPreset::Custom => "custom",
        }
    }

    pub fn from_code(code: &str) -> Option<PeriodPreset> {
        PeriodPreset::ALL.into_iter().find(|p| p.code() == code)
    }

    /// The period on `today` (China time): the current month, quarter or year so far, or the
    /// whole of last month; `None` for `Custom`.
    pub fn period(self, today: Date) -> Option<Period> {
        let (year, month, _) = today.ymd();
        let first_of = |y: i32, m: u32| Date::from_ymd(y, m, 1).expect("the first of a month");
        let (from, to) = match self {
            PeriodPreset::Today => (today, today),
            PeriodPreset::ThisMonth => (first_of(year, month), today),
            PeriodPreset::LastMonth => {
                let last = first_of(year, month).add_days(-1);
                let (y, m, _) = last.ymd();
                (first_of(y, m), last)
            }
            PeriodPreset::ThisQuarter => (first_of(year, (month - 1) / 3 * 3 + 1), today),
            PeriodPreset::ThisYear => (first_of(year, 1), today),
            PeriodPreset::Custom => return None,
        };
        Some(Period { from, to })
    }
}

/// The longest period whose figures over time are drawn day by day; longer ones go by month.
pub const MAX_DAILY_DAYS: i32 = 62;

/// How the figures over `period` are broken down in time: by day up to
/// [`MAX_DAILY_DAYS`] days, by month beyond.
pub fn over_time_breakdown(period: &Period) -> Breakdown {
    if period.from.days_until(period.to) < MAX_DAILY_DAYS {
        Breakdown::Day
    } else {
        Breakdown::Month
    }
}

/// The `<option>` value of a scope: `station:<id>`, `region:<id>`, or empty for everything the
/// reader may read.
pub fn scope_code(scope: Option<&Scope>) -> String {
    match scope {
        None => String::new(),
        Some(Scope::Station(id)) => format!("station:{}", id.0),
        Some(Scope::Region(id)) => format!("region:{}", id.0),
    }
}

/// The scope of an `<option>` value ([`scope_code`]); `None` (everything) for anything else.
pub fn parse_scope(code: &str) -> Option<Scope> {
    let (kind, id) = code.split_once(':')?;
    if id.is_empty() {
        return None;
    }
    match kind {
        "station" => Some(Scope::Station(StationId(id.to_owned()))),
        "region" => Some(Scope::Region(RegionId(id.to_owned()))),
        _ => None,
    }
}

/// The scope's name as people read it (a station's or region's name); `None` for everything.
pub fn scope_name(directory: &Directory, scope: Option<&Scope>) -> Option<String> {
    Some(match scope? {
        Scope::Station(id) => crate::names::station_name(directory, id),
        Scope::Region(id) => directory
            .regions
            .iter()
            .find(|r| &r.id == id)
            .map_or_else(|| id.0.clone(), |r| r.name.clone()),
    })
}

/// Whether `region` is `ancestor` or lies below it.
fn region_within(directory: &Directory, region: &RegionId, ancestor: &RegionId) -> bool {
    let mut current = Some(region);
    for _ in 0..liaison_domain::account::MAX_DEPTH {
        let Some(r) = current else {
            return false;
        };
        if r == ancestor {
            return true;
        }
        current = directory.region_parent(r);
    }
    false
}

/// The regions and stations a reader may pick as a scope, in directory order: everything for an
/// administrator (or an account whose scopes are not known yet: the server decides), else the
/// regions within their region scopes and the stations their scopes cover.
pub fn readable_scopes(directory: &Directory, role: Role, scopes: &[Scope]) -> Vec<Scope> {
    let everything = role == Role::Admin || scopes.is_empty();
    let mut out: Vec<Scope> = directory
        .regions
        .iter()
        .filter(|r| {
            everything
                || scopes.iter().any(
                    |s| matches!(s, Scope::Region(top) if region_within(directory, &r.id, top)),
                )
        })
        .map(|r| Scope::Region(r.id.clone()))
        .collect();
    out.extend(
        directory
            .stations
            .iter()
            .filter(|s| everything || liaison_domain::account::covers(scopes, &s.id, directory))
            .map(|s| Scope::Station(s.id.clone())),
    );
    out
}

/// A query-string value, percent-encoded (everything but the unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `from=…&to=…[&station=…|&region=…]`: the period and scope as the figures, register and
/// export calls take them.
pub fn period_params(period: &Period, scope: Option<&Scope>) -> String {
    let mut params = format!("from={}&to={}", period.from, period.to);
    match scope {
        Some(Scope::Station(id)) => params.push_str(&format!("&station={}", encode(&id.0))),
        Some(Scope::Region(id)) => params.push_str(&format!("&region={}", encode(&id.0))),
        None => {}
    }
    params
}

/// `?from=…&to=…[&station=…|&region=…][&by=…]` for `GET /api/v1/figures`.
pub fn figures_query_string(query: &FigureQuery) -> String {
    let period = Period {
        from: query.from,
        to: query.to,
    };
    let mut text = format!("?{}", period_params(&period, query.scope.as_ref()));
    if let Some(by) = query.by {
        text.push_str(&format!("&by={}", by.code()));
    }
    text
}

/// What an export is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    /// The supervision ledger (工作台账), with the ledger's filters.
    Ledger,
    /// The reception register (接待登记簿), with a period and a scope.
    Register,
}

impl ExportKind {
    pub fn code(self) -> &'static str {
        match self {
            ExportKind::Ledger => "ledger",
            ExportKind::Register => "register",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Xlsx,
    Csv,
}

impl ExportFormat {
    pub fn code(self) -> &'static str {
        match self {
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Csv => "csv",
        }
    }
}

/// The name an export is saved under when the server's answer names none: in Chinese, as the
/// server names it (`接待登记簿_2026-03-01至2026-03-31.xlsx`, `工作台账_2026-04-01.xlsx`), from
/// the period in `params` (a register) or `today` (a ledger, or a register without a period).
pub fn export_fallback_name(
    kind: ExportKind,
    format: ExportFormat,
    params: &str,
    today: Date,
) -> String {
    let param = |name: &str| {
        params
            .trim_start_matches('?')
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .and_then(Date::parse)
    };
    let ext = format.code();
    match (kind, param("from"), param("to")) {
        (ExportKind::Register, Some(from), Some(to)) => format!("接待登记簿_{from}至{to}.{ext}"),
        (ExportKind::Register, _, _) => format!("接待登记簿_{today}.{ext}"),
        (ExportKind::Ledger, _, _) => format!("工作台账_{today}.{ext}"),
    }
}

/// `GET /api/v1/exports/<kind>?format=…&<params>[&personal=true]`. `params` are the page's
/// filters as a query string (with or without its leading `?`).
pub fn export_url(kind: ExportKind, format: ExportFormat, params: &str, personal: bool) -> String {
    let mut url = format!("/api/v1/exports/{}?format={}", kind.code(), format.code());
    let params = params.trim_start_matches('?');
    if !params.is_empty() {
        url.push('&');
        url.push_str(params);
    }
    if personal {
        url.push_str("&personal=true");
    }
    url
}

/// The file name a `Content-Disposition: attachment` header gives: `filename*=UTF-8''…`
/// (percent-encoded, preferred) or `filename="…"`; `None` when it names none. Path separators
/// are dropped: a name is only a name.
pub fn attachment_name(header: &str) -> Option<String> {
    let parts: Vec<&str> = header.split(';').map(str::trim).collect();
    let value = |name: &str| {
        parts.iter().find_map(|p| {
            let (key, value) = p.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let name = value("filename*")
        .and_then(|v| {
            let (charset, rest) = v.split_once('\'')?;
            let (_, encoded) = rest.split_once('\'')?;
            charset
                .eq_ignore_ascii_case("utf-8")
                .then(|| percent_decode(encoded))?
        })
        .or_else(|| value("filename").map(|v| v.trim_matches('"').to_owned()))?;
    let name: String = name
        .chars()
        .filter(|c| !matches!(c, '/' | '\\') && !c.is_control())
        .collect();
    (!name.trim().is_empty()).then_some(name)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The figures of this tablet's own records over `period`: each local record's
/// [`OpinionFacts`] (derived from the record and its local follow-up steps) and each
/// attendance record with a sign-in, counted by the domain's [`count`]. Station events are not kept
/// on the tablet, so citizens received are the opinions recorded. The caller passes one
/// station's records.
pub fn station_figures(
    items: &[LocalItem],
    attendance: &[Attendance],
    period: &Period,
    today: Date,
) -> Figures {
    let opinions: Vec<OpinionFacts> = items
        .iter()
        .map(|item| OpinionFacts::derive(&item.opinion, &item.steps))
        .collect();
    let attendance: Vec<AttendanceFact> =
        attendance.iter().filter_map(AttendanceFact::of).collect();
    count(&opinions, &attendance, &[], period, today)
}

/// The dates a printed register or ledger covers: both ends (`2026-03-01 至 2026-03-31`), only
/// the first (`自 2026-03-01 起`), only the last (`至 2026-03-31`), or none (all dates).
pub fn print_dates(lang: crate::i18n::Lang, from: Option<Date>, to: Option<Date>) -> String {
    use crate::i18n::{text, text_with};
    match (from, to) {
        (Some(from), Some(to)) => text_with(
            lang,
            "print.period",
            &[("from", from.to_string()), ("to", to.to_string())],
        ),
        (Some(from), None) => text_with(lang, "print.since", &[("from", from.to_string())]),
        (None, Some(to)) => text_with(lang, "print.until", &[("to", to.to_string())]),
        (None, None) => text(lang, "print.all_dates"),
    }
}

/// The heading lines of a printed register or ledger: the title, then the scope, the dates
/// ([`print_dates`]) and the filters chosen besides them, each already in words (e.g.
/// `幸福里联络站 · 2026-03-01 至 2026-03-31 · 状态：已交办`). `scope` is the station's or
/// region's name, or the words for everything. A filtered list never prints as the whole one.
pub fn print_heading(
    lang: crate::i18n::Lang,
    title_key: &str,
    scope: &str,
    from: Option<Date>,
    to: Option<Date>,
    filters: &[String],
) -> (String, String) {
    let mut subtitle = format!("{scope} · {}", print_dates(lang, from, to));
    for filter in filters {
        subtitle.push_str(" · ");
        subtitle.push_str(filter);
    }
    (crate::i18n::text(lang, title_key), subtitle)
}
