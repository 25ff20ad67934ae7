//! Bounded work: the sampled betweenness against the exact one, size limits,
//! and budgets that run out.
#![allow(clippy::unwrap_used)]

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use organism_graph::centrality::{
    Adjacency, betweenness_centrality_with_threads, choose_method, sampled_betweenness_centrality,
};
use organism_graph::sampling::SplitMix64;
use organism_graph::{
    Accuracy, Approximation, BetweennessMethod, Budget, Channel, DirectoryEntry, Interaction,
    Interrupted, SizeLimits, SnapshotError, SnapshotInput, SnapshotOptions, Window,
    compute_snapshot, compute_snapshot_within,
};
use petgraph::graph::UnGraph;

/// An organisation-shaped graph: `teams` teams of `size`, each fairly dense
/// inside, a few links between teams, and a hub per team; deterministic.
fn organisation(teams: usize, size: usize, seed: u64) -> UnGraph<(), ()> {
    let n = teams * size;
    let mut rng = SplitMix64::new(seed);
    let mut graph = UnGraph::with_capacity(n, 0);
    for _ in 0..n {
        graph.add_node(());
    }
    let node = |i: usize| petgraph::graph::NodeIndex::new(i);
    for team in 0..teams {
        let first = team * size;
        for a in 0..size {
            for b in (a + 1)..size {
                if rng.below(4) == 0 {
                    graph.add_edge(node(first + a), node(first + b), ());
                }
            }
        }
        // The team's lead links to the next team's lead and to one random
        // member of a random team.
        graph.add_edge(node(first), node(((team + 1) % teams) * size), ());
        graph.add_edge(node(first + 1), node(rng.below(n)), ());
    }
    graph
}

#[test]
fn sampled_betweenness_is_within_its_stated_error_of_the_exact_values() {
    let graph = organisation(20, 15, 11);
    let exact = betweenness_centrality_with_threads(&graph, NonZeroUsize::MIN);
    for seed in [1, 2, 3] {
        let accuracy = Accuracy::new(0.02, 0.1, seed).unwrap();
        let (sampled, method) =
            sampled_betweenness_centrality(&graph, &accuracy, NonZeroUsize::new(2).unwrap());
        let BetweennessMethod::Sampled { samples, .. } = method else {
            panic!("not sampled: {method:?}");
        };
        let worst = exact
            .iter()
            .zip(&sampled)
            .map(|(e, s)| (e - s).abs())
            .fold(0.0, f64::max);
        eprintln!("seed {seed}: {samples} samples, max error {worst:.5}");
        assert!(
            worst <= accuracy.epsilon,
            "seed {seed}: max error {worst} above ε = {} with {samples} samples",
            accuracy.epsilon
        );
        // It is an estimate, not a copy: the central nodes are found.
        let top_exact = argmax(&exact);
        assert!(sampled[top_exact] > 0.0, "seed {seed}");
    }
}

fn argmax(values: &[f64]) -> usize {
    values
        .iter()
        .enumerate()
        .fold(
            (0, f64::MIN),
            |best, (i, &v)| if v > best.1 { (i, v) } else { best },
        )
        .0
}

#[test]
fn sampled_betweenness_is_the_same_on_any_number_of_threads_and_every_run() {
    let graph = organisation(8, 12, 5);
    let accuracy = Accuracy::new(0.05, 0.1, 42).unwrap();
    let (one, _) = sampled_betweenness_centrality(&graph, &accuracy, NonZeroUsize::MIN);
    for threads in [1, 2, 5] {
        let (many, _) =
            sampled_betweenness_centrality(&graph, &accuracy, NonZeroUsize::new(threads).unwrap());
        assert!(
            one.iter()
                .zip(&many)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{threads} threads"
        );
    }
}

#[test]
fn betweenness_is_sampled_only_above_the_threshold_and_when_it_saves_work() {
    let graph = organisation(40, 25, 3); // 1,000 nodes
    let adjacency = Adjacency::from_graph(&graph);
    let coarse = Approximation {
        above_work: 0,
        accuracy: Accuracy::new(0.2, 0.1, 1).unwrap(),
    };
    assert!(matches!(
        choose_method(&adjacency, Some(&coarse)),
        BetweennessMethod::Sampled { samples, .. } if samples < 1_000
    ));
    // Below the threshold: exact.
    let high = Approximation {
        above_work: u64::MAX,
        ..coarse
    };
    assert_eq!(
        choose_method(&adjacency, Some(&high)),
        BetweennessMethod::Exact
    );
    // A bound needing more samples than there are nodes: exact is cheaper.
    let fine = Approximation {
        above_work: 0,
        accuracy: Accuracy::new(0.001, 0.1, 1).unwrap(),
    };
    assert_eq!(
        choose_method(&adjacency, Some(&fine)),
        BetweennessMethod::Exact
    );
    assert_eq!(choose_method(&adjacency, None), BetweennessMethod::Exact);
}

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 29, 0, 0, 0).unwrap()
}

/// A ring of `n` employees, one chat per neighbour pair the day before `end`.
fn ring(n: usize) -> (Vec<DirectoryEntry>, Vec<Interaction>) {
    let directory = (0..n)
        .map(|i| DirectoryEntry::new(format!("e{i}"), None))
        .collect();
    let interactions = (0..n)
        .map(|i| {
            Interaction::new(
                format!("e{i}"),
                format!("e{}", (i + 1) % n),
                end() - chrono::Duration::days(1),
                Channel::Chat,
            )
        })
        .collect();
    (directory, interactions)
}

fn options() -> SnapshotOptions {
    SnapshotOptions::new(Window::ending_at(end(), 28).unwrap())
}

#[test]
fn a_graph_over_a_size_limit_is_refused_naming_the_count_and_the_limit() {
    let (directory, interactions) = ring(10);
    let input = SnapshotInput {
        directory: &directory,
        interactions: &interactions,
        malformed_rows: 0,
    };
    let unlimited = Budget::unlimited();
    let employees = SizeLimits {
        max_employees: 9,
        max_edges: 100,
    };
    assert_eq!(
        compute_snapshot_within(input, &options(), &employees, &unlimited),
        Err(SnapshotError::TooManyEmployees {
            count: 10,
            limit: 9
        })
    );
    let edges = SizeLimits {
        max_employees: 10,
        max_edges: 9,
    };
    assert_eq!(
        compute_snapshot_within(input, &options(), &edges, &unlimited),
        Err(SnapshotError::TooManyEdges {
            count: 10,
            limit: 9
        })
    );
    let at_the_limit = SizeLimits {
        max_employees: 10,
        max_edges: 10,
    };
    assert_eq!(
        compute_snapshot_within(input, &options(), &at_the_limit, &unlimited).unwrap(),
        compute_snapshot(input, &options())
    );
}

#[test]
fn a_budget_that_has_run_out_stops_the_computation() {
    let (directory, interactions) = ring(200);
    let input = SnapshotInput {
        directory: &directory,
        interactions: &interactions,
        malformed_rows: 0,
    };
    let mut options = options();
    for threads in [1, 2] {
        options.threads = NonZeroUsize::new(threads).unwrap();
        assert_eq!(
            compute_snapshot_within(
                input,
                &options,
                &SizeLimits::NONE,
                &Budget::for_duration(Duration::ZERO)
            ),
            Err(SnapshotError::Interrupted(Interrupted::Deadline))
        );
        let cancelled = Budget::unlimited().with_cancel_flag(Arc::new(AtomicBool::new(true)));
        assert_eq!(
            compute_snapshot_within(input, &options, &SizeLimits::NONE, &cancelled),
            Err(SnapshotError::Interrupted(Interrupted::Cancelled))
        );
    }
    // The sampled path stops too.
    options.approximation = Some(Approximation {
        above_work: 0,
        accuracy: Accuracy::new(0.3, 0.1, 1).unwrap(),
    });
    assert_eq!(
        compute_snapshot_within(
            input,
            &options,
            &SizeLimits::NONE,
            &Budget::for_duration(Duration::ZERO)
        ),
        Err(SnapshotError::Interrupted(Interrupted::Deadline))
    );
}

#[test]
fn a_sampled_snapshot_reports_its_method_and_bound() {
    let (directory, interactions) = ring(400);
    let input = SnapshotInput {
        directory: &directory,
        interactions: &interactions,
        malformed_rows: 0,
    };
    let mut options = options();
    options.approximation = Some(Approximation {
        above_work: 0,
        accuracy: Accuracy::new(0.3, 0.1, 9).unwrap(),
    });
    let sampled = compute_snapshot(input, &options);
    let BetweennessMethod::Sampled {
        samples,
        epsilon,
        delta,
        ..
    } = sampled.betweenness
    else {
        panic!("not sampled: {:?}", sampled.betweenness);
    };
    assert!(samples < 400);
    assert_eq!((epsilon, delta), (0.3, 0.1));
    let exact = compute_snapshot(input, &self::options());
    assert_eq!(exact.betweenness, BetweennessMethod::Exact);
    for (s, e) in sampled.employees.iter().zip(&exact.employees) {
        assert!((s.betweenness_centrality - e.betweenness_centrality).abs() <= epsilon);
        // Only betweenness is approximated.
        assert_eq!(s.clustering_coeff, e.clustering_coeff);
        assert_eq!(s.degree_centrality, e.degree_centrality);
    }
}
