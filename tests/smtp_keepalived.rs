//! kad's alert mail against the one the reference keepalived (Debian's 2.2.7) sends for
//! the same configuration, both received by the same kind of recording server.
//!
//! keepalived runs in a network namespace made for this test (a veth pair, no traffic
//! outside it). The two differences that remain are deliberate and spelled out below.

mod smtp_support;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kad::notify::smtp::{MailState, MailTarget, Mailer};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use smtp_support::*;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().unwrap();
    assert!(status.success(), "ip {args:?}");
}

/// A network namespace with `lo` up and a veth pair `va`/`vb` (192.0.2.1/24 on `va`);
/// on drop, whatever still runs in it is killed and the namespace removed.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let ns = Netns(format!("kadsmtp{}-{n}", std::process::id()));
        ip(&["netns", "add", &ns.0]);
        ip(&["-n", &ns.0, "link", "set", "lo", "up"]);
        ip(&[
            "-n", &ns.0, "link", "add", "va", "type", "veth", "peer", "name", "vb",
        ]);
        ip(&["-n", &ns.0, "link", "set", "va", "up"]);
        ip(&["-n", &ns.0, "link", "set", "vb", "up"]);
        ip(&["-n", &ns.0, "addr", "add", "192.0.2.1/24", "dev", "va"]);
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.0]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse() {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// keepalived stopped with SIGTERM (so it takes its VRRP child along), also on panic.
struct Keepalived(Child);

impl Drop for Keepalived {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.0.id() as i32), Signal::SIGTERM);
        for _ in 0..250 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The differences kad makes on purpose: its own X-Mailer, and the recipients folded
/// one per line as keepalived 2.4 does (2.2.7 puts them on one line). The Date is the
/// time of sending, different by nature.
fn normalise(data: &str) -> String {
    data.split("\r\n")
        .map(|line| {
            if line.starts_with("Date: ") {
                "Date: <date>".to_string()
            } else if line == "X-Mailer: Keepalived" || line == "X-Mailer: kad" {
                "X-Mailer: <mailer>".to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
        .replace(",\r\n ", ", ")
}

#[tokio::test]
async fn kad_s_mail_is_keepalived_s_mail() {
    let ns = Netns::new();
    let keepalived_server = TestServer::start_in_netns(&ns.0, &[]);
    let dir = Scratch::new("smtp-keepalived");
    let conf = format!(
        "global_defs {{\n router_id LB1\n notification_email {{\n  ops@example.com\n  team@example.com\n }}\n\
         notification_email_from ka@example.com\n smtp_server 127.0.0.1 {}\n smtp_helo_name helo.example\n\
         smtp_connect_timeout 1\n smtp_alert\n}}\n\
         vrrp_instance V3 {{\n state MASTER\n interface va\n virtual_router_id 51\n priority 255\n\
         advert_int 1\n virtual_ipaddress {{\n  192.0.2.100/24\n }}\n}}\n",
        keepalived_server.port
    );
    std::fs::write(dir.path("keepalived.conf"), conf).unwrap();
    let path = |name: &str| dir.path(name).to_str().unwrap().to_string();
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            "/usr/sbin/keepalived",
            "-n",
            "-l",
            "-G",
            "-P",
        ])
        .args([
            "-f",
            &path("keepalived.conf"),
            "-p",
            &path("k.pid"),
            "-r",
            &path("v.pid"),
        ])
        .args(["-c", &path("c.pid"), "-b", &path("b.pid")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let keepalived = Keepalived(child);
    // state MASTER with priority 255: straight to MASTER, one mail.
    let theirs: Value = keepalived_server.wait_messages(1).await.remove(0);
    drop(keepalived);

    let kad_server = TestServer::start(&[]);
    let mut config = config(kad_server.port);
    config.global.notification_email = vec!["ops@example.com".into(), "team@example.com".into()];
    config.global.notification_email_from = Some("ka@example.com".into());
    let mailer = Mailer::start(settings(&config));
    mailer.submit(&MailTarget::Instance("V3".into()), MailState::Master);
    let ours: Value = kad_server.wait_messages(1).await.remove(0);

    for field in ["helo", "mail_from", "rcpt_tos", "mail_options"] {
        assert_eq!(ours[field], theirs[field], "{field}");
    }
    let (ours, theirs) = (
        ours["data"].as_str().unwrap(),
        theirs["data"].as_str().unwrap(),
    );
    assert!(
        ours.contains("To: ops@example.com,\r\n team@example.com\r\n"),
        "{ours}"
    );
    assert!(theirs.contains("X-Mailer: Keepalived\r\n"), "{theirs}");
    assert_eq!(normalise(ours), normalise(theirs));
}
