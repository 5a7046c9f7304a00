//! Settings handlers: list every key (secrets only say whether they are set), set one.

use axum::Json;
use axum::extract::State;
use lgtm_model::settings;
use lgtm_model::wire::{SetSetting, SettingChanged, SettingEntry};

use super::extract::{CHECK_INDEX, JsonBody, PathParams, QueryParams};
use super::hosts::unexpected;
use super::{AppState, HttpError};
use crate::cluster::{Op, Reply};

/// `GET /v1/settings`: every key, in display order.
pub async fn list(
    State(s): State<AppState>,
    q: QueryParams,
) -> Result<Json<Vec<SettingEntry>>, HttpError> {
    q.only(&[])?;
    let view = s.cluster.view();
    let entries = settings::keys()
        .into_iter()
        .map(|spec| {
            let (value, is_set) = if spec.secret {
                (None, view.secrets_set.contains(&spec.key))
            } else {
                let value = view.settings.get(&spec.key).ok();
                let is_set = value.as_ref().is_some_and(|v| !v.is_empty());
                (value, is_set)
            };
            SettingEntry {
                key: spec.key,
                value,
                secret: spec.secret,
                is_set,
                help: spec.help.to_owned(),
            }
        })
        .collect();
    Ok(Json(entries))
}

/// `PUT /v1/settings/{key}`: secrets too; the value is never echoed or logged.
pub async fn set(
    State(s): State<AppState>,
    PathParams(key): PathParams<String>,
    q: QueryParams,
    JsonBody(req): JsonBody<SetSetting>,
) -> Result<Json<SettingChanged>, HttpError> {
    let q = q.only(&["force", CHECK_INDEX])?;
    let op = Op::Set {
        key,
        value: req.value,
        force: q.flag("force")?,
    };
    let expect = q.check_index()?;
    let applied = s.cluster.apply_checked(op, expect).await?;
    match applied.reply {
        Reply::Set { key } => Ok(Json(SettingChanged {
            key,
            index: applied.index,
        })),
        other => Err(unexpected(&other)),
    }
}
