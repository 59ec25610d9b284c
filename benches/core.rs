//! Cost of the protocol core's hot path: a BACKUP handling its master's advert.
//! Prints figures; asserts nothing about time.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use kad::config::model::{
    AddressEntry, Auth, Config, Family, GarpSettings, GlobalDefs, Prefix, VrrpInstance,
};
use kad::vrrp::packet::{Advert, AuthData};
use kad::vrrp::{
    Event, InstanceParams, Received, Recipient, Router, RouterConfig, StateName, Timestamp,
};

fn vip(addr: &str) -> AddressEntry {
    AddressEntry::new(Prefix {
        addr: addr.parse().unwrap(),
        len: 24,
    })
}

fn instance(vips: usize) -> InstanceParams {
    let base = VrrpInstance::new("VI_1".into(), &GlobalDefs::default());
    let inst = VrrpInstance {
        interface: Some("eth0".into()),
        vrid: 51,
        priority: 100,
        advert_int: Duration::from_secs(1),
        version: 2,
        auth: Some(Auth::Pass(b"secret".to_vec())),
        vips: (0..vips)
            .map(|i| vip(&format!("192.0.2.{}", i + 1)))
            .collect(),
        mcast_src_ip: Some("192.0.2.200".parse().unwrap()),
        garp: GarpSettings {
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            ..base.garp.clone()
        },
        ..base
    };
    InstanceParams::from_config(&inst, &Config::default()).unwrap()
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
        ah_sequence: None,
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
