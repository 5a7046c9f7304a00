//! The dumb executor: runs each action of a plan, carries on past failures, and returns one
//! [`ActionResult`] per action. It decides nothing; every decision is in [`crate::plan`].

use lgtm_model::wire::ActionResult;

use crate::desired::FileSpec;
use crate::error_chain::chain;
use crate::events;
use crate::fs::{Fs, FsError};
use crate::plan::Action;
use crate::safe_path::SafePath;
use crate::systemd::{Systemd, SystemdError};

#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Systemd(#[from] SystemdError),
}

/// Runs `actions` in order; a failed action does not stop the ones after it.
pub async fn execute(
    actions: &[Action],
    fs: &impl Fs,
    systemd: &impl Systemd,
) -> Vec<ActionResult> {
    let mut results = Vec::with_capacity(actions.len());
    for action in actions {
        let outcome = step(action, fs, systemd).await;
        let result = ActionResult {
            action: action.to_string(),
            ok: outcome.is_ok(),
            error: outcome.err().map(|e| chain(&e)),
        };
        events::action_done(&result);
        results.push(result);
    }
    results
}

async fn step(action: &Action, fs: &impl Fs, systemd: &impl Systemd) -> Result<(), StepError> {
    match action {
        Action::WriteFile(spec) => fs.write_file(spec)?,
        Action::RemoveFile(path) => fs.remove_file(path)?,
        Action::CreateDir { path, owner } => fs.create_dir(path, owner)?,
        Action::EnsureUser { sysusers, .. } => systemd.sysusers(sysusers).await?,
        Action::DaemonReload => systemd.daemon_reload().await?,
        Action::Enable(unit) => systemd.enable(unit).await?,
        Action::Disable(unit) => systemd.disable(unit).await?,
        Action::ResetFailed(unit) => systemd.reset_failed(unit).await?,
        Action::Start { unit, clears } => {
            systemd.start(unit).await?;
            clear(fs, clears.as_ref())?;
        }
        Action::Restart { unit, clears } => {
            systemd.restart(unit).await?;
            clear(fs, clears.as_ref())?;
        }
        Action::Stop(unit) => systemd.stop(unit).await?,
        Action::Reload(unit) => systemd.reload(unit).await?,
        Action::InstallGatewayConfig { config, candidate } => {
            let check = FileSpec {
                path: candidate.clone(),
                ..config.clone()
            };
            fs.write_file(&check)?;
            let checked = fs.check_gateway_config(candidate);
            // The candidate has served its purpose either way.
            fs.remove_file(candidate)?;
            checked?;
            // The very content nginx accepted, written atomically over the serving config.
            fs.write_file(config)?;
        }
    }
    Ok(())
}

/// The process now runs the files its marker stood for.
fn clear(fs: &impl Fs, marker: Option<&SafePath>) -> Result<(), FsError> {
    marker.map_or(Ok(()), |m| fs.remove_file(m))
}
