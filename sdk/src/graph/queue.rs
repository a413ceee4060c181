//! [`ReadyQueue`]: the synchronous scheduling core. Nodes are queued with
//! their dependencies and a cost; `dequeue` hands out a ready node, highest
//! priority first, where priority is the cost of the longest chain of work
//! that starts at the node (so the critical path starts first); `finish`
//! releases dependents; `fail` withdraws every transitive dependent so each
//! is reported once as blocked. It knows nothing about tasks or time.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// A dependency-ordered work queue with critical-path priority.
///
/// ```
/// use keel::graph::ReadyQueue;
/// let mut q = ReadyQueue::new();
/// q.queue("vpc", [], 1);
/// q.queue("subnet", ["vpc"], 1);
/// q.queue("nat", ["subnet"], 120);
/// q.queue("cluster", [], 3);
/// q.seal();
/// // The VPC heads a 122-second chain; the cluster only 3.
/// assert_eq!(q.dequeue(), Some("vpc"));
/// assert_eq!(q.dequeue(), Some("cluster"));
/// assert_eq!(q.finish(&"vpc"), vec!["subnet"]);
/// ```
#[derive(Debug)]
pub struct ReadyQueue<K: Ord + Clone> {
    waiting_on: BTreeMap<K, BTreeSet<K>>,
    dependents: BTreeMap<K, BTreeSet<K>>,
    cost: BTreeMap<K, u64>,
    order: BTreeMap<K, usize>,
    priority: BTreeMap<K, u64>,
    ready: BinaryHeap<(u64, std::cmp::Reverse<usize>, K)>,
    sealed: bool,
    outstanding: usize,
}

impl<K: Ord + Clone> Default for ReadyQueue<K> {
    fn default() -> Self {
        Self {
            waiting_on: BTreeMap::new(),
            dependents: BTreeMap::new(),
            cost: BTreeMap::new(),
            order: BTreeMap::new(),
            priority: BTreeMap::new(),
            ready: BinaryHeap::new(),
            sealed: false,
            outstanding: 0,
        }
    }
}

impl<K: Ord + Clone> ReadyQueue<K> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key`, which may start once every key in `deps` has finished.
    /// Dependencies that are never queued are treated as already done.
    pub fn queue(&mut self, key: K, deps: impl IntoIterator<Item = K>, cost: u64) {
        assert!(!self.sealed, "queue() after seal()");
        let n = self.order.len();
        self.order.entry(key.clone()).or_insert(n);
        self.cost.insert(key.clone(), cost);
        self.waiting_on.entry(key).or_default().extend(deps);
    }

    /// Ends queueing: drops dependencies on unknown keys, computes
    /// priorities and makes the first nodes ready. Nodes caught in a cycle
    /// never become ready (validate graphs before queueing them).
    pub fn seal(&mut self) {
        self.sealed = true;
        let known: BTreeSet<K> = self.waiting_on.keys().cloned().collect();
        for (key, deps) in self.waiting_on.iter_mut() {
            deps.retain(|d| known.contains(d));
            for d in deps.iter() {
                self.dependents
                    .entry(d.clone())
                    .or_default()
                    .insert(key.clone());
            }
        }
        // Longest chain cost from each node, computed in reverse topological
        // order (dependents before their dependencies).
        let mut remaining: BTreeMap<K, usize> = known
            .iter()
            .map(|k| (k.clone(), self.dependents.get(k).map_or(0, |d| d.len())))
            .collect();
        let mut stack: Vec<K> = remaining
            .iter()
            .filter(|&(_, &n)| n == 0)
            .map(|(k, _)| k.clone())
            .collect();
        while let Some(k) = stack.pop() {
            let below = self
                .dependents
                .get(&k)
                .into_iter()
                .flatten()
                .filter_map(|d| self.priority.get(d))
                .max()
                .copied()
                .unwrap_or(0);
            self.priority.insert(k.clone(), self.cost[&k] + below);
            for d in &self.waiting_on[&k] {
                let n = remaining.get_mut(d).expect("dependency is known");
                *n -= 1;
                if *n == 0 {
                    stack.push(d.clone());
                }
            }
        }
        self.outstanding = known.len();
        let ready: Vec<K> = self
            .waiting_on
            .iter()
            .filter(|(_, d)| d.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for k in ready {
            self.push_ready(k);
        }
    }

    fn push_ready(&mut self, key: K) {
        let p = self.priority.get(&key).copied().unwrap_or(0);
        self.ready
            .push((p, std::cmp::Reverse(self.order[&key]), key));
    }

    /// The ready node with the longest chain behind it (ties: queue order).
    pub fn dequeue(&mut self) -> Option<K> {
        self.ready.pop().map(|(_, _, k)| k)
    }

    /// Marks `key` done; returns the nodes that became ready, in queue order.
    pub fn finish(&mut self, key: &K) -> Vec<K> {
        self.outstanding = self.outstanding.saturating_sub(1);
        let mut newly = Vec::new();
        for d in self.dependents.get(key).cloned().into_iter().flatten() {
            if let Some(w) = self.waiting_on.get_mut(&d)
                && w.remove(key)
                && w.is_empty()
            {
                newly.push(d);
            }
        }
        newly.sort_by_key(|k| self.order[k]);
        for k in &newly {
            self.push_ready(k.clone());
        }
        newly
    }

    /// Marks `key` failed; every node that depends on it, directly or not,
    /// is withdrawn and returned (in queue order) so it can be reported as
    /// blocked by `key`.
    pub fn fail(&mut self, key: &K) -> Vec<K> {
        self.outstanding = self.outstanding.saturating_sub(1);
        let mut blocked = BTreeSet::new();
        let mut todo = vec![key.clone()];
        while let Some(k) = todo.pop() {
            for d in self.dependents.get(&k).into_iter().flatten() {
                // Only nodes still waiting can be blocked; a node already
                // withdrawn by an earlier failure is reported there.
                if self.waiting_on.contains_key(d) && blocked.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        for b in &blocked {
            self.waiting_on.remove(b);
        }
        self.outstanding = self.outstanding.saturating_sub(blocked.len());
        let mut blocked: Vec<K> = blocked.into_iter().collect();
        blocked.sort_by_key(|k| self.order[k]);
        blocked
    }

    /// Stops handing out work: every node not yet dequeued (ready, or still
    /// waiting on dependencies) is withdrawn and returned in queue order.
    /// Nodes already dequeued may still be finished or failed; they release
    /// nothing.
    ///
    /// ```
    /// use keel::graph::ReadyQueue;
    /// let mut q = ReadyQueue::new();
    /// q.queue("vpc", [], 1);
    /// q.queue("subnet", ["vpc"], 1);
    /// q.queue("cluster", [], 1);
    /// q.seal();
    /// assert_eq!(q.dequeue(), Some("vpc"));
    /// assert_eq!(q.withdraw_all(), vec!["subnet", "cluster"]);
    /// assert!(q.finish(&"vpc").is_empty());
    /// assert_eq!(q.dequeue(), None);
    /// assert_eq!(q.outstanding(), 0);
    /// ```
    pub fn withdraw_all(&mut self) -> Vec<K> {
        // A node waiting on nothing was dequeued unless it is still ready.
        let mut withdrawn: BTreeSet<K> = self.ready.drain().map(|(_, _, k)| k).collect();
        withdrawn.extend(
            self.waiting_on
                .iter()
                .filter(|(_, deps)| !deps.is_empty())
                .map(|(k, _)| k.clone()),
        );
        for k in &withdrawn {
            self.waiting_on.remove(k);
        }
        self.outstanding = self.outstanding.saturating_sub(withdrawn.len());
        let mut withdrawn: Vec<K> = withdrawn.into_iter().collect();
        withdrawn.sort_by_key(|k| self.order[k]);
        withdrawn
    }

    /// Nodes not yet finished, failed or withdrawn.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain_serially(q: &mut ReadyQueue<u32>) -> Vec<u32> {
        let mut out = Vec::new();
        while let Some(k) = q.dequeue() {
            out.push(k);
            q.finish(&k);
        }
        out
    }

    #[test]
    fn dependencies_finish_before_dependents() {
        let mut q = ReadyQueue::new();
        q.queue(3, [1, 2], 1);
        q.queue(1, [], 1);
        q.queue(2, [1], 1);
        q.queue(4, [3], 1);
        q.seal();
        assert_eq!(drain_serially(&mut q), vec![1, 2, 3, 4]);
        assert_eq!(q.outstanding(), 0);
    }

    #[test]
    fn longest_chain_first_not_level_by_level() {
        // 1 -> 2 -> 3 (cheap chain), 10 (one slow node), 20 -> 21 (slow tail)
        let mut q = ReadyQueue::new();
        q.queue(1, [], 1);
        q.queue(2, [1], 1);
        q.queue(3, [2], 1);
        q.queue(10, [], 5);
        q.queue(20, [], 1);
        q.queue(21, [20], 120);
        q.seal();
        assert_eq!(q.dequeue(), Some(20)); // 121 behind it
        assert_eq!(q.dequeue(), Some(10)); // 5
        assert_eq!(q.dequeue(), Some(1)); // 3
        assert_eq!(q.dequeue(), None);
        // finishing 20 releases 21 at once, without waiting for the level
        assert_eq!(q.finish(&20), vec![21]);
        assert_eq!(q.dequeue(), Some(21));
    }

    #[test]
    fn failure_withdraws_transitive_dependents_once() {
        let mut q = ReadyQueue::new();
        q.queue(1, [], 1);
        q.queue(2, [1], 1);
        q.queue(3, [2], 1);
        q.queue(4, [1, 5], 1);
        q.queue(5, [], 1);
        q.queue(6, [], 1); // independent branch
        q.seal();
        let mut started = Vec::new();
        while let Some(k) = q.dequeue() {
            started.push(k);
        }
        assert_eq!(started.len(), 3); // 1, 5, 6 in priority order
        assert_eq!(q.fail(&1), vec![2, 3, 4]);
        assert!(q.finish(&5).is_empty()); // 4 is withdrawn, not released
        q.finish(&6);
        assert_eq!(q.dequeue(), None);
        assert_eq!(q.outstanding(), 0);
    }

    #[test]
    fn withdrawing_keeps_nodes_in_hand_and_releases_nothing() {
        let mut q = ReadyQueue::new();
        q.queue(1, [], 1);
        q.queue(2, [1], 1);
        q.queue(3, [], 1);
        q.queue(4, [3], 1);
        q.queue(5, [], 1);
        q.seal();
        let first = q.dequeue().unwrap();
        let second = q.dequeue().unwrap();
        // 1 and 3 head the longest chains; 5 is ready, 2 and 4 wait.
        assert_eq!((first, second), (1, 3));
        assert_eq!(q.withdraw_all(), vec![2, 4, 5]);
        assert_eq!(q.outstanding(), 2);
        assert!(q.finish(&1).is_empty());
        assert!(
            q.fail(&3).is_empty(),
            "withdrawn nodes aren't blocked again"
        );
        assert_eq!(q.dequeue(), None);
        assert_eq!(q.outstanding(), 0);
        assert!(q.withdraw_all().is_empty());
    }

    #[test]
    fn unknown_dependencies_count_as_done() {
        let mut q = ReadyQueue::new();
        q.queue(1, [99], 1);
        q.seal();
        assert_eq!(q.dequeue(), Some(1));
    }
}
