//! The live status endpoints: the unix socket read by `kad status`, and the Prometheus
//! responder on 127.0.0.1 with a free port, both fed by a stand-in event loop that owns
//! the protocol core and answers snapshot requests.

mod dump_common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kad::config::model::GlobalDefs;
use kad::daemon::status::{
    fetch, format_table, print_table, snapshot, snapshot_channel, Endpoints, SnapshotProvider,
    StatusError, StatusSnapshot, StatusSocket,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(10);

/// A directory unique to this run, removed on drop (also on panic).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kad-status-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A stand-in for the daemon's event loop: owns a MASTER scenario and answers every
/// snapshot request from it. Returns the snapshot it serves, for comparison.
fn spawn_loop() -> (
    Arc<dyn SnapshotProvider>,
    StatusSnapshot,
    tokio::task::JoinHandle<()>,
) {
    let scenario = dump_common::master();
    let expected = snapshot(&scenario.router, &scenario.facts);
    let (client, mut requests) = snapshot_channel();
    let task = tokio::spawn(async move {
        while let Some(request) = requests.recv().await {
            request.answer(snapshot(
                &scenario.router,
                &scenario.facts,
            ));
        }
    });
    (Arc::new(client), expected, task)
}

fn globals(socket: &Path) -> GlobalDefs {
    GlobalDefs {
        status_socket: Some(socket.to_string_lossy().into_owned()),
        prometheus_listen: Some("127.0.0.1:0".into()),
        ..GlobalDefs::default()
    }
}

async fn fetch_async(path: &Path) -> Result<StatusSnapshot, StatusError> {
    let path = path.to_path_buf();
    tokio::time::timeout(WAIT, tokio::task::spawn_blocking(move || fetch(&path)))
        .await
        .expect("fetch timed out")
        .unwrap()
}

async fn http(addr: std::net::SocketAddr, request: &str) -> String {
    tokio::time::timeout(WAIT, async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    })
    .await
    .expect("HTTP exchange timed out")
}

#[tokio::test]
async fn the_socket_answers_with_the_loop_s_snapshot() {
    let dir = TempDir::new();
    let socket = dir.0.join("status.sock");
    let (provider, expected, _loop) = spawn_loop();
    let endpoints = Endpoints::start(&globals(&socket), 0o177, provider)
        .await
        .unwrap();

    let meta = std::fs::metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    let got = fetch_async(&socket).await.unwrap();
    assert_eq!(got, expected);
    let names: Vec<&str> = got.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_1", "VI_2", "VI_3"]);
    let vi1 = &got.instances[0];
    assert_eq!((vi1.state.as_str(), vi1.state_code), ("MASTER", 2));
    assert_eq!((vi1.base_priority, vi1.effective_priority), (150, 160));
    assert!(vi1.vips_set);
    assert_eq!(vi1.stats.become_master, 1);
    let moves: Vec<(&str, &str)> = vi1
        .transitions
        .iter()
        .map(|t| (t.from.as_str(), t.to.as_str()))
        .collect();
    assert_eq!(moves, [("INIT", "BACKUP"), ("BACKUP", "MASTER")]);
    assert_eq!(vi1.last_transition, Some(vi1.transitions[1].at));

    let table = format_table(&got, std::time::SystemTime::now());
    assert_eq!(table.lines().count(), 4);
    assert!(table.lines().nth(1).unwrap().starts_with("VI_1 "));

    // several clients at once each get a whole document
    let many = futures::future::join_all((0..8).map(|_| fetch_async(&socket))).await;
    assert!(many.into_iter().all(|r| r.unwrap() == expected));

    drop(endpoints);
    tokio::time::timeout(WAIT, async {
        while socket.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the socket file is removed when the endpoints stop");
}

#[tokio::test]
async fn prometheus_endpoint_serves_metrics_on_a_free_port() {
    let dir = TempDir::new();
    let (provider, _, _loop) = spawn_loop();
    let endpoints = Endpoints::start(&globals(&dir.0.join("s")), 0o177, provider)
        .await
        .unwrap();
    let addr = endpoints.metrics_addr.unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0);

    let response = http(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{head}"
    );
    assert!(
        body.contains("kad_instance_state{instance=\"VI_1\"} 2\n"),
        "{body}"
    );
    assert!(body.contains("kad_instance_priority{instance=\"VI_1\"} 160\n"));
    assert!(body.contains("kad_vrrp_become_master_total{instance=\"VI_2\"} 1\n"));
    assert!(body.contains("# TYPE kad_vrrp_advert_rcvd_total counter\n"));

    let head_only = http(addr, "HEAD /metrics HTTP/1.0\r\n\r\n").await;
    assert!(head_only.starts_with("HTTP/1.0 200 OK\r\n"));
    assert!(head_only.ends_with("\r\n\r\n"), "HEAD has no body");
    assert!(http(addr, "GET /nope HTTP/1.0\r\n\r\n")
        .await
        .starts_with("HTTP/1.0 404 "));
    assert!(http(addr, "POST /metrics HTTP/1.0\r\n\r\n")
        .await
        .starts_with("HTTP/1.0 405 "));
    let huge = format!("GET /metrics HTTP/1.0\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    assert!(http(addr, &huge).await.starts_with("HTTP/1.0 431 "));
}

#[tokio::test]
async fn without_a_loop_clients_get_a_clear_failure_not_a_hang() {
    let dir = TempDir::new();
    let socket = dir.0.join("status.sock");
    let (client, requests) = snapshot_channel();
    drop(requests);
    let endpoints = Endpoints::start(&globals(&socket), 0o177, Arc::new(client))
        .await
        .unwrap();
    match fetch_async(&socket).await {
        Err(StatusError::Empty { .. }) => {}
        other => panic!("{other:?}"),
    }
    let response = http(
        endpoints.metrics_addr.unwrap(),
        "GET /metrics HTTP/1.0\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.0 503 "), "{response}");
}

#[tokio::test]
async fn a_closure_can_provide_snapshots() {
    let dir = TempDir::new();
    let socket = dir.0.join("status.sock");
    let fixed = StatusSnapshot {
        kad_version: "test".into(),
        generated: 1.5,
        instances: Vec::new(),
    };
    let served = fixed.clone();
    let provider: Arc<dyn SnapshotProvider> = Arc::new(move || Some(served.clone()));
    let _endpoints = Endpoints::start(&globals(&socket), 0o022, provider)
        .await
        .unwrap();
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert_eq!(fetch_async(&socket).await.unwrap(), fixed);
}

#[tokio::test]
async fn binding_replaces_a_stale_socket_but_never_another_file() {
    let dir = TempDir::new();
    let stale = dir.0.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let replaced = StatusSocket::bind(&stale, 0o177).unwrap();
    drop(replaced);
    assert!(!stale.exists());

    let precious = dir.0.join("precious");
    std::fs::write(&precious, "keep me").unwrap();
    match StatusSocket::bind(&precious, 0o177) {
        Err(StatusError::NotASocket { .. }) => {}
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("bound over a regular file"),
    }
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
}

#[test]
fn kad_status_fails_cleanly_without_a_daemon() {
    let dir = TempDir::new();
    assert_eq!(print_table(&dir.0.join("absent.sock")), 1);
}
