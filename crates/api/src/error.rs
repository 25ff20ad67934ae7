//! One error type for every handler, turned into the JSON error body of
//! DESIGN.md §5 in one place. Internal errors are logged with their detail
//! and shown to the caller only as "internal error".

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use organism_domain::{RowError, ValidationError};
use organism_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter or body field broke a rule: 400 naming it.
    #[error("{0}")]
    BadParameter(ValidationError),
    /// A row of a batch broke a rule: 422 naming the row and field.
    #[error("{0}")]
    BadRow(RowError),
    /// The body is not what the endpoint reads (malformed JSON, a file that
    /// cannot be read, a missing column).
    #[error("{message}")]
    BadBody { code: &'static str, message: String },
    /// No key, or a key that is unknown or revoked.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// A valid key whose role or teams do not allow the request.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The request conflicts with what is stored (an intervention id taken
    /// with other content, a status move the rules refuse): 409.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The body is over the limit: `size` when Content-Length declared it,
    /// `None` when a chunked body crossed the limit while being read.
    #[error("{}", too_large_message(*limit, *size))]
    PayloadTooLarge { limit: usize, size: Option<u64> },
    /// Work over a configured limit (a graph's size, a computation's time):
    /// 422 with the limit, naming the field when one is to blame.
    #[error("{message}")]
    OverLimit {
        code: &'static str,
        field: Option<&'static str>,
        limit: u64,
        message: String,
    },
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request is well formed but the data cannot answer it (too few
    /// days for a model, an intervention that never became active, no
    /// target): 422 with a code saying which.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("{message}")]
    Unavailable {
        code: &'static str,
        message: String,
        retry_after_s: u32,
    },
    #[error("{0}")]
    Internal(String),
}

/// The body of every error answer: `{"error": {...}}`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"error": {"code": "invalid_parameter", "field": "days", "message": "days: must be a whole number from 1 to 730, got \"0\""}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable code to branch on (`invalid_parameter`, `invalid_row`,
    /// `employee_not_found`, `wrong_role`, `database_unavailable`, …).
    pub code: String,
    /// For a person: what is wrong and what is allowed.
    pub message: String,
    /// The parameter, body field or column to blame, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The row of a batch to blame (1-based), for `invalid_row`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// The limit that was reached, for limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

fn too_large_message(limit: usize, size: Option<u64>) -> String {
    match size {
        Some(size) => format!("the body is {size} bytes; the limit is {limit} bytes"),
        None => format!("the body is larger than the limit of {limit} bytes"),
    }
}

impl ApiError {
    pub fn bad(field: &str, message: impl Into<String>) -> Self {
        ApiError::BadParameter(ValidationError::new(field, message))
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadParameter(_) => (StatusCode::BAD_REQUEST, "invalid_parameter"),
            ApiError::BadRow(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_row"),
            ApiError::BadBody { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            ApiError::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::NotFound { code, .. } => (StatusCode::NOT_FOUND, code),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Unavailable { code, .. } => (StatusCode::SERVICE_UNAVAILABLE, code),
            ApiError::OverLimit { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::BadParameter(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(v) => ApiError::BadParameter(v),
            StoreError::InvalidRow(r) => ApiError::BadRow(r),
            StoreError::NotFound { what, id } => ApiError::NotFound {
                code: match what {
                    "employee" => "employee_not_found",
                    "team" => "team_not_found",
                    "intervention" => "intervention_not_found",
                    _ => "not_found",
                },
                message: format!("no {what} {id:?}"),
            },
            StoreError::NotVisible { .. } => ApiError::Forbidden {
                code: "team_forbidden",
                message: "this key may not see that team or its employees".into(),
            },
            StoreError::Conflict { code, message } => ApiError::Conflict { code, message },
            e @ StoreError::PoolExhausted { .. } => ApiError::Unavailable {
                code: "pool_exhausted",
                message: e.to_string(),
                retry_after_s: 1,
            },
            e @ StoreError::Contention(_) => {
                tracing::warn!(error = %e, "database contention");
                ApiError::Unavailable {
                    code: "database_busy",
                    message: "the database is busy with concurrent work; retry".into(),
                    retry_after_s: 1,
                }
            }
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                ApiError::Unavailable {
                    code: "database_unavailable",
                    message: "the database is unavailable; retry later".into(),
                    retry_after_s: 5,
                }
            }
            e @ (StoreError::Schema(_) | StoreError::Database(_)) => {
                ApiError::Internal(e.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let mut detail = ErrorDetail {
            code: code.to_string(),
            message,
            field: None,
            row: None,
            limit: None,
        };
        match &self {
            ApiError::BadParameter(v) => detail.field = Some(v.field.clone()),
            ApiError::BadRow(r) => {
                detail.row = Some(r.row as u64);
                detail.field = Some(r.field.clone());
            }
            ApiError::OverLimit { field, limit, .. } => {
                detail.limit = Some(*limit);
                detail.field = field.map(str::to_string);
            }
            _ => {}
        }
        let body = ErrorBody { error: detail };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::Unauthorized { .. } = self {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::Unavailable { retry_after_s, .. } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
        }
        response
    }
}
