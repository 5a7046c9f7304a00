//! Each command: call the API, print the answer, pick the outcome. Formatting lives in
//! [`crate::output`], waiting in [`crate::wait`].

use std::io::Write;

use clap::CommandFactory;
use lgtm_model::process::{ProcessId, processes};
use lgtm_model::wire::{AssignRequest, Change, DrainRequest, Known, SwitchRequest};
use lgtm_model::{HostName, Role, settings};

use crate::cli::{
    AssignRole, Cli, Command, ConfigCommand, ConfigSet, Drain, HostCommand, JoinTokenCommand,
    Output, PlanFlags, RolloutCommand, Switch, UnassignRole, Wait, WaitFlags,
};
use crate::client::{Answer, Client, ClientError};
use crate::error::CtlError;
use crate::output;
use crate::wait::{self, Goal};

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<(), CtlError> {
    let token =
        crate::credentials::resolve(std::env::var("LGTM_TOKEN").ok(), cli.credentials.as_deref())?;
    let ca = crate::credentials::ca(cli.ca_file.as_deref())?;
    let client = crate::client::connect(cli.coordinator.clone(), token, ca.as_deref())?;
    let out = cli.output;
    match cli.command {
        Command::AssignRole(a) => assign(&client, out, a).await,
        Command::UnassignRole(u) => unassign(&client, out, u).await,
        Command::Drain(d) => drain(&client, out, d).await,
        Command::Switch(s) => switch(&client, out, s).await,
        Command::Hosts | Command::Host(HostCommand::List) => {
            let a = client.hosts().await?;
            print(out, &a, output::hosts(&a.value));
            Ok(())
        }
        Command::Host(HostCommand::Show { name }) => host_show(&client, out, &name).await,
        Command::Host(HostCommand::Remove {
            name,
            force,
            timeout,
            plan,
        }) => host_remove(&client, out, name, force, timeout, plan).await,
        Command::Status => {
            let a = client.status().await?;
            print(out, &a, output::status::status(&a.value));
            Ok(())
        }
        Command::Config(ConfigCommand::Get { key }) => config_get(&client, out, key).await,
        Command::Config(ConfigCommand::Set(s)) => config_set(&client, out, s).await,
        Command::Config(ConfigCommand::Rendered { host, backend }) => {
            let a = client.rendered(&host, backend).await?;
            print(out, &a, output::rendered(&a.value));
            Ok(())
        }
        Command::JoinToken(JoinTokenCommand::Create { ttl }) => {
            let a = client.create_join_token(ttl.as_secs()).await?;
            print(
                out,
                &a,
                format!(
                    "token: {}\nid: {}\nexpires_at: {}\n",
                    a.value.token, a.value.id, a.value.expires_at
                ),
            );
            Ok(())
        }
        Command::JoinToken(JoinTokenCommand::Revoke { id }) => {
            let a = client.revoke_join_token(&id).await?;
            print(out, &a, format!("revoked join token {}\n", a.value.id));
            Ok(())
        }
        Command::Wait(w) => wait_cmd(&client, w).await,
        Command::Rollout(r) => {
            let a = match r {
                RolloutCommand::Status => client.rollout().await?,
                RolloutCommand::Pause { reason } => client.pause_rollout(reason).await?,
                RolloutCommand::Resume => client.resume_rollout().await?,
                RolloutCommand::Abort { plan } => return rollout_abort(&client, out, plan).await,
            };
            print(out, &a, output::rollout(&a.value));
            Ok(())
        }
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "lgtmctl", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// Prints an answer: its JSON, or the table text.
fn print<T>(out: Output, answer: &Answer<T>, table: String) {
    let text = match out {
        Output::Json => output::json(&answer.json),
        Output::Table => table,
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = stdout.write_all(text.as_bytes());
}

async fn rollout_abort(client: &Client, out: Output, plan: PlanFlags) -> Result<(), CtlError> {
    if plan.dry_run {
        return dry_run(client, out, Change::AbortRollout, None).await;
    }
    let a = client.abort_rollout(plan.check_index).await?;
    eprint!("{}", output::warnings(&a.value.warnings));
    print(out, &a, output::aborted(&a.value));
    Ok(())
}

/// Prints what `change` would do instead of applying it; `then` is what the command would
/// do after it.
async fn dry_run(
    client: &Client,
    out: Output,
    change: Change,
    then: Option<&str>,
) -> Result<(), CtlError> {
    let answer = client.plan(&change).await.map_err(force_hint)?;
    eprint!("{}", output::warnings(&answer.value.warnings));
    print(out, &answer, output::plan(&answer.value, then));
    Ok(())
}

async fn assign(client: &Client, out: Output, a: AssignRole) -> Result<(), CtlError> {
    if a.plan.dry_run {
        let change = Change::Assign {
            host: a.host,
            role: a.role,
            backend: a.backend,
        };
        return dry_run(client, out, change, None).await;
    }
    let request = AssignRequest {
        role: a.role,
        backend: a.backend,
    };
    let answer = client.assign(&a.host, &request, a.plan.check_index).await?;
    let r = &answer.value;
    eprint!("{}", output::warnings(&r.warnings));
    print(out, &answer, output::assigned(r));
    let goal = Goal {
        host: r.host.clone(),
        index: r.index,
        gone: Vec::new(),
    };
    finish_wait(client, out, a.wait, goal).await
}

async fn unassign(client: &Client, out: Output, u: UnassignRole) -> Result<(), CtlError> {
    // The API takes the backend inside the role (`loki:ingester`); check it here so a clash
    // with --backend is reported before anything is sent.
    let role = match u.backend {
        Some(b) => Role::resolve(&u.role, Some(b), b)
            .map_err(|e| CtlError::Rejected(e.to_string()))?
            .to_string(),
        None => u.role.clone(),
    };
    if u.plan.dry_run {
        let change = Change::Unassign {
            host: u.host,
            role,
            force: u.force,
        };
        return dry_run(client, out, change, None).await;
    }
    let answer = client
        .unassign(&u.host, &role, u.force, u.plan.check_index)
        .await
        .map_err(force_hint)?;
    let r = &answer.value;
    eprint!("{}", output::warnings(&r.warnings));
    print(out, &answer, output::unassigned(r));
    let gone: Vec<String> = processes(&Known::known_values(std::slice::from_ref(&r.role)))
        .keys()
        .map(ProcessId::unit_name)
        .collect();
    let goal = Goal {
        host: r.host.clone(),
        index: r.index,
        gone,
    };
    finish_wait(client, out, u.wait, goal).await
}

async fn drain(client: &Client, out: Output, d: Drain) -> Result<(), CtlError> {
    if d.plan.dry_run {
        let change = Change::Drain {
            host: d.host,
            backend: d.backend,
            force: d.force,
        };
        return dry_run(client, out, change, None).await;
    }
    let request = DrainRequest {
        backend: d.backend,
        force: d.force,
    };
    let answer = client
        .drain(&d.host, &request, d.plan.check_index)
        .await
        .map_err(force_hint)?;
    let r = &answer.value;
    eprint!("{}", output::warnings(&r.warnings));
    print(out, &answer, output::drained(r));
    finish_wait(client, out, d.wait, drained_goal(r)).await
}

async fn switch(client: &Client, out: Output, s: Switch) -> Result<(), CtlError> {
    let hosts: std::collections::BTreeMap<HostName, Vec<String>> = s.hosts.into_iter().collect();
    if s.plan.dry_run {
        let change = Change::Switch {
            backend: s.backend,
            hosts,
        };
        return dry_run(client, out, change, None).await;
    }
    let answer = client
        .switch(s.backend, &SwitchRequest { hosts }, s.plan.check_index)
        .await?;
    eprint!("{}", output::warnings(&answer.value.warnings));
    print(out, &answer, output::switched(&answer.value));
    if !s.wait {
        return Ok(());
    }
    let status = client.status().await?.value;
    let goals = wait::switch_goals(&status, s.backend, answer.value.index);
    wait_all(client, out, &goals, s.timeout).await
}

/// Drained: every unit of the roles unassigned is gone, those draining included.
fn drained_goal(r: &lgtm_model::wire::DrainResponse) -> Goal {
    let mut gone: Vec<String> = processes(&Known::known_values(&r.roles))
        .keys()
        .map(ProcessId::unit_name)
        .collect();
    gone.extend(r.draining.iter().cloned());
    Goal {
        host: r.host.clone(),
        index: r.index,
        gone,
    }
}

/// Removes a host; one with roles is drained first, unless forced.
async fn host_remove(
    client: &Client,
    out: Output,
    name: HostName,
    force: bool,
    timeout: std::time::Duration,
    plan: PlanFlags,
) -> Result<(), CtlError> {
    let has_roles = !force && !client.host(&name).await?.value.roles.is_empty();
    if plan.dry_run {
        let (change, then) = if has_roles {
            let change = Change::Drain {
                host: name.clone(),
                backend: None,
                force: false,
            };
            (change, Some(format!("{name} is removed once drained")))
        } else {
            (Change::RemoveHost { host: name, force }, None)
        };
        return dry_run(client, out, change, then.as_deref()).await;
    }
    // Only the first request is conditional: the removal follows the drain it made.
    let mut check = plan.check_index;
    if has_roles {
        let d = client
            .drain(&name, &DrainRequest::default(), check.take())
            .await
            .map_err(force_hint)?;
        eprint!("{}", output::warnings(&d.value.warnings));
        eprint!("{}", output::drained(&d.value));
        wait::until(client, &drained_goal(&d.value), timeout)
            .await
            .map_err(|e| CtlError::Hinted {
                source: Box::new(e),
                hint: "the host keeps what is not drained yet; `lgtmctl rollout status` shows why, `lgtmctl host remove --force` removes it at once",
            })?;
    }
    let a = client
        .remove_host(&name, force, check)
        .await
        .map_err(force_hint)?;
    eprint!("{}", output::warnings(&a.value.warnings));
    print(out, &a, output::host_removed(&a.value));
    Ok(())
}

/// Waits after a change when `--wait` was given.
async fn finish_wait(
    client: &Client,
    out: Output,
    flags: WaitFlags,
    goal: Goal,
) -> Result<(), CtlError> {
    if !flags.wait {
        return Ok(());
    }
    wait_all(client, out, &[goal], flags.timeout).await
}

/// Waits for each goal in turn, all of them within `timeout`, and says what each reached.
async fn wait_all(
    client: &Client,
    out: Output,
    goals: &[Goal],
    timeout: std::time::Duration,
) -> Result<(), CtlError> {
    let deadline = std::time::Instant::now() + timeout;
    for goal in goals {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let done = wait::until(client, goal, left).await.map_err(|e| match e {
            // Say the whole wait, not what was left of it for this host.
            CtlError::WaitTimeout { host, last, .. } => CtlError::WaitTimeout {
                host,
                waited: timeout,
                last,
            },
            e => e,
        })?;
        // stdout holds the answer's JSON alone, so programs can parse it.
        match out {
            Output::Table => println!("{done}"),
            Output::Json => eprintln!("{done}"),
        }
    }
    Ok(())
}

/// Adds the `--force` hint to the coordinator's refusal of a destructive change.
fn force_hint(e: ClientError) -> CtlError {
    let hint = match &e {
        ClientError::Api { error, .. } if error.field.as_deref() == Some("force") => {
            match error.code.as_str() {
                "host_has_roles" => "pass --force to remove the host together with its roles",
                "host_draining" => {
                    "pass --force to remove it now; what has not flushed yet is lost"
                }
                "storage_move" => {
                    "pass --force to move it anyway; the backend then starts empty at the new place"
                }
                _ => {
                    "pass --force to stop it anyway; the ring then refuses writes until enough members are ready"
                }
            }
        }
        _ => return CtlError::Client(e),
    };
    CtlError::Hinted {
        source: Box::new(CtlError::Client(e)),
        hint,
    }
}

async fn host_show(client: &Client, out: Output, name: &HostName) -> Result<(), CtlError> {
    let record = client.host(name).await?;
    let table = match out {
        Output::Json => String::new(),
        Output::Table => {
            let status = client.status().await?;
            let host = status.value.hosts.iter().find(|h| &h.name == name);
            output::status::host(&record.value, host)
        }
    };
    print(out, &record, table);
    Ok(())
}

async fn config_get(client: &Client, out: Output, key: Option<String>) -> Result<(), CtlError> {
    let mut answer = client.settings().await?;
    if let Some(key) = key {
        let found = answer.value.iter().position(|s| s.key == key);
        let Some(i) = found else {
            // The model's own message, with its "did you mean" suggestion.
            let msg = settings::key(&key).err().map_or_else(
                || format!("the coordinator has no setting '{key}'"),
                |e| e.to_string(),
            );
            return Err(CtlError::Rejected(msg));
        };
        let entry = answer.value.swap_remove(i);
        let json = answer.json.get(i).cloned().unwrap_or_default();
        answer = Answer {
            value: vec![entry],
            json,
        };
    }
    print(out, &answer, output::settings(&answer.value));
    Ok(())
}

async fn config_set(client: &Client, out: Output, s: ConfigSet) -> Result<(), CtlError> {
    let value = match (s.from_stdin, s.from_file, s.value) {
        (true, _, _) => crate::secret::read(&s.key)?,
        (false, Some(path), _) => crate::value_file::read_file(&s.key, &path)?,
        (false, None, Some(v)) => {
            // Refuse before a secret travels as a plain argument would; same text as the API.
            if let Ok(spec) = settings::key(&s.key)
                && spec.secret
            {
                let e = settings::SettingError::SecretViaValue { key: spec.key };
                return Err(CtlError::Rejected(e.to_string()));
            }
            v
        }
        (false, None, None) => {
            return Err(CtlError::Usage(format!(
                "give a value for {}, --from-stdin or --from-file PATH",
                s.key
            )));
        }
    };
    if s.plan.dry_run {
        let change = Change::Set {
            key: s.key.clone(),
            value,
            force: s.force,
        };
        return dry_run(client, out, change, None).await;
    }
    let answer = client
        .set_setting(&s.key, value, s.force, s.plan.check_index)
        .await
        .map_err(force_hint)?;
    print(out, &answer, output::setting_changed(&answer.value));
    Ok(())
}

async fn wait_cmd(client: &Client, w: Wait) -> Result<(), CtlError> {
    let index = match w.index {
        Some(i) => i,
        None => {
            let status = client.status().await?;
            let host = status.value.hosts.iter().find(|h| h.name == w.host);
            match host {
                Some(h) => h.desired_index,
                None => {
                    return Err(CtlError::Rejected(format!(
                        "host {} is not known to the coordinator; check the name with `lgtmctl hosts`",
                        w.host
                    )));
                }
            }
        }
    };
    let goal = Goal {
        host: w.host,
        index,
        gone: Vec::new(),
    };
    let done = wait::until(client, &goal, w.timeout).await?;
    println!("{done}");
    Ok(())
}
