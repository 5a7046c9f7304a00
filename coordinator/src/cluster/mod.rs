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
pub mod rollout;
mod view;

pub use intent::{HostContent, Intent, Rendered};
pub use ops::{ChangeError, Op, Reply, RolloutOp};
pub use readiness::Readiness;
pub use view::{HostView, RolloutView, View};

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
    #[error(
        "the stored rollout state is not readable; fix or remove the row of table rollout in the state database"
    )]
    Rollout(#[source] serde_json::Error),
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
    /// What the intent renders for every host (the rollout's target).
    rendered: BTreeMap<HostName, Rendered>,
    /// What every host is given: `rendered`, with processes held by the rollout in their
    /// running version. Marks follow this.
    published: BTreeMap<HostName, Rendered>,
    marks: BTreeMap<HostName, Mark>,
    rollout: rollout::Record,
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
        let mut record = match &stored.rollout {
            Some(text) => rollout::Record::from_json(text).map_err(StartError::Rollout)?,
            None => rollout::Record::default(),
        };
        intent.draining = record.machine.draining();
        let (topology, rendered) = intent.render_all();
        // What hosts were given is not stored, only what is held back from them: processes
        // without a hold are taken to run their target already.
        let (published, held) =
            rollout::publish_all(&BTreeMap::new(), &BTreeMap::new(), &rendered, &record.held);
        let held_moved = held != record.held;
        record.held = held;
        let mut index = stored.index;
        let (marks, moved) = marks::advance(&prev, &BTreeMap::new(), &published, index + 1);
        if !moved.is_empty() || held_moved {
            index += 1;
            store.commit(&Commit {
                index,
                changes: Vec::new(),
                marks: moved.clone(),
                rollout: held_moved.then(|| record.to_json()),
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
            published,
            marks,
            rollout: record,
        })
    }

    fn apply(&mut self, op: &Op) -> Result<Applied, ChangeError> {
        if let Op::Rollout(r) = op {
            return self.apply_rollout(r);
        }
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
        let (published, held) = rollout::publish_all(
            &self.rendered,
            &self.published,
            &rendered,
            &self.rollout.held,
        );
        let held_moved = held != self.rollout.held;
        let (marks, moved) = marks::advance(&self.marks, &self.published, &published, index);
        if plan.changes.is_empty() && moved.is_empty() && !held_moved {
            // Readiness moved without moving any gateway's content: nothing to store.
            self.intent = plan.next;
            self.topology = topology;
            self.rendered = rendered;
            self.published = published;
            self.marks = marks;
            return Ok(Applied {
                index: self.index,
                changed: true,
                reply: plan.reply,
            });
        }
        let mut record = self.rollout.clone();
        record.held = held;
        self.store
            .commit(&Commit {
                index,
                changes: plan.changes,
                marks: moved,
                rollout: held_moved.then(|| record.to_json()),
            })
            .map_err(ChangeError::Store)?;
        if let (Some(host), Some(warnings)) = (target(op), plan.reply.warnings_mut()) {
            warnings.extend(render_warning(rendered.get(host)));
        }
        self.index = index;
        self.intent = plan.next;
        self.topology = topology;
        self.rendered = rendered;
        self.published = published;
        self.marks = marks;
        self.rollout = record;
        Ok(Applied {
            index,
            changed: true,
            reply: plan.reply,
        })
    }

    /// Records rollout decisions or an operator's pause or resume: released holds give
    /// their hosts the target version of the process, which moves their marks.
    fn apply_rollout(&mut self, op: &RolloutOp) -> Result<Applied, ChangeError> {
        let mut record = self.rollout.clone();
        let released = match op {
            RolloutOp::Decide { events, now } => record.decide(events, *now),
            RolloutOp::Pause { reason, now } => {
                record.machine.pause(reason.clone(), *now);
                Vec::new()
            }
            RolloutOp::Resume { now } => {
                record.machine.resume(*now);
                Vec::new()
            }
        };
        if record == self.rollout {
            return Ok(Applied {
                index: self.index,
                changed: false,
                reply: Reply::Rollout,
            });
        }
        let index = self.index + 1;
        // Released hosts are given their target first: what follows is worked out from what
        // hosts are given, and must not hold the released processes back again.
        let mut given = self.published.clone();
        let none = rollout::HostHolds::new();
        for host in &released {
            if let Some(Ok(target)) = self.rendered.get(host) {
                let holds = record.held.get(host).unwrap_or(&none);
                given.insert(host.clone(), rollout::publish(target, holds));
            }
        }
        // Gateways stop routing to what is about to restart, until it is through.
        let mut intent = self.intent.clone();
        intent.draining = record.machine.draining();
        let (topology, rendered, published) = if intent.draining == self.intent.draining {
            (self.topology.clone(), self.rendered.clone(), given)
        } else {
            let (topology, rendered) =
                intent.rerender(&self.intent, &self.topology, &self.rendered);
            let (published, held) =
                rollout::publish_all(&self.rendered, &given, &rendered, &record.held);
            record.held = held;
            (topology, rendered, published)
        };
        let (marks, moved) = marks::advance(&self.marks, &self.published, &published, index);
        self.store
            .commit(&Commit {
                index,
                changes: Vec::new(),
                marks: moved,
                rollout: Some(record.to_json()),
            })
            .map_err(ChangeError::Store)?;
        self.index = index;
        self.intent = intent;
        self.topology = topology;
        self.rendered = rendered;
        self.published = published;
        self.marks = marks;
        self.rollout = record;
        Ok(Applied {
            index,
            changed: true,
            reply: Reply::Rollout,
        })
    }

    fn view(&self) -> View {
        let hosts = self
            .intent
            .hosts
            .iter()
            .map(|(name, h)| {
                let rendered = self
                    .published
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| Err(RenderError::UnknownHost(name.clone())));
                let desired_index = self.marks.get(name).map_or(self.index, |m| m.index);
                let target = self
                    .rendered
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| Err(RenderError::UnknownHost(name.clone())));
                let host = HostView {
                    target,
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
            rollout: Arc::new(RolloutView {
                machine: self.rollout.machine.clone(),
                waiting: self.rollout.waiting(),
            }),
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
