//! The cluster subsystem: one writer thread owns the store and the intent; readers get
//! immutable [`View`]s from a `watch` channel, which is also what long-polls wait on.
//!
//! Every accepted change is planned ([`ops::plan`]), rendered for every host, committed to
//! the store with the hosts whose content moved ([`marks::advance`]), and only then published
//! and answered, so an acknowledged change is durable and visible.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;

use lgtm_model::HostName;
use lgtm_model::render::{HostIntent, RenderError};
use lgtm_model::settings::SettingError;
use lgtm_model::topology::Topology;
use tokio::sync::{mpsc, oneshot, watch};

use crate::store::{Commit, Mark, Store, StoreError};

mod intent;
mod marks;
pub mod ops;
mod readiness;
mod view;

pub use intent::{HostContent, Intent, Rendered};
pub use ops::{ChangeError, Op, Reply};
pub use readiness::Readiness;
pub use view::{HostView, View};

/// An accepted operation: the cluster index after it, and the reply.
#[derive(Clone, Debug)]
pub struct Applied {
    /// Cluster index after the operation (unchanged for a no-op).
    pub index: u64,
    /// Whether anything changed.
    pub changed: bool,
    /// The answer.
    pub reply: Reply,
}

/// Why the cluster could not start from the stored state.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("failed to load the cluster state")]
    Store(#[from] StoreError),
    #[error("the stored setting {key} is no longer valid; set it again with `lgtmctl config set`")]
    Setting {
        /// The key.
        key: String,
        #[source]
        source: SettingError,
    },
    #[error("failed to start the store thread")]
    Thread(#[source] std::io::Error),
    #[error("failed to open the credentials")]
    Credentials(#[from] crate::credentials::CredentialError),
}

struct Job {
    op: Op,
    reply: oneshot::Sender<Result<Applied, ChangeError>>,
}

/// Handle to the cluster: cheap to clone, used by every request.
#[derive(Clone, Debug)]
pub struct Cluster {
    jobs: mpsc::Sender<Job>,
    view: watch::Receiver<Arc<View>>,
}

/// The writer thread; [`Writer::join`] waits for it once every [`Cluster`] handle is gone.
#[derive(Debug)]
pub struct Writer(thread::JoinHandle<()>);

impl Writer {
    /// Waits until the writer thread has closed the store.
    pub fn join(self) {
        // The thread only panics on a bug; there is nothing left to clean up then.
        let _ = self.0.join();
    }
}

impl Cluster {
    /// Loads the store, reconciles desired indexes with the current rendering, and starts
    /// the writer thread.
    pub fn start(mut store: Box<dyn Store>) -> Result<(Cluster, Writer), StartError> {
        let stored = store.load()?;
        let mut core = Core::recover(store, stored)?;
        let (publish, view) = watch::channel(Arc::new(core.view()));
        let (jobs, mut queue) = mpsc::channel::<Job>(1024);
        let handle = thread::Builder::new()
            .name("lgtm-store".into())
            .spawn(move || {
                while let Some(job) = queue.blocking_recv() {
                    let result = core.apply(&job.op);
                    if let Ok(applied) = &result {
                        if applied.changed {
                            // Published before answering: whoever hears "ok" can read it.
                            publish.send_replace(Arc::new(core.view()));
                            tracing::info!(index = applied.index, op = %job.op, "change accepted");
                        } else {
                            tracing::debug!(index = applied.index, op = %job.op, "no change");
                        }
                    }
                    let _ = job.reply.send(result);
                }
            })
            .map_err(StartError::Thread)?;
        Ok((Cluster { jobs, view }, Writer(handle)))
    }

    /// Whether the writer thread still takes changes.
    pub fn is_running(&self) -> bool {
        !self.jobs.is_closed()
    }

    /// The current snapshot.
    pub fn view(&self) -> Arc<View> {
        self.view.borrow().clone()
    }

    /// A receiver that sees every new snapshot; long-polls wait on it.
    pub fn subscribe(&self) -> watch::Receiver<Arc<View>> {
        self.view.clone()
    }

    /// Applies one operation; `Ok` means it is durable and published.
    pub async fn apply(&self, op: Op) -> Result<Applied, ChangeError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { op, reply })
            .await
            .map_err(|_| ChangeError::Stopped)?;
        answer.await.map_err(|_| ChangeError::Stopped)?
    }
}

/// The writer's state: the only mutable copy of the cluster.
struct Core {
    store: Box<dyn Store>,
    index: u64,
    intent: Intent,
    /// The topology `rendered` was rendered from: the next change compares against it.
    topology: Topology,
    rendered: BTreeMap<HostName, Rendered>,
    marks: BTreeMap<HostName, Mark>,
}

impl Core {
    /// Rebuilds the intent from the store; hosts whose rendering differs from what was last
    /// stored (a new coordinator renders differently, or marks predate the schema) move to a
    /// new index in one commit, so agents pick the change up.
    fn recover(
        mut store: Box<dyn Store>,
        stored: crate::store::Stored,
    ) -> Result<Core, StartError> {
        let mut intent = Intent {
            secrets: stored.secrets,
            ..Intent::default()
        };
        for (key, value) in &stored.settings {
            intent
                .settings
                .set(key, value)
                .map_err(|source| StartError::Setting {
                    key: key.clone(),
                    source,
                })?;
        }
        let mut prev = BTreeMap::new();
        for (name, host) in stored.hosts {
            if let Some(mark) = host.mark {
                prev.insert(name.clone(), mark);
            }
            let intent_host = HostIntent {
                address: host.address,
                data_root: host.data_root,
                roles: host.roles,
            };
            intent.hosts.insert(name, intent_host);
        }
        intent.readiness = Readiness::recovered(intent.hosts.keys().cloned());
        let (topology, rendered) = intent.render_all();
        let mut index = stored.index;
        let (marks, moved) = marks::advance(&prev, &BTreeMap::new(), &rendered, index + 1);
        if !moved.is_empty() {
            index += 1;
            store.commit(&Commit {
                index,
                changes: Vec::new(),
                marks: moved.clone(),
            })?;
            tracing::info!(
                index,
                hosts = moved.len(),
                "desired state of hosts re-rendered at start"
            );
        }
        Ok(Core {
            store,
            index,
            intent,
            topology,
            rendered,
            marks,
        })
    }

    fn apply(&mut self, op: &Op) -> Result<Applied, ChangeError> {
        let mut plan = ops::plan(&self.intent, op)?;
        let readiness_moved = plan.next.readiness != self.intent.readiness;
        if plan.changes.is_empty() && !readiness_moved {
            return Ok(Applied {
                index: self.index,
                changed: false,
                reply: plan.reply,
            });
        }
        let index = self.index + 1;
        let (topology, rendered) = plan
            .next
            .rerender(&self.intent, &self.topology, &self.rendered);
        let (marks, moved) = marks::advance(&self.marks, &self.rendered, &rendered, index);
        if plan.changes.is_empty() && moved.is_empty() {
            // Readiness moved without moving any gateway's content: nothing to store.
            self.intent = plan.next;
            self.topology = topology;
            self.rendered = rendered;
            self.marks = marks;
            return Ok(Applied {
                index: self.index,
                changed: true,
                reply: plan.reply,
            });
        }
        self.store
            .commit(&Commit {
                index,
                changes: plan.changes,
                marks: moved,
            })
            .map_err(ChangeError::Store)?;
        if let (Some(host), Some(warnings)) = (target(op), plan.reply.warnings_mut()) {
            warnings.extend(render_warning(rendered.get(host)));
        }
        self.index = index;
        self.intent = plan.next;
        self.topology = topology;
        self.rendered = rendered;
        self.marks = marks;
        Ok(Applied {
            index,
            changed: true,
            reply: plan.reply,
        })
    }

    fn view(&self) -> View {
        let hosts = self
            .intent
            .hosts
            .iter()
            .map(|(name, h)| {
                let rendered = self
                    .rendered
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| Err(RenderError::UnknownHost(name.clone())));
                let desired_index = self.marks.get(name).map_or(self.index, |m| m.index);
                let host = HostView {
                    address: h.address,
                    data_root: h.data_root.clone(),
                    roles: h.roles.clone(),
                    desired_index,
                    rendered,
                    ready: self.intent.readiness.reported(name).cloned(),
                };
                (name.clone(), host)
            })
            .collect();
        View {
            index: self.index,
            settings: self.intent.settings.clone(),
            secrets_set: self.intent.secrets.keys().cloned().collect(),
            hosts,
        }
    }
}

/// The host an operation is about, when its rendering is worth a warning.
fn target(op: &Op) -> Option<&HostName> {
    match op {
        Op::Assign { host, .. } | Op::Unassign { host, .. } => Some(host),
        _ => None,
    }
}

/// A render problem other than "not registered" (which the assignment already warns about).
fn render_warning(rendered: Option<&Rendered>) -> Option<String> {
    match rendered? {
        Err(RenderError::NotRegistered(_)) | Ok(_) => None,
        Err(e) => Some(format!("the host's desired state cannot be rendered: {e}")),
    }
}

#[cfg(test)]
mod tests;
