//! The one error type of the HTTP API: every rejection is a JSON [`ErrorBody`] with a stable
//! code, a message naming the thing and the fix, and the field at fault.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lgtm_model::catalog::RoleError;
use lgtm_model::consistency::StorageError;
use lgtm_model::render::RenderError;
use lgtm_model::settings::SettingError;
use lgtm_model::wire::{ApiError, ErrorBody};

use crate::cluster::ChangeError;
use crate::validate::Invalid;

/// An HTTP error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    /// Status code.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// One sentence naming the thing, why, and the fix.
    pub message: String,
    /// The request field or path parameter at fault.
    pub field: Option<String>,
}

impl HttpError {
    /// An error without a field.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A 400 about one field.
    pub fn bad(code: &'static str, field: &str, message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, code, message).with_field(field)
    }

    /// Names the field at fault.
    pub fn with_field(mut self, field: &str) -> HttpError {
        self.field = Some(field.to_owned());
        self
    }

    /// The answer for a host the coordinator does not know.
    pub fn unknown_host(host: &impl std::fmt::Display) -> HttpError {
        HttpError::new(
            StatusCode::NOT_FOUND,
            "host_not_found",
            format!("host {host} is not known to the coordinator; start lgtm-agent on it so it registers, or assign it a role"),
        )
        .with_field("host")
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        } else {
            tracing::debug!(code = self.code, message = %self.message, "request refused");
        }
        let body = ErrorBody {
            error: ApiError {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// The message of an error followed by its causes, for answers that must explain a failure.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

impl From<ChangeError> for HttpError {
    fn from(e: ChangeError) -> HttpError {
        use StatusCode as S;
        let msg = e.to_string();
        match &e {
            ChangeError::Role(RoleError::Conflict { .. }) => {
                HttpError::bad("invalid_role", "backend", msg)
            }
            ChangeError::Role(_) => HttpError::bad("invalid_role", "role", msg),
            ChangeError::Assign(_) => {
                HttpError::new(S::CONFLICT, "role_conflict", msg).with_field("role")
            }
            ChangeError::UnknownHost(h) => HttpError::unknown_host(h),
            ChangeError::NotAssigned { .. } => {
                HttpError::new(S::NOT_FOUND, "role_not_assigned", msg).with_field("role")
            }
            ChangeError::Quorum { .. } => {
                HttpError::new(S::CONFLICT, "ring_quorum", msg).with_field("force")
            }
            ChangeError::RetiringOverlap { .. } => {
                HttpError::new(S::CONFLICT, "host_draining", msg).with_field("role")
            }
            ChangeError::Retiring { .. } => {
                HttpError::new(S::CONFLICT, "host_draining", msg).with_field("force")
            }
            ChangeError::HasRoles { .. } => {
                HttpError::new(S::CONFLICT, "host_has_roles", msg).with_field("force")
            }
            ChangeError::Setting(SettingError::UnknownKey { .. }) => {
                HttpError::bad("unknown_setting", "key", msg)
            }
            ChangeError::Setting(SettingError::NotSecret { .. })
            | ChangeError::Setting(SettingError::SecretViaValue { .. }) => {
                HttpError::bad("invalid_setting", "key", msg)
            }
            ChangeError::Setting(SettingError::BadValue { .. }) => {
                HttpError::bad("invalid_setting", "value", msg)
            }
            ChangeError::SwitchEmpty { .. } | ChangeError::SwitchRole { .. } => {
                HttpError::bad("invalid_switch", "hosts", msg)
            }
            ChangeError::NoBackendForGateway => {
                HttpError::new(S::CONFLICT, "no_backend_for_gateway", msg).with_field("role")
            }
            ChangeError::Storage(e) => {
                let multi_host = "filesystem_storage_multi_host";
                let (code, field) = match e {
                    StorageError::AssignToSecondHost { .. } => (multi_host, "host"),
                    StorageError::FilesystemOnSeveralHosts { .. } => (multi_host, "value"),
                    StorageError::SwitchToSeveralHosts { .. } | StorageError::SwitchAway { .. } => {
                        (multi_host, "hosts")
                    }
                    StorageError::Move { .. } => ("storage_move", "force"),
                };
                HttpError::new(S::CONFLICT, code, msg).with_field(field)
            }
            ChangeError::Store(s) if s.is_disk_full() => HttpError::new(
                S::INSUFFICIENT_STORAGE,
                "state_disk_full",
                format!(
                    "the coordinator's state disk is full, so the change was not applied: {}; \
                     free space on the disk of its state directory, then retry",
                    chain(s)
                ),
            ),
            ChangeError::Store(_) => HttpError::new(
                S::INTERNAL_SERVER_ERROR,
                "store_failed",
                format!(
                    "{}; check the coordinator's disk and logs, then retry",
                    chain(&e)
                ),
            ),
            ChangeError::NothingToAbort => {
                HttpError::new(S::CONFLICT, "rollout_idle", msg).with_field("rollout")
            }
            ChangeError::AbortDraining { .. } => {
                HttpError::new(S::CONFLICT, "host_draining", msg).with_field("rollout")
            }
            ChangeError::AbortRefused { .. } => {
                HttpError::new(S::CONFLICT, "abort_refused", msg).with_field("rollout")
            }
            ChangeError::IndexMoved { .. } => {
                HttpError::new(S::CONFLICT, "index_moved", msg).with_field("check_index")
            }
            ChangeError::Stopped => HttpError::new(S::SERVICE_UNAVAILABLE, "unavailable", msg),
        }
    }
}

impl From<RenderError> for HttpError {
    /// The agent keeps running what it has; the operator must fix the cluster.
    fn from(e: RenderError) -> HttpError {
        match e {
            RenderError::UnknownHost(h) => HttpError::unknown_host(&h),
            RenderError::NotRegistered(_) => {
                HttpError::new(StatusCode::CONFLICT, "render_failed", e.to_string())
                    .with_field("host")
            }
            RenderError::MissingSetting { ref key, .. } => {
                let key = key.clone();
                HttpError::new(StatusCode::CONFLICT, "render_failed", e.to_string())
                    .with_field(&key)
            }
            RenderError::MissingRemoteWrite { .. } => {
                HttpError::new(StatusCode::CONFLICT, "render_failed", e.to_string())
                    .with_field("tempo.metrics_generator.remote_write_url")
            }
            RenderError::Overlay { backend, .. } => {
                HttpError::new(StatusCode::CONFLICT, "render_failed", e.to_string())
                    .with_field(&format!("{backend}.overrides"))
            }
        }
    }
}

impl From<Invalid> for HttpError {
    fn from(e: Invalid) -> HttpError {
        HttpError::bad("invalid_field", e.field, e.message)
    }
}
