//! Simulation: 2–5 routers, each its own `Router` engine, exchanging adverts over an
//! in-memory bus with loss, delay and partitions. Seeded and deterministic; thousands
//! of random schedules are checked against the protocol's promises.

use std::net::IpAddr;
use std::time::Duration;

use kad::config::model::{
    AddressEntry, Config, GarpSettings, GlobalDefs, InitialState, Prefix, VrrpInstance,
};
use kad::vrrp::packet::Advert;
use kad::vrrp::{
    Action, Centis, Destinations, Event, InstanceId, InstanceParams, Received, Recipient, Router,
    RouterConfig, StateName, Timestamp,
};

/// SplitMix64: tiny, good enough for schedules, and stable across platforms.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// True with probability `per_mille`/1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

const VRID: u8 = 42;
const GROUP: &str = "224.0.0.18";

fn vip() -> AddressEntry {
    AddressEntry::new(Prefix {
        addr: "192.0.2.1".parse().unwrap(),
        len: 24,
    })
}

fn instance(priority: u8, version: u8, interval: Centis) -> InstanceParams {
    let base = VrrpInstance::new("VI_1".into(), &GlobalDefs::default());
    let inst = VrrpInstance {
        initial_state: if priority == 255 {
            InitialState::Master
        } else {
            InitialState::Backup
        },
        interface: Some("eth0".into()),
        vrid: VRID,
        priority,
        advert_int: interval.to_duration(),
        version,
        mcast_dst_ip: Some(GROUP.parse().unwrap()),
        vips: vec![vip()],
        garp: GarpSettings {
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            ..base.garp.clone()
        },
        ..base
    };
    InstanceParams::from_config(&inst, &Config::default()).unwrap()
}

fn fresh_router(priority: u8, version: u8, interval: Centis) -> (Router, InstanceId) {
    let router = Router::new(RouterConfig {
        instances: vec![instance(priority, version, interval)],
        ..Default::default()
    });
    let id = router.find("VI_1").unwrap();
    (router, id)
}

struct Node {
    router: Router,
    id: InstanceId,
    addr: IpAddr,
    priority: u8,
    alive: bool,
    partition: u8,
}

struct Packet {
    at: Timestamp,
    seq: u64,
    from: usize,
    to: usize,
    advert: Advert,
    src: IpAddr,
}

struct World {
    nodes: Vec<Node>,
    version: u8,
    interval: Centis,
    bus: Vec<Packet>,
    seq: u64,
    now: Timestamp,
    rng: Rng,
    loss_per_mille: u64,
    delay_us: (u64, u64),
    /// Time at which the set of masters last changed, and that set.
    masters_since: Timestamp,
    masters: Vec<usize>,
    /// Longest time two or more masters coexisted since the last `reset_dual_watch`.
    longest_dual: Duration,
    dual_since: Option<Timestamp>,
    first_new_master: Option<(Timestamp, usize)>,
}

impl World {
    fn new(seed: u64, priorities: &[u8], version: u8, interval: Centis) -> World {
        let nodes = priorities
            .iter()
            .enumerate()
            .map(|(i, &priority)| {
                let (router, id) = fresh_router(priority, version, interval);
                Node {
                    router,
                    id,
                    addr: IpAddr::from([192, 0, 2, 10 + i as u8]),
                    priority,
                    alive: false,
                    partition: 0,
                }
            })
            .collect();
        World {
            nodes,
            version,
            interval,
            bus: Vec::new(),
            seq: 0,
            now: Timestamp::from_micros(0),
            rng: Rng(seed),
            loss_per_mille: 0,
            delay_us: (100, 100),
            masters_since: Timestamp::from_micros(0),
            masters: Vec::new(),
            longest_dual: Duration::ZERO,
            dual_since: None,
            first_new_master: None,
        }
    }

    fn handle(&mut self, n: usize, event: Event) {
        let now = self.now;
        let actions = self.nodes[n].router.handle(now, event);
        for action in actions {
            if let Action::SendAdvert {
                advert,
                destinations,
                ..
            } = action
            {
                assert_eq!(
                    destinations,
                    Destinations::Multicast(GROUP.parse().unwrap())
                );
                self.broadcast(n, advert);
            }
        }
        self.observe();
    }

    fn broadcast(&mut self, from: usize, advert: Advert) {
        for to in 0..self.nodes.len() {
            if to == from || self.nodes[to].partition != self.nodes[from].partition {
                continue;
            }
            if self.rng.chance(self.loss_per_mille) {
                continue;
            }
            let delay = self.rng.range(self.delay_us.0, self.delay_us.1);
            self.seq += 1;
            let packet = Packet {
                at: self.now + Duration::from_micros(delay),
                seq: self.seq,
                from,
                to,
                advert: advert.clone(),
                src: self.nodes[from].addr,
            };
            self.bus.push(packet);
        }
    }

    fn start(&mut self, n: usize) {
        self.nodes[n].alive = true;
        let id = self.nodes[n].id;
        let addr = self.nodes[n].addr;
        self.handle(
            n,
            Event::SourceAddress {
                instance: id,
                addr: Some(addr),
            },
        );
        self.handle(n, Event::Startup);
    }

    /// A new daemon process on the node.
    fn restart(&mut self, n: usize) {
        let (router, id) = fresh_router(self.nodes[n].priority, self.version, self.interval);
        self.nodes[n].router = router;
        self.nodes[n].id = id;
        self.start(n);
    }

    /// The node vanishes without a word (power loss).
    fn crash(&mut self, n: usize) {
        self.nodes[n].alive = false;
        self.observe();
    }

    /// The node shuts down cleanly, announcing priority 0.
    fn stop(&mut self, n: usize) {
        self.handle(n, Event::Shutdown);
        self.nodes[n].alive = false;
        self.observe();
    }

    fn current_masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&n| {
                let node = &self.nodes[n];
                node.alive
                    && node
                        .router
                        .status(node.id)
                        .is_some_and(|s| s.state == StateName::Master)
            })
            .collect()
    }

    fn observe(&mut self) {
        let masters = self.current_masters();
        if masters != self.masters {
            if self.first_new_master.is_none() {
                if let Some(&m) = masters.iter().find(|m| !self.masters.contains(m)) {
                    self.first_new_master = Some((self.now, m));
                }
            }
            self.masters = masters;
            self.masters_since = self.now;
        }
        if self.masters.len() >= 2 {
            let since = *self.dual_since.get_or_insert(self.now);
            self.longest_dual = self.longest_dual.max(self.now.since(since));
        } else {
            self.dual_since = None;
        }
    }

    fn run_until(&mut self, until: Timestamp) {
        loop {
            let packet = self
                .bus
                .iter()
                .enumerate()
                .min_by_key(|(_, p)| (p.at, p.seq))
                .map(|(i, p)| (p.at, i));
            let deadline = (0..self.nodes.len())
                .filter(|&n| self.nodes[n].alive)
                .filter_map(|n| self.nodes[n].router.next_deadline().map(|t| (t, n)))
                .min();
            let next_packet = packet.map(|(t, _)| t);
            let next_deadline = deadline.map(|(t, _)| t);
            let next = match (next_packet, next_deadline) {
                (None, None) => break,
                (a, b) => a.into_iter().chain(b).min().unwrap(),
            };
            if next > until {
                break;
            }
            self.now = next;
            if next_packet == Some(next) {
                let (_, i) = packet.unwrap();
                let p = self.bus.swap_remove(i);
                if self.nodes[p.to].alive
                    && self.nodes[p.to].partition == self.nodes[p.from].partition
                {
                    let received = Received {
                        to: Recipient::Instance(self.nodes[p.to].id),
                        advert: p.advert,
                        src: p.src,
                        dst: GROUP.parse().unwrap(),
                        ttl: Some(255),
                        ah_sequence: None,
                    };
                    self.handle(p.to, Event::AdvertReceived(received));
                }
            } else {
                let (_, n) = deadline.unwrap();
                self.handle(n, Event::Tick);
            }
        }
        self.now = until.max(self.now);
        self.observe();
    }

    fn reset_watch(&mut self) {
        self.longest_dual = Duration::ZERO;
        self.dual_since = if self.masters.len() >= 2 {
            Some(self.now)
        } else {
            None
        };
        self.first_new_master = None;
    }

    fn alive(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&n| self.nodes[n].alive)
            .collect()
    }

    /// The node that must win among `candidates`: highest priority, then highest address.
    fn expected_winner(&self, candidates: &[usize]) -> usize {
        *candidates
            .iter()
            .max_by_key(|&&n| (self.nodes[n].priority, self.nodes[n].addr))
            .unwrap()
    }

    fn mdi(&self, n: usize, interval: Centis, version: u8) -> Duration {
        let p = self.nodes[n].priority;
        let skew_us = if version == 3 {
            (256 - u64::from(p)) * u64::from(interval.get()) * 625 / 16
        } else {
            (256 - u64::from(p)) * 1_000_000 / 256
        };
        interval.to_duration() * 3 + Duration::from_micros(skew_us)
    }
}

struct Schedule {
    seed: u64,
    priorities: Vec<u8>,
    version: u8,
    interval: Centis,
}

fn random_schedule(seed: u64) -> Schedule {
    let mut rng = Rng(seed ^ 0xA5A5_5A5A);
    let n = rng.range(2, 5) as usize;
    let mut priorities: Vec<u8> = (0..n).map(|_| rng.range(1, 254) as u8).collect();
    // Ties at the top are where the address tie-break matters.
    if rng.chance(300) {
        let top = *priorities.iter().max().unwrap();
        priorities[rng.range(0, n as u64 - 1) as usize] = top;
    }
    if rng.chance(100) {
        priorities[0] = 255;
    }
    let version = if rng.chance(500) { 3 } else { 2 };
    let interval = if version == 2 {
        Centis(100)
    } else {
        Centis([20, 50, 100, 150][rng.range(0, 3) as usize])
    };
    Schedule {
        seed,
        priorities,
        version,
        interval,
    }
}

fn assert_single_top_master(world: &World, ctx: &str) {
    let alive = world.alive();
    let masters = world.current_masters();
    assert_eq!(
        masters.len(),
        1,
        "{ctx}: masters {masters:?} among alive {alive:?}"
    );
    let top = alive
        .iter()
        .map(|&n| world.nodes[n].priority)
        .max()
        .unwrap();
    assert_eq!(
        world.nodes[masters[0]].priority, top,
        "{ctx}: the highest priority wins"
    );
}

fn run_schedule(s: &Schedule) {
    let ctx = format!(
        "seed {} priorities {:?} v{} interval {:?}",
        s.seed, s.priorities, s.version, s.interval
    );
    let mut world = World::new(s.seed, &s.priorities, s.version, s.interval);
    let adv = s.interval.to_duration();
    let max_mdi = (0..world.nodes.len())
        .map(|n| world.mdi(n, s.interval, s.version))
        .max()
        .unwrap();

    // 1. Staggered start on a lossy, slow bus, then a quiet period to converge.
    world.loss_per_mille = world.rng.range(0, 200);
    let max_delay = world.rng.range(100, adv.as_micros() as u64 / 10);
    world.delay_us = (100, max_delay);
    let simultaneous = world.rng.chance(300);
    for n in 0..world.nodes.len() {
        if !simultaneous {
            let jitter = Duration::from_micros(world.rng.range(0, 2_000_000));
            world.run_until(world.now + jitter);
        }
        world.start(n);
    }
    world.run_until(world.now + adv * 10);
    world.loss_per_mille = 0;
    world.run_until(world.now + max_mdi * 3);
    assert_single_top_master(&world, &format!("{ctx}: after start"));
    if simultaneous {
        let winner = world.current_masters()[0];
        let all: Vec<usize> = (0..world.nodes.len()).collect();
        assert_eq!(
            winner,
            world.expected_winner(&all),
            "{ctx}: simultaneous start, address breaks ties"
        );
    }

    // 2. The master dies; the best backup takes over within its down interval + delay.
    let master = world.current_masters()[0];
    let clean = world.rng.chance(300);
    world.reset_watch();
    let crashed_at = world.now;
    if clean {
        world.stop(master);
    } else {
        world.crash(master);
    }
    let survivors = world.alive();
    if !survivors.is_empty() {
        let best = *survivors
            .iter()
            .max_by_key(|&&n| world.nodes[n].priority)
            .unwrap();
        let bound =
            crashed_at + Duration::from_micros(max_delay) + world.mdi(best, s.interval, s.version);
        world.run_until(bound);
        let (at, _) = world
            .first_new_master
            .unwrap_or_else(|| panic!("{ctx}: no takeover by {bound:?}"));
        assert!(
            at <= bound,
            "{ctx}: takeover at {at:?} after bound {bound:?}"
        );
        world.run_until(world.now + max_mdi * 3);
        assert_single_top_master(&world, &format!("{ctx}: after the master died"));
    }

    // 3. Restart it: a higher priority preempts again.
    world.restart(master);
    world.run_until(world.now + max_mdi * 4);
    assert_single_top_master(&world, &format!("{ctx}: after restart"));

    // 4. Partition, let each side elect, heal: dual masters end within one advert
    //    interval plus a round trip on the bus.
    let alive = world.alive();
    if alive.len() >= 2 {
        for (i, &n) in alive.iter().enumerate() {
            world.nodes[n].partition = if i == 0 || world.rng.chance(500) {
                1
            } else {
                0
            };
        }
        if alive.iter().all(|&n| world.nodes[n].partition == 1) {
            world.nodes[alive[1]].partition = 0;
        }
        world.run_until(world.now + max_mdi * 3);
        for n in 0..world.nodes.len() {
            world.nodes[n].partition = 0;
        }
        world.reset_watch();
        let healed_at = world.now;
        world.run_until(healed_at + adv * 10);
        let limit = adv + Duration::from_micros(2 * max_delay);
        assert!(
            world.longest_dual <= limit,
            "{ctx}: two masters for {:?} after healing (limit {limit:?})",
            world.longest_dual
        );
        world.run_until(world.now + max_mdi * 3);
        assert_single_top_master(&world, &format!("{ctx}: after healing"));
    }
}

#[test]
fn random_schedules_converge_to_one_master_fail_over_in_time_and_heal_quickly() {
    let schedules: u64 = std::env::var("KAD_SIM_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    for seed in 1..=schedules {
        run_schedule(&random_schedule(seed));
    }
}

#[test]
fn the_simulation_is_deterministic_for_a_seed() {
    let trace = |seed| {
        let s = random_schedule(seed);
        let mut world = World::new(seed, &s.priorities, s.version, s.interval);
        world.loss_per_mille = 100;
        world.delay_us = (100, 5_000);
        for n in 0..world.nodes.len() {
            world.start(n);
        }
        let mut masters = Vec::new();
        for _ in 0..50 {
            world.run_until(world.now + Duration::from_millis(200));
            masters.push(world.current_masters());
        }
        masters
    };
    assert_eq!(trace(7), trace(7));
}
