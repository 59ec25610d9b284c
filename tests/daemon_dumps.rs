//! SIGUSR1 / SIGUSR2 / SIGRTMIN+2 dumps and `kad status` from a running daemon.

mod common;

use common::lab::{wait_until, Impl, Lab, KAD};
use std::time::Duration;

#[test]
fn signals_write_keepalived_dumps_and_kad_status_prints_the_instance() {
    if !common::root_or_skip("daemon dumps") {
        return;
    }
    let mut lab = Lab::new("dump");
    lab.add_host("r1");
    lab.connect("r1", "eth0", "lan");
    lab.ip("r1", &["addr", "add", "192.0.2.11/24", "dev", "eth0"]);
    let dir = lab.dir.display().to_string();
    let config = format!(
        "global_defs {{\n router_id r1\n state_dump_file {dir}/k.data\n stats_dump_file {dir}/k.stats\n json_dump_file {dir}/k.json\n status_socket {dir}/kad.sock\n}}\n\
         vrrp_instance VI_DUMP {{\n interface eth0\n state MASTER\n virtual_router_id 61\n priority 200\n advert_int 1\n virtual_ipaddress {{\n  192.0.2.61/24\n }}\n}}\n"
    );
    let d = lab.start("r1", Impl::Kad, "r1", &config, &[]);
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r1", "eth0", "192.0.2.61")), "{}", d.log_text());
    // Let at least two adverts go out so counters have moved.
    std::thread::sleep(Duration::from_millis(2200));

    let data = lab.dir.join("k.data");
    d.signal(libc::SIGUSR1);
    assert!(wait_until(Duration::from_secs(3), || data.exists()), "no data dump:\n{}", d.log_text());
    let text = std::fs::read_to_string(&data).unwrap();
    assert!(text.contains("------< VRRP Topology >------"), "{text}");
    assert!(!text.contains("VRRP interface tracking disabled"), "{text}");
    assert!(text.contains("VRRP Instance = VI_DUMP"), "{text}");
    assert!(text.contains("State = MASTER"), "{text}");

    let stats = lab.dir.join("k.stats");
    d.signal(libc::SIGUSR2);
    assert!(wait_until(Duration::from_secs(3), || stats.exists()));
    let text = std::fs::read_to_string(&stats).unwrap();
    assert!(text.contains("VRRP Instance: VI_DUMP"), "{text}");
    let sent: u64 = text
        .lines()
        .skip_while(|l| !l.contains("Advertisements:"))
        .find_map(|l| l.trim().strip_prefix("Sent: ").and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0);
    assert!(sent >= 2, "advert counter did not move:\n{text}");

    let json = lab.dir.join("k.json");
    d.signal(libc::SIGRTMIN() + 2);
    assert!(wait_until(Duration::from_secs(3), || json.exists()));
    let value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(value[0]["data"]["iname"], "VI_DUMP");
    assert_eq!(value[0]["data"]["state"], 2);
    assert!(value[0]["stats"]["advert_sent"].as_u64().unwrap_or(0) >= 2);

    let table = kad_status(&lab);
    assert!(table.contains("VI_DUMP") && table.contains("MASTER"), "{table}");

    // The daemon keeps only what the dumps show of its instances: after a reload they
    // show the new configuration's, the new instance and the changed setting included.
    let reloaded = config.replace(" priority 200\n", " priority 200\n dont_track_primary\n")
        + "vrrp_instance VI_ADDED {\n interface eth0\n virtual_router_id 62\n priority 50\n advert_int 1\n virtual_ipaddress {\n  192.0.2.62/24\n }\n}\n";
    assert!(reloaded.contains("dont_track_primary"));
    std::fs::write(&d.conf, &reloaded).unwrap();
    d.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(10), || d.log_text().contains("Reload finished")),
        "reload not handled:\n{}",
        d.log_text()
    );
    std::fs::remove_file(&data).unwrap();
    d.signal(libc::SIGUSR1);
    assert!(wait_until(Duration::from_secs(3), || data.exists()), "no data dump:\n{}", d.log_text());
    let text = std::fs::read_to_string(&data).unwrap();
    assert!(text.contains("VRRP Instance = VI_DUMP") && text.contains("VRRP Instance = VI_ADDED"), "{text}");
    let dump_section = text.split("VRRP Instance = VI_ADDED").next().unwrap_or_default();
    assert!(dump_section.contains("VRRP interface tracking disabled"), "{text}");
    let table = kad_status(&lab);
    assert!(table.contains("VI_ADDED"), "{table}");
}

/// `kad status` against the daemon's status socket: its table, after checking it succeeded.
fn kad_status(lab: &Lab) -> String {
    let out = std::process::Command::new(KAD)
        .args(["status", "--socket"])
        .arg(lab.dir.join("kad.sock"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
