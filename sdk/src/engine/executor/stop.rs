//! How the executor stops when its [`Interrupt`] fires: [`InFlight`] holds
//! the provider calls running now and, once interrupted, waits for them no
//! longer than the grace period, then aborts the rest; [`stop_starting`]
//! withdraws every step not yet started and reports it; [`abandoned`]
//! reports a call cut off at the bound. An abandoned call's begin record
//! stays in the journal (a pending operation), so the next run reconciles it
//! with the cloud.

use super::{Execution, Job, Node, Outcome};
use crate::engine::events::{Event, EventSink};
use crate::engine::interrupt::Interrupt;
use crate::graph::ReadyQueue;
use crate::plan::{Action, Step};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::task::{self, JoinSet};

/// What waiting on the calls in flight produced.
pub(super) enum Joined {
    /// A call ended (successfully or not).
    Job(Box<Job>),
    /// The interrupt fired: stop starting steps.
    Interrupted,
    /// A call still running at the end of the grace period was aborted.
    Abandoned(Node, Action, Duration),
    /// A provider task panicked.
    Panicked(task::JoinError),
}

/// The provider calls in flight and the interrupt that bounds them.
pub(super) struct InFlight<'i> {
    set: JoinSet<Job>,
    running: HashMap<task::Id, (Node, Action, Instant)>,
    interrupt: &'i Interrupt,
    /// When calls still running are abandoned; set once interrupted.
    deadline: Option<tokio::time::Instant>,
    aborted: bool,
}

impl<'i> InFlight<'i> {
    pub(super) fn new(interrupt: &'i Interrupt) -> Self {
        Self {
            set: JoinSet::new(),
            running: HashMap::new(),
            interrupt,
            deadline: None,
            aborted: false,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether steps may still start.
    pub(super) fn accepting(&self) -> bool {
        self.deadline.is_none() && !self.interrupt.is_interrupted()
    }

    /// Starts the call of `node`.
    pub(super) fn spawn(
        &mut self,
        node: Node,
        action: Action,
        call: impl Future<Output = Job> + Send + 'static,
    ) {
        let id = self.set.spawn(call).id();
        self.running.insert(id, (node, action, Instant::now()));
    }

    /// True once, when the interrupt is first seen: the grace period
    /// starts now.
    pub(super) fn take_interrupt(&mut self) -> bool {
        if self.deadline.is_some() || !self.interrupt.is_interrupted() {
            return false;
        }
        self.deadline = Some(tokio::time::Instant::now() + self.interrupt.grace());
        true
    }

    /// The next call to end, the interrupt, or `None` when nothing is in
    /// flight.
    pub(super) async fn next(&mut self) -> Option<Joined> {
        loop {
            if self.deadline.is_none() && self.interrupt.is_interrupted() {
                return Some(Joined::Interrupted);
            }
            if self.set.is_empty() {
                return None;
            }
            let joined = match (self.deadline, self.aborted) {
                (None, _) => tokio::select! {
                    joined = self.set.join_next_with_id() => joined,
                    () = self.interrupt.interrupted() => return Some(Joined::Interrupted),
                },
                (Some(deadline), false) => tokio::select! {
                    biased;
                    joined = self.set.join_next_with_id() => joined,
                    () = tokio::time::sleep_until(deadline) => {
                        // Calls that ended meanwhile still join as jobs.
                        self.set.abort_all();
                        self.aborted = true;
                        continue;
                    }
                },
                (Some(_), true) => self.set.join_next_with_id().await,
            }?;
            return Some(match joined {
                Ok((id, job)) => {
                    self.running.remove(&id);
                    Joined::Job(Box::new(job))
                }
                Err(e) => match self.running.remove(&e.id()) {
                    Some((node, action, start)) if e.is_cancelled() => {
                        Joined::Abandoned(node, action, start.elapsed())
                    }
                    _ => Joined::Panicked(e),
                },
            });
        }
    }
}

/// Withdraws every step not yet started and reports each as not started
/// (the old half of a replacement that didn't start either is part of it).
pub(super) fn stop_starting(
    exec: &mut Execution,
    queue: &mut ReadyQueue<Node>,
    steps: &BTreeMap<Node, &Step>,
    in_flight: &InFlight<'_>,
    events: &dyn EventSink,
) {
    exec.interrupted = true;
    let withdrawn = queue.withdraw_all();
    let mut not_started = 0;
    for node in &withdrawn {
        let step = steps[node];
        let action = match node {
            Node::Delete(urn, _) if step.action == Action::Replace => {
                if withdrawn.contains(&Node::Apply(urn.clone())) {
                    continue;
                }
                Action::Delete
            }
            Node::Delete(..) => Action::Delete,
            Node::Apply(_) => step.action,
        };
        not_started += 1;
        exec.outcomes
            .push((node.urn().clone(), Outcome::NotStarted { action }));
    }
    events.event(&Event::Interrupted {
        in_flight: in_flight.len(),
        not_started,
        grace: in_flight.interrupt.grace(),
    });
}

/// Reports a call aborted at the end of the grace period.
pub(super) fn abandoned(
    exec: &mut Execution,
    node: Node,
    action: Action,
    elapsed: Duration,
    events: &dyn EventSink,
) {
    events.event(&Event::Abandoned {
        urn: node.urn().clone(),
        action,
        elapsed,
    });
    exec.outcomes
        .push((node.urn().clone(), Outcome::Abandoned { action }));
}
