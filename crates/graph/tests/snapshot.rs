//! Whole snapshots: counts, bounds, and incremental change detection.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use organism_graph::parse::{directory_from_csv, interactions_from_csv};
use organism_graph::{
    Channel, DirectoryEntry, Interaction, Snapshot, SnapshotInput, SnapshotOptions, Window,
    compute_snapshot,
};

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 29, 0, 0, 0).unwrap()
}

/// Six employees in two teams, a fortnight of varied traffic, plus noise.
fn organisation() -> (Vec<DirectoryEntry>, Vec<Interaction>) {
    let directory: Vec<DirectoryEntry> = (0..6)
        .map(|i| DirectoryEntry::new(format!("e{i}"), Some(format!("team{}", i % 2))))
        .collect();
    let mut interactions = Vec::new();
    for hour in 0..(14 * 24) {
        let time = end() - Duration::hours(hour + 1);
        let a = (hour % 6) as usize;
        let b = ((hour * 7 + 1) % 6) as usize;
        let channel = [Channel::Email, Channel::Chat, Channel::Meeting][(hour % 3) as usize];
        let mut interaction = Interaction::new(format!("e{a}"), format!("e{b}"), time, channel);
        interaction.duration_minutes = 30.0;
        interactions.push(interaction);
    }
    interactions.push(Interaction::new(
        "e1",
        "ghost",
        end() - Duration::days(1),
        Channel::Chat,
    ));
    interactions.push(Interaction::new(
        "e1",
        "e2",
        end() - Duration::days(40),
        Channel::Chat,
    ));
    interactions.push(Interaction::new(
        "e4",
        "e4",
        end() - Duration::days(2),
        Channel::Email,
    ));
    (directory, interactions)
}

fn snapshot(directory: &[DirectoryEntry], interactions: &[Interaction]) -> Snapshot {
    let options = SnapshotOptions::new(Window::ending_at(end(), 28).unwrap());
    compute_snapshot(
        SnapshotInput {
            directory,
            interactions,
            malformed_rows: 3,
        },
        &options,
    )
}

#[test]
fn every_metric_is_finite_and_within_its_range() {
    let (directory, interactions) = organisation();
    let snapshot = snapshot(&directory, &interactions);
    assert_eq!(snapshot.employees.len(), 6);
    for metrics in &snapshot.employees {
        let [degree, betweenness, clustering, burnout] = metrics.values();
        for unit in [degree, betweenness, clustering] {
            assert!(unit.is_finite() && (0.0..=1.0).contains(&unit));
        }
        assert!(burnout.is_finite() && (0.0..=100.0).contains(&burnout));
    }
    assert!(snapshot.employees.iter().any(|m| m.burnout_score > 0.0));
}

#[test]
fn the_counts_say_what_was_used_and_what_was_dropped() {
    let (directory, interactions) = organisation();
    let snapshot = snapshot(&directory, &interactions);
    let counts = snapshot.counts;
    assert_eq!(counts.employees, 6);
    assert_eq!(counts.unknown_employees, 1);
    assert_eq!(counts.outside_window, 1);
    assert_eq!(counts.malformed_rows, 3);
    assert_eq!(counts.self_loops, 1);
    assert_eq!(counts.interactions_used, 14 * 24);
}

#[test]
fn nothing_has_changed_since_an_identical_snapshot() {
    let (directory, interactions) = organisation();
    let first = snapshot(&directory, &interactions);
    let second = snapshot(&directory, &interactions);
    assert_eq!(first, second);
    assert!(
        second
            .changed_since(&first.values_by_employee(), 0.0)
            .is_empty()
    );
    assert!(
        second
            .changed_since(&first.values_by_employee(), 1e-6)
            .is_empty()
    );
}

#[test]
fn changed_since_returns_employees_who_moved_or_are_new() {
    let (directory, interactions) = organisation();
    let snapshot = snapshot(&directory, &interactions);
    let mut previous = snapshot.values_by_employee();
    previous.get_mut("e0").unwrap()[3] += 5.0; // burnout moved by 5
    previous.get_mut("e1").unwrap()[1] += 1e-9; // within tolerance
    previous.get_mut("e2").unwrap()[2] = f64::NAN; // unknown before
    previous.remove("e3"); // new employee
    previous.insert("gone".to_owned(), [0.0; 4]); // left: nothing to write
    let changed: Vec<&str> = snapshot
        .changed_since(&previous, 1e-6)
        .iter()
        .map(|m| m.employee_id.as_str())
        .collect();
    assert_eq!(changed, vec!["e0", "e2", "e3"]);
    assert!(snapshot.changed_since(&HashMap::new(), 0.1).len() == 6);
}

#[test]
fn parsed_files_feed_a_snapshot_with_their_malformed_rows_counted() {
    let directory = directory_from_csv(b"employee_id,team\na,x\nb,x\n,x\n").unwrap();
    let interactions = interactions_from_csv(
        b"from,to,time,channel\na,b,2024-03-20T10:00:00Z,chat\na,b,garbage,chat\na,a,2024-03-20T10:00:00Z,chat\n",
    )
    .unwrap();
    let options = SnapshotOptions::new(Window::ending_at(end(), 28).unwrap());
    let snapshot = compute_snapshot(
        SnapshotInput {
            directory: &directory.rows,
            interactions: &interactions.rows,
            malformed_rows: directory.malformed.count + interactions.malformed.count,
        },
        &options,
    );
    assert_eq!(snapshot.counts.malformed_rows, 2);
    assert_eq!(snapshot.counts.self_loops, 1);
    assert_eq!(snapshot.counts.edges, 1);
    assert_eq!(snapshot.employees[0].degree_centrality, 1.0);
}
