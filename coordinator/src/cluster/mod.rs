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
use lgtm_model::process::ProcessId;
use lgtm_model::render::{HostIntent, RenderError};
use lgtm_model::settings::SettingError;
use lgtm_model::topology::Topology;
use lgtm_model::wire::ChangePlan;
use tokio::sync::{mpsc, oneshot, watch};

use crate::store::{Change, Commit, Mark, Store, StoreError};

mod intent;
mod marks;
pub mod ops;
mod preview;
mod readiness;
pub mod rollout;
mod signals;
mod view;

pub use intent::{HostContent, Intent, Rendered};
pub use ops::{ChangeError, Op, Reply, RolloutOp};
pub use readiness::Readiness;
pub use signals::Signals;
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

/// Most jobs the writer takes from its queue at once.
const MAX_BATCH: usize = 512;

enum Job {
    /// Apply `op`, if the intent index is still `expect` (when given).
    Apply {
        op: Op,
        expect: Option<u64>,
        reply: oneshot::Sender<Result<Applied, ChangeError>>,
    },
    /// Plan `op` without applying it.
    Plan {
        op: Op,
        reply: oneshot::Sender<Result<ChangePlan, ChangeError>>,
    },
}

/// Handle to the cluster: cheap to clone, used by every request.
#[derive(Clone, Debug)]
pub struct Cluster {
    jobs: mpsc::Sender<Job>,
    view: watch::Receiver<Arc<View>>,
    signals: Arc<Signals>,
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
        let signals = Arc::new(Signals::default());
        let wake = signals.clone();
        let handle = thread::Builder::new()
            .name("lgtm-store".into())
            .spawn(move || {
                while let Some(first) = queue.blocking_recv() {
                    let mut jobs = vec![first];
                    while jobs.len() < MAX_BATCH
                        && let Ok(job) = queue.try_recv()
                    {
                        jobs.push(job);
                    }
                    let answers = core.work(jobs);
                    if answers
                        .iter()
                        .any(|a| a.result.as_ref().is_ok_and(|a| a.changed))
                    {
                        // Published before answering: whoever hears "ok" can read it.
                        let after = Arc::new(core.view());
                        let before = publish.send_replace(after.clone());
                        wake.wake(&before, &after);
                    }
                    for a in answers {
                        match &a.result {
                            Ok(x) if x.changed => {
                                tracing::info!(index = x.index, op = %a.op, "change accepted");
                            }
                            Ok(x) => tracing::debug!(index = x.index, op = %a.op, "no change"),
                            Err(_) => {}
                        }
                        let _ = a.reply.send(a.result);
                    }
                }
            })
            .map_err(StartError::Thread)?;
        let cluster = Cluster {
            jobs,
            view,
            signals,
        };
        Ok((cluster, Writer(handle)))
    }

    /// Whether the writer thread still takes changes.
    pub fn is_running(&self) -> bool {
        !self.jobs.is_closed()
    }

    /// The current snapshot.
    pub fn view(&self) -> Arc<View> {
        self.view.borrow().clone()
    }

    /// Per-host signals, raised once a host's desired state moved (it is published then).
    pub fn signals(&self) -> &Signals {
        &self.signals
    }

    /// A receiver that sees every new snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Arc<View>> {
        self.view.clone()
    }

    /// Applies one operation; `Ok` means it is durable and published.
    pub async fn apply(&self, op: Op) -> Result<Applied, ChangeError> {
        self.apply_checked(op, None).await
    }

    /// Applies one operation only while the intent index is still `expect` (when given).
    pub async fn apply_checked(&self, op: Op, expect: Option<u64>) -> Result<Applied, ChangeError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Apply { op, expect, reply }).await?;
        answer.await.map_err(|_| ChangeError::Stopped)?
    }

    /// What `op` would do; nothing is applied.
    pub async fn plan(&self, op: Op) -> Result<ChangePlan, ChangeError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Plan { op, reply }).await?;
        answer.await.map_err(|_| ChangeError::Stopped)?
    }

    async fn send(&self, job: Job) -> Result<(), ChangeError> {
        self.jobs.send(job).await.map_err(|_| ChangeError::Stopped)
    }
}

/// An applied job's answer, sent once the change is published.
struct Answer {
    op: Op,
    result: Result<Applied, ChangeError>,
    reply: oneshot::Sender<Result<Applied, ChangeError>>,
}

/// A planned change on its way to the store.
struct Pending<'a> {
    /// The intent after it.
    next: Intent,
    /// What the store applies.
    changes: Vec<Change>,
    /// The host whose leaving ring members stop at once (`--force`).
    abandoned: Option<&'a HostName>,
    /// An abort ends a pause at this time.
    resume_at: Option<u64>,
}

/// The writer's state: the only mutable copy of the cluster.
struct Core {
    store: Box<dyn Store>,
    index: u64,
    /// The index of the last change to the intent's hosts, roles or settings.
    intent_index: u64,
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
        let (published, held) = rollout::publish_all(
            &BTreeMap::new(),
            &BTreeMap::new(),
            &rendered,
            &record.held,
            None,
        );
        let held_moved = held != record.held;
        record.held = held;
        let (topology, rendered, published) =
            if !rollout::follow_holds(&mut intent, &record.held, &rendered) {
                (topology, rendered, published)
            } else {
                // Gateways leave out what runs an old replication factor and keep what retires:
                // render them again.
                let (topology, rendered) = intent.render_all();
                let given = published;
                let (published, _) =
                    rollout::publish_all(&BTreeMap::new(), &given, &rendered, &record.held, None);
                (topology, rendered, published)
            };
        let mut index = stored.index;
        // A database from before the intent index was kept: the last index stands in.
        let intent_index = match stored.intent_index {
            0 => stored.index,
            i => i,
        };
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
            intent_index,
            intent,
            topology,
            rendered,
            published,
            marks,
            rollout: record,
        })
    }

    /// Works through jobs taken from the queue together, in order: operations that may
    /// go together ([`Op::batches`]) are applied as one change; the answers to send once
    /// the result is published.
    fn work(&mut self, jobs: Vec<Job>) -> Vec<Answer> {
        let mut answers = Vec::new();
        let mut batch: Vec<(Op, oneshot::Sender<Result<Applied, ChangeError>>)> = Vec::new();
        for job in jobs {
            match job {
                Job::Apply {
                    op,
                    expect: None,
                    reply,
                } if op.batches() => batch.push((op, reply)),
                Job::Apply { op, expect, reply } => {
                    self.apply_batch(std::mem::take(&mut batch), &mut answers);
                    let result = self.apply(&op, expect);
                    answers.push(Answer { op, result, reply });
                }
                Job::Plan { op, reply } => {
                    self.apply_batch(std::mem::take(&mut batch), &mut answers);
                    let _ = reply.send(self.preview(&op));
                }
            }
        }
        self.apply_batch(batch, &mut answers);
        answers
    }

    /// Applies operations that arrived together as one change: each is planned on what the
    /// ones before it left (a refused one leaves nothing), then one rendering, one commit
    /// and one publication serve them all, and each gets its own answer. A registration
    /// storm or thousands of agents' first reports cost a few changes, not thousands.
    fn apply_batch(
        &mut self,
        batch: Vec<(Op, oneshot::Sender<Result<Applied, ChangeError>>)>,
        answers: &mut Vec<Answer>,
    ) {
        if batch.len() <= 1 {
            for (op, reply) in batch {
                let result = self.apply(&op, None);
                answers.push(Answer { op, result, reply });
            }
            return;
        }
        let mut next = self.intent.clone();
        let mut changes = Vec::new();
        let mut planned = Vec::with_capacity(batch.len());
        for (op, _) in &batch {
            let moves_readiness = matches!(op, Op::Ready { host, ready }
                if next.hosts.contains_key(host) && next.readiness.reported(host) != Some(ready));
            let plan = self
                .check_retiring(op)
                .and_then(|()| ops::plan_into(&mut next, op))
                .map(|(own, reply)| {
                    let changed = !own.is_empty() || moves_readiness;
                    changes.extend(own);
                    (reply, changed)
                });
            planned.push(plan);
        }
        let pending = Pending {
            next,
            changes,
            abandoned: None,
            resume_at: None,
        };
        let settled = self.settle(pending);
        for ((op, reply), plan) in batch.into_iter().zip(planned) {
            let result = match (&settled, plan) {
                (_, Err(e)) => Err(e),
                (Err(e), Ok(_)) => Err(ChangeError::Store(e.clone())),
                (Ok(_), Ok((mut reply, changed))) => {
                    if changed {
                        self.warn_render(&op, &mut reply);
                    }
                    Ok(Applied {
                        index: self.index,
                        changed,
                        reply,
                    })
                }
            };
            answers.push(Answer { op, result, reply });
        }
    }

    fn apply(&mut self, op: &Op, expect: Option<u64>) -> Result<Applied, ChangeError> {
        if let Some(expected) = expect
            && expected != self.intent_index
        {
            return Err(ChangeError::IndexMoved {
                expected,
                now: self.intent_index,
            });
        }
        if let Op::Rollout(r) = op {
            return self.apply_rollout(r);
        }
        let plan = self.plan(op)?;
        let mut reply = plan.reply;
        let pending = Pending {
            next: plan.next,
            changes: plan.changes,
            abandoned: abandoned(op),
            resume_at: match op {
                Op::Abort { now } => Some(*now),
                _ => None,
            },
        };
        let changed = self.settle(pending).map_err(ChangeError::Store)?;
        if changed {
            self.warn_render(op, &mut reply);
        }
        Ok(Applied {
            index: self.index,
            changed,
            reply,
        })
    }

    /// Adds to an answer what keeps its host's desired state from rendering.
    fn warn_render(&self, op: &Op, reply: &mut Reply) {
        if let (Some(host), Some(warnings)) = (target(op), reply.warnings_mut()) {
            warnings.extend(render_warning(self.rendered.get(host)));
        }
    }

    /// Renders a planned change, commits it with the hosts whose content moved, and takes
    /// it as the current state; whether anything changed. On a store error nothing changes.
    fn settle(&mut self, mut p: Pending<'_>) -> Result<bool, Arc<StoreError>> {
        let readiness_moved = p.next.readiness != self.intent.readiness;
        let abandons = p
            .abandoned
            .is_some_and(|h| self.rollout.held.contains_key(h));
        let resumes = p.resume_at.is_some() && self.rollout.machine.paused.is_some();
        if p.changes.is_empty() && !readiness_moved && !abandons && !resumes {
            return Ok(false);
        }
        let index = self.index + 1;
        let (topology, rendered, published, held) = self.render_next(
            &mut p.next,
            &self.published,
            &self.rollout.held,
            p.abandoned,
        );
        let mut record = self.rollout.clone();
        record.held = held;
        if let Some(now) = p.resume_at {
            record.machine.resume(now);
        }
        record.follow_baseline(&self.intent);
        let record_moved = record != self.rollout;
        let (marks, moved) = marks::advance(&self.marks, &self.published, &published, index);
        let intent_changed = !p.changes.is_empty();
        if intent_changed || !moved.is_empty() || record_moved {
            self.store
                .commit(&Commit {
                    index,
                    changes: p.changes,
                    marks: moved,
                    rollout: record_moved.then(|| record.to_json()),
                })
                .map_err(Arc::new)?;
            if intent_changed {
                self.intent_index = index;
            }
            self.index = index;
            self.rollout = record;
        }
        // Otherwise readiness moved without moving any gateway's content: nothing to store.
        self.intent = p.next;
        self.topology = topology;
        self.rendered = rendered;
        self.published = published;
        self.marks = marks;
        Ok(true)
    }

    /// Plans `op` against the intent, with what retiring processes add: a host cannot be
    /// removed nor take a role joining their rings while they drain, and unassigning a role
    /// already gone with `--force` abandons the drain of its process.
    fn plan(&self, op: &Op) -> Result<ops::Plan, ChangeError> {
        if let Op::Abort { .. } = op {
            return self.plan_abort();
        }
        self.check_retiring(op)?;
        if let Op::RemoveHost { host, force: false } = op {
            let retiring = self.rollout.retiring(host, &self.rendered);
            if !retiring.is_empty() {
                return Err(ChangeError::Retiring {
                    host: host.clone(),
                    processes: retiring
                        .iter()
                        .map(|p| p.id.unit_name())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        match ops::plan(&self.intent, op) {
            Err(ChangeError::NotAssigned { host, role, .. })
                if matches!(op, Op::Unassign { force: true, .. })
                    && self
                        .rollout
                        .retiring(&host, &self.rendered)
                        .iter()
                        .any(|p| p.id == ProcessId::for_role(role)) =>
            {
                // The role went already and its process still drains: stop it now.
                Ok(ops::Plan {
                    next: self.intent.clone(),
                    changes: Vec::new(),
                    reply: Reply::Unassigned {
                        role,
                        warnings: vec![format!(
                            "{} on {host} stops at once: its drain is abandoned, and what it has not flushed when it stops is lost",
                            ProcessId::for_role(role).unit_name()
                        )],
                    },
                })
            }
            plan => plan,
        }
    }

    /// Renders `next` after a change and what every host is given, from what hosts were
    /// `given` and the rollout's `held` processes: (topology, targets, given, holds).
    /// Gateways leave out processes still on a replication factor the change moves, which
    /// only the holds tell: when those move, gateways render again.
    #[allow(clippy::type_complexity)]
    fn render_next(
        &self,
        next: &mut Intent,
        given: &BTreeMap<HostName, Rendered>,
        held: &BTreeMap<HostName, rollout::HostHolds>,
        abandoned: Option<&HostName>,
    ) -> (
        Topology,
        BTreeMap<HostName, Rendered>,
        BTreeMap<HostName, Rendered>,
        BTreeMap<HostName, rollout::HostHolds>,
    ) {
        let (topology, rendered) = next.rerender(&self.intent, &self.topology, &self.rendered);
        let (published, holds) =
            rollout::publish_all(&self.rendered, given, &rendered, held, abandoned);
        if !rollout::follow_holds(next, &holds, &rendered) {
            return (topology, rendered, published, holds);
        }
        let (topology, rendered) = next.rerender(&self.intent, &self.topology, &self.rendered);
        let (published, holds) =
            rollout::publish_all(&self.rendered, given, &rendered, held, abandoned);
        (topology, rendered, published, holds)
    }

    /// Plans going back to the roles and settings of the rollout's baseline, as one change
    /// made of the operations that take them back.
    fn plan_abort(&self) -> Result<ops::Plan, ChangeError> {
        let Some(baseline) = &self.rollout.baseline else {
            return Err(ChangeError::NothingToAbort);
        };
        if let Some(step) = self.rollout.machine.steps.iter().find(|s| s.retire) {
            return Err(ChangeError::AbortDraining {
                host: step.key.host.clone(),
                unit: step.key.process.unit_name(),
            });
        }
        let mut next = self.intent.clone();
        let (mut changes, mut reverted, mut warnings) = (Vec::new(), Vec::new(), Vec::new());
        for op in baseline.revert(&self.intent) {
            let mut plan = ops::plan(&next, &op).map_err(|source| ChangeError::AbortRefused {
                op: op.to_string(),
                source: Box::new(source),
            })?;
            next = plan.next;
            changes.extend(plan.changes);
            warnings.extend(
                plan.reply
                    .warnings_mut()
                    .map(std::mem::take)
                    .unwrap_or_default(),
            );
            reverted.push(op.to_string());
        }
        Ok(ops::Plan {
            next,
            changes,
            reply: Reply::Aborted { reverted, warnings },
        })
    }

    /// What `op` would do, worked out as [`Core::apply`] would and then thrown away: the
    /// same refusals, the same warnings, the hosts' changes and the rollout's waves.
    fn preview(&self, op: &Op) -> Result<ChangePlan, ChangeError> {
        let mut plan = self.plan(op)?;
        let abandoned = abandoned(op);
        let (_, rendered, published, held) = self.render_next(
            &mut plan.next,
            &self.published,
            &self.rollout.held,
            abandoned,
        );
        if let (Some(host), Some(warnings)) = (target(op), plan.reply.warnings_mut()) {
            warnings.extend(render_warning(rendered.get(host)));
        }
        let mut secrets = self.intent.secrets.clone();
        for (key, value) in &plan.next.secrets {
            // Both values stay out of the diffs: the old one under another name.
            secrets.insert(format!("{key} (new)"), value.clone());
        }
        let earlier = self
            .rollout
            .waiting(&self.rendered)
            .into_iter()
            .map(|w| w.key)
            .collect();
        let (before, after) = (self.intent.assignments(), plan.next.assignments());
        let paused =
            (self.rollout.machine.paused.as_ref()).filter(|_| !matches!(op, Op::Abort { .. }));
        let reverts = match &plan.reply {
            Reply::Aborted { reverted, .. } => reverted.clone(),
            _ => Vec::new(),
        };
        Ok(ChangePlan {
            intent_index: self.intent_index,
            reverts,
            warnings: plan
                .reply
                .warnings_mut()
                .map(std::mem::take)
                .unwrap_or_default(),
            hosts: preview::hosts(&self.published, &rendered, abandoned, &secrets),
            waves: preview::waves(
                &self.rollout.machine,
                &held,
                &rendered,
                &published,
                &earlier,
                plan.next.settings.rollout,
            ),
            // An abort ends the pause.
            held_up: paused.map(|p| {
                format!(
                    "the rollout is paused ({}): nothing restarts until `lgtmctl rollout resume`",
                    p.reason
                )
            }),
            replication: preview::replication(&before, &after),
            consistency: preview::consistency(&before, &after)
                .into_iter()
                .map(Into::into)
                .collect(),
        })
    }

    /// What an operation that batches needs beyond the intent, alone or in a batch: an
    /// assigned role's targets are not still run by a process retiring on the host.
    fn check_retiring(&self, op: &Op) -> Result<(), ChangeError> {
        match op {
            Op::Assign {
                host,
                role,
                backend,
            } => self.check_not_retiring(host, role, *backend),
            _ => Ok(()),
        }
    }

    /// Refuses a role whose targets a process still retiring on the host runs: both would
    /// join the same rings under the host's name.
    fn check_not_retiring(
        &self,
        host: &HostName,
        role: &str,
        backend: Option<lgtm_model::Backend>,
    ) -> Result<(), ChangeError> {
        let Ok(role) =
            lgtm_model::Role::resolve(role, backend, self.intent.settings.default_backend)
        else {
            return Ok(()); // the plan names what is wrong with it
        };
        let targets = role.expand();
        let busy = self
            .rollout
            .retiring(host, &self.rendered)
            .into_iter()
            .find(|p| {
                p.roles
                    .iter()
                    .flat_map(|r| r.expand())
                    .any(|t| targets.contains(&t))
            });
        match busy {
            Some(p) => Err(ChangeError::RetiringOverlap {
                host: host.clone(),
                role,
                unit: p.id.unit_name(),
                process_role: p.id.role.unwrap_or(lgtm_model::Role::resolve(
                    "all",
                    Some(p.id.backend),
                    p.id.backend,
                )?),
            }),
            None => Ok(()),
        }
    }

    /// Records rollout decisions or an operator's pause or resume: released holds give
    /// their hosts the target version of the process, which moves their marks.
    fn apply_rollout(&mut self, op: &RolloutOp) -> Result<Applied, ChangeError> {
        let mut record = self.rollout.clone();
        let released = match op {
            RolloutOp::Decide { events, now } => {
                let released = record.decide(events, *now);
                record.follow_baseline(&self.intent);
                released
            }
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
        let holds_moved = rollout::follow_holds(&mut intent, &record.held, &self.rendered);
        let (topology, rendered, published) =
            if intent.draining == self.intent.draining && !holds_moved {
                (self.topology.clone(), self.rendered.clone(), given)
            } else {
                let (topology, rendered) =
                    intent.rerender(&self.intent, &self.topology, &self.rendered);
                let (published, held) =
                    rollout::publish_all(&self.rendered, &given, &rendered, &record.held, None);
                record.held = held;
                (topology, rendered, published)
            };
        let (marks, moved) = marks::advance(&self.marks, &self.published, &published, index);
        record
            .machine
            .stamp_released(|host| marks.get(host).map_or(index, |m| m.index));
        self.store
            .commit(&Commit {
                index,
                changes: Vec::new(),
                marks: moved,
                rollout: Some(record.to_json()),
            })
            .map_err(|e| ChangeError::Store(Arc::new(e)))?;
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
            intent_index: self.intent_index,
            settings: self.intent.settings.clone(),
            secrets_set: self.intent.secrets.keys().cloned().collect(),
            hosts,
            rollout: Arc::new(RolloutView {
                machine: self.rollout.machine.clone(),
                waiting: self.rollout.waiting(&self.rendered),
            }),
        }
    }
}

/// The host whose removed ring members an operator stops at once (`--force`).
fn abandoned(op: &Op) -> Option<&HostName> {
    match op {
        Op::Unassign {
            host, force: true, ..
        }
        | Op::Drain {
            host, force: true, ..
        } => Some(host),
        _ => None,
    }
}

/// The host an operation is about, when its rendering is worth a warning.
fn target(op: &Op) -> Option<&HostName> {
    match op {
        Op::Assign { host, .. } | Op::Unassign { host, .. } | Op::Drain { host, .. } => Some(host),
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
