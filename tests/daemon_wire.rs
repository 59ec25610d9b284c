//! What kad puts on the wire, byte for byte, against captures of keepalived 2.2.7 made
//! with the same configuration, address and MAC (crates/kad-packet/tests/data): IP
//! header (TOS, TTL, id sequence, flags), VRRP message, gratuitous ARP bursts, the
//! priority-0 advert at shutdown, and IPv6 adverts from the EUI-64 link-local.

mod common;

use common::e2e::switch_port;
use common::lab::{wait_until, Daemon, Impl, Lab};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const GOLDEN_MAC: &str = "02:00:00:00:00:11";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/kad-packet/tests/data")
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Ethernet frames of a pcapng or classic little-endian pcap file (what tcpdump and the
/// golden captures use); a truncated tail is ignored (a capture still being written).
fn read_frames(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_default();
    let mut frames = Vec::new();
    match data.get(..4) {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => {
            let mut at = 0;
            while let Some(total) = le_u32(&data, at + 4) {
                let Some(block) = data.get(at..at + total as usize) else { break };
                match le_u32(block, 0) {
                    Some(6) => {
                        let len = le_u32(block, 20).unwrap_or(0) as usize;
                        frames.extend(block.get(28..28 + len).map(<[u8]>::to_vec));
                    }
                    Some(3) => {
                        let len = le_u32(block, 8).unwrap_or(0) as usize;
                        frames.extend(block.get(12..12 + len).map(<[u8]>::to_vec));
                    }
                    _ => {}
                }
                if total == 0 {
                    break;
                }
                at += total as usize;
            }
        }
        Some([0xd4, 0xc3, 0xb2, 0xa1]) | Some([0x4d, 0x3c, 0xb2, 0xa1]) => {
            let mut at = 24;
            while let Some(len) = le_u32(&data, at + 8) {
                let Some(frame) = data.get(at + 16..at + 16 + len as usize) else { break };
                frames.push(frame.to_vec());
                at += 16 + len as usize;
            }
        }
        _ => {}
    }
    frames
}

fn is_vrrp(frame: &[u8]) -> bool {
    match frame.get(12..14) {
        Some([0x08, 0x00]) => frame.get(23) == Some(&112),
        Some([0x86, 0xdd]) => frame.get(20) == Some(&112),
        _ => false,
    }
}

fn is_arp(frame: &[u8]) -> bool {
    frame.get(12..14) == Some(&[0x08, 0x06])
}

/// The IPv6 flow label is the kernel's hash of the socket (auto_flowlabels), different
/// for every socket of either daemon.
fn without_flow_label(mut frame: Vec<u8>) -> Vec<u8> {
    if frame.get(12..14) == Some(&[0x86, 0xdd]) && frame.len() > 17 {
        frame[15] &= 0xf0;
        frame[16] = 0;
        frame[17] = 0;
    }
    frame
}

fn hex(frame: &[u8]) -> String {
    frame.chunks(16).map(|c| c.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n")
}

/// The configuration keepalived ran with, from the comment block of the golden .txt.
fn golden_config(case: &str) -> String {
    let text = std::fs::read_to_string(golden_dir().join(format!("{case}.txt"))).expect("golden txt");
    text.lines()
        .skip_while(|l| !l.starts_with("# config:"))
        .skip(1)
        .take_while(|l| l.starts_with("#   "))
        .map(|l| format!("{}\n", &l[4..]))
        .collect()
}

/// `tcpdump -U -w` on r1's switch port: the bridge's view, as the golden captures.
struct PcapWriter {
    child: Child,
    file: PathBuf,
}

impl PcapWriter {
    fn start(lab: &Lab) -> PcapWriter {
        let port = switch_port(lab, "r1", "eth0");
        let file = lab.dir.join("wire.pcap");
        let err = lab.dir.join("wire.err");
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.ns("sw"), "tcpdump", "-U", "--immediate-mode", "-i", &port, "-w"])
            .arg(&file)
            .args(["vrrp", "or", "arp", "or", "ip6", "proto", "112"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).expect("tcpdump stderr"))
            .spawn()
            .expect("spawn tcpdump");
        assert!(
            wait_until(Duration::from_secs(5), || std::fs::read_to_string(&err).unwrap_or_default().contains("listening on")),
            "tcpdump did not start"
        );
        PcapWriter { child, file }
    }

    fn frames(&self, keep: fn(&[u8]) -> bool) -> Vec<Vec<u8>> {
        read_frames(&self.file).into_iter().filter(|f| keep(f)).map(without_flow_label).collect()
    }
}

impl Drop for PcapWriter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// r1 with the golden MAC and address (and its EUI-64 link-local), alone on a segment.
fn lab() -> Lab {
    let mut lab = Lab::new("wire");
    lab.add_host("r1");
    lab.connect("r1", "eth0", "lan");
    // Down and up again, so the link-local is made from the new MAC.
    lab.ip("r1", &["link", "set", "eth0", "down"]);
    lab.ip("r1", &["link", "set", "eth0", "address", GOLDEN_MAC]);
    lab.ip("r1", &["link", "set", "eth0", "up"]);
    lab.ip("r1", &["addr", "add", "192.0.2.11/24", "dev", "eth0"]);
    lab
}

/// Starts kad with the case's configuration and waits for `count` frames passing `keep`.
fn run_case(case: &str, keep: fn(&[u8]) -> bool, count: usize) -> (Lab, Daemon, PcapWriter, Vec<Vec<u8>>) {
    let golden: Vec<Vec<u8>> = read_frames(&golden_dir().join(format!("{case}.pcap")))
        .into_iter()
        .filter(|f| keep(f))
        .map(without_flow_label)
        .collect();
    assert!(golden.len() >= count, "{case}: the golden capture has {} frames", golden.len());
    let mut lab = lab();
    let cap = PcapWriter::start(&lab);
    let kad = lab.start("r1", Impl::Kad, "r1", &golden_config(case), &[]);
    assert!(
        wait_until(Duration::from_secs(10), || cap.frames(keep).len() >= count),
        "{case}: only {} frames from kad\n{}",
        cap.frames(keep).len(),
        kad.log_text()
    );
    (lab, kad, cap, golden)
}

fn assert_same(case: &str, golden: &[Vec<u8>], ours: &[Vec<u8>], count: usize) {
    for i in 0..count {
        assert!(
            golden[i] == ours[i],
            "{case}: frame {} differs\nkeepalived:\n{}\nkad:\n{}",
            i + 1,
            hex(&golden[i]),
            hex(&ours[i])
        );
    }
}

fn adverts_match(case: &str, count: usize) {
    let (_lab, _kad, cap, golden) = run_case(case, is_vrrp, count);
    assert_same(case, &golden, &cap.frames(is_vrrp), count);
}

#[test]
fn v2_adverts_match_keepalived() {
    if common::root_or_skip("wire") {
        adverts_match("vrrpv2-master", 3);
    }
}

#[test]
fn v3_adverts_match_keepalived() {
    if common::root_or_skip("wire") {
        adverts_match("vrrpv3-master", 3);
    }
}

#[test]
fn v3_centisecond_adverts_match_keepalived() {
    if common::root_or_skip("wire") {
        adverts_match("vrrpv3-advert-10cs", 5);
    }
}

#[test]
fn password_adverts_match_keepalived() {
    if common::root_or_skip("wire") {
        adverts_match("vrrpv2-auth-pass", 2);
    }
}

#[test]
fn multi_vip_adverts_match_keepalived() {
    if common::root_or_skip("wire") {
        adverts_match("vrrpv2-multi-vip", 2);
    }
}

#[test]
fn ipv6_adverts_match_keepalived() {
    if common::root_or_skip("wire") {
        adverts_match("vrrpv3-ipv6", 3);
    }
}

#[test]
fn the_takeover_burst_of_gratuitous_arps_matches_keepalived() {
    if common::root_or_skip("wire") {
        let keep: fn(&[u8]) -> bool = |f| is_vrrp(f) || is_arp(f);
        let (_lab, _kad, cap, golden) = run_case("vrrpv2-takeover-arp", keep, 7);
        assert_same("vrrpv2-takeover-arp", &golden, &cap.frames(keep), 7);
    }
}

#[test]
fn the_priority_zero_advert_at_shutdown_matches_keepalived() {
    if common::root_or_skip("wire") {
        let case = "vrrpv2-shutdown";
        let (_lab, mut kad, cap, golden) = run_case(case, is_vrrp, 2);
        kad.signal(libc::SIGTERM);
        assert_eq!(kad.wait_exit(Duration::from_secs(5)), Some(0), "{}", kad.log_text());
        assert!(wait_until(Duration::from_secs(2), || cap.frames(is_vrrp).len() >= 3));
        assert_same(case, &golden, &cap.frames(is_vrrp), 3);
    }
}
