//! Dependency graphs that know nothing about what their nodes mean: a
//! [`Dag`] for validation and ordering, and the [`ReadyQueue`] that drives
//! execution. Pure and synchronous; the async executor lives in `engine`.

mod queue;

pub use queue::ReadyQueue;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::BTreeMap;

/// A directed graph where an edge `a -> b` means "a depends on b".
#[derive(Debug, Clone)]
pub struct Dag<K: Ord + Clone> {
    graph: DiGraph<K, ()>,
    index: BTreeMap<K, NodeIndex>,
}

impl<K: Ord + Clone> Default for Dag<K> {
    fn default() -> Self {
        Self {
            graph: DiGraph::new(),
            index: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone> Dag<K> {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key` (no-op if present).
    pub fn add_node(&mut self, key: K) {
        if !self.index.contains_key(&key) {
            let i = self.graph.add_node(key.clone());
            self.index.insert(key, i);
        }
    }

    /// Records that `from` depends on `to`; both are added if missing.
    pub fn add_edge(&mut self, from: &K, to: &K) {
        self.add_node(from.clone());
        self.add_node(to.clone());
        let (a, b) = (self.index[from], self.index[to]);
        if self.graph.find_edge(a, b).is_none() {
            self.graph.add_edge(a, b, ());
        }
    }

    /// Every cycle, each as its members in sorted order, the list sorted:
    /// strongly connected components with more than one node, and nodes
    /// that depend on themselves.
    pub fn cycles(&self) -> Vec<Vec<K>> {
        let mut cycles: Vec<Vec<K>> = tarjan_scc(&self.graph)
            .into_iter()
            .filter(|scc| scc.len() > 1 || self.graph.find_edge(scc[0], scc[0]).is_some())
            .map(|scc| {
                let mut keys: Vec<K> = scc.into_iter().map(|i| self.graph[i].clone()).collect();
                keys.sort();
                keys
            })
            .collect();
        cycles.sort();
        cycles
    }

    /// The direct dependencies of `key`, sorted.
    pub fn dependencies(&self, key: &K) -> Vec<K> {
        let Some(&i) = self.index.get(key) else {
            return Vec::new();
        };
        let mut deps: Vec<K> = self
            .graph
            .neighbors(i)
            .map(|j| self.graph[j].clone())
            .collect();
        deps.sort();
        deps
    }

    /// Nodes in an order where each comes after all its dependencies; ties
    /// broken by key order. `None` if there is a cycle.
    pub fn topological_order(&self) -> Option<Vec<K>> {
        let mut remaining: BTreeMap<K, usize> = BTreeMap::new();
        let mut dependents: BTreeMap<K, Vec<K>> = BTreeMap::new();
        for (key, &i) in &self.index {
            remaining.insert(key.clone(), self.graph.neighbors(i).count());
            for j in self.graph.neighbors(i) {
                dependents
                    .entry(self.graph[j].clone())
                    .or_default()
                    .push(key.clone());
            }
        }
        let mut ready: std::collections::BTreeSet<K> = remaining
            .iter()
            .filter(|&(_, &n)| n == 0)
            .map(|(k, _)| k.clone())
            .collect();
        let mut order = Vec::with_capacity(self.index.len());
        while let Some(k) = ready.pop_first() {
            for d in dependents.get(&k).into_iter().flatten() {
                let n = remaining.get_mut(d).expect("every dependent is a node");
                *n -= 1;
                if *n == 0 {
                    ready.insert(d.clone());
                }
            }
            order.push(k);
        }
        (order.len() == self.index.len()).then_some(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_cycle_with_its_members() {
        let mut g = Dag::new();
        g.add_edge(&1, &2);
        g.add_edge(&2, &3);
        g.add_edge(&3, &1);
        g.add_edge(&4, &5);
        g.add_edge(&5, &4);
        g.add_edge(&6, &6);
        g.add_edge(&7, &1);
        assert_eq!(g.cycles(), vec![vec![1, 2, 3], vec![4, 5], vec![6]]);
        assert_eq!(g.topological_order(), None);
    }

    #[test]
    fn topological_order_puts_dependencies_first() {
        let mut g = Dag::new();
        g.add_edge(&"subnet", &"vpc");
        g.add_edge(&"nat", &"subnet");
        g.add_edge(&"nat", &"eip");
        g.add_node("cluster");
        assert!(g.cycles().is_empty());
        assert_eq!(
            g.topological_order().unwrap(),
            vec!["cluster", "eip", "vpc", "subnet", "nat"]
        );
        assert_eq!(g.dependencies(&"nat"), vec!["eip", "subnet"]);
    }
}
