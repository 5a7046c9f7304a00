//! Each command: call the API, print the answer, pick the outcome. Formatting lives in
//! [`crate::output`], waiting in [`crate::wait`].

use std::io::Write;

use clap::CommandFactory;
use lgtm_model::process::{ProcessId, processes};
use lgtm_model::wire::AssignRequest;
use lgtm_model::{HostName, Role, settings};

use crate::cli::{
    AssignRole, Cli, Command, ConfigCommand, ConfigSet, HostCommand, JoinTokenCommand, Output,
    RolloutCommand, UnassignRole, Wait, WaitFlags,
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
    let client = Client::new(cli.coordinator.clone(), token, ca.as_deref())?;
    let out = cli.output;
    match cli.command {
        Command::AssignRole(a) => assign(&client, out, a).await,
        Command::UnassignRole(u) => unassign(&client, out, u).await,
        Command::Hosts | Command::Host(HostCommand::List) => {
            let a = client.hosts().await?;
            print(out, &a, output::hosts(&a.value));
            Ok(())
        }
        Command::Host(HostCommand::Show { name }) => host_show(&client, out, &name).await,
        Command::Host(HostCommand::Remove { name, force }) => {
            let a = client.remove_host(&name, force).await.map_err(force_hint)?;
            eprint!("{}", output::warnings(&a.value.warnings));
            print(out, &a, output::host_removed(&a.value));
            Ok(())
        }
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

async fn assign(client: &Client, out: Output, a: AssignRole) -> Result<(), CtlError> {
    let request = AssignRequest {
        role: a.role,
        backend: a.backend,
    };
    let answer = client.assign(&a.host, &request).await?;
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
    let answer = client
        .unassign(&u.host, &role, u.force)
        .await
        .map_err(force_hint)?;
    let r = &answer.value;
    eprint!("{}", output::warnings(&r.warnings));
    print(out, &answer, output::unassigned(r));
    let gone: Vec<String> = processes(&[r.role])
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
    let done = wait::until(client, &goal, flags.timeout).await?;
    // stdout holds the answer's JSON alone, so programs can parse it.
    match out {
        Output::Table => println!("{done}"),
        Output::Json => eprintln!("{done}"),
    }
    Ok(())
}

/// Adds the `--force` hint to the coordinator's refusal of a destructive change.
fn force_hint(e: ClientError) -> CtlError {
    let hint = match &e {
        ClientError::Api { error, .. } if error.field.as_deref() == Some("force") => {
            match error.code.as_str() {
                "host_has_roles" => "pass --force to remove the host together with its roles",
                _ => {
                    "stateful roles (ingester, store-gateway, compactor, ...) hold data: pass --force to confirm"
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
    let answer = client.set_setting(&s.key, value).await?;
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
