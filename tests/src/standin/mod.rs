//! The stand-in backend: one binary that answers as Mimir, Loki or Tempo (by argv[0]'s name or
//! `--as NAME`) with the real binaries' command line, strict config checking, ports and admin
//! endpoints, so the agent runs it exactly as it runs the real thing; plus fault injection
//! (`/standin/crash`, `/standin/slow`, `LGTM_STANDIN_FAIL_START`) and a record of every client
//! request (`/standin/requests`) for end-to-end tests. A config on S3 is checked at start by
//! writing and reading an object at each location with the credentials given ([`bucket`]);
//! until that works the process is not ready, and `/standin/storage` shows what was tried.

pub mod bucket;
pub mod cli;
pub mod config;
pub mod expand;
pub mod http;
pub mod sockets;
pub mod state;
pub mod storage;
pub mod targets;
pub mod wiring;
pub mod workers;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use lgtm_model::Backend;
use lgtm_model::catalog::catalog;

use cli::{Invocation, Mode};
use state::Shared;

/// Env var: fail at start (exit 1) when `1`.
pub const FAIL_START_ENV: &str = "LGTM_STANDIN_FAIL_START";
/// Env var: milliseconds before `/ready` answers 200.
pub const READY_DELAY_ENV: &str = "LGTM_STANDIN_READY_DELAY_MS";

/// Runs the stand-in with this process's argv; the exit code follows the real binaries.
pub fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    let argv0 = if args.is_empty() {
        String::new()
    } else {
        args.remove(0)
    };
    let backend = match cli::personality(&argv0, &mut args) {
        Ok(b) => b,
        Err(e) => return fail(2, &e.to_string()),
    };
    let inv = match cli::parse(backend, &args) {
        Ok(inv) => inv,
        Err(e) => return fail(2, &format!("{e}\nUsage of {backend}: see -help")),
    };
    match inv.mode {
        Mode::Version => {
            println!(
                "{}, version 0.0.0-lgtm-standin (branch: standin, revision: standin)",
                title(backend)
            );
            return ExitCode::SUCCESS;
        }
        Mode::Help => {
            println!(
                "Usage of {backend} (lgtm stand-in): -config.file=FILE [-target=MODULES] [-config.expand-env]"
            );
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    if !inv.positional.is_empty() {
        eprintln!(
            "level=warn msg=\"ignoring arguments after the flags\" args={:?}",
            inv.positional
        );
    }
    if std::env::var(FAIL_START_ENV).is_ok_and(|v| v == "1") {
        return fail(
            1,
            &format!("error initialising module: failing at start because {FAIL_START_ENV}=1"),
        );
    }
    let config = match config::load(&inv) {
        Ok(c) => c,
        Err(e) => return fail(1, &e.to_string()),
    };
    match inv.mode {
        Mode::Modules => {
            print_modules(backend);
            return ExitCode::SUCCESS;
        }
        Mode::Verify => {
            eprintln!("level=info msg=\"config is valid\"");
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let given = inv
        .target
        .clone()
        .or_else(|| config::config_target(&config.value));
    let targets = match targets::parse_targets(backend, given.as_deref()) {
        Ok(t) => t,
        Err(e) => return fail(1, &e.to_string()),
    };
    let modules = targets::expand(backend, &targets);
    if let Err(e) = wiring::check(backend, &targets, &modules, &config.value) {
        return fail(1, &e);
    }
    let listen = match config::listen(&inv, &config.value, &modules) {
        Ok(l) => l,
        Err(e) => return fail(1, &e.to_string()),
    };
    let locations = match storage::locations(backend, &config.value) {
        Ok(l) => l,
        Err(e) => return fail(1, &e.to_string()),
    };
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into());
    let ready_delay = std::env::var(READY_DELAY_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::ZERO, Duration::from_millis);
    let needs_queriers = workers::frontend_needs_queriers(backend, &modules, &config.value);
    let shared = Arc::new(Shared::new(
        backend,
        format!("{hostname}/{}", targets.join(",")),
        modules,
        config.text.clone(),
        ready_delay,
        needs_queriers,
    ));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(1, &format!("failed to start the runtime: {e}")),
    };
    runtime.block_on(serve(inv, config.value, listen, targets, shared, locations))
}

fn title(backend: Backend) -> &'static str {
    match backend {
        Backend::Mimir => "Mimir",
        Backend::Loki => "Loki",
        Backend::Tempo => "Tempo",
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(code)
}

/// `mimir -modules`: every module, members of `all` marked with `*`.
fn print_modules(backend: Backend) {
    let all = catalog(backend)
        .meta_roles
        .iter()
        .find(|m| m.name == "all")
        .map_or(&[][..], |m| m.expands);
    for name in targets::valid_targets(backend) {
        let mark = if all.contains(&name) { " *" } else { "" };
        println!("{name}{mark}");
    }
    println!("\nModules marked with * are included in target All.");
}

async fn serve(
    inv: Invocation,
    config_value: serde_json::Value,
    listen: config::Listen,
    targets: Vec<String>,
    shared: Arc<Shared>,
    locations: Vec<storage::Location>,
) -> ExitCode {
    let bound = match sockets::bind(&listen).await {
        Ok(b) => b,
        Err(e) => return fail(1, &e.to_string()),
    };
    let (Ok(mut term), Ok(mut int)) = (
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()),
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()),
    ) else {
        return fail(1, "failed to install signal handlers");
    };
    eprintln!(
        "level=info msg=\"lgtm-standin started\" as={} target={} modules={} http={} grpc={} memberlist={} otlp_grpc={} otlp_http={}",
        inv.backend,
        targets.join(","),
        shared.modules.join(","),
        listen.http,
        listen.grpc,
        listen.memberlist,
        listen.otlp_grpc.map_or("-".into(), |a| a.to_string()),
        listen.otlp_http.map_or("-".into(), |a| a.to_string()),
    );
    if !locations.is_empty() {
        tokio::spawn(bucket::watch(shared.clone(), locations));
    }
    for s in bound.silent {
        tokio::spawn(sockets::drain(s));
    }
    tokio::spawn(workers::serve_frontend(bound.grpc, shared.clone()));
    if shared.runs("querier")
        && let Some(frontend) = workers::frontend_address(inv.backend, &config_value)
    {
        tokio::spawn(workers::pull_from(frontend));
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let graceful = move |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    // Rings show a member at its instance address, as upstream advertises it.
    let member = SocketAddr::new(
        config::instance_addr(&config_value).unwrap_or(listen.grpc.ip()),
        listen.grpc.port(),
    );
    let api = axum::serve(bound.http, http::router(shared.clone(), member))
        .with_graceful_shutdown(graceful(stop_rx.clone()));
    let api = tokio::spawn(async move { api.await });
    let otlp = bound.otlp_http.map(|l| {
        let s = axum::serve(l, http::otlp_router(shared.clone()))
            .with_graceful_shutdown(graceful(stop_rx.clone()));
        tokio::spawn(async move { s.await })
    });
    // Mimir units are Type=notify: READY once listening, like Mimir once its modules run.
    if inv.backend == Backend::Mimir && std::env::var_os("NOTIFY_SOCKET").is_some() {
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    }
    let mut exits = shared.exit_requests();
    let code = tokio::select! {
        _ = term.recv() => 0,
        _ = int.recv() => 0,
        r = exits.wait_for(Option::is_some) => r.ok().and_then(|c| *c).unwrap_or(0),
    };
    shared.set_stopping();
    if inv.backend == Backend::Mimir && std::env::var_os("NOTIFY_SOCKET").is_some() {
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    }
    eprintln!("level=info msg=\"lgtm-standin stopping\" exit_code={code}");
    let _ = stop_tx.send(true);
    // Drain in-flight answers, but never hang a stop on a stuck client.
    let _ = tokio::time::timeout(Duration::from_secs(5), api).await;
    if let Some(o) = otlp {
        let _ = tokio::time::timeout(Duration::from_secs(5), o).await;
    }
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
