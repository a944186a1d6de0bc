//! The register and ledger exports over HTTP, read back: the xlsx with calamine (sheets,
//! title, headers, lines, real dates, the 统计 sheet against `/figures`), the CSV with the csv
//! crate (BOM, headers, lines); personal data masked unless asked and permitted; every export
//! in the audit log, and no export without its audit record. On the fixture of [`figures`].
//!
//! [`figures`]: super::figures

use super::figures::{H, Q1_REGISTER, X, d, fixture};
use super::{TestApp, assert_json_error, body_bytes, body_json, header};
use axum::body::Body;
use axum::http::{Method, Response, StatusCode};
use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use liaison_domain::figures::{Figure, Figures};
use liaison_domain::followup::LedgerRow;
use serde_json::Value;
use std::io::Cursor;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

const REGISTER_HEADERS: [&str; 11] = [
    "序号",
    "登记日期",
    "联络站",
    "代表",
    "群众",
    "类别",
    "意见建议",
    "地点",
    "处理方式",
    "现场答复内容",
    "当前状态",
];

const LEDGER_HEADERS: [&str; 11] = [
    "序号",
    "登记日期",
    "联络站",
    "代表",
    "群众",
    "类别",
    "意见建议",
    "当前状态",
    "交办单位",
    "办理时限",
    "时限状态",
];

/// A cell as text: dates as `YYYY-MM-DD` (and whether it was a real date), whole numbers
/// without a decimal point.
fn text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::DateTime(dt) => d("1899-12-30").add_days(dt.as_f64() as i32).to_string(),
        other => format!("{other:?}"),
    }
}

/// A workbook's sheets, each as rows of cells.
fn workbook(bytes: &[u8]) -> Vec<(String, Vec<Vec<Data>>)> {
    let mut book: Xlsx<_> =
        open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("an xlsx file");
    let names = book.sheet_names();
    names
        .into_iter()
        .map(|name| {
            let range = book.worksheet_range(&name).expect("a sheet");
            let (rows, columns) = range.end().map_or((0, 0), |(r, c)| (r + 1, c + 1));
            let cells = (0..rows)
                .map(|r| {
                    (0..columns)
                        .map(|c| range.get_value((r, c)).cloned().unwrap_or(Data::Empty))
                        .collect()
                })
                .collect();
            (name, cells)
        })
        .collect()
}

fn texts(row: &[Data]) -> Vec<String> {
    row.iter().map(text).collect()
}

impl TestApp {
    async fn export(&self, token: &str, path: &str) -> Response<Body> {
        self.call(
            Method::GET,
            &format!("/api/v1/exports/{path}"),
            Some(token),
            None,
        )
        .await
    }

    async fn export_ok(&self, token: &str, path: &str) -> (Response<Body>, Vec<u8>) {
        let response = self.export(token, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let (parts, body) = response.into_parts();
        let bytes = body_bytes(Response::new(body)).await;
        (Response::from_parts(parts, Body::empty()), bytes)
    }

    async fn audit(&self, token: &str) -> Vec<Value> {
        let response = self
            .call(Method::GET, "/api/v1/audit", Some(token), None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        // The exports' records only (the log also holds sign-ins and steps).
        body_json(response)
            .await
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["action"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("export_"))
            })
            .cloned()
            .collect()
    }
}

/// The 统计 sheet holds every figure with its name, value and definition, equal to `figures`.
fn assert_statistics(sheet: &[Vec<Data>], figures: &Figures, what: &str) {
    assert_eq!(texts(&sheet[1]), ["指标", "数值", "口径说明"], "{what}");
    assert_eq!(sheet.len(), 2 + Figure::ALL.len(), "{what}");
    for (row, figure) in sheet[2..].iter().zip(Figure::ALL) {
        assert_eq!(text(&row[0]), figure.name_zh(), "{what}");
        assert_eq!(text(&row[1]), figures.display(figure), "{what}: {figure:?}");
        assert_eq!(text(&row[2]), figure.definition_zh(), "{what}");
        if !figure.is_rate() {
            assert!(
                matches!(row[1], Data::Float(_)),
                "{what}: a count is a number"
            );
        }
    }
}

#[tokio::test]
async fn a_register_export_in_excel_has_the_lines_the_figures_and_an_audit_record() {
    let f = fixture().await;
    let app = &f.app;
    let q1 = "from=2026-01-01&to=2026-03-31";
    let (response, bytes) = app
        .export_ok(
            &f.office,
            &format!("register?format=xlsx&{q1}&region=region-demo-district"),
        )
        .await;
    assert_eq!(header(&response, "content-type"), XLSX);
    assert_eq!(header(&response, "cache-control"), "no-store");
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"register-2026-01-01_2026-03-31.xlsx\"; \
         filename*=UTF-8''%E6%8E%A5%E5%BE%85%E7%99%BB%E8%AE%B0%E7%B0%BF_%E7%A4%BA%E8%8C%83%E5%8C%BA_\
         2026-01-01%E8%87%B32026-03-31.xlsx",
        "接待登记簿_示范区_2026-01-01至2026-03-31.xlsx"
    );

    let sheets = workbook(&bytes);
    assert_eq!(
        sheets.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["登记簿", "统计"]
    );
    let register = &sheets[0].1;
    assert_eq!(
        text(&register[0][0]),
        "接待登记簿　示范区　2026-01-01 至 2026-03-31"
    );
    assert_eq!(texts(&register[1]), REGISTER_HEADERS);
    let lines = &register[2..];
    assert_eq!(lines.len(), Q1_REGISTER.len());
    assert_eq!(
        texts(&lines[0]),
        [
            "1",
            "2026-01-05",
            "幸福里社区人大代表联络站",
            "张建国",
            "张* 138****1234",
            "停车难",
            "事项 1",
            "地点 1",
            "现场答复",
            "已当场答复",
            "已评价",
        ]
    );
    assert!(
        matches!(lines[0][1], Data::DateTime(_)),
        "a real date: {:?}",
        lines[0][1]
    );
    assert_eq!(
        texts(&lines[2])[1..],
        [
            "2026-01-31",
            "和平街道代表之家",
            "陈丽华",
            "",
            "养老补贴",
            "事项 8",
            "地点 8",
            "不予受理（告知：信访）",
            "",
            "不予受理",
        ]
    );
    assert_eq!(
        lines.iter().map(|l| text(&l[6])).collect::<Vec<_>>(),
        Q1_REGISTER.map(|n| format!("事项 {n}")).to_vec()
    );
    for line in lines {
        assert!(!text(&line[4]).contains("13812341234"), "masked");
    }

    let figures = app
        .figures(&f.office, &format!("{q1}&region=region-demo-district"))
        .await;
    let statistics = &sheets[1].1;
    assert!(text(&statistics[0][0]).starts_with("统计　示范区　2026-01-01 至 2026-03-31"));
    assert_statistics(statistics, &figures.total, "register");
    assert_eq!(text(&statistics[2 + 8][1]), "66.7%", "handling rate 2 of 3");

    let audit = app.audit(&f.admin).await;
    assert_eq!(audit.len(), 1);
    let entry = &audit[0];
    assert_eq!(entry["action"], "export_register");
    assert_eq!(entry["username"], "office");
    assert!(entry["at_ms"].as_i64().unwrap() > 0);
    assert_eq!(
        entry["detail"],
        serde_json::json!({
            "format": "xlsx",
            "filters": {"from": "2026-01-01", "to": "2026-03-31", "region": "region-demo-district"},
            "personal": false,
            "rows": 6,
            "stations": 2,
        })
    );
}

#[tokio::test]
async fn personal_data_is_exported_only_when_asked_and_permitted() {
    let f = fixture().await;
    let app = &f.app;
    let q1 = "from=2026-01-01&to=2026-03-31";
    // A deputy may export the register masked, never with personal data.
    let (_, bytes) = app.export_ok(&f.deputy, &format!("register?{q1}")).await;
    let sheets = workbook(&bytes);
    assert_eq!(text(&sheets[0].1[2][4]), "张* 138****1234");
    assert_eq!(sheets[0].1.len(), 2 + 3, "X's three lines");
    for token in [&f.deputy, &f.housing] {
        for path in [
            format!("register?{q1}&personal=true"),
            "ledger?personal=true".to_owned(),
        ] {
            let response = app.export(token, &path).await;
            if token == &f.housing && path.starts_with("register") {
                assert_json_error(response, StatusCode::FORBIDDEN, "forbidden", &path).await;
            } else {
                assert_json_error(
                    response,
                    StatusCode::FORBIDDEN,
                    "personal_data_not_permitted",
                    &path,
                )
                .await;
            }
        }
    }
    // Station staff may, when they ask.
    let (_, bytes) = app
        .export_ok(
            &f.staff_x,
            &format!("register?format=xlsx&{q1}&personal=true"),
        )
        .await;
    let register = &workbook(&bytes)[0].1;
    assert!(text(&register[0][0]).ends_with("（含群众个人信息）"));
    assert_eq!(text(&register[2][4]), "张三 13812341234 幸福里 3 号楼");
    let (_, bytes) = app
        .export_ok(
            &f.staff_x,
            &format!("register?format=csv&{q1}&personal=false"),
        )
        .await;
    assert!(!String::from_utf8(bytes).unwrap().contains("13812341234"));
    let response = app
        .export(&f.staff_x, &format!("register?{q1}&personal=yes"))
        .await;
    assert_json_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_personal",
        "personal=yes",
    )
    .await;

    // Audited: who, and whether personal data went out.
    let audit = app.audit(&f.admin).await;
    let seen: Vec<(String, bool, i64)> = audit
        .iter()
        .map(|e| {
            (
                e["username"].as_str().unwrap().to_owned(),
                e["detail"]["personal"].as_bool().unwrap(),
                e["detail"]["rows"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("staff-xingfuli".to_owned(), false, 3),
            ("staff-xingfuli".to_owned(), true, 3),
            ("deputy-zhang".to_owned(), false, 3),
        ],
        "newest first; refused exports are not exports"
    );
}

/// Parses a CSV export: checks the BOM, returns the header and the records.
fn csv_records(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM");
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let headers = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let records = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (headers, records)
}

#[tokio::test]
async fn a_register_export_in_csv_is_utf8_with_a_bom_and_the_same_lines() {
    let f = fixture().await;
    let app = &f.app;
    let (response, bytes) = app
        .export_ok(
            &f.office,
            "register?format=csv&from=2026-01-01&to=2026-03-31",
        )
        .await;
    assert_eq!(header(&response, "content-type"), "text/csv; charset=utf-8");
    assert!(
        header(&response, "content-disposition")
            .starts_with("attachment; filename=\"register-2026-01-01_2026-03-31.csv\"; "),
    );
    let (headers, records) = csv_records(&bytes);
    assert_eq!(headers, REGISTER_HEADERS);
    assert_eq!(records.len(), Q1_REGISTER.len());
    assert_eq!(
        records[1],
        [
            "2",
            "2026-01-20",
            "幸福里社区人大代表联络站",
            "张建国",
            "张* 138****1234",
            "停车难",
            "事项 2",
            "地点 2",
            "拟转交办理",
            "",
            "已评价",
        ]
    );
    let register = app
        .register(&f.office, "from=2026-01-01&to=2026-03-31")
        .await;
    assert_eq!(
        records.iter().map(|r| r[6].clone()).collect::<Vec<_>>(),
        register
            .iter()
            .map(|r| r.summary.clone())
            .collect::<Vec<_>>()
    );
    let audit = app.audit(&f.admin).await;
    assert_eq!(audit[0]["detail"]["format"], "csv");
    assert_eq!(audit[0]["detail"]["rows"], 6);

    for (query, code) in [
        (
            "register?format=pdf&from=2026-01-01&to=2026-03-31",
            "invalid_format",
        ),
        ("register?format=csv", "missing_period"),
        ("ledger?format=doc", "invalid_format"),
    ] {
        let response = app.export(&f.office, query).await;
        assert_json_error(response, StatusCode::BAD_REQUEST, code, query).await;
    }
}

#[tokio::test]
async fn a_ledger_export_has_the_ledgers_lines_in_its_order() {
    let f = fixture().await;
    let app = &f.app;
    let ledger: Vec<LedgerRow> = serde_json::from_value(
        body_json(
            app.call(Method::GET, "/api/v1/ledger", Some(&f.office), None)
                .await,
        )
        .await,
    )
    .unwrap();
    assert_eq!(ledger.len(), 6, "the district's live opinions");

    let (response, bytes) = app.export_ok(&f.office, "ledger?format=xlsx").await;
    let today = header(&response, "content-disposition")
        .split("ledger-")
        .nth(1)
        .unwrap()[..10]
        .to_owned();
    assert!(
        header(&response, "content-disposition").contains(&format!(
            "filename*=UTF-8''%E5%B7%A5%E4%BD%9C%E5%8F%B0%E8%B4%A6_\
             %E5%85%A8%E9%83%A8%E8%81%94%E7%BB%9C%E7%AB%99_{today}.xlsx"
        )),
        "工作台账_全部联络站_<today>.xlsx"
    );
    let sheets = workbook(&bytes);
    assert_eq!(
        sheets.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["工作台账", "统计"]
    );
    let sheet = &sheets[0].1;
    assert_eq!(texts(&sheet[1]), LEDGER_HEADERS);
    let lines = &sheet[2..];
    assert_eq!(
        lines.iter().map(|l| text(&l[6])).collect::<Vec<_>>(),
        ledger.iter().map(|r| r.summary.clone()).collect::<Vec<_>>(),
        "the ledger's order: overdue first"
    );
    // #3, overdue since 2026-02-28, at the unit that holds it.
    assert_eq!(
        texts(&lines[0]),
        [
            "1",
            "2026-02-25",
            "幸福里社区人大代表联络站",
            "李秀英",
            "张* 138****1234",
            "老旧小区加装电梯",
            "事项 3",
            "承办单位办理中",
            "区住房和城乡建设局",
            "2026-02-27",
            "超期（红）",
        ]
    );
    assert!(matches!(lines[0][9], Data::DateTime(_)));
    // The 统计 sheet: the readable stations from the earliest line (2026-01-05) to today.
    let figures = app
        .figures(&f.office, &format!("from=2026-01-05&to={today}"))
        .await;
    assert_statistics(&sheets[1].1, &figures.total, "ledger");

    // Filtered, as CSV, with personal data for staff.
    let (_, bytes) = app
        .export_ok(
            &f.staff_x,
            &format!("ledger?format=csv&station={X}&personal=true"),
        )
        .await;
    let (headers, records) = csv_records(&bytes);
    assert_eq!(headers, LEDGER_HEADERS);
    assert_eq!(
        records.iter().map(|r| r[6].clone()).collect::<Vec<_>>(),
        ["事项 3", "事项 2", "事项 1"]
    );
    assert_eq!(records[0][4], "张三 13812341234 幸福里 3 号楼");
    // Another station's filter gives nothing to X's staff.
    let (_, bytes) = app
        .export_ok(&f.staff_x, &format!("ledger?format=csv&station={H}"))
        .await;
    assert!(csv_records(&bytes).1.is_empty());

    // A unit's ledger: what was referred to it, no statistics.
    let (response, bytes) = app.export_ok(&f.housing, "ledger").await;
    assert_eq!(header(&response, "content-type"), XLSX);
    let sheets = workbook(&bytes);
    assert_eq!(sheets.len(), 1, "no 统计 for a unit");
    assert_eq!(
        sheets[0].1[2..]
            .iter()
            .map(|l| text(&l[6]))
            .collect::<Vec<_>>(),
        ["事项 3", "事项 2"]
    );
    let response = app.export(&f.office, "ledger?status=lost").await;
    assert_json_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_filter",
        "status",
    )
    .await;

    let audit = app.audit(&f.admin).await;
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["username"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("export_ledger", "unit-housing"),
            ("export_ledger", "staff-xingfuli"),
            ("export_ledger", "staff-xingfuli"),
            ("export_ledger", "office"),
        ]
    );
    assert_eq!(
        audit[2]["detail"],
        serde_json::json!({
            "format": "csv",
            "filters": {"station": X},
            "personal": true,
            "rows": 3,
        })
    );
}

#[tokio::test]
async fn an_export_fails_when_its_audit_record_cannot_be_written() {
    let f = fixture().await;
    let app = &f.app;
    app.db
        .acquire()
        .await
        .unwrap()
        .query("DROP TABLE audit_log")
        .execute()
        .await
        .unwrap();
    for path in [
        "register?from=2026-01-01&to=2026-03-31",
        "register?format=csv&from=2026-01-01&to=2026-03-31",
        "ledger",
    ] {
        let response = app.export(&f.office, path).await;
        assert_json_error(
            response,
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            path,
        )
        .await;
    }
}

#[tokio::test]
async fn only_administrators_read_the_audit_log() {
    let f = fixture().await;
    let app = &f.app;
    app.export_ok(&f.office, "register?from=2026-01-01&to=2026-01-31")
        .await;
    app.export_ok(&f.office, "ledger?format=csv").await;
    // Office staff read the records about their own stations (`audit.rs`), not the others.
    let response = app
        .call(Method::GET, "/api/v1/audit", Some(&f.office), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    for record in body_json(response).await.as_array().unwrap() {
        assert!(record["station_id"].is_string(), "{record}");
    }
    for token in [&f.staff_x, &f.deputy, &f.housing] {
        let response = app
            .call(Method::GET, "/api/v1/audit", Some(token), None)
            .await;
        assert_json_error(response, StatusCode::FORBIDDEN, "forbidden", "audit").await;
    }
    let all = app.audit(&f.admin).await;
    assert_eq!(all.len(), 2);
    let response = app
        .call(
            Method::GET,
            "/api/v1/audit?action=export_register&limit=5",
            Some(&f.admin),
            None,
        )
        .await;
    let only = body_json(response).await;
    assert_eq!(only.as_array().unwrap().len(), 1);
    let all_records = body_json(
        app.call(
            Method::GET,
            "/api/v1/audit?limit=1000",
            Some(&f.admin),
            None,
        )
        .await,
    )
    .await;
    let all_records = all_records.as_array().unwrap();
    assert_eq!(only[0]["action"], "export_register");
    let before = all[0]["id"].as_i64().unwrap();
    let response = app
        .call(
            Method::GET,
            &format!("/api/v1/audit?before={}&limit=1000", before + 1),
            Some(&f.admin),
            None,
        )
        .await;
    let below = all_records
        .iter()
        .filter(|r| r["id"].as_i64().unwrap() <= before)
        .count();
    assert_eq!(body_json(response).await.as_array().unwrap().len(), below);
    let response = app
        .call(Method::GET, "/api/v1/audit?limit=ten", Some(&f.admin), None)
        .await;
    assert_json_error(response, StatusCode::BAD_REQUEST, "invalid_number", "limit").await;
}
