//! Our metrics against NetworkX's on the graphs of `fixtures/reference.json`
//! (written by `fixtures/make_reference.py`): every node, every metric, to 1e-9,
//! both on a bare petgraph graph and through the whole snapshot pipeline.
#![allow(clippy::unwrap_used)]

use std::num::NonZeroUsize;

use chrono::{TimeZone, Utc};
use organism_graph::centrality::{
    betweenness_centrality, betweenness_centrality_with_threads, clustering_coefficients,
    degree_centrality,
};
use organism_graph::{
    Channel, DirectoryEntry, Interaction, SnapshotInput, SnapshotOptions, Window, compute_snapshot,
};
use petgraph::graph::UnGraph;
use serde::Deserialize;

const TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct Reference {
    graphs: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    nodes: usize,
    edges: Vec<[u32; 2]>,
    degree_centrality: Vec<f64>,
    betweenness_centrality: Vec<f64>,
    clustering: Vec<f64>,
}

fn reference() -> Reference {
    serde_json::from_str(include_str!("fixtures/reference.json")).unwrap()
}

fn case(name: &str) -> Case {
    reference()
        .graphs
        .into_iter()
        .find(|case| case.name == name)
        .unwrap_or_else(|| panic!("no `{name}` in reference.json"))
}

fn petgraph_of(case: &Case) -> UnGraph<(), ()> {
    let mut graph = UnGraph::with_capacity(case.nodes, case.edges.len());
    for _ in 0..case.nodes {
        graph.add_node(());
    }
    graph.extend_with_edges(case.edges.iter().map(|[a, b]| (*a, *b)));
    graph
}

fn assert_close(case: &str, metric: &str, ours: &[f64], networkx: &[f64]) {
    assert_eq!(ours.len(), networkx.len(), "{case}: {metric}: node count");
    for (node, (a, b)) in ours.iter().zip(networkx).enumerate() {
        assert!(
            (a - b).abs() <= TOLERANCE,
            "{case}: {metric} of node {node}: ours {a}, NetworkX {b}"
        );
    }
}

fn check_metrics(name: &str) {
    let case = case(name);
    assert_eq!(case.degree_centrality.len(), case.nodes);
    let graph = petgraph_of(&case);
    assert_close(
        name,
        "degree",
        &degree_centrality(&graph),
        &case.degree_centrality,
    );
    assert_close(
        name,
        "betweenness",
        &betweenness_centrality(&graph),
        &case.betweenness_centrality,
    );
    assert_close(
        name,
        "betweenness (1 thread)",
        &betweenness_centrality_with_threads(&graph, NonZeroUsize::MIN),
        &case.betweenness_centrality,
    );
    assert_close(
        name,
        "clustering",
        &clustering_coefficients(&graph),
        &case.clustering,
    );
}

/// The same graph as interactions between directory employees, so the
/// whole pipeline (window, aggregation, node order) is held to NetworkX too.
fn check_snapshot(name: &str) {
    let case = case(name);
    let end = Utc.with_ymd_and_hms(2024, 3, 29, 0, 0, 0).unwrap();
    let during = Utc.with_ymd_and_hms(2024, 3, 20, 10, 0, 0).unwrap();
    let directory: Vec<DirectoryEntry> = (0..case.nodes)
        .map(|i| DirectoryEntry::new(format!("e{i}"), Some("team".to_owned())))
        .collect();
    // Each edge twice, once each way: still one undirected edge.
    let interactions: Vec<Interaction> = case
        .edges
        .iter()
        .flat_map(|[a, b]| {
            [
                Interaction::new(format!("e{a}"), format!("e{b}"), during, Channel::Chat),
                Interaction::new(format!("e{b}"), format!("e{a}"), during, Channel::Email),
            ]
        })
        .collect();
    let options = SnapshotOptions::new(Window::ending_at(end, 28).unwrap());
    let snapshot = compute_snapshot(
        SnapshotInput {
            directory: &directory,
            interactions: &interactions,
            malformed_rows: 0,
        },
        &options,
    );
    assert_eq!(snapshot.counts.employees, case.nodes);
    assert_eq!(snapshot.counts.edges, case.edges.len());
    assert_eq!(snapshot.counts.interactions_used, 2 * case.edges.len());
    let pick = |f: fn(&organism_graph::EmployeeMetrics) -> f64| -> Vec<f64> {
        snapshot.employees.iter().map(f).collect()
    };
    assert_close(
        name,
        "snapshot degree",
        &pick(|m| m.degree_centrality),
        &case.degree_centrality,
    );
    assert_close(
        name,
        "snapshot betweenness",
        &pick(|m| m.betweenness_centrality),
        &case.betweenness_centrality,
    );
    assert_close(
        name,
        "snapshot clustering",
        &pick(|m| m.clustering_coeff),
        &case.clustering,
    );
}

#[test]
fn the_fixture_holds_every_graph_the_tests_name() {
    let names: Vec<String> = reference().graphs.into_iter().map(|c| c.name).collect();
    for name in [
        "karate_club",
        "path_5",
        "star_6",
        "complete_5",
        "two_triangles_and_isolated",
        "empty",
        "single_node",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} missing");
    }
}

#[test]
fn karate_club_matches_networkx() {
    let case = case("karate_club");
    assert_eq!((case.nodes, case.edges.len()), (34, 78));
    check_metrics("karate_club");
    check_snapshot("karate_club");
}

#[test]
fn path_of_five_matches_networkx() {
    check_metrics("path_5");
    check_snapshot("path_5");
}

#[test]
fn star_of_six_matches_networkx() {
    check_metrics("star_6");
    check_snapshot("star_6");
}

#[test]
fn complete_graph_of_five_matches_networkx() {
    check_metrics("complete_5");
    check_snapshot("complete_5");
}

#[test]
fn two_triangles_and_an_isolated_node_match_networkx() {
    check_metrics("two_triangles_and_isolated");
    check_snapshot("two_triangles_and_isolated");
}

#[test]
fn the_empty_graph_matches_networkx() {
    check_metrics("empty");
    check_snapshot("empty");
}

#[test]
fn a_single_node_matches_networkx() {
    // NetworkX gives a lone node degree centrality 1, not 0.
    assert_eq!(case("single_node").degree_centrality, vec![1.0]);
    check_metrics("single_node");
    check_snapshot("single_node");
}
