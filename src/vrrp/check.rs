//! Instance-level validation of a decoded advert, in keepalived's order
//! (`vrrp_check_packet`, 2.3.3+ semantics: a VIP-list mismatch is counted and logged
//! but the advert is accepted; a v2 interval mismatch is dropped).
//!
//! Length, type, checksum and AH ICV failures are found by the codec and arrive as
//! `Event::PacketError`; everything that needs the instance's configuration is here.

use kad_packet::{Advert, AuthData};
use std::net::IpAddr;

use super::event::{Action, LogLevel, Received};
use super::params::{AuthSpec, InstanceParams, PRIO_OWNER};
use super::stats::Stats;

/// keepalived logs each kind of rejection once until the next accepted packet from a
/// new master or the next transition (`rlflags`), so a misconfigured peer cannot
/// flood the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RateLimit(u32);

#[derive(Debug, Clone, Copy)]
pub(crate) enum Condition {
    Ttl = 1,
    Version = 1 << 1,
    AuthType = 1 << 2,
    Password = 1 << 3,
    Interval = 1 << 4,
    CastMismatch = 1 << 5,
    OwnerIgnore = 1 << 6,
    AddrCount = 1 << 7,
    AddrMissing = 1 << 8,
    TtlRange = 1 << 9,
    UnknownPeer = 1 << 10,
    PacketError = 1 << 11,
    AhReplay = 1 << 12,
}

impl RateLimit {
    /// True the first time `c` is seen since the last reset.
    pub(crate) fn first(&mut self, c: Condition) -> bool {
        let bit = c as u32;
        let first = self.0 & bit == 0;
        self.0 |= bit;
        first
    }

    pub(crate) fn reset(&mut self) {
        self.0 = 0;
    }
}

/// keepalived's IPSEC-AH anti-replay counter: one per instance for what it sends and
/// what it accepts. A received advert must carry a number above it and raises it, so
/// a router that joins a running master continues from the master's numbers instead
/// of counting from 1 into adverts the master would drop as replays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AhSequence {
    last: u32,
    /// The counter reached its end: adverts repeat the last number until this router
    /// next becomes MASTER, which starts again from 1 (keepalived's `cycle`).
    exhausted: bool,
}

impl AhSequence {
    const LAST_USABLE: u32 = 0xFFFF_FFFE;

    pub(crate) fn next_to_send(&mut self) -> u32 {
        if self.last < Self::LAST_USABLE {
            self.last += 1;
        } else {
            self.exhausted = true;
        }
        self.last
    }

    /// Whether `seq` is new; a new number becomes the counter.
    fn accept(&mut self, seq: u32) -> bool {
        if seq > self.last {
            self.last = seq;
            true
        } else {
            false
        }
    }

    /// A master that hears a lower-priority advert continues past the sender's number,
    /// so that the sender accepts the master's answer.
    pub(crate) fn continue_after(&mut self, seq: u32) {
        self.last = seq.wrapping_add(1);
        self.exhausted = false;
    }

    /// Another router's numbers are acceptable again: no restart needed.
    pub(crate) fn peers_in_step(&mut self) {
        self.exhausted = false;
    }

    pub(crate) fn restart_if_exhausted(&mut self) {
        if self.exhausted {
            *self = AhSequence::default();
        }
    }

    pub(crate) fn last(&self) -> u32 {
        self.last
    }
}

pub(crate) struct CheckInput<'a> {
    pub params: &'a InstanceParams,
    pub effective_priority: u8,
    /// Whether the advertised addresses are compared with ours: always as MASTER,
    /// and as BACKUP unless `skip_check_adv_addr` and the sender is the known master.
    pub check_vips: bool,
}

fn auth_type_number(auth: &AuthData) -> u8 {
    match auth {
        AuthData::None => 0,
        AuthData::Pass(_) => 1,
        AuthData::Ah => 2,
    }
}

fn spec_type_number(auth: &AuthSpec) -> u8 {
    match auth {
        AuthSpec::None => 0,
        AuthSpec::Pass(_) => 1,
        AuthSpec::Ah => 2,
    }
}

/// Compares in time independent of where the first difference is.
fn password_matches(a: &[u8; 8], b: &[u8; 8]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn log(out: &mut Vec<Action>, message: String) {
    out.push(Action::Log {
        level: LogLevel::Info,
        message,
    });
}

/// Returns whether the advert may reach the state machine. Counters, the AH sequence
/// and log lines are updated as a side effect.
pub(crate) fn check_advert(
    input: &CheckInput<'_>,
    rx: &Received,
    stats: &mut Stats,
    rl: &mut RateLimit,
    ah: &mut AhSequence,
    out: &mut Vec<Action>,
) -> bool {
    let p = input.params;
    let name = &p.name;
    let src = rx.src;
    let advert: &Advert = &rx.advert;
    let unicast_instance = p.is_unicast();

    if !unicast_instance {
        if let Some(ttl) = rx.ttl {
            if ttl != 255 {
                stats.ip_ttl_err += 1;
                if rl.first(Condition::Ttl) {
                    log(
                        out,
                        format!(
                            "({name}) invalid TTL/HL from {src}. Received {ttl} and expect 255"
                        ),
                    );
                }
                return false;
            }
        }
    }

    if advert.version != p.version {
        if rl.first(Condition::Version) {
            log(
                out,
                format!(
                    "({name}) wrong VRRP version from {src}. Received {} and expect {}",
                    advert.version, p.version
                ),
            );
        }
        return false;
    }

    if p.version == 2 {
        let received = auth_type_number(&advert.auth);
        let expected = spec_type_number(&p.auth);
        if received != expected {
            stats.authtype_mismatch += 1;
            if rl.first(Condition::AuthType) {
                log(
                    out,
                    format!(
                        "({name}) received a {received} auth from {src}, expecting {expected}!"
                    ),
                );
            }
            return false;
        }
        if p.auth == AuthSpec::Ah && !ah_sequence_ok(name, src, rx.ah_sequence, stats, rl, ah, out)
        {
            return false;
        }
        if let (AuthSpec::Pass(ours), AuthData::Pass(theirs)) = (&p.auth, &advert.auth) {
            if !password_matches(ours, theirs) {
                stats.auth_failure += 1;
                if rl.first(Condition::Password) {
                    log(
                        out,
                        format!("({name}) received an invalid passwd from {src}!"),
                    );
                }
                return false;
            }
        }
        if advert.interval_cs != p.advert_interval.get() {
            stats.advert_interval_err += 1;
            if rl.first(Condition::Interval) {
                log(
                    out,
                    format!(
                    "({name}) advertisement interval mismatch with {src} mine={} sec rcv'd={} sec",
                    p.advert_interval.get() / 100,
                    advert.interval_cs / 100
                ),
                );
            }
            return false;
        }
    } else if advert.interval_cs != p.advert_interval.get() && rl.first(Condition::Interval) {
        log(
            out,
            format!(
                "({name}) advertisement interval mismatch ours = {} centi-sec rcv'd={} centi-sec",
                p.advert_interval.get(),
                advert.interval_cs
            ),
        );
    }

    let multicast_packet = rx.dst.is_multicast();
    if multicast_packet == unicast_instance {
        stats.addr_list_err += 1;
        if rl.first(Condition::CastMismatch) {
            let (want, got) = if unicast_instance {
                ("un", "mult")
            } else {
                ("mult", "un")
            };
            log(out, format!("({name}) Expected {want}icast packet but received {got}icast packet from {src}"));
        }
        return false;
    }

    if p.owner_ignore_adverts && input.effective_priority == PRIO_OWNER {
        if rl.first(Condition::OwnerIgnore) {
            log(
                out,
                format!("({name}) Dropping packet(s) from {src} since we are address owner"),
            );
        }
        return false;
    }

    stats.advert_rcvd += 1;

    if advert.addrs.len() != p.vips.len() {
        stats.addr_list_err += 1;
        if rl.first(Condition::AddrCount) {
            log(
                out,
                format!(
                    "({name}) expected {} VIPs but received {}",
                    p.vips.len(),
                    advert.addrs.len()
                ),
            );
        }
    } else if input.check_vips {
        if let Some(missing) = p
            .vips
            .iter()
            .map(|v| v.prefix.addr)
            .find(|a| !advert.addrs.contains(a))
        {
            stats.addr_list_err += 1;
            if rl.first(Condition::AddrMissing) {
                log(out, format!(
                    "({name}) ip address associated with VRID {} not present in advert from {src}: {missing}",
                    p.vrid
                ));
            }
        }
    }

    if unicast_instance && p.check_unicast_src && !unicast_source_ok(p, src, rx.ttl, stats, rl, out)
    {
        return false;
    }

    if advert.priority == 0 {
        stats.pri_zero_rcvd += 1;
    }
    true
}

/// The ICV was verified below the core; what is left is the replay check, counted
/// as `auth_failure` as keepalived does.
fn ah_sequence_ok(
    name: &str,
    src: IpAddr,
    sequence: Option<u32>,
    stats: &mut Stats,
    rl: &mut RateLimit,
    ah: &mut AhSequence,
    out: &mut Vec<Action>,
) -> bool {
    let Some(seq) = sequence else {
        stats.authtype_mismatch += 1;
        if rl.first(Condition::AuthType) {
            log(
                out,
                format!("({name}) received an advert without AH header from {src}"),
            );
        }
        return false;
    };
    if ah.accept(seq) {
        return true;
    }
    stats.auth_failure += 1;
    if rl.first(Condition::AhReplay) {
        log(
            out,
            format!(
                "({name}) IPSEC-AH : sequence number {seq} already processed. Packet dropped. Local({})",
                ah.last()
            ),
        );
    }
    false
}

fn unicast_source_ok(
    p: &InstanceParams,
    src: IpAddr,
    ttl: Option<u8>,
    stats: &mut Stats,
    rl: &mut RateLimit,
    out: &mut Vec<Action>,
) -> bool {
    let name = &p.name;
    let Some(peer) = p.unicast_peers.iter().find(|peer| peer.addr == src) else {
        if rl.first(Condition::UnknownPeer) {
            log(
                out,
                format!("({name}) unicast source address {src} not a unicast peer"),
            );
        }
        return false;
    };
    let (min, max) = (peer.min_ttl.unwrap_or(0), peer.max_ttl.unwrap_or(255));
    match ttl {
        Some(ttl) if ttl < min || ttl > max => {
            stats.ip_ttl_err += 1;
            if rl.first(Condition::TtlRange) {
                log(
                    out,
                    format!("({name}) TTL/HL {ttl} from {src} not in range [{min}, {max}]"),
                );
            }
            false
        }
        _ => true,
    }
}
