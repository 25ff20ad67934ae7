//! The embedded cluster really starts, is reused, and stops.

use std::process::Command;

use organism_pgcluster::{ClusterOptions, EmbeddedCluster};

fn psql(cluster: &EmbeddedCluster, sql: &str) -> String {
    let out = Command::new(cluster.binaries().binary("psql"))
        .args(["-X", "-A", "-t", "-c", sql])
        .arg(cluster.connection_string("postgres"))
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_cluster_is_created_started_reused_and_stopped() {
    let root = std::env::temp_dir().join(format!("organism-pgcluster-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut options = ClusterOptions::new(&root);
    options.durable = false;
    options.search_path = Some("/usr/local/bin:/usr/bin".into());

    let mut cluster = EmbeddedCluster::start(options.clone()).expect("first start");
    assert_eq!(psql(&cluster, "select 1"), "1");
    psql(
        &cluster,
        "create table kept (v int); insert into kept values (42)",
    );
    let pid = cluster.pid();
    cluster.stop();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the server process is gone after stop"
    );

    let cluster = EmbeddedCluster::start(options).expect("second start reuses the data");
    assert_eq!(psql(&cluster, "select v from kept"), "42");
    drop(cluster);
    std::fs::remove_dir_all(&root).expect("cleanup");
}
