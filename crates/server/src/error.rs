//! One error type for every handler. Internals (SQL errors, I/O) are logged here and never sent:
//! the client gets a stable `code` it can switch on and a plain `message`:
//! `{"error": {"code": "...", "message": "..."}}`. Two codes carry the domain's reasons beside
//! them, for the app to translate: `invalid` with `errors` (the field errors, as the capture
//! form's [`ValidationErrors`]) and `not_allowed` with `transition` (why the lifecycle refused a
//! follow-up step, a [`TransitionError`]).

use axum::body::{Bytes, HttpBody};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{BoxError, Json};
use liaison_domain::ValidationErrors;
use liaison_domain::followup::TransitionError;
use serde::Serialize;
use std::borrow::Cow;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,

    /// An HTTP-level refusal that carries no detail of its own (a too-large body, a timeout, a
    /// wrong method). Mostly produced by [`json_error_bodies`] from the bare answers of layers.
    #[error("{}", .0.canonical_reason().unwrap_or("error"))]
    Status(StatusCode),

    /// No valid bearer token: missing, unknown, expired or revoked, on a revoked device, or of a
    /// disabled user. One answer for all of them.
    #[error("unauthenticated")]
    Unauthenticated,

    /// A failed sign-in: unknown user, wrong password, locked or disabled account alike, so the
    /// answer tells nobody which usernames exist.
    #[error("invalid credentials")]
    InvalidCredentials,

    /// Signed in, but the role or scope does not allow this.
    #[error("forbidden")]
    Forbidden,

    /// The request is well-formed JSON but its content is refused (422), with a stable code.
    #[error("{message}")]
    Invalid {
        code: &'static str,
        message: &'static str,
    },

    /// The request itself is malformed (400), e.g. a query parameter that is missing or not a
    /// date, with a stable code.
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: &'static str,
    },

    /// Signed in and allowed the route, but refused for a stated reason (403), with a stable
    /// code, e.g. `personal_data_not_permitted`.
    #[error("{message}")]
    Refused {
        code: &'static str,
        message: &'static str,
    },

    /// Too many sign-in attempts from this address or for this username (429
    /// `too_many_sign_ins`, with `Retry-After` in whole seconds); see [`crate::rate_limit`].
    #[error("too many sign-in attempts")]
    TooManySignIns { retry_after: std::time::Duration },

    /// Fields break the domain's rules (422 `invalid`, with `errors`).
    #[error("invalid: {0}")]
    InvalidFields(ValidationErrors),

    /// The lifecycle refuses the follow-up step (422 `not_allowed`, with `transition`).
    #[error("not allowed: {0}")]
    NotAllowed(TransitionError),

    #[error("database error")]
    Database(sqlx::Error),

    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    /// A database error is the server's fault (500), except text the database cannot store:
    /// PostgreSQL refuses the NUL character in any text (SQLSTATE 22021), wherever a request
    /// smuggles it in (a username, a device id in the path). That is the client's input, and
    /// answered as such, the same on SQLite (which stores it) and PostgreSQL.
    fn from(error: sqlx::Error) -> Self {
        let unstorable = error
            .as_database_error()
            .and_then(|e| e.code())
            .is_some_and(|code| code == "22021");
        if unstorable {
            return AppError::Invalid {
                code: "unstorable_text",
                message: "The request contains a character that cannot be stored (NUL)",
            };
        }
        AppError::Database(error)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a ValidationErrors>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transition: Option<&'a TransitionError>,
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unauthenticated | AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::Refused { .. } => StatusCode::FORBIDDEN,
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Invalid { .. } | AppError::InvalidFields(_) | AppError::NotAllowed(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::Status(status) => *status,
            AppError::TooManySignIns { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code (snake_case); the app translates it, so it never changes
    /// for a given situation.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound => "not_found",
            AppError::Unauthenticated => "unauthenticated",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::Forbidden => "forbidden",
            AppError::Invalid { code, .. }
            | AppError::BadRequest { code, .. }
            | AppError::Refused { code, .. } => code,
            AppError::InvalidFields(_) => "invalid",
            AppError::NotAllowed(_) => "not_allowed",
            AppError::Status(status) => status_code_name(*status),
            AppError::TooManySignIns { .. } => "too_many_sign_ins",
            AppError::Database(_) | AppError::Internal(_) => "internal",
        }
    }

    fn message(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            AppError::NotFound => "Not found",
            AppError::Unauthenticated => "Sign in first",
            AppError::InvalidCredentials => "Wrong username or password",
            AppError::Forbidden => "Not allowed",
            AppError::Invalid { message, .. }
            | AppError::BadRequest { message, .. }
            | AppError::Refused { message, .. } => message,
            // The domain's texts say what is wrong with which field or step, nothing internal.
            AppError::InvalidFields(_) | AppError::NotAllowed(_) => {
                return Cow::Owned(self.to_string());
            }
            AppError::Status(status) => status.canonical_reason().unwrap_or("Error"),
            AppError::TooManySignIns { .. } => "Too many sign-in attempts: wait, then try again",
            AppError::Database(_) | AppError::Internal(_) => "Internal server error",
        })
    }
}

fn status_code_name(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable_entity",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "http_error",
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // `{:?}` keeps the source chain (the SQL error, the I/O error) in the log only.
            tracing::error!(error = ?self, "request failed");
        }
        let message = self.message();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: &message,
                errors: match &self {
                    AppError::InvalidFields(errors) => Some(errors),
                    _ => None,
                },
                transition: match &self {
                    AppError::NotAllowed(transition) => Some(transition),
                    _ => None,
                },
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let AppError::TooManySignIns { retry_after } = &self {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The longest rejection text kept as the message of a client error (axum's are one line).
const MAX_REJECTION_TEXT: usize = 1024;

/// Gives bare error answers the JSON error shape. tower-http's limit and timeout layers, axum's
/// 405 and its extractor rejections answer with an empty or `text/plain` body; the app should see
/// one format for every error, whichever layer refused the request.
///
/// The code is the status's ([`AppError::Status`]). For a client error, the `text/plain` text
/// (axum's rejection, e.g. `Failed to deserialize the JSON body into the target type:
/// mutations[0].seq: invalid type: string "one", expected u64 at line 1 column 40`) becomes the
/// message: it says what is wrong with the request and holds nothing but the request's own
/// structure. A server error keeps the generic message.
pub async fn json_error_bodies<B>(response: Response<B>) -> Response
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let status = response.status();
    let is_error = status.is_client_error() || status.is_server_error();
    if !is_error || is_json(response.headers().get(header::CONTENT_TYPE)) {
        return response.into_response();
    }
    let is_text = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    let allow = response.headers().get(header::ALLOW).cloned();
    let text = if status.is_client_error() && is_text {
        axum::body::to_bytes(
            axum::body::Body::new(response.into_body()),
            MAX_REJECTION_TEXT,
        )
        .await
        .ok()
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
    } else {
        None
    };
    let mut replacement = AppError::Status(status).into_response();
    if let Some(message) = text {
        let body = ErrorBody {
            error: ErrorDetail {
                code: status_code_name(status),
                message: &message,
                errors: None,
                transition: None,
            },
        };
        let mut with_text = (status, Json(body)).into_response();
        if let Some(challenge) = replacement.headers().get(header::WWW_AUTHENTICATE) {
            with_text
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge.clone());
        }
        replacement = with_text;
    }
    // 405 must keep saying which methods are allowed.
    if let Some(allow) = allow {
        replacement.headers_mut().insert(header::ALLOW, allow);
    }
    replacement
}

fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};

    async fn json(response: Response) -> serde_json::Value {
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn bare_layer_answers_get_the_json_shape() {
        // What tower-http's TimeoutLayer answers: a status and an empty body.
        let mut timeout = Response::new(Body::empty());
        *timeout.status_mut() = StatusCode::REQUEST_TIMEOUT;
        let response = json_error_bodies(timeout).await;
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(
            json(response).await,
            serde_json::json!({"error": {"code": "request_timeout", "message": "Request Timeout"}})
        );

        let mut not_allowed = Response::new(Body::empty());
        *not_allowed.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        not_allowed
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET,HEAD"));
        let response = json_error_bodies(not_allowed).await;
        assert_eq!(response.headers()[header::ALLOW], "GET,HEAD");
        assert_eq!(json(response).await["error"]["code"], "method_not_allowed");
    }

    #[tokio::test]
    async fn a_client_errors_text_becomes_the_message_and_a_server_errors_does_not() {
        let text = |status: StatusCode, body: &'static str| {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        };
        let rejection =
            "Failed to parse the request body as JSON: expected value at line 1 column 1";
        let response = json_error_bodies(text(StatusCode::BAD_REQUEST, rejection)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            json(response).await,
            serde_json::json!({"error": {"code": "bad_request", "message": rejection}})
        );

        let response = json_error_bodies(text(StatusCode::UNAUTHORIZED, "who?")).await;
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");

        let response = json_error_bodies(text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Missing extension: Db",
        ))
        .await;
        assert_eq!(
            json(response).await["error"]["message"],
            "Internal Server Error",
            "the text of a server error is not passed on"
        );
    }

    #[tokio::test]
    async fn json_and_successful_answers_pass_through() {
        let response = json_error_bodies(AppError::NotFound.into_response()).await;
        assert_eq!(json(response).await["error"]["code"], "not_found");

        let ok = json_error_bodies(Response::new(Body::from("<html>"))).await;
        assert_eq!(ok.status(), StatusCode::OK);
        let body = to_bytes(ok.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], b"<html>");
    }

    #[tokio::test]
    async fn domain_refusals_carry_their_reasons_beside_the_code() {
        use liaison_domain::followup::{ActionKind, StatusKind};
        use liaison_domain::{Field, FieldError};

        let invalid = AppError::InvalidFields(ValidationErrors(vec![(
            Field::Reason,
            FieldError::Required,
        )]));
        let response = invalid.into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = json(response).await;
        assert_eq!(body["error"]["code"], "invalid");
        assert_eq!(
            body["error"]["errors"],
            serde_json::json!([["reason", {"code": "required"}]])
        );
        assert!(body["error"]["message"].is_string());
        assert!(body["error"].get("transition").is_none());

        let refused = AppError::NotAllowed(TransitionError::NotInThisStatus {
            action: ActionKind::Accept,
            status: StatusKind::Returned,
        });
        let body = json(refused.into_response()).await;
        assert_eq!(body["error"]["code"], "not_allowed");
        assert_eq!(
            body["error"]["transition"],
            serde_json::json!({"code": "not_in_this_status", "action": "accept", "status": "returned"})
        );
        assert!(body["error"].get("errors").is_none());

        // The other errors keep the plain shape.
        let body = json(AppError::Forbidden.into_response()).await;
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "forbidden", "message": "Not allowed"}})
        );
    }

    #[tokio::test]
    async fn internal_errors_do_not_leak_their_cause() {
        let error = AppError::Internal(anyhow::anyhow!("secret path /var/lib/x"));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = json(response).await;
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("secret"));
    }
}
