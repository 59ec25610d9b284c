//! Cost of the protocol core's hot path: a BACKUP handling its master's advert.
//! Prints figures; asserts nothing about time.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use kad::config::model::{AddressEntry, Family, InitialState, Prefix};
use kad::vrrp::packet::{Advert, AuthData};
use kad::vrrp::{
    AuthSpec, Centis, Event, GarpParams, InstanceParams, NotifyParams, Received, Recipient, Router,
    RouterConfig, StateName, Timestamp, TrackedObject, TrackerSpec,
};

fn vip(addr: &str) -> AddressEntry {
    AddressEntry::new(Prefix {
        addr: addr.parse().unwrap(),
        len: 24,
    })
}

fn instance(vips: usize) -> InstanceParams {
    InstanceParams {
        name: "VI_1".into(),
        vrid: 51,
        version: 2,
        family: Family::Inet,
        interface: Some("eth0".into()),
        rx_interface: Some("eth0".into()),
        base_priority: 100,
        advert_interval: Centis(100),
        initial_state: InitialState::Backup,
        nopreempt: false,
        preempt_delay: Duration::ZERO,
        accept: true,
        auth: AuthSpec::Pass(*b"secret\0\0"),
        vips: (0..vips)
            .map(|i| vip(&format!("192.0.2.{}", i + 1)))
            .collect(),
        excluded_vips: Vec::new(),
        virtual_routes: Vec::new(),
        virtual_rules: Vec::new(),
        backup_routes: Vec::new(),
        backup_rules: Vec::new(),
        unicast_peers: Vec::new(),
        configured_src: Some("192.0.2.200".parse().unwrap()),
        mcast_group: "224.0.0.18".parse().unwrap(),
        unicast_fault_no_peer: false,
        garp: GarpParams {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
        },
        down_timer_adverts: 3,
        lower_prio_no_advert: false,
        higher_prio_send_advert: false,
        owner_ignore_adverts: false,
        skip_check_adv_addr: false,
        check_unicast_src: false,
        v3_checksum_as_v2: false,
        vmac: false,
        trackers: vec![TrackerSpec {
            object: TrackedObject::Interface("eth0".into()),
            weight: 0,
            reverse: false,
        }],
        sync_group: None,
        notify: NotifyParams::default(),
    }
}

fn bench(label: &str, vips: usize, to_socket: bool) {
    let params = instance(vips);
    let addrs: Vec<IpAddr> = params.vips.iter().map(|v| v.prefix.addr).collect();
    let mut router = Router::new(RouterConfig {
        instances: vec![params],
        ..Default::default()
    });
    let id = router.find("VI_1").unwrap();
    router.handle(Timestamp::from_micros(0), Event::Startup);
    let to = if to_socket {
        Recipient::Socket {
            vrid: 51,
            family: Family::Inet,
            interface: Some("eth0".into()),
        }
    } else {
        Recipient::Instance(id)
    };
    let received = Received {
        to,
        advert: Advert {
            version: 2,
            vrid: 51,
            priority: 200,
            interval_cs: 100,
            auth: AuthData::Pass(*b"secret\0\0"),
            addrs,
        },
        src: "192.0.2.12".parse().unwrap(),
        dst: "224.0.0.18".parse().unwrap(),
        ttl: Some(255),
    };
    let iterations: u64 = 200_000;
    let mut now = 0u64;
    let started = Instant::now();
    for _ in 0..iterations {
        now += 1_000;
        let actions = router.handle(
            Timestamp::from_micros(now),
            Event::AdvertReceived(black_box(received.clone())),
        );
        black_box(actions);
    }
    let elapsed = started.elapsed();
    assert_eq!(router.status(id).map(|s| s.state), Some(StateName::Backup));
    println!(
        "{label:<44} {:>8.1} ns/advert ({iterations} adverts in {elapsed:?})",
        elapsed.as_nanos() as f64 / iterations as f64
    );
}

fn main() {
    bench("backup, 1 VIP, addressed to the instance", 1, false);
    bench("backup, 20 VIPs, addressed to the instance", 20, false);
    bench("backup, 1 VIP, demultiplexed from the socket", 1, true);
}
