//! kad's live status (an extension; keepalived only has its signal-triggered dumps).
//!
//! - `status_socket PATH`: a unix socket that answers every connection with one JSON
//!   document ([`StatusSnapshot`]) and closes; `kad status [--socket PATH]` prints it as
//!   a table ([`print_table`]).
//! - `prometheus_listen ADDR:PORT`: a minimal HTTP/1.0 responder serving Prometheus
//!   text format on `/metrics`.
//!
//! The event loop stays the only owner of the protocol core: the servers ask a
//! [`SnapshotProvider`] for a snapshot per request. [`snapshot_channel`] gives the loop
//! a receiver of [`SnapshotRequest`]s to answer with [`snapshot`] from its `select!`.
//! A slow or absent answer costs the client a bounded wait, never the loop.

use std::fmt::Write as _;
use std::io::{self, Read as _};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;

use crate::config::model::GlobalDefs;
use crate::daemon::dump::{counters, epoch_f64, state_number, state_str, LocalTime, RuntimeFacts};
use crate::vrrp::{Router, StateName, Stats};

/// How long a client waits for the loop to produce a snapshot.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(2);
/// How long a connection may take to send its request or receive its answer.
const IO_WAIT: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed straight away.
const MAX_CONNECTIONS: usize = 16;
/// The largest HTTP request head read.
const MAX_REQUEST: usize = 8192;
/// The largest status document `kad status` accepts.
const MAX_DOCUMENT: u64 = 16 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusSnapshot {
    pub kad_version: String,
    /// Seconds since the epoch.
    pub generated: f64,
    pub instances: Vec<InstanceSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceSnapshot {
    pub name: String,
    pub vrid: u8,
    pub version: u8,
    pub interface: Option<String>,
    pub sync_group: Option<String>,
    /// `MASTER`, `BACKUP`, `FAULT`, `INIT` or `STOP`.
    pub state: String,
    /// keepalived's number for the state (JSON dump `state`).
    pub state_code: u64,
    pub wantstate: String,
    pub base_priority: u8,
    pub effective_priority: u8,
    /// The master heard last, while BACKUP.
    pub master_addr: Option<IpAddr>,
    pub master_priority: u8,
    pub vips_set: bool,
    /// Seconds since the epoch.
    pub last_transition: Option<f64>,
    /// keepalived's counter names.
    pub stats: Stats,
    /// Oldest first.
    pub transitions: Vec<TransitionSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionSnapshot {
    /// Seconds since the epoch.
    pub at: f64,
    pub from: String,
    pub to: String,
}

/// The status of every configured instance.
pub fn snapshot(router: &Router, facts: &RuntimeFacts) -> StatusSnapshot {
    let instances = facts
        .configured
        .iter()
        .filter_map(|conf| {
            let id = router.find(&conf.name)?;
            let status = router.status(id)?;
            let details = router.details(id)?;
            let params = router.params(id)?;
            let vips_set = facts
                .instances
                .get(&conf.name)
                .and_then(|f| f.vips_set)
                .unwrap_or(status.state == StateName::Master);
            Some(InstanceSnapshot {
                name: conf.name.clone(),
                vrid: params.vrid,
                version: params.version,
                interface: conf
                    .use_vmac
                    .as_ref()
                    .map(|v| v.ifname.clone())
                    .or_else(|| params.interface.as_deref().map(str::to_string)),
                sync_group: params.sync_group.as_deref().map(str::to_string),
                state: state_str(status.state).into(),
                state_code: state_number(status.state),
                wantstate: state_str(details.wantstate).into(),
                base_priority: params.base_priority,
                effective_priority: status.effective_priority,
                master_addr: status
                    .master_addr
                    .filter(|_| status.state == StateName::Backup),
                master_priority: status.master_priority,
                vips_set,
                last_transition: facts.transitions.last(&conf.name).map(|t| epoch_f64(t.at)),
                stats: status.stats,
                transitions: facts
                    .transitions
                    .recent(&conf.name)
                    .map(|t| TransitionSnapshot {
                        at: epoch_f64(t.at),
                        from: state_str(t.from).into(),
                        to: state_str(t.to).into(),
                    })
                    .collect(),
            })
        })
        .collect();
    StatusSnapshot {
        kad_version: env!("CARGO_PKG_VERSION").into(),
        generated: epoch_f64(facts.clock.wall),
        instances,
    }
}

// ---------------------------------------------------------------------------------------
// Snapshot providers
// ---------------------------------------------------------------------------------------

/// Where the servers get a snapshot from; `None` when none can be had now.
pub trait SnapshotProvider: Send + Sync + 'static {
    fn snapshot(&self) -> BoxFuture<'_, Option<StatusSnapshot>>;
}

/// A closure, for state that is shared rather than owned by the loop.
impl<F> SnapshotProvider for F
where
    F: Fn() -> Option<StatusSnapshot> + Send + Sync + 'static,
{
    fn snapshot(&self) -> BoxFuture<'_, Option<StatusSnapshot>> {
        let snap = self();
        Box::pin(async move { snap })
    }
}

/// One request for a snapshot, to be answered by the event loop.
#[derive(Debug)]
pub struct SnapshotRequest {
    reply: oneshot::Sender<StatusSnapshot>,
}

impl SnapshotRequest {
    pub fn answer(self, snapshot: StatusSnapshot) {
        // the client may have given up waiting; nothing to do then
        let _ = self.reply.send(snapshot);
    }
}

/// The servers' side of [`snapshot_channel`].
#[derive(Debug, Clone)]
pub struct SnapshotClient {
    requests: mpsc::Sender<SnapshotRequest>,
}

impl SnapshotProvider for SnapshotClient {
    fn snapshot(&self) -> BoxFuture<'_, Option<StatusSnapshot>> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            // a full queue means the loop is behind: fail fast rather than pile up
            self.requests.try_send(SnapshotRequest { reply }).ok()?;
            tokio::time::timeout(SNAPSHOT_WAIT, answer).await.ok()?.ok()
        })
    }
}

/// A provider for the servers and the receiver the event loop answers from.
pub fn snapshot_channel() -> (SnapshotClient, mpsc::Receiver<SnapshotRequest>) {
    let (requests, rx) = mpsc::channel(MAX_CONNECTIONS);
    (SnapshotClient { requests }, rx)
}

// ---------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("status socket {path}: {source}")]
    Socket { path: PathBuf, source: io::Error },
    #[error("{path} exists and is not a socket")]
    NotASocket { path: PathBuf },
    #[error("prometheus_listen {addr}: {source}")]
    Listen { addr: String, source: io::Error },
    #[error("cannot connect to {path}: {source}")]
    Connect { path: PathBuf, source: io::Error },
    #[error("reading from {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} sent no status (is the daemon busy?)")]
    Empty { path: PathBuf },
    #[error("{path} sent an unreadable status: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// The unix-socket endpoint. The socket file is removed when the server is dropped.
pub struct StatusSocket {
    path: PathBuf,
    listener: UnixListener,
}

impl StatusSocket {
    /// Binds `path` (replacing a stale socket left by a previous run, never another kind
    /// of file) with mode 0666 less `umask`.
    pub fn bind(path: &Path, umask: u32) -> Result<StatusSocket, StatusError> {
        let err = |source| StatusError::Socket {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path).map_err(err)?,
            Ok(_) => {
                return Err(StatusError::NotASocket {
                    path: path.to_path_buf(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        let listener = UnixListener::bind(path).map_err(err)?;
        let socket = StatusSocket {
            path: path.to_path_buf(),
            listener,
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666 & !umask))
            .map_err(err)?;
        Ok(socket)
    }

    /// Serves until dropped (abort the task running it to stop).
    pub async fn run(self, provider: Arc<dyn SnapshotProvider>) {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok((mut stream, _)) = self.listener.accept().await else {
                // e.g. EMFILE: give the system a moment instead of spinning
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                continue;
            };
            let provider = provider.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let body = match provider.snapshot().await {
                    Some(snap) => serde_json::to_string(&snap).map(|mut s| {
                        s.push('\n');
                        s
                    }),
                    None => return,
                };
                if let Ok(body) = body {
                    let _ = tokio::time::timeout(IO_WAIT, stream.write_all(body.as_bytes())).await;
                }
            });
        }
    }
}

impl Drop for StatusSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The Prometheus endpoint.
pub struct MetricsListener {
    listener: TcpListener,
}

impl MetricsListener {
    pub async fn bind(addr: &str) -> Result<MetricsListener, StatusError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StatusError::Listen {
                addr: addr.to_string(),
                source,
            })?;
        Ok(MetricsListener { listener })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until dropped (abort the task running it to stop).
    pub async fn run(self, provider: Arc<dyn SnapshotProvider>) {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok((mut stream, _)) = self.listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                continue;
            };
            let provider = provider.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let _ =
                    tokio::time::timeout(IO_WAIT, serve_http(&mut stream, provider.as_ref())).await;
            });
        }
    }
}

/// Reads one request head and answers it; every path ends the connection.
async fn serve_http<S>(stream: &mut S, provider: &dyn SnapshotProvider) -> io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_REQUEST {
            return respond(
                stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "request too large\n",
                true,
            )
            .await;
        }
    }
    let request_line = head.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let request_line = String::from_utf8_lossy(request_line);
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let with_body = method != "HEAD";
    if method != "GET" && method != "HEAD" {
        return respond(
            stream,
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n",
            with_body,
        )
        .await;
    }
    let path = target.split('?').next().unwrap_or("");
    match path {
        "/metrics" => match provider.snapshot().await {
            Some(snap) => {
                let body = prometheus_text(&snap);
                respond(
                    stream,
                    "200 OK",
                    "text/plain; version=0.0.4; charset=utf-8",
                    &body,
                    with_body,
                )
                .await
            }
            None => {
                respond(
                    stream,
                    "503 Service Unavailable",
                    "text/plain",
                    "no status from the daemon\n",
                    with_body,
                )
                .await
            }
        },
        "/" => {
            respond(
                stream,
                "200 OK",
                "text/plain",
                "kad: metrics are at /metrics\n",
                with_body,
            )
            .await
        }
        _ => {
            respond(
                stream,
                "404 Not Found",
                "text/plain",
                "not found\n",
                with_body,
            )
            .await
        }
    }
}

async fn respond<S>(
    stream: &mut S,
    status: &str,
    content_type: &str,
    body: &str,
    with_body: bool,
) -> io::Result<()>
where
    S: tokio::io::AsyncWrite + Unpin,
{
    let mut out = format!(
        "HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if with_body {
        out.push_str(body);
    }
    stream.write_all(out.as_bytes()).await?;
    stream.shutdown().await
}

/// The endpoints configured in global_defs, served until this value is dropped.
pub struct Endpoints {
    tasks: Vec<JoinHandle<()>>,
    /// Where the Prometheus endpoint actually listens (useful with port 0).
    pub metrics_addr: Option<SocketAddr>,
}

impl Endpoints {
    /// Binds `status_socket` and `prometheus_listen` (whichever are set) and serves them
    /// on the current tokio runtime. A bind failure is returned and nothing is served.
    pub async fn start(
        global: &GlobalDefs,
        umask: u32,
        provider: Arc<dyn SnapshotProvider>,
    ) -> Result<Endpoints, StatusError> {
        let socket = match &global.status_socket {
            Some(path) => Some(StatusSocket::bind(Path::new(path), umask)?),
            None => None,
        };
        let metrics = match &global.prometheus_listen {
            Some(addr) => Some(MetricsListener::bind(addr).await?),
            None => None,
        };
        let metrics_addr = metrics.as_ref().and_then(|m| m.local_addr().ok());
        let mut tasks = Vec::new();
        if let Some(socket) = socket {
            tasks.push(tokio::spawn(socket.run(provider.clone())));
        }
        if let Some(metrics) = metrics {
            tasks.push(tokio::spawn(metrics.run(provider)));
        }
        Ok(Endpoints {
            tasks,
            metrics_addr,
        })
    }
}

impl Drop for Endpoints {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Prometheus text format
// ---------------------------------------------------------------------------------------

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// What each keepalived counter counts, for the `# HELP` lines.
fn counter_help(name: &str) -> &'static str {
    match name {
        "advert_rcvd" => "Advertisements received.",
        "advert_sent" => "Advertisements sent.",
        "become_master" => "Transitions to MASTER.",
        "release_master" => "Transitions out of MASTER.",
        "packet_len_err" => "Packets with a bad length.",
        "advert_interval_err" => "Advertisements with a mismatching interval.",
        "ip_ttl_err" => "Packets with a TTL/hop limit other than 255.",
        "invalid_type_rcvd" => "Packets of a VRRP type other than ADVERTISEMENT.",
        "addr_list_err" => "Advertisements whose address list differs from ours.",
        "invalid_authtype" => "Packets with an unknown authentication type.",
        "authtype_mismatch" => "Packets with a different authentication type than ours.",
        "auth_failure" => "Packets failing authentication.",
        "pri_zero_rcvd" => "Priority 0 advertisements received.",
        "pri_zero_sent" => "Priority 0 advertisements sent.",
        _ => "VRRP counter.",
    }
}

/// The snapshot in Prometheus text exposition format 0.0.4.
pub fn prometheus_text(snap: &StatusSnapshot) -> String {
    let mut out = String::new();
    type Gauge = fn(&InstanceSnapshot) -> Option<f64>;
    let gauges: [(&str, &str, Gauge); 6] = [
        (
            "kad_instance_state",
            "VRRP state as keepalived numbers it: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, 98 STOP.",
            |i| Some(i.state_code as f64),
        ),
        ("kad_instance_priority", "Effective priority.", |i| {
            Some(f64::from(i.effective_priority))
        }),
        ("kad_instance_base_priority", "Configured priority.", |i| {
            Some(f64::from(i.base_priority))
        }),
        (
            "kad_instance_master_priority",
            "Priority of the master heard last (BACKUP only).",
            |i| i.master_addr.map(|_| f64::from(i.master_priority)),
        ),
        (
            "kad_instance_vips_set",
            "1 while the virtual addresses are installed.",
            |i| Some(if i.vips_set { 1.0 } else { 0.0 }),
        ),
        (
            "kad_instance_last_transition_seconds",
            "Time of the last state change, in seconds since the epoch.",
            |i| i.last_transition,
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for i in &snap.instances {
            if let Some(v) = value(i) {
                let _ = writeln!(out, "{name}{{instance=\"{}\"}} {v}", label(&i.name));
            }
        }
    }
    let per_instance: Vec<(&InstanceSnapshot, [(&str, u64); 14])> = snap
        .instances
        .iter()
        .map(|i| (i, counters(&i.stats)))
        .collect();
    for (pos, (key, _)) in counters(&Stats::default()).iter().enumerate() {
        let name = format!("kad_vrrp_{key}_total");
        let _ = writeln!(
            out,
            "# HELP {name} {}\n# TYPE {name} counter",
            counter_help(key)
        );
        for (i, values) in &per_instance {
            let _ = writeln!(
                out,
                "{name}{{instance=\"{}\"}} {}",
                label(&i.name),
                values[pos].1
            );
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// `kad status`
// ---------------------------------------------------------------------------------------

/// Reads one status document from the daemon's socket.
pub fn fetch(path: &Path) -> Result<StatusSnapshot, StatusError> {
    let stream =
        std::os::unix::net::UnixStream::connect(path).map_err(|source| StatusError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
    let read_err = |source| StatusError::Read {
        path: path.to_path_buf(),
        source,
    };
    stream
        .set_read_timeout(Some(SNAPSHOT_WAIT + IO_WAIT))
        .map_err(read_err)?;
    let mut text = String::new();
    stream
        .take(MAX_DOCUMENT)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    if text.trim().is_empty() {
        return Err(StatusError::Empty {
            path: path.to_path_buf(),
        });
    }
    serde_json::from_str(&text).map_err(|source| StatusError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// `kad status`: prints the daemon's instances as a table; 0 on success, 1 when the
/// daemon cannot be asked.
pub fn print_table(path: &Path) -> i32 {
    match fetch(path) {
        Ok(snap) => {
            print!("{}", format_table(&snap, SystemTime::now()));
            0
        }
        Err(e) => {
            eprintln!("kad status: {e}");
            1
        }
    }
}

fn ago(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    match s {
        0..=119 => format!("{s}s ago"),
        120..=7199 => format!("{}m ago", s / 60),
        7200..=172_799 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

/// The table `kad status` prints, with ages relative to `now`.
pub fn format_table(snap: &StatusSnapshot, now: SystemTime) -> String {
    let now = epoch_f64(now);
    let header = [
        "INSTANCE",
        "VRID",
        "STATE",
        "PRIO",
        "MASTER",
        "INTERFACE",
        "ADVERTS RX/TX",
        "LAST CHANGE",
    ];
    let rows: Vec<[String; 8]> = snap
        .instances
        .iter()
        .map(|i| {
            let master = match (&i.state[..], i.master_addr) {
                ("MASTER", _) => "this node".to_string(),
                (_, Some(addr)) => format!("{addr} ({})", i.master_priority),
                _ => "-".to_string(),
            };
            let state = if i.wantstate != i.state && i.state != "INIT" {
                format!("{} (wants {})", i.state, i.wantstate)
            } else {
                i.state.clone()
            };
            let changed = i
                .last_transition
                .map(|t| {
                    let local = LocalTime::of(t as i64).map(|l| l.iso()).unwrap_or_default();
                    format!("{local} ({})", ago(now - t))
                })
                .unwrap_or_else(|| "-".into());
            [
                i.name.clone(),
                i.vrid.to_string(),
                state,
                if i.effective_priority == i.base_priority {
                    i.base_priority.to_string()
                } else {
                    format!("{} (base {})", i.effective_priority, i.base_priority)
                },
                master,
                i.interface.clone().unwrap_or_else(|| "-".into()),
                format!("{}/{}", i.stats.advert_rcvd, i.stats.advert_sent),
                changed,
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (n, (cell, w)) in cells.iter().zip(widths.iter()).enumerate() {
            if n + 1 == cells.len() {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(name: &str, state: &str, code: u64) -> InstanceSnapshot {
        InstanceSnapshot {
            name: name.into(),
            vrid: 51,
            version: 2,
            interface: Some("eth0".into()),
            sync_group: None,
            state: state.into(),
            state_code: code,
            wantstate: state.into(),
            base_priority: 150,
            effective_priority: 160,
            master_addr: None,
            master_priority: 0,
            vips_set: code == 2,
            last_transition: Some(1_782_907_203.375),
            stats: Stats {
                advert_sent: 7,
                become_master: 1,
                ..Stats::default()
            },
            transitions: Vec::new(),
        }
    }

    fn snap(instances: Vec<InstanceSnapshot>) -> StatusSnapshot {
        StatusSnapshot {
            kad_version: "0.1.0".into(),
            generated: 1_782_907_210.0,
            instances,
        }
    }

    #[test]
    fn prometheus_text_has_one_family_per_metric_and_escaped_labels() {
        let mut backup = instance("we\"ird\\name", "BACKUP", 1);
        backup.master_addr = Some("192.0.2.11".parse().unwrap());
        backup.master_priority = 160;
        let text = prometheus_text(&snap(vec![instance("VI_1", "MASTER", 2), backup]));
        assert!(text.contains(
            "# TYPE kad_instance_state gauge\nkad_instance_state{instance=\"VI_1\"} 2\n"
        ));
        assert!(text.contains("kad_instance_state{instance=\"we\\\"ird\\\\name\"} 1\n"));
        assert!(text.contains("kad_instance_priority{instance=\"VI_1\"} 160\n"));
        assert!(text
            .contains("kad_instance_last_transition_seconds{instance=\"VI_1\"} 1782907203.375\n"));
        // only a backup has a master to report
        assert!(!text.contains("kad_instance_master_priority{instance=\"VI_1\"}"));
        assert!(text.contains("kad_instance_master_priority{instance=\"we\\\"ird\\\\name\"} 160\n"));
        assert!(text.contains("# TYPE kad_vrrp_advert_sent_total counter\n"));
        assert!(text.contains("kad_vrrp_advert_sent_total{instance=\"VI_1\"} 7\n"));
        assert_eq!(text.matches("# TYPE ").count(), 6 + 14);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn table_shows_state_priority_master_and_age() {
        let mut backup = instance("VI_2", "BACKUP", 1);
        backup.master_addr = Some("192.0.2.11".parse().unwrap());
        backup.master_priority = 160;
        backup.effective_priority = 150;
        backup.last_transition = None;
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_782_907_203 + 301);
        let table = format_table(&snap(vec![instance("VI_1", "MASTER", 2), backup]), now);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].starts_with("INSTANCE  VRID  STATE   PRIO"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with("VI_1      51    MASTER  160 (base 150)  this node"),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with("(5m ago)"), "{}", lines[1]);
        assert!(lines[2].contains("192.0.2.11 (160)"), "{}", lines[2]);
        assert!(lines[2].ends_with("  -"), "{}", lines[2]);
        // columns line up
        let col = lines[0].find("MASTER").unwrap();
        assert_eq!(&lines[1][col..col + 9], "this node");
    }

    #[test]
    fn ages_round_down_to_a_readable_unit() {
        assert_eq!(ago(5.9), "5s ago");
        assert_eq!(ago(-3.0), "0s ago");
        assert_eq!(ago(600.0), "10m ago");
        assert_eq!(ago(3.0 * 3600.0), "3h ago");
        assert_eq!(ago(3.0 * 86_400.0), "3d ago");
    }
}
