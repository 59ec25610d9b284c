//! Packet captures for end-to-end tests: tcpdump on a host's switch port (so unicast
//! frames are seen too, which a third host on the segment would miss once the bridge has
//! learnt the peer's MAC), read back from its pcap file while it runs.

use super::lab::{wait_until, Lab};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_ARP: u16 = 0x0806;
/// Ethernet/IPv4 ARP: 8-byte header, two MACs and two IPv4 addresses.
const ARP_LEN: usize = 28;
const IPPROTO_VRRP: u8 = 112;
const IPPROTO_AH: u8 = 51;
/// keepalived's AH header: 12 bytes of fields and a 12-byte HMAC-MD5-96.
const AH_HEADER_LEN: usize = 24;
const IPPROTO_ICMPV6: u8 = 58;
const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
const PCAP_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
const LINKTYPE_ETHERNET: u32 = 1;

/// A running tcpdump, killed on drop.
pub struct Capture {
    pub file: PathBuf,
    child: Child,
}

/// One captured frame: a VRRP (or AH) packet, an ARP packet or an ICMPv6 message.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Seconds since the epoch, from the capture.
    pub time: f64,
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
    pub ethertype: u16,
    /// What follows the Ethernet header (and any VLAN tag), without Ethernet padding.
    pub packet: Vec<u8>,
}

impl Frame {
    pub fn is_ipv6(&self) -> bool {
        self.ethertype == ETHERTYPE_IPV6
    }

    pub fn is_ipv4(&self) -> bool {
        self.ethertype == ETHERTYPE_IPV4
    }

    pub fn src(&self) -> Option<IpAddr> {
        if self.is_ipv6() {
            let b: [u8; 16] = self.packet.get(8..24)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        } else if self.is_ipv4() {
            let b: [u8; 4] = self.packet.get(12..16)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(b)))
        } else {
            None
        }
    }

    pub fn dst(&self) -> Option<IpAddr> {
        if self.is_ipv6() {
            let b: [u8; 16] = self.packet.get(24..40)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        } else if self.is_ipv4() {
            let b: [u8; 4] = self.packet.get(16..20)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(b)))
        } else {
            None
        }
    }

    /// The IP protocol (IPv6: next header; VRRP senders add no extension headers).
    pub fn ip_protocol(&self) -> Option<u8> {
        if self.is_ipv6() {
            self.packet.get(6).copied()
        } else if self.is_ipv4() {
            self.packet.get(9).copied()
        } else {
            None
        }
    }

    /// The IP payload.
    pub fn payload(&self) -> &[u8] {
        let start =
            if self.is_ipv6() { 40 } else { usize::from(self.packet.first().copied().unwrap_or(0x45) & 0x0f) * 4 };
        self.packet.get(start..).unwrap_or_default()
    }

    /// The VRRP message, directly in IP or behind an IPSEC-AH header.
    pub fn vrrp_message(&self) -> Option<&[u8]> {
        match self.ip_protocol()? {
            IPPROTO_VRRP => Some(self.payload()),
            IPPROTO_AH if self.payload().first() == Some(&IPPROTO_VRRP) => self.payload().get(AH_HEADER_LEN..),
            _ => None,
        }
    }

    /// The VRRP priority byte.
    pub fn vrrp_priority(&self) -> Option<u8> {
        self.vrrp_message()?.get(2).copied()
    }

    /// The address an ARP packet announces (its sender protocol address).
    pub fn arp_sender(&self) -> Option<Ipv4Addr> {
        if self.ethertype != ETHERTYPE_ARP {
            return None;
        }
        let b: [u8; 4] = self.packet.get(14..18)?.try_into().ok()?;
        Some(Ipv4Addr::from(b))
    }

    /// The target of an ICMPv6 neighbour advertisement.
    pub fn na_target(&self) -> Option<Ipv6Addr> {
        let icmp = self.payload();
        if self.ip_protocol() != Some(IPPROTO_ICMPV6) || icmp.first() != Some(&ICMPV6_NEIGHBOR_ADVERT) {
            return None;
        }
        let b: [u8; 16] = icmp.get(8..24)?.try_into().ok()?;
        Some(Ipv6Addr::from(b))
    }
}

impl Capture {
    /// Captures what `host` sends on `ifname` (frames entering its switch port) that is
    /// VRRP, AH, ARP or ICMPv6, into the lab directory as `<name>.pcap`.
    pub fn start(lab: &Lab, host: &str, ifname: &str, name: &str) -> Capture {
        let sw = lab.switch_namespace().expect("capture needs a connected host").to_string();
        let port = lab.port(host, ifname).unwrap_or_else(|| panic!("{host} has no {ifname}")).to_string();
        let file = lab.dir.join(format!("{name}.pcap"));
        let log = lab.dir.join(format!("{name}.tcpdump.log"));
        let logf = std::fs::File::create(&log).expect("tcpdump log");
        let child = Command::new("ip")
            .args(["netns", "exec", &sw, "tcpdump", "-n", "-i", &port, "-Q", "in", "-U", "--immediate-mode", "-w"])
            .arg(&file)
            .arg("ip proto 112 or ip proto 51 or ip6 proto 112 or arp or icmp6")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(logf))
            .spawn()
            .expect("spawn tcpdump");
        let mut capture = Capture { file, child };
        let ready = wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(&log).is_ok_and(|t| t.contains("listening on"))
        });
        if !ready {
            let _ = capture.child.kill();
            panic!("tcpdump did not start: {}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        capture
    }

    /// Every complete frame captured so far.
    pub fn frames(&self) -> Vec<Frame> {
        parse_pcap(&std::fs::read(&self.file).unwrap_or_default())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Frames of a little- or big-endian microsecond pcap file with Ethernet link type; a
/// record cut short (tcpdump still writing) ends the list.
pub fn parse_pcap(bytes: &[u8]) -> Vec<Frame> {
    let Some(header) = bytes.get(..PCAP_HEADER_LEN) else { return Vec::new() };
    let word = |b: &[u8], big: bool| {
        let a = [b[0], b[1], b[2], b[3]];
        if big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    };
    let big = match header[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] => false,
        [0xa1, 0xb2, 0xc3, 0xd4] => true,
        _ => panic!("not a microsecond pcap file"),
    };
    assert_eq!(word(&header[20..24], big), LINKTYPE_ETHERNET, "capture is not Ethernet");
    let mut frames = Vec::new();
    let mut at = PCAP_HEADER_LEN;
    while let Some(record) = bytes.get(at..at + RECORD_HEADER_LEN) {
        let secs = word(&record[0..4], big);
        let usecs = word(&record[4..8], big);
        let len = word(&record[8..12], big) as usize;
        let Some(data) = bytes.get(at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + len) else { break };
        at += RECORD_HEADER_LEN + len;
        if let Some(frame) = parse_ethernet(data, f64::from(secs) + f64::from(usecs) / 1e6) {
            frames.push(frame);
        }
    }
    frames
}

fn parse_ethernet(data: &[u8], time: f64) -> Option<Frame> {
    let dst_mac: [u8; 6] = data.get(..6)?.try_into().ok()?;
    let src_mac: [u8; 6] = data.get(6..12)?.try_into().ok()?;
    let mut offset = 12;
    let mut ethertype = u16::from_be_bytes([*data.get(offset)?, *data.get(offset + 1)?]);
    if ethertype == ETHERTYPE_VLAN {
        offset += 4;
        ethertype = u16::from_be_bytes([*data.get(offset)?, *data.get(offset + 1)?]);
    }
    let packet = data.get(offset + 2..)?;
    // Ethernet pads short frames: cut the packet at its own length.
    let len = match ethertype {
        ETHERTYPE_IPV4 => usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?])),
        ETHERTYPE_IPV6 => 40 + usize::from(u16::from_be_bytes([*packet.get(4)?, *packet.get(5)?])),
        ETHERTYPE_ARP => ARP_LEN,
        _ => return None,
    };
    Some(Frame { time, dst_mac, src_mac, ethertype, packet: packet.get(..len)?.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_records_and_strips_ethernet_padding() {
        let mut file = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        file.extend_from_slice(&[0; 8]);
        file.extend_from_slice(&65535u32.to_le_bytes());
        file.extend_from_slice(&1u32.to_le_bytes());
        let mut frame = vec![0x01, 0, 0x5e, 0, 0, 0x12, 2, 0, 0, 0, 0, 0x11, 0x08, 0x00];
        let ip = [0x45, 0xc0, 0, 0x20];
        frame.extend_from_slice(&ip);
        frame.resize(14 + 32, 0);
        frame.resize(60, 0);
        for word in [7u32, 500_000, frame.len() as u32, frame.len() as u32] {
            file.extend_from_slice(&word.to_le_bytes());
        }
        file.extend_from_slice(&frame);
        // A record still being written.
        file.extend_from_slice(&[1, 2, 3]);
        let frames = parse_pcap(&file);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].packet.len(), 32);
        assert_eq!(frames[0].dst_mac, [0x01, 0, 0x5e, 0, 0, 0x12]);
        assert_eq!(frames[0].src_mac, [2, 0, 0, 0, 0, 0x11]);
        assert_eq!(frames[0].time, 7.5);
    }
}
