//! Arbitrary event sequences: the engine never panics, never leaves a deadline in the
//! past, and never holds addresses it did not announce.

use super::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Input {
    Advert {
        to_b: bool,
        src_last_octet: u8,
        priority: u8,
        interval_cs: u16,
        version: u8,
        ttl: u8,
        vips: u8,
    },
    Interface {
        name_idx: u8,
        up: bool,
    },
    Script {
        ok: bool,
    },
    File(i64),
    Source(bool),
    PacketError,
    Deleted,
    Reload {
        drop_b: bool,
        priority: u8,
    },
    Tick,
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        6 => (any::<bool>(), 1u8..20, any::<u8>(), prop_oneof![Just(100u16), 1u16..400], 2u8..4, prop_oneof![Just(255u8), any::<u8>()], 0u8..3)
            .prop_map(|(to_b, src_last_octet, priority, interval_cs, version, ttl, vips)| Input::Advert {
                to_b, src_last_octet, priority, interval_cs, version, ttl, vips
            }),
        2 => (0u8..3, any::<bool>()).prop_map(|(name_idx, up)| Input::Interface { name_idx, up }),
        1 => any::<bool>().prop_map(|ok| Input::Script { ok }),
        1 => (-300i64..300).prop_map(Input::File),
        1 => any::<bool>().prop_map(Input::Source),
        1 => Just(Input::PacketError),
        1 => Just(Input::Deleted),
        1 => (any::<bool>(), 1u8..=255).prop_map(|(drop_b, priority)| Input::Reload { drop_b, priority }),
        3 => Just(Input::Tick),
    ]
}

fn config(with_b: bool, a_priority: u8) -> RouterConfig {
    let mut a = params("A", 51, a_priority);
    a.trackers.push(TrackerSpec {
        object: TrackedObject::Script("s".into()),
        weight: -30,
        reverse: false,
    });
    a.trackers.push(TrackerSpec {
        object: TrackedObject::File("f".into()),
        weight: 3,
        reverse: false,
    });
    a.backup_routes = vec![route("0.0.0.0/0", "192.0.2.1")].into();
    a.virtual_routes = vec![route("0.0.0.0/0", "203.0.113.254")].into();
    let mut b = v3(params("B", 52, 100), 50);
    b.vips = vec![vip("192.0.2.2/24")].into_iter().map(Vip::from).collect();
    b.trackers.push(TrackerSpec {
        object: TrackedObject::Interface("eth1".into()),
        weight: 0,
        reverse: false,
    });
    b.preempt_delay = Duration::from_secs(2);
    let mut instances = vec![a];
    let mut groups = Vec::new();
    if with_b {
        instances.push(b);
        groups.push(SyncGroupParams {
            name: "G".into(),
            members: vec!["A".into(), "B".into()],
            smtp_alert: true,
        });
    }
    RouterConfig {
        instances,
        groups,
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_events_never_panic_nor_leave_past_deadlines_or_vips_outside_master(
        steps in proptest::collection::vec((0u64..3_000_000, input()), 1..120)
    ) {
        let mut sim = Sim::with_config(config(true, 150));
        sim.event(Event::Startup);
        let mut owned: std::collections::HashSet<(InstanceId, IpAddr)> = Default::default();
        for (delta_us, input) in steps {
            sim.now = sim.now + Duration::from_micros(delta_us);
            let ids = sim.router.instance_ids();
            let event = match input {
                Input::Advert { to_b, src_last_octet, priority, interval_cs, version, ttl, vips } => {
                    let name = if to_b && sim.router.find("B").is_some() { "B" } else { "A" };
                    let mut rx = sim.received(name, &format!("192.0.2.{src_last_octet}"), priority);
                    rx.advert.interval_cs = interval_cs;
                    rx.advert.version = version;
                    rx.ttl = Some(ttl);
                    rx.advert.addrs.truncate(vips as usize);
                    Event::AdvertReceived(rx)
                }
                Input::Interface { name_idx, up } => {
                    let name = ["eth0", "eth1", "eth2"][name_idx as usize].to_string();
                    if up { Event::InterfaceUp(name) } else { Event::InterfaceDown(name) }
                }
                Input::Script { ok } => Event::TrackerUpdate {
                    object: TrackedObject::Script("s".into()),
                    status: if ok { TrackerStatus::ScriptOk } else { TrackerStatus::ScriptFailed },
                },
                Input::File(v) => Event::TrackerUpdate { object: TrackedObject::File("f".into()), status: TrackerStatus::FileValue(v) },
                Input::Source(present) => Event::SourceAddress { instance: ids[0], addr: present.then(|| ip(OUR_ADDR)) },
                Input::PacketError => Event::PacketError { to: Recipient::Instance(ids[0]), kind: PacketErrorKind::Length },
                Input::Deleted => Event::OwnedAddressDeleted { instance: ids[0], addr: ip("192.0.2.1") },
                Input::Reload { drop_b, priority } => Event::Reload(Box::new(config(!drop_b, priority))),
                Input::Tick => Event::Tick,
            };
            for action in sim.event(event) {
                match action {
                    Action::AddVips { instance, vips } => {
                        owned.extend(vips.iter().map(|v| (instance, v.prefix.addr)));
                    }
                    Action::RemoveVips { instance, vips } => {
                        for v in vips.iter() {
                            owned.remove(&(instance, v.prefix.addr));
                        }
                    }
                    _ => {}
                }
            }
            if let Some(deadline) = sim.router.next_deadline() {
                prop_assert!(deadline > sim.now, "deadline {deadline:?} not after now {:?}", sim.now);
            }
            // Only a MASTER holds VIPs.
            for (id, _) in &owned {
                let state = sim.router.status(*id).map(|s| s.state);
                prop_assert_eq!(state, Some(StateName::Master), "{:?} holds VIPs", id);
            }
        }
    }
}
