//! Shared by the tests/smtp_*.rs files: the recording SMTP server (compat/smtp-server.py
//! on Debian's python3-aiosmtpd), log capture, scratch directories and test certificates.
#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kad::config::model::{Config, GlobalDefs, SmtpServer};
use kad::notify::smtp::{HostFacts, MailSettings, MailStats, Mailer};
use serde_json::Value;
use tracing_subscriber::fmt::MakeWriter;

/// Generous: the machine is shared with other compilations.
pub const WAIT: Duration = Duration::from_secs(20);

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A directory unique to this process and call, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(what: &str) -> Scratch {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("kad-{what}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The interpreter that has aiosmtpd: Debian's, or whatever `python3` is.
fn python() -> &'static str {
    for candidate in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(candidate)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return candidate;
        }
    }
    panic!("no python3 with aiosmtpd (Debian: apt-get install python3-aiosmtpd)");
}

/// A running compat/smtp-server.py; killed on drop.
pub struct TestServer {
    child: Child,
    pub port: u16,
    out: PathBuf,
    _dir: Scratch,
}

impl TestServer {
    /// `args` are extra server arguments (`--mode tarpit`, `--starttls CERT KEY`, ...).
    pub fn start(args: &[&str]) -> TestServer {
        TestServer::start_on(0, args)
    }

    pub fn start_on(port: u16, args: &[&str]) -> TestServer {
        TestServer::start_with(&[], port, args)
    }

    /// Inside network namespace `netns` (the port is that namespace's).
    pub fn start_in_netns(netns: &str, args: &[&str]) -> TestServer {
        TestServer::start_with(&["ip", "netns", "exec", netns], 0, args)
    }

    fn start_with(prefix: &[&str], port: u16, args: &[&str]) -> TestServer {
        let dir = Scratch::new("smtp-server");
        let out = dir.path("records.jsonl");
        // aiosmtpd prints tracebacks for the TLS failures some tests provoke on purpose.
        let stderr = std::fs::File::create(dir.path("server.log")).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/smtp-server.py");
        let mut command = match prefix.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(python());
                c
            }
            None => Command::new(python()),
        };
        let mut child = command
            .arg(script)
            .args(["--port", &port.to_string(), "--out"])
            .arg(&out)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = TestServer {
            child,
            port: 0,
            out,
            _dir: dir,
        };
        let line = rx.recv_timeout(WAIT).unwrap_or_default();
        server.port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| {
                let log =
                    std::fs::read_to_string(server._dir.path("server.log")).unwrap_or_default();
                panic!("SMTP test server did not start: {line:?}\n{log}")
            });
        server
    }

    pub fn records(&self) -> Vec<Value> {
        let Ok(text) = std::fs::read_to_string(&self.out) else {
            return Vec::new();
        };
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn messages(&self) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r["event"] == "message")
            .collect()
    }

    pub fn connections(&self) -> usize {
        self.records()
            .iter()
            .filter(|r| r["event"] == "connect")
            .count()
    }

    /// Waits until at least `n` messages arrived.
    pub async fn wait_messages(&self, n: usize) -> Vec<Value> {
        let messages = poll(WAIT, || {
            let m = self.messages();
            (m.len() >= n).then_some(m)
        })
        .await;
        messages.unwrap_or_else(|| panic!("expected {n} messages, got {:#?}", self.messages()))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 20 ms until it gives a value or `within` passes.
pub async fn poll<T>(within: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the mailer has finished with `n` mails (sent or failed).
pub async fn wait_done(mailer: &Mailer, n: u64) -> MailStats {
    let stats = poll(WAIT, || {
        let s = mailer.stats();
        (s.sent + s.failed >= n).then_some(s)
    })
    .await;
    stats.unwrap_or_else(|| panic!("mailer did not finish {n} mails: {:?}", mailer.stats()))
}

/// A port nothing listens on (bound once, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The host as the tests pretend it is.
pub fn host() -> HostFacts {
    HostFacts {
        local_name: Some("lb1.example.com".into()),
        user: Some("root".into()),
        ca_bundle: None,
    }
}

/// A configuration mailing every state change through 127.0.0.1:`port`.
pub fn config(port: u16) -> Config {
    let global = GlobalDefs {
        router_id: Some("LB1".into()),
        notification_email: vec![
            "ops@example.com".into(),
            "Ops Team <team@example.com>".into(),
        ],
        notification_email_from: Some("Keepalived <ka@example.com>".into()),
        smtp_server: Some(SmtpServer {
            host: "127.0.0.1".into(),
            port,
        }),
        smtp_helo_name: Some("helo.example".into()),
        smtp_connect_timeout: Duration::from_secs(1),
        smtp_alert: Some(true),
        ..GlobalDefs::default()
    };
    Config {
        global,
        ..Config::default()
    }
}

pub fn settings(config: &Config) -> MailSettings {
    MailSettings::from_config(config, &host())
}

/// Everything logged on this thread (tokio::test runs the mailer's task on it too).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        (logs.clone(), tracing::subscriber::set_default(subscriber))
    }

    pub fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn containing(&self, needle: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.contains(needle))
            .collect()
    }
}

pub struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> LogWriter {
        LogWriter(Arc::clone(&self.0))
    }
}

/// A test CA and a leaf for `localhost` / 127.0.0.1 signed by it (rustls refuses a
/// self-signed CA certificate used as the server's own).
pub struct TestPki {
    pub dir: Scratch,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestPki {
    pub fn new() -> TestPki {
        let dir = Scratch::new("smtp-pki");
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir.0)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        run(&[
            &["req", "-x509"][..],
            &ec[..],
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=kad test CA",
            ],
            &[
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        ]
        .concat());
        run(&[
            &["req"][..],
            &ec[..],
            &[
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat());
        std::fs::write(
            dir.path("leaf.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ]);
        TestPki {
            ca: dir.path("ca.pem"),
            cert: dir.path("leaf.pem"),
            key: dir.path("leaf.key"),
            dir,
        }
    }
}
