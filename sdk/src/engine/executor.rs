//! The executor: turns a [`Plan`] into a graph of provider calls and drains
//! it with at most `parallel` calls in flight. Each call starts as soon as its
//! own dependencies finish; among ready calls the longest chain goes first
//! (see [`ReadyQueue`]). A `begin` record is durable before a call starts and
//! its result is durable before dependents are released. A failure never
//! aborts the loop: calls in flight finish and are recorded, dependents are
//! skipped once, independent branches go on. Lifecycle guards act here too:
//! a retained resource's delete only drops it from state, and guards whose
//! recorded flags changed are recorded without a provider call.
//! Each provider call is retried as `retry` says (by the run's
//! [`RetryPolicy`]).
//! An [`super::Interrupt`] stops it starting steps (see `stop`).

mod calls;
mod stop;

use super::ApplyOptions;
use super::events::{Event, EventSink};
use super::retry;
use crate::graph::{Dag, ReadyQueue};
use crate::plan::{Action, Plan, Step};
use crate::provider::{Provider, ProviderError};
use crate::resource::Urn;
use crate::stack::Stack;
use crate::state::{JournalRecord, Snapshot, StateError, StateStore};
use calls::{Prepared, begin_record, op_name, prepare, run};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stop::{InFlight, Joined};

/// A unit of execution: apply a declared resource, or delete a recorded one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Node {
    Apply(Urn),
    Delete(Urn, String),
}

impl Node {
    fn urn(&self) -> &Urn {
        match self {
            Node::Apply(u) | Node::Delete(u, _) => u,
        }
    }
}

/// How one step ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The provider call succeeded (or nothing needed doing).
    Done {
        /// What was done (`Same` when nothing needed a call).
        action: Action,
    },
    /// The provider call failed.
    Failed {
        /// What was tried.
        action: Action,
        /// The provider's error.
        error: ProviderError,
    },
    /// Not attempted: a dependency failed.
    Skipped {
        /// What would have been done.
        action: Action,
        /// The failure that blocked it.
        blocked_by: Urn,
    },
    /// Not attempted: the run was interrupted first.
    NotStarted {
        /// What would have been done.
        action: Action,
    },
    /// The call was still running when the run, interrupted, stopped
    /// waiting for it: its begin record stays pending in state until the
    /// next run reconciles it with the cloud.
    Abandoned {
        /// What was being done.
        action: Action,
    },
}

/// The result of executing a plan.
#[derive(Debug, Default)]
pub struct Execution {
    /// Per resource (a replacement reports its last part), in completion order.
    pub outcomes: Vec<(Urn, Outcome)>,
    /// The most provider calls that were ever in flight at once.
    pub max_in_flight: usize,
    /// Provider calls made (retries not counted).
    pub provider_calls: usize,
    /// Retries of provider calls that had failed transiently.
    pub retries: usize,
    /// Set if state could not be recorded; the run stopped starting work.
    pub state_error: Option<String>,
    /// Whether an [`super::Interrupt`] stopped the run starting steps.
    pub interrupted: bool,
}

impl Execution {
    /// Whether every step succeeded.
    pub fn succeeded(&self) -> bool {
        self.state_error.is_none()
            && self
                .outcomes
                .iter()
                .all(|(_, o)| matches!(o, Outcome::Done { .. }))
    }
}

struct Job {
    node: Node,
    action: Action,
    record: Result<JournalRecord, ProviderError>,
    elapsed: Duration,
    retries: u32,
}

/// Each node with its dependencies and scheduling cost.
type Graph = BTreeMap<Node, (Vec<Node>, u64)>;

/// Builds the execution graph for `plan`.
fn build_graph<'p>(plan: &'p Plan, state: &Snapshot) -> (Graph, BTreeMap<Node, &'p Step>) {
    let mut nodes: BTreeMap<Node, (Vec<Node>, u64)> = BTreeMap::new();
    let mut steps: BTreeMap<Node, &Step> = BTreeMap::new();
    let applies: BTreeMap<&Urn, &Step> = plan
        .steps
        .iter()
        .filter(|s| s.action != Action::Delete)
        .map(|s| (&s.urn, s))
        .collect();
    let mut dbr: Vec<&Urn> = Vec::new();
    for s in &plan.steps {
        let cost = u64::from(s.cost);
        match s.action {
            Action::Delete => {
                let id = s.old.as_ref().map(|o| o.id.clone()).unwrap_or_default();
                let n = Node::Delete(s.urn.clone(), id);
                nodes.insert(n.clone(), (Vec::new(), 1));
                steps.insert(n, s);
            }
            action => {
                let mut deps: Vec<Node> = s
                    .dependencies
                    .iter()
                    .map(|d| Node::Apply(d.clone()))
                    .collect();
                let cost = match action {
                    Action::Same => 0,
                    Action::Update => 1,
                    _ => cost,
                };
                if action == Action::Replace {
                    let old_id = s.old.as_ref().map(|o| o.id.clone()).unwrap_or_default();
                    let del = Node::Delete(s.urn.clone(), old_id);
                    let mut del_deps = Vec::new();
                    if s.delete_before_replace {
                        deps.push(del.clone());
                        dbr.push(&s.urn);
                    } else {
                        del_deps.push(Node::Apply(s.urn.clone()));
                        // Dependents move to the replacement before the old one goes.
                        for other in applies.values().filter(|o| o.dependencies.contains(&s.urn)) {
                            del_deps.push(Node::Apply(other.urn.clone()));
                        }
                    }
                    nodes.insert(del.clone(), (del_deps, 1));
                    steps.insert(del, s);
                }
                let n = Node::Apply(s.urn.clone());
                nodes.insert(n.clone(), (deps, cost));
                steps.insert(n, s);
            }
        }
    }
    // A recorded resource is deleted only after whatever used it is gone
    // (required) or has been updated away from it (preferred: such an edge is
    // left out when it would close a cycle, e.g. an updated user that now
    // depends on a replacement made after this delete).
    let delete_nodes: Vec<Node> = nodes
        .keys()
        .filter(|n| matches!(n, Node::Delete(..)))
        .cloned()
        .collect();
    let mut preferred = Vec::new();
    for del in &delete_nodes {
        let urn = del.urn();
        for user in state
            .resources
            .iter()
            .filter(|r| r.dependencies.contains(urn))
        {
            let user_delete = Node::Delete(user.urn.clone(), user.id.clone());
            if nodes.contains_key(&user_delete) {
                if let Some((deps, _)) = nodes.get_mut(del) {
                    deps.push(user_delete);
                }
            } else if applies.contains_key(&user.urn) && !dbr.contains(&urn) {
                preferred.push((del.clone(), Node::Apply(user.urn.clone())));
            }
        }
    }
    for (del, user) in preferred {
        if !reaches(&nodes, &user, &del)
            && let Some((deps, _)) = nodes.get_mut(&del)
        {
            deps.push(user);
        }
    }
    (nodes, steps)
}

/// Whether `from` depends, directly or not, on `to`.
fn reaches(graph: &Graph, from: &Node, to: &Node) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec![from];
    while let Some(n) = todo.pop() {
        if n == to {
            return true;
        }
        if seen.insert(n)
            && let Some((deps, _)) = graph.get(n)
        {
            todo.extend(deps.iter());
        }
    }
    false
}

/// Runs `plan` against `provider`, recording every step in `store` and
/// `snapshot`, with `options`' bound on calls in flight and interrupt.
/// `stack` is `None` for a destroy.
pub(crate) async fn execute(
    stack: Option<&Stack>,
    plan: &Plan,
    provider: Arc<dyn Provider>,
    store: &mut dyn StateStore,
    snapshot: &mut Snapshot,
    options: &ApplyOptions,
    events: &dyn EventSink,
) -> Execution {
    let (parallel, policy) = (options.parallel.max(1), &options.retry);
    let (graph, steps) = build_graph(plan, snapshot);
    let mut exec = Execution::default();

    let mut dag = Dag::new();
    for (n, (deps, _)) in &graph {
        dag.add_node(n.clone());
        for d in deps.iter().filter(|d| graph.contains_key(d)) {
            dag.add_edge(n, d);
        }
    }
    if let Some(cycle) = dag.cycles().into_iter().next() {
        exec.state_error = Some(format!(
            "internal error: the execution graph has a cycle through {}",
            cycle
                .iter()
                .map(|n| n.urn().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return exec;
    }

    let mut queue = ReadyQueue::new();
    for (n, (deps, cost)) in &graph {
        queue.queue(n.clone(), deps.iter().cloned(), *cost);
    }
    queue.seal();

    let mut in_flight = InFlight::new(&options.interrupt);
    let mut stopping = false;
    loop {
        if in_flight.take_interrupt() {
            stop::stop_starting(&mut exec, &mut queue, &steps, &in_flight, events);
        }
        while !stopping && in_flight.accepting() && in_flight.len() < parallel {
            let Some(node) = queue.dequeue() else { break };
            let step = steps[&node];
            match prepare(stack, plan, step, &node, snapshot) {
                Prepared::Nothing => {
                    exec.outcomes.push((
                        node.urn().clone(),
                        Outcome::Done {
                            action: Action::Same,
                        },
                    ));
                    queue.finish(&node);
                }
                Prepared::Record(action, rec) => {
                    if let Err(e) = record(store, snapshot, &rec) {
                        exec.state_error = Some(e.to_string());
                        stopping = true;
                        break;
                    }
                    if let JournalRecord::Released { urn, id } = &rec {
                        events.event(&Event::Retained {
                            urn: urn.clone(),
                            id: id.clone(),
                        });
                    }
                    if !is_old_half(&node, &steps) {
                        exec.outcomes
                            .push((node.urn().clone(), Outcome::Done { action }));
                    }
                    queue.finish(&node);
                }
                Prepared::Invalid(action, error) => {
                    fail(
                        &mut exec,
                        &mut queue,
                        &node,
                        action,
                        error,
                        Duration::ZERO,
                        &steps,
                        events,
                    );
                }
                Prepared::Call(action, call) => {
                    let begin = begin_record(&call);
                    if let Err(e) = record(store, snapshot, &begin) {
                        exec.state_error = Some(e.to_string());
                        stopping = true;
                        break;
                    }
                    super::crash::point(|| format!("begin {} {}", op_name(&call), node.urn()));
                    events.event(&Event::Started {
                        urn: node.urn().clone(),
                        action,
                    });
                    exec.provider_calls += 1;
                    let provider = provider.clone();
                    let node = node.clone();
                    let (policy, fresh) = (*policy, retry::references_new(plan, step));
                    in_flight.spawn(node.clone(), action, async move {
                        let start = Instant::now();
                        let op = op_name(&call);
                        let (record, retries) = run(&*provider, call, &policy, fresh).await;
                        super::crash::point(|| format!("{op} {} returned", node.urn()));
                        Job {
                            node,
                            action,
                            record,
                            elapsed: start.elapsed(),
                            retries,
                        }
                    });
                    exec.max_in_flight = exec.max_in_flight.max(in_flight.len());
                }
            }
        }
        let job = match in_flight.next().await {
            None => break,
            Some(Joined::Job(job)) => {
                exec.retries += job.retries as usize;
                *job
            }
            Some(Joined::Interrupted) => continue,
            Some(Joined::Abandoned(node, action, elapsed)) => {
                stop::abandoned(&mut exec, node, action, elapsed, events);
                continue;
            }
            Some(Joined::Panicked(e)) => {
                // A panicking provider: its step's outcome is unknown.
                exec.state_error = Some(format!("a provider task panicked: {e}"));
                stopping = true;
                continue;
            }
        };
        match job.record {
            Ok(mut rec) => {
                if let JournalRecord::Put { resource } = &mut rec {
                    steps[&job.node].guards.record(resource);
                }
                if let Err(e) = record(store, snapshot, &rec) {
                    exec.state_error = Some(e.to_string());
                    stopping = true;
                    continue;
                }
                super::crash::point(|| format!("end {}", job.node.urn()));
                let id = match &rec {
                    JournalRecord::Put { resource } => resource.id.clone(),
                    JournalRecord::Removed { id, .. } => id.clone(),
                    _ => String::new(),
                };
                events.event(&Event::Finished {
                    urn: job.node.urn().clone(),
                    action: job.action,
                    id,
                    elapsed: job.elapsed,
                });
                if !is_old_half(&job.node, &steps) {
                    exec.outcomes
                        .push((job.node.urn().clone(), Outcome::Done { action: job.action }));
                }
                queue.finish(&job.node);
            }
            Err(error) => {
                let failed = JournalRecord::Failed {
                    urn: job.node.urn().clone(),
                };
                if let Err(e) = record(store, snapshot, &failed) {
                    exec.state_error = Some(e.to_string());
                    stopping = true;
                }
                fail(
                    &mut exec,
                    &mut queue,
                    &job.node,
                    job.action,
                    error,
                    job.elapsed,
                    &steps,
                    events,
                );
            }
        }
    }
    exec
}

/// Whether `node` is the old half of a replacement, which is part of that
/// replacement (its outcome is the replacement's).
fn is_old_half(node: &Node, steps: &BTreeMap<Node, &Step>) -> bool {
    matches!(node, Node::Delete(..)) && steps[node].action == Action::Replace
}

#[allow(clippy::too_many_arguments)]
fn fail(
    exec: &mut Execution,
    queue: &mut ReadyQueue<Node>,
    node: &Node,
    action: Action,
    error: ProviderError,
    elapsed: Duration,
    steps: &BTreeMap<Node, &Step>,
    events: &dyn EventSink,
) {
    events.event(&Event::Failed {
        urn: node.urn().clone(),
        action,
        error: error.clone(),
        elapsed,
    });
    exec.outcomes
        .push((node.urn().clone(), Outcome::Failed { action, error }));
    for blocked in queue.fail(node) {
        let action = match (&blocked, steps[&blocked].action) {
            (Node::Delete(..), _) => Action::Delete,
            (_, a) => a,
        };
        events.event(&Event::Skipped {
            urn: blocked.urn().clone(),
            action,
            blocked_by: node.urn().clone(),
        });
        exec.outcomes.push((
            blocked.urn().clone(),
            Outcome::Skipped {
                action,
                blocked_by: node.urn().clone(),
            },
        ));
    }
}

fn record(
    store: &mut dyn StateStore,
    snapshot: &mut Snapshot,
    rec: &JournalRecord,
) -> Result<(), StateError> {
    store.append(rec)?;
    snapshot.apply(rec);
    Ok(())
}
