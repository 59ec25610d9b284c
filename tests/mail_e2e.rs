//! Alert mails end to end: kad routers in network namespaces, each mailing through a
//! recording SMTP server (compat/smtp-server.py) on loopback inside its namespace.

mod common;
mod smtp_support;

use common::lab::{wait_until, Daemon, Impl, Lab};
use common::wire::{expect_log, largest_gap, log_matches, Capture};
use serde_json::Value;
use smtp_support::TestServer;
use std::time::{Duration, Instant};

/// One takeover on a loaded machine (master down is ~3.6 s).
const TAKEOVER: Duration = Duration::from_secs(12);
const TO_HEADER: &str = "To: ops@example.net,\r\n Ops Team <team@example.net>";

fn lab() -> Lab {
    let mut lab = Lab::new("mail");
    for (h, a) in [("r1", "192.0.2.11/24"), ("r2", "192.0.2.12/24"), ("c1", "192.0.2.50/24")] {
        lab.add_host(h);
        lab.connect(h, "eth0", "lan");
        lab.ip(h, &["addr", "add", a, "dev", "eth0"]);
    }
    lab.connect("r1", "eth1", "up1");
    lab
}

fn global(router_id: &str, port: u16, extra: &str) -> String {
    format!(
        "global_defs {{\n    router_id {router_id}\n    notification_email {{\n        ops@example.net\n        \"Ops Team <team@example.net>\"\n    }}\n    notification_email_from {router_id}@example.net\n    smtp_server 127.0.0.1 {port}\n    smtp_helo_name {router_id}.example.net\n    smtp_connect_timeout 2\n{extra}}}\n"
    )
}

fn instance(name: &str, vrid: u8, state: &str, priority: u8, body: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n    interface eth0\n    state {state}\n    virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n{body}    virtual_ipaddress {{\n        192.0.2.{vrid}/24\n    }}\n}}\n"
    )
}

fn server_in(lab: &Lab, host: &str, args: &[&str]) -> TestServer {
    TestServer::start_in_netns(&lab.ns(host), args)
}

/// (subject, body) of each message, checking every other byte keepalived's way: HELO,
/// envelope, From, X-Mailer and To headers, and the body framing.
fn mails(server: &TestServer, router_id: &str) -> Vec<(String, String)> {
    server
        .messages()
        .iter()
        .map(|m: &Value| {
            assert_eq!(m["helo"], format!("{router_id}.example.net"));
            assert_eq!(m["mail_from"], format!("{router_id}@example.net"));
            assert_eq!(m["rcpt_tos"], serde_json::json!(["ops@example.net", "team@example.net"]));
            let data = m["data"].as_str().unwrap_or_default();
            let (date, rest) = data.split_once("\r\n").unwrap_or_default();
            assert!(date.starts_with("Date: "), "{data:?}");
            let rest = rest.strip_prefix(&format!("From: {router_id}@example.net\r\nSubject: ")).unwrap_or_else(|| panic!("{data:?}"));
            let (subject, rest) = rest.split_once("\r\n").unwrap_or_default();
            let body = rest
                .strip_prefix(&format!("X-Mailer: kad\r\n{TO_HEADER}\r\n\r\n"))
                .and_then(|b| b.strip_suffix("\r\n\r\n"))
                .unwrap_or_else(|| panic!("{data:?}"));
            (subject.to_string(), body.to_string())
        })
        .collect()
}

const OWNING: &str = "=> VRRP Instance is now owning VRRP VIPs <=";
const NOT_OWNING: &str = "=> VRRP Instance is no longer owning VRRP VIPs <=";
const STOPPING: &str = "=> VRRP Instance stopping <=";

fn expected(router_id: &str, subject: &str, states: &[&str]) -> Vec<(String, String)> {
    states
        .iter()
        .map(|state| {
            let (text, body) = match (*state, subject.starts_with("Group")) {
                ("MASTER", false) => ("Entering MASTER state", OWNING),
                ("BACKUP", false) => ("Entering BACKUP state", NOT_OWNING),
                ("FAULT", false) => ("Entering FAULT state", NOT_OWNING),
                ("STOP", false) => ("Stopping", STOPPING),
                ("MASTER", true) => ("Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="),
                ("BACKUP", true) => ("Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <="),
                ("FAULT", true) => ("Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="),
                ("STOP", true) => ("Stopping", "=> All VRRP group instances are now stopping <="),
                other => panic!("no mail for {other:?}"),
            };
            (format!("[{router_id}] VRRP {subject} - {text}"), body.to_string())
        })
        .collect()
}

fn wait_mails(server: &TestServer, n: usize, d: &Daemon) {
    assert!(
        wait_until(Duration::from_secs(20), || server.messages().len() >= n),
        "expected {n} mails, got {:#?}\n{}",
        server.messages(),
        d.log_text()
    );
}

/// The scenario's pair: fw1 is master, dies, fw2 takes over and is stopped later.
#[test]
fn a_failover_mails_exactly_what_keepalived_mails() {
    if !common::root_or_skip("mail e2e") {
        return;
    }
    let mut lab = lab();
    let s1 = server_in(&lab, "r1", &[]);
    let s2 = server_in(&lab, "r2", &[]);
    let body = "    smtp_alert\n";
    let fw1 = format!("{}{}", global("fw1", s1.port, ""), instance("VI_INT", 151, "MASTER", 101, body));
    let fw2 = format!("{}{}", global("fw2", s2.port, ""), instance("VI_INT", 151, "BACKUP", 100, body));
    // fw1 first: started together, both would wait almost the same master-down time.
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &fw1, &[]);
    wait_mails(&s1, 2, &r1);
    let mut r2 = lab.start("r2", Impl::Kad, "r2", &fw2, &[]);
    wait_mails(&s2, 1, &r2);
    r1.kill9();
    wait_mails(&s2, 2, &r2);
    r2.signal(libc::SIGTERM);
    assert_eq!(r2.wait_exit(Duration::from_secs(10)), Some(0), "{}", r2.log_text());
    wait_mails(&s2, 3, &r2);
    assert_eq!(mails(&s1, "fw1"), expected("fw1", "Instance VI_INT", &["BACKUP", "MASTER"]));
    assert_eq!(mails(&s2, "fw2"), expected("fw2", "Instance VI_INT", &["BACKUP", "MASTER", "STOP"]));
    assert_eq!(s1.connections(), 2, "one connection per mail");
}

/// A sync group and its members: group mails and instance mails, each in transition
/// order; `smtp_alert false` on one member silences it; with `no_email_faults` the FAULT
/// mails are left out, and nothing else changes.
#[test]
fn sync_group_mails_smtp_alert_false_and_no_email_faults() {
    if !common::root_or_skip("mail e2e") {
        return;
    }
    for no_email_faults in [false, true] {
        let mut lab = lab();
        let server = server_in(&lab, "r1", &[]);
        let extra = format!("    smtp_alert\n{}", if no_email_faults { "    no_email_faults\n" } else { "" });
        let track = "    track_interface {\n        eth1\n    }\n";
        let config = format!(
            "{}vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n}}\n{}{}",
            global("r1", server.port, &extra),
            instance("VI_1", 1, "BACKUP", 100, track),
            instance("VI_2", 2, "BACKUP", 100, "    smtp_alert false\n"),
        );
        let mut r1 = lab.start("r1", Impl::Kad, "r1", &config, &[]);
        let group_mail = |state: &str| expected("r1", "Group G1", &[state]).remove(0);
        let has = |mail: &(String, String)| mails(&server, "r1").contains(mail);
        assert!(wait_until(TAKEOVER, || has(&group_mail("MASTER"))), "{:#?}\n{}", server.messages(), r1.log_text());
        lab.ip("r1", &["link", "set", "eth1", "down"]);
        expect_log(&r1, "(VI_2) Entering FAULT STATE", TAKEOVER);
        lab.ip("r1", &["link", "set", "eth1", "up"]);
        let masters = || mails(&server, "r1").iter().filter(|m| **m == group_mail("MASTER")).count();
        assert!(wait_until(TAKEOVER, || masters() == 2), "{:#?}\n{}", server.messages(), r1.log_text());
        r1.signal(libc::SIGTERM);
        assert_eq!(r1.wait_exit(Duration::from_secs(10)), Some(0));
        assert!(wait_until(Duration::from_secs(5), || has(&group_mail("STOP"))), "{:#?}", server.messages());

        let states: &[&str] = if no_email_faults {
            &["BACKUP", "MASTER", "BACKUP", "MASTER", "STOP"]
        } else {
            &["BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER", "STOP"]
        };
        let all = mails(&server, "r1");
        let of = |prefix: &str| -> Vec<(String, String)> { all.iter().filter(|(s, _)| s.starts_with(prefix)).cloned().collect() };
        assert_eq!(of("[r1] VRRP Group G1 "), expected("r1", "Group G1", states), "no_email_faults {no_email_faults}");
        assert_eq!(of("[r1] VRRP Instance VI_1 "), expected("r1", "Instance VI_1", states), "no_email_faults {no_email_faults}");
        assert_eq!(all.len(), 2 * states.len(), "VI_2 has smtp_alert false: {all:#?}");
    }
}

/// A server that accepts and never answers, and one that refuses every recipient: adverts
/// keep their pace and transitions their speed while mails fail, each failure logged once
/// (with the server's reply when there is one).
#[test]
fn a_stalled_or_refusing_mail_server_does_not_disturb_vrrp() {
    if !common::root_or_skip("mail e2e") {
        return;
    }
    for mode in ["tarpit", "reject"] {
        let mut lab = lab();
        let server = server_in(&lab, "r1", &["--mode", mode]);
        let capture = Capture::start(&lab, "c1", "eth0");
        let track = "    smtp_alert\n    track_interface {\n        eth1\n    }\n";
        let config = format!("{}{}", global("r1", server.port, ""), instance("VI_1", 1, "MASTER", 150, track));
        let r1 = lab.start("r1", Impl::Kad, "r1", &config, &[]);
        assert!(wait_until(TAKEOVER, || lab.has_addr("r1", "eth0", "192.0.2.1")), "{}", r1.log_text());
        let master_at = Instant::now();
        // BACKUP and MASTER mails are now stuck behind each other (2 s each with the
        // tar pit); adverts go on.
        std::thread::sleep(Duration::from_millis(3500));
        lab.ip("r1", &["link", "set", "eth1", "down"]);
        let fault_at = Instant::now();
        assert!(wait_until(Duration::from_secs(2), || !lab.has_addr("r1", "eth0", "192.0.2.1")), "{}", r1.log_text());
        let vip_removed = fault_at.elapsed();
        let during: Vec<_> = capture.from("192.0.2.11", 1).into_iter().filter(|s| s.at >= master_at && s.at <= fault_at).collect();
        let (gap, count) = largest_gap(&during);
        eprintln!("{mode}: {count} adverts, largest gap {gap:?}; VIP removed {vip_removed:?} after FAULT");
        assert!(count >= 3 && gap < Duration::from_millis(1600), "{mode}: adverts stalled: {count}, gap {gap:?}");
        let failures = || log_matches(&r1, "SMTP alert \"[r1] VRRP Instance VI_1 - ");
        assert!(
            wait_until(Duration::from_secs(20), || failures().len() >= 3),
            "{mode}: {:#?}\n{}",
            failures(),
            r1.log_text()
        );
        let lines = failures();
        for state in ["BACKUP", "MASTER", "FAULT"] {
            let of_state: Vec<_> = lines.iter().filter(|l| l.contains(&format!("Entering {state} state"))).collect();
            assert_eq!(of_state.len(), 1, "{mode}: {lines:#?}");
            assert!(of_state[0].contains("not sent via 127.0.0.1"), "{mode}: {lines:#?}");
            if mode == "reject" {
                assert!(of_state[0].contains("554"), "the server's reply is logged: {lines:#?}");
            }
        }
        assert!(server.messages().is_empty());
    }
}

/// An smtp_server name that does not resolve: each mail fails with a log line, VRRP runs.
#[test]
fn an_unresolvable_smtp_server_is_logged_per_mail() {
    if !common::root_or_skip("mail e2e") {
        return;
    }
    let mut lab = lab();
    let config = format!(
        "{}{}",
        global("r1", 25, "").replace("smtp_server 127.0.0.1 25", "smtp_server no-such-host.invalid"),
        instance("VI_1", 1, "MASTER", 150, "    smtp_alert\n")
    );
    let r1 = lab.start("r1", Impl::Kad, "r1", &config, &[]);
    assert!(wait_until(TAKEOVER, || lab.has_addr("r1", "eth0", "192.0.2.1")), "{}", r1.log_text());
    for state in ["BACKUP", "MASTER"] {
        let needle = format!("SMTP alert \"[r1] VRRP Instance VI_1 - Entering {state} state\" not sent via no-such-host.invalid:25");
        assert!(wait_until(Duration::from_secs(30), || log_matches(&r1, &needle).len() == 1), "{needle}\n{}", r1.log_text());
    }
}
