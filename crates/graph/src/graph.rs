//! The organisation graph of one window: one node per directory employee, one
//! undirected edge per pair who interacted in the window, weighted by the sum
//! of their interactions' weights.
//!
//! Petgraph's `UnGraph` holds it, so callers can run petgraph's own
//! algorithms on it. Edges are aggregated in a hash map first and inserted
//! once per pair, in sorted order: `update_edge` per interaction would cost a
//! neighbour scan each time, and sorted insertion makes the graph (and so
//! every floating-point sum over it) the same on every run.

use std::collections::HashMap;

use petgraph::graph::{NodeIndex, UnGraph};
use serde::Serialize;

use crate::model::{DirectoryEntry, Interaction, Window};

/// What the builder kept and dropped; each interaction is counted exactly once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BuildStats {
    /// In the window, between two different directory employees.
    pub interactions_used: usize,
    /// Before the window's start or at or after its end.
    pub outside_window: usize,
    /// In the window, `from` and `to` the same employee (known or not).
    pub self_loops: usize,
    /// In the window, not a self-loop, naming someone not in the directory.
    pub unknown_employees: usize,
    /// Directory entries repeating an earlier `employee_id`; the first wins.
    pub duplicate_directory_entries: usize,
}

/// Where one interaction goes. The checks run in this order, so an
/// interaction outside the window is never counted as a self-loop, and a
/// self-loop of an unknown employee is counted as a self-loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classified {
    Used(NodeIndex, NodeIndex),
    OutsideWindow,
    SelfLoop,
    UnknownEmployee,
}

/// The graph of one window plus the directory it was built over.
#[derive(Debug, Clone)]
pub struct OrgGraph {
    /// Node weight: employee id. Edge weight: summed interaction weight.
    graph: UnGraph<String, f64>,
    /// Node `i` is `employees[i]`: directory order, duplicates removed.
    employees: Vec<DirectoryEntry>,
    index: HashMap<String, NodeIndex>,
    window: Window,
    stats: BuildStats,
}

/// Builds the graph of `window` over the employees of `directory`.
///
/// Every directory employee is a node, even one with no interaction in the
/// window (an isolated node: degree, betweenness and clustering all 0). A
/// pair that interacted has an edge even if their weights sum to 0: the
/// metrics are unweighted and count who talks to whom, not how much.
pub fn build_graph(
    directory: &[DirectoryEntry],
    interactions: &[Interaction],
    window: Window,
) -> OrgGraph {
    let mut graph = UnGraph::with_capacity(directory.len(), 0);
    let mut employees = Vec::with_capacity(directory.len());
    let mut index = HashMap::with_capacity(directory.len());
    let mut stats = BuildStats::default();
    for entry in directory {
        if index.contains_key(&entry.employee_id) {
            stats.duplicate_directory_entries += 1;
            continue;
        }
        let node = graph.add_node(entry.employee_id.clone());
        index.insert(entry.employee_id.clone(), node);
        employees.push(entry.clone());
    }

    let mut weights: HashMap<(u32, u32), f64> = HashMap::new();
    for interaction in interactions {
        match classify(&index, window, interaction) {
            Classified::Used(a, b) => {
                stats.interactions_used += 1;
                let key = ordered(a, b);
                *weights.entry(key).or_insert(0.0) += interaction.weight;
            }
            Classified::OutsideWindow => stats.outside_window += 1,
            Classified::SelfLoop => stats.self_loops += 1,
            Classified::UnknownEmployee => stats.unknown_employees += 1,
        }
    }
    let mut edges: Vec<((u32, u32), f64)> = weights.into_iter().collect();
    edges.sort_unstable_by_key(|&(key, _)| key);
    graph.reserve_edges(edges.len());
    graph.extend_with_edges(edges.into_iter().map(|((a, b), w)| (a, b, w)));

    OrgGraph {
        graph,
        employees,
        index,
        window,
        stats,
    }
}

/// Decides what the builder does with one interaction (see [`Classified`]).
pub fn classify(
    index: &HashMap<String, NodeIndex>,
    window: Window,
    interaction: &Interaction,
) -> Classified {
    if !window.contains(interaction.time) {
        return Classified::OutsideWindow;
    }
    if interaction.from == interaction.to {
        return Classified::SelfLoop;
    }
    match (index.get(&interaction.from), index.get(&interaction.to)) {
        (Some(&a), Some(&b)) => Classified::Used(a, b),
        _ => Classified::UnknownEmployee,
    }
}

fn ordered(a: NodeIndex, b: NodeIndex) -> (u32, u32) {
    // Node indices fit u32: petgraph's default index type.
    let (a, b) = (a.index() as u32, b.index() as u32);
    if a < b { (a, b) } else { (b, a) }
}

impl OrgGraph {
    pub fn graph(&self) -> &UnGraph<String, f64> {
        &self.graph
    }

    /// Directory employees in node order: `employees()[i]` is node `i`.
    pub fn employees(&self) -> &[DirectoryEntry] {
        &self.employees
    }

    pub fn node_of(&self, employee_id: &str) -> Option<NodeIndex> {
        self.index.get(employee_id).copied()
    }

    pub fn window(&self) -> Window {
        self.window
    }

    pub fn stats(&self) -> BuildStats {
        self.stats
    }

    pub fn employee_count(&self) -> usize {
        self.graph.node_count()
    }

    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Sum of the weights of `node`'s edges: all its interaction weight in the window.
    pub fn weighted_degree(&self, node: NodeIndex) -> f64 {
        self.graph.edges(node).map(|edge| *edge.weight()).sum()
    }

    /// Classifies `interaction` against this graph's directory and window.
    pub fn classify(&self, interaction: &Interaction) -> Classified {
        classify(&self.index, self.window, interaction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Channel;
    use chrono::{TimeZone, Utc};

    fn at(day: u32) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, day, 12, 0, 0).unwrap()
    }

    #[test]
    fn repeated_interactions_make_one_edge_with_summed_weight() {
        let directory = vec![
            DirectoryEntry::new("a", None),
            DirectoryEntry::new("b", None),
        ];
        let mut second = Interaction::new("b", "a", at(3), Channel::Chat);
        second.weight = 2.5;
        let interactions = vec![Interaction::new("a", "b", at(2), Channel::Email), second];
        let window = Window::ending_at(at(10), 28).unwrap();
        let graph = build_graph(&directory, &interactions, window);
        assert_eq!(graph.edge_count(), 1);
        assert_eq!(graph.weighted_degree(graph.node_of("a").unwrap()), 3.5);
        assert_eq!(graph.stats().interactions_used, 2);
    }

    #[test]
    fn self_loops_unknown_employees_and_out_of_window_are_counted_apart() {
        let directory = vec![
            DirectoryEntry::new("a", None),
            DirectoryEntry::new("b", None),
        ];
        let interactions = vec![
            Interaction::new("a", "a", at(5), Channel::Email),
            Interaction::new("z", "z", at(5), Channel::Email),
            Interaction::new("a", "z", at(5), Channel::Email),
            Interaction::new("a", "b", at(10), Channel::Email),
            Interaction::new("a", "b", at(1), Channel::Email),
        ];
        let window = Window::ending_at(at(10), 7).unwrap();
        let graph = build_graph(&directory, &interactions, window);
        let stats = graph.stats();
        assert_eq!(stats.self_loops, 2);
        assert_eq!(stats.unknown_employees, 1);
        assert_eq!(stats.outside_window, 2);
        assert_eq!(stats.interactions_used, 0);
        assert_eq!(graph.edge_count(), 0);
        assert_eq!(graph.employee_count(), 2);
    }
}
