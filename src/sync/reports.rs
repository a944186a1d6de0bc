//! The back office's reports: the figures (`GET /figures`), the reception register
//! (`GET /register`) and the Excel/CSV exports (`GET /exports/ledger|register`). Online only,
//! read the way [`super::office`] reads every answer: only a 200 in the server's own shape is a
//! success, only the server's own JSON error is believed.
//!
//! The API authenticates with a bearer header, so an export cannot be a plain link: the bytes
//! are fetched with the header and handed to the browser as a file ([`download_export`]).

use super::api::bearer;
use super::office::{OfficeError, get, read_refusal};
use crate::figures::{attachment_name, figures_query_string, period_params};
use gloo_net::http::Request;
use liaison_domain::Scope;
use liaison_domain::figures::{FigureQuery, FigureReport, Period};
use liaison_domain::followup::RegisterRow;

/// An export may take a while on a large ledger.
const EXPORT_TIMEOUT_MS: u32 = 120_000;

/// The figures for `query` (totals, and its breakdown's rows).
pub async fn figures(token: &str, query: &FigureQuery) -> Result<FigureReport, OfficeError> {
    get(
        token,
        &format!("/api/v1/figures{}", figures_query_string(query)),
    )
    .await
}

/// The reception register's lines for `period` in `scope` (citizens masked).
pub async fn register(
    token: &str,
    period: &Period,
    scope: Option<&Scope>,
) -> Result<Vec<RegisterRow>, OfficeError> {
    get(
        token,
        &format!("/api/v1/register?{}", period_params(period, scope)),
    )
    .await
}

/// The code the server refuses an export of personal data with, when the role may not have it.
pub const PERSONAL_DATA_NOT_PERMITTED: &str = "personal_data_not_permitted";

/// Why an export was refused: as [`read_refusal`], except that asking for personal data without
/// the permission says so (it is a 403 like any other, but the fix is to leave the box unticked).
pub fn read_export_refusal(status: u16, body: &str) -> OfficeError {
    let code = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let error = v.get("error")?;
            error
                .get("code")
                .or(Some(error))
                .and_then(|c| c.as_str())
                .map(str::to_owned)
        });
    if status == 403 && code.as_deref() == Some(PERSONAL_DATA_NOT_PERMITTED) {
        return OfficeError::Refused(PERSONAL_DATA_NOT_PERMITTED.into());
    }
    read_refusal(status, body)
}

/// Whether a 200 carries a file: anything but a web page or JSON (a Wi-Fi portal answers
/// 200 with its own page, which must not be saved as the ledger).
pub fn is_file_answer(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    !mime.is_empty() && mime != "text/html" && mime != "application/json"
}

/// A fetched export.
#[derive(Clone, Debug)]
pub struct ExportFile {
    pub name: String,
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// Fetches the export at `url` (see [`crate::figures::export_url`]) with the session's header;
/// `fallback_name` when the answer names no file.
pub async fn fetch_export(
    token: &str,
    url: &str,
    fallback_name: &str,
) -> Result<ExportFile, OfficeError> {
    let controller = web_sys::AbortController::new().map_err(|_| OfficeError::Unreachable)?;
    let request = bearer(Request::get(url), token)
        .abort_signal(Some(&controller.signal()))
        .build()
        .map_err(|_| OfficeError::Unreachable)?;
    let timeout = gloo_timers::callback::Timeout::new(EXPORT_TIMEOUT_MS, move || {
        controller.abort();
    });
    let answer = async {
        let response = request.send().await.map_err(|_| OfficeError::Unreachable)?;
        let status = response.status();
        let mime = response.headers().get("content-type").unwrap_or_default();
        if status != 200 {
            let body = response.text().await.unwrap_or_default();
            return Err(read_export_refusal(status, &body));
        }
        if !is_file_answer(&mime) {
            return Err(OfficeError::NotOurServer);
        }
        let name = response
            .headers()
            .get("content-disposition")
            .and_then(|h| attachment_name(&h))
            .unwrap_or_else(|| fallback_name.to_owned());
        let bytes = response
            .binary()
            .await
            .map_err(|_| OfficeError::Unreachable)?;
        Ok(ExportFile { name, mime, bytes })
    }
    .await;
    drop(timeout);
    answer
}

/// Fetches an export and offers it as a download.
pub async fn download_export(
    token: &str,
    url: &str,
    fallback_name: &str,
) -> Result<(), OfficeError> {
    let file = fetch_export(token, url, fallback_name).await?;
    crate::platform::download_bytes(&file.name, &file.mime, &file.bytes)
        .ok_or_else(|| OfficeError::Refused("download_failed".into()))
}
