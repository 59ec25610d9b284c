//! The typed configuration: what the rest of kad sees after the reader has resolved
//! includes, parameters, defaults and keepalived's derived rules.
//!
//! Everything here is plain data (serialisable, comparable) so that the `-d` dump can be
//! re-read and compared with the original model, and so that reload can diff two models.
//! Values are stored already resolved: a field that keepalived derives (priority 255 for
//! `state MASTER`, the family from the first VIP, strict-mode overrides...) holds the
//! derived value, and the `*_set` / `Option` fields only exist where the distinction
//! changes behaviour later (e.g. GARP settings inherited from global_defs).

use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Where a configuration item came from: used in diagnostics and in the dump.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Span {
    /// Shared by every span of the file: a large configuration has one per token.
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

/// An address with a prefix length, as written in `ADDR[/LEN]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl Prefix {
    pub fn host(addr: IpAddr) -> Prefix {
        Prefix { addr, len: if addr.is_ipv4() { 32 } else { 128 } }
    }
    pub fn is_ipv6(&self) -> bool {
        self.addr.is_ipv6()
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Family {
    #[default]
    Inet,
    Inet6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::Inet
        } else {
            Family::Inet6
        }
    }
}

/// A script or notify command as keepalived stores it: the words after the script
/// tokenizer and escape processing, and the user/group it runs as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ScriptCommand {
    /// The command string exactly as written in the config (for the dump and messages).
    pub raw: String,
    /// argv, argv[0] being the program as configured (realpath is applied at run time
    /// unless `use_symlink_paths`).
    pub argv: Vec<String>,
    /// `user [group]` given after the command; `None` means the global default.
    pub user: Option<String>,
    pub group: Option<String>,
    /// `user:group` form or a group given: keepalived then sets supplementary groups.
    pub set_supplementary_groups: bool,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------
// global_defs
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    pub notification_email: Vec<String>,
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<SmtpServer>,
    pub smtp_helo_name: Option<String>,
    pub smtp_connect_timeout: Duration,
    pub smtp_alert: Option<bool>,
    pub smtp_alert_vrrp: Option<bool>,
    pub no_email_faults: bool,
    /// kad extension: TLS and AUTH for the relay (off unless configured).
    pub smtp_tls: SmtpTls,
    pub smtp_auth_file: Option<String>,

    pub enable_script_security: bool,
    pub script_user: Option<(String, Option<String>)>,
    pub use_symlink_paths: bool,
    pub set_supplementary_groups: bool,
    pub startup_script: Option<ScriptCommand>,
    pub startup_script_timeout: Duration,
    pub shutdown_script: Option<ScriptCommand>,
    pub shutdown_script_timeout: Duration,

    pub vrrp_version: u8,
    pub vrrp_mcast_group4: IpAddr,
    pub vrrp_mcast_group6: IpAddr,
    pub vrrp_garp_master_delay: Duration,
    pub vrrp_garp_master_repeat: u32,
    pub vrrp_garp_master_refresh: Duration,
    pub vrrp_garp_master_refresh_repeat: u32,
    pub vrrp_garp_lower_prio_delay: Option<Duration>,
    pub vrrp_garp_lower_prio_repeat: Option<u32>,
    pub vrrp_garp_interval: Duration,
    pub vrrp_gna_interval: Duration,
    pub vrrp_min_garp: bool,
    pub vrrp_garp_extra_if: Option<GarpExtraIf>,
    pub vrrp_down_timer_adverts: u32,
    pub vrrp_lower_prio_no_advert: bool,
    pub vrrp_higher_prio_send_advert: bool,
    pub vrrp_skip_check_adv_addr: bool,
    pub vrrp_check_unicast_src: bool,
    pub vrrp_strict: bool,
    pub v3_checksum_as_v2: bool,
    pub vrrp_owner_ignore_adverts: bool,
    pub vrrp_startup_delay: Option<Duration>,
    pub log_unknown_vrids: bool,
    pub dynamic_interfaces: bool,
    pub default_interface: String,
    pub vmac_prefix: Option<String>,
    pub vmac_addr_prefix: Option<String>,

    pub notify_fifo: Option<FifoSpec>,
    pub vrrp_notify_fifo: Option<FifoSpec>,
    pub vrrp_notify_priority_changes: bool,
    pub fifo_write_vrrp_states_on_reload: bool,

    pub umask: Option<u32>,
    pub reload_check_config: Option<Option<String>>,
    pub state_dump_file: Option<String>,
    pub stats_dump_file: Option<String>,
    pub json_dump_file: Option<String>,
    pub json_version: u8,
    pub data_use_instance: bool,
    pub random_seed: Option<u32>,

    /// kad extension: a deleted VIP, virtual route or virtual rule makes a MASTER give
    /// up mastership, as keepalived does, instead of being put back.
    pub vrrp_backup_on_owned_deletion: bool,
    /// kad extension: live status endpoints.
    pub status_socket: Option<String>,
    pub prometheus_listen: Option<String>,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_helo_name: None,
            smtp_connect_timeout: Duration::from_secs(30),
            smtp_alert: None,
            smtp_alert_vrrp: None,
            no_email_faults: false,
            smtp_tls: SmtpTls::None,
            smtp_auth_file: None,
            enable_script_security: false,
            script_user: None,
            use_symlink_paths: false,
            set_supplementary_groups: false,
            startup_script: None,
            startup_script_timeout: Duration::from_secs(10),
            shutdown_script: None,
            shutdown_script_timeout: Duration::from_secs(10),
            vrrp_version: 2,
            vrrp_mcast_group4: IpAddr::from([224, 0, 0, 18]),
            vrrp_mcast_group6: IpAddr::from([0xff02, 0, 0, 0, 0, 0, 0, 0x12]),
            vrrp_garp_master_delay: Duration::from_secs(5),
            vrrp_garp_master_repeat: 5,
            vrrp_garp_master_refresh: Duration::ZERO,
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_lower_prio_delay: None,
            vrrp_garp_lower_prio_repeat: None,
            vrrp_garp_interval: Duration::ZERO,
            vrrp_gna_interval: Duration::ZERO,
            vrrp_min_garp: false,
            vrrp_garp_extra_if: None,
            vrrp_down_timer_adverts: 3,
            vrrp_lower_prio_no_advert: false,
            vrrp_higher_prio_send_advert: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_check_unicast_src: false,
            vrrp_strict: false,
            v3_checksum_as_v2: false,
            vrrp_owner_ignore_adverts: false,
            vrrp_startup_delay: None,
            log_unknown_vrids: false,
            dynamic_interfaces: false,
            default_interface: "eth0".into(),
            vmac_prefix: None,
            vmac_addr_prefix: None,
            notify_fifo: None,
            vrrp_notify_fifo: None,
            vrrp_notify_priority_changes: false,
            fifo_write_vrrp_states_on_reload: false,
            umask: None,
            reload_check_config: None,
            state_dump_file: None,
            stats_dump_file: None,
            json_dump_file: None,
            json_version: 1,
            data_use_instance: false,
            random_seed: None,
            vrrp_backup_on_owned_deletion: false,
            status_socket: None,
            prometheus_listen: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpServer {
    /// An IP literal or a host name (resolved when a mail is sent).
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SmtpTls {
    #[default]
    None,
    StartTls,
    Implicit,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GarpExtraIf {
    pub all: bool,
    pub interval: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FifoSpec {
    pub path: String,
    pub user: Option<String>,
    pub group: Option<String>,
    pub script: Option<ScriptCommand>,
}

// ---------------------------------------------------------------------------------------
// Address, route and rule entries (virtual_*, static_*, backup_routes)
// ---------------------------------------------------------------------------------------

/// One line of `virtual_ipaddress`, `virtual_ipaddress_excluded` or `static_ipaddress`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AddressEntry {
    pub prefix: Prefix,
    /// `dev IF`; `None` means the instance interface (or its VMAC) for VIPs, and
    /// `default_interface` for static addresses (filled in by validation). Shared: ten
    /// thousand VIPs name a few dozen devices.
    pub dev: Option<Arc<str>>,
    /// rtnetlink scope number (0 = universe/global).
    pub scope: u8,
    pub broadcast: Option<Broadcast>,
    pub label: Option<String>,
    pub peer: Option<Prefix>,
    pub home: bool,
    /// IPv6 NODAD; keepalived sets it by default and `-nodad` clears it.
    pub nodad: bool,
    pub mngtmpaddr: bool,
    pub noprefixroute: bool,
    pub autojoin: bool,
    pub no_track: bool,
    /// IPv6 preferred_lft in seconds (`None`: kernel default / forever; a /128 VIP
    /// without the keyword gets `Some(0)` as keepalived does).
    pub preferred_lft: Option<u32>,
    /// Per-VIP VMAC on its device (scenario gotcha 2).
    pub use_vmac: bool,
    pub track_group: Option<String>,
    pub span: Span,
}

impl AddressEntry {
    /// `ADDR[/LEN]` before any option is applied: IPv6 NODAD on, everything else off.
    pub fn new(prefix: Prefix) -> AddressEntry {
        AddressEntry {
            prefix,
            dev: None,
            scope: 0,
            broadcast: None,
            label: None,
            peer: None,
            home: false,
            nodad: prefix.is_ipv6(),
            mngtmpaddr: false,
            noprefixroute: false,
            autojoin: false,
            no_track: false,
            preferred_lft: None,
            use_vmac: false,
            track_group: None,
            span: Span::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Broadcast {
    Addr(std::net::Ipv4Addr),
    /// `brd +`: all host bits set.
    Plus,
    /// `brd -`: all host bits clear.
    Minus,
}

/// rtnetlink route types, named as `ip route` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum RouteType {
    #[default]
    Unicast,
    Local,
    Broadcast,
    Anycast,
    Multicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
    Nat,
    Xresolve,
}

impl RouteType {
    /// The `ip route` word for the type.
    pub fn name(self) -> &'static str {
        match self {
            RouteType::Unicast => "unicast",
            RouteType::Local => "local",
            RouteType::Broadcast => "broadcast",
            RouteType::Anycast => "anycast",
            RouteType::Multicast => "multicast",
            RouteType::Blackhole => "blackhole",
            RouteType::Unreachable => "unreachable",
            RouteType::Prohibit => "prohibit",
            RouteType::Throw => "throw",
            RouteType::Nat => "nat",
            RouteType::Xresolve => "xresolve",
        }
    }
}

/// `add` / `prepend` / `append` in a route entry (prepend is the kernel default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum RouteMode {
    Add,
    #[default]
    Prepend,
    Append,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Nexthop {
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    /// Weight as written (1..256).
    pub weight: Option<u16>,
    pub onlink: bool,
}

/// Route metrics (RTA_METRICS): only the ones keepalived accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct RouteMetrics {
    pub mtu: Option<(u32, bool)>,
    pub hoplimit: Option<u32>,
    pub advmss: Option<u32>,
    pub rtt: Option<u32>,
    pub rttvar: Option<u32>,
    pub reordering: Option<u32>,
    pub window: Option<u32>,
    pub cwnd: Option<u32>,
    pub ssthresh: Option<u32>,
    pub rto_min: Option<u32>,
    pub initcwnd: Option<u32>,
    pub initrwnd: Option<u32>,
    pub features_ecn: bool,
    pub quickack: Option<u32>,
    pub congctl: Option<(String, bool)>,
    pub fastopen_no_cookie: Option<u32>,
    /// `lock` given for advmss, rtt, rttvar, reordering, cwnd, ssthresh or rto_min: bit
    /// `1 << RTAX_*` (mtu and congctl carry their own lock flag).
    pub locks: u32,
}

/// One line of `virtual_routes`, `static_routes` or kad's `backup_routes`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RouteEntry {
    pub family: Family,
    pub rtype: RouteType,
    pub dest: Prefix,
    pub src: Option<IpAddr>,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    /// Table id (254 = main).
    pub table: u32,
    pub metric: Option<u32>,
    /// rtnetlink scope number (0 = universe).
    pub scope: Option<u8>,
    /// Route protocol; 18 (keepalived) for tracked routes.
    pub protocol: u8,
    pub tos: Option<u8>,
    pub onlink: bool,
    /// IPv6 source prefix (`from`).
    pub from: Option<Prefix>,
    pub metrics: RouteMetrics,
    pub realms: Option<u32>,
    pub pref: Option<u8>,
    pub expires: Option<u32>,
    pub mode: RouteMode,
    /// `ttl-propagate enabled|disabled` (MPLS).
    pub ttl_propagate: Option<bool>,
    pub nexthops: Vec<Nexthop>,
    pub no_track: bool,
    pub track_group: Option<String>,
    pub span: Span,
}

/// keepalived's route protocol number, which it gives every route and rule it tracks.
pub const RTPROT_KEEPALIVED: u8 = 18;

impl RouteEntry {
    /// A tracked unicast route to `dest` in the main table before any option is applied.
    pub fn new(dest: Prefix) -> RouteEntry {
        RouteEntry {
            family: Family::of(&dest.addr),
            rtype: RouteType::Unicast,
            dest,
            src: None,
            via: None,
            dev: None,
            table: 254,
            metric: None,
            scope: None,
            protocol: RTPROT_KEEPALIVED,
            tos: None,
            onlink: false,
            from: None,
            metrics: RouteMetrics::default(),
            realms: None,
            pref: None,
            expires: None,
            mode: RouteMode::Prepend,
            ttl_propagate: None,
            nexthops: Vec::new(),
            no_track: false,
            track_group: None,
            span: Span::default(),
        }
    }

    /// Equal but for where the entries were written (a reload shifts lines).
    pub fn eq_ignoring_span(&self, other: &RouteEntry) -> bool {
        RouteEntry { span: Span::default(), ..self.clone() } == RouteEntry { span: Span::default(), ..other.clone() }
    }

    /// The kernel's identity of a route: two entries with the same key cannot coexist
    /// (one replaces the other). backup_routes use this to switch make-before-break.
    pub fn key(&self) -> RouteKey {
        RouteKey {
            family: self.family,
            dest: self.dest,
            table: self.table,
            metric: self.metric.unwrap_or(0),
            tos: self.tos.unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RouteKey {
    pub family: Family,
    pub dest: Prefix,
    pub table: u32,
    pub metric: u32,
    pub tos: u8,
}

impl PartialOrd for Prefix {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Prefix {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.addr, self.len).cmp(&(other.addr, other.len))
    }
}
impl PartialOrd for Family {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Family {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self as u8).cmp(&(*other as u8))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RuleAction {
    Table(u32),
    Goto(u32),
    Nop,
    Blackhole,
    Unreachable,
    Prohibit,
    L3mdev,
}

/// One line of `virtual_rules` or `static_rules`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleEntry {
    pub family: Family,
    pub from: Option<Prefix>,
    pub to: Option<Prefix>,
    pub priority: Option<u32>,
    pub tos: Option<u8>,
    pub fwmark: Option<(u32, Option<u32>)>,
    pub realms: Option<u32>,
    pub suppress_prefixlength: Option<u32>,
    pub suppress_ifgroup: Option<u32>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub tunnel_id: Option<u64>,
    pub uidrange: Option<(u32, u32)>,
    pub protocol: u8,
    pub ipproto: Option<u8>,
    pub sport: Option<(u16, u16)>,
    pub dport: Option<(u16, u16)>,
    pub invert: bool,
    pub action: RuleAction,
    pub no_track: bool,
    pub track_group: Option<String>,
    pub span: Span,
}

impl RuleEntry {
    /// A tracked rule matching everything, before any selector is applied.
    pub fn new(family: Family, action: RuleAction) -> RuleEntry {
        RuleEntry {
            family,
            from: None,
            to: None,
            priority: None,
            tos: None,
            fwmark: None,
            realms: None,
            suppress_prefixlength: None,
            suppress_ifgroup: None,
            iif: None,
            oif: None,
            tunnel_id: None,
            uidrange: None,
            protocol: RTPROT_KEEPALIVED,
            ipproto: None,
            sport: None,
            dport: None,
            invert: false,
            action,
            no_track: false,
            track_group: None,
            span: Span::default(),
        }
    }

    /// Rules have no kernel key like routes: two entries are the same rule when they
    /// differ only in where they were written.
    pub fn eq_ignoring_span(&self, other: &RuleEntry) -> bool {
        RuleEntry { span: Span::default(), ..self.clone() } == RuleEntry { span: Span::default(), ..other.clone() }
    }
}

// ---------------------------------------------------------------------------------------
// vrrp_instance
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum InitialState {
    Master,
    #[default]
    Backup,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Auth {
    /// PASS: the password, truncated to 8 bytes by the reader.
    Pass(Vec<u8>),
    /// AH (IPSEC-AH, HMAC-MD5-96): the key, truncated to 8 bytes.
    Ah(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnicastPeer {
    pub addr: IpAddr,
    pub min_ttl: Option<u8>,
    pub max_ttl: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackInterface {
    pub name: String,
    /// 0 means FAULT while the interface is down.
    pub weight: i32,
    pub reverse: bool,
}

/// `track_script NAME [weight W [reverse|noreverse]]` (also `track_file`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackRef {
    pub name: String,
    /// `None`: use the tracked object's own weight.
    pub weight: Option<i32>,
    pub reverse: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vmac {
    /// Interface name; derived as `<vmac_prefix>.<vrid>` when not given.
    pub ifname: String,
    pub name_given: bool,
    pub mac: Option<[u8; 6]>,
    pub xmit_base: bool,
    pub group: Option<u32>,
}

/// GARP/NA settings after inheritance from global_defs and `vrrp_min_garp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GarpSettings {
    pub master_delay: Duration,
    pub master_repeat: u32,
    pub master_refresh: Duration,
    pub master_refresh_repeat: u32,
    pub lower_prio_delay: Duration,
    pub lower_prio_repeat: u32,
    pub extra_if: Option<GarpExtraIf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Notifies {
    pub master: Option<Box<ScriptCommand>>,
    pub backup: Option<Box<ScriptCommand>>,
    pub fault: Option<Box<ScriptCommand>>,
    pub stop: Option<Box<ScriptCommand>>,
    pub deleted: Option<Box<ScriptCommand>>,
    pub generic: Option<Box<ScriptCommand>>,
    pub master_rx_lower_pri: Option<Box<ScriptCommand>>,
    /// `notify_deleted` was given (with or without a script): a removed instance reports
    /// DELETED instead of FAULT.
    pub deleted_configured: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VrrpInstance {
    pub name: String,
    pub span: Span,
    pub initial_state: InitialState,
    /// Configured interface (`None` only for unicast with unicast_src_ip).
    pub interface: Option<String>,
    pub dont_track_primary: bool,
    pub vrid: u8,
    /// Base priority after derivation (255 for `state MASTER` without priority).
    pub priority: u8,
    /// Advertisement interval after version rounding (v2: whole seconds; v3: 10 ms).
    pub advert_int: Duration,
    pub version: u8,
    pub family: Family,
    pub auth: Option<Auth>,
    pub vips: Vec<AddressEntry>,
    pub excluded_vips: Vec<AddressEntry>,
    pub no_virtual_ipaddress: bool,
    pub virtual_routes: Vec<RouteEntry>,
    pub virtual_rules: Vec<RuleEntry>,
    /// kad extension: routes installed while not MASTER.
    pub backup_routes: Vec<RouteEntry>,
    /// kad extension: rules installed while not MASTER.
    pub backup_rules: Vec<RuleEntry>,
    pub track_interfaces: Vec<TrackInterface>,
    pub track_scripts: Vec<TrackRef>,
    pub track_files: Vec<TrackRef>,
    pub nopreempt: bool,
    pub preempt_delay: Duration,
    pub garp: GarpSettings,
    pub down_timer_adverts: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub owner_ignore_adverts: bool,
    pub skip_check_adv_addr: bool,
    pub strict: bool,
    pub accept: bool,
    pub v3_checksum_as_v2: bool,
    pub mcast_src_ip: Option<IpAddr>,
    pub mcast_dst_ip: Option<IpAddr>,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_peers: Vec<UnicastPeer>,
    pub unicast_fault_no_peer: bool,
    pub unicast_ttl: Option<u8>,
    pub check_unicast_src: bool,
    pub track_src_ip: bool,
    pub use_vmac: Option<Vmac>,
    pub use_vmac_addr: bool,
    pub promote_secondaries: bool,
    pub notify: Notifies,
    pub smtp_alert: Option<bool>,
    pub notify_priority_changes: Option<bool>,
    pub timer_expired_backup: Option<u8>,
    /// Name of the sync group this instance belongs to (filled in by validation).
    pub sync_group: Option<String>,
    /// Configuration problems that keep the instance in FAULT (keepalived's
    /// num_config_faults), with the reason for the status dump and logs.
    pub config_faults: Vec<String>,
}

impl VrrpInstance {
    /// `vrrp_instance NAME` before its block is read: what the block must give or what
    /// is derived when it ends (vrid, priority, version, advert_int, the lower-priority
    /// GARP) is still zero; GARP, the down timer and skip_check_adv_addr come from
    /// global_defs.
    pub fn new(name: String, global: &GlobalDefs) -> VrrpInstance {
        VrrpInstance {
            name,
            span: Span::default(),
            initial_state: InitialState::Backup,
            interface: None,
            dont_track_primary: false,
            vrid: 0,
            priority: 0,
            advert_int: Duration::ZERO,
            version: 0,
            family: Family::Inet,
            auth: None,
            vips: Vec::new(),
            excluded_vips: Vec::new(),
            no_virtual_ipaddress: false,
            virtual_routes: Vec::new(),
            virtual_rules: Vec::new(),
            backup_routes: Vec::new(),
            backup_rules: Vec::new(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            garp: GarpSettings {
                master_delay: global.vrrp_garp_master_delay,
                master_repeat: global.vrrp_garp_master_repeat,
                master_refresh: global.vrrp_garp_master_refresh,
                master_refresh_repeat: global.vrrp_garp_master_refresh_repeat,
                lower_prio_delay: Duration::ZERO,
                lower_prio_repeat: 0,
                extra_if: None,
            },
            down_timer_adverts: global.vrrp_down_timer_adverts,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            owner_ignore_adverts: false,
            skip_check_adv_addr: global.vrrp_skip_check_adv_addr,
            strict: false,
            accept: true,
            v3_checksum_as_v2: false,
            mcast_src_ip: None,
            mcast_dst_ip: None,
            unicast_src_ip: None,
            unicast_peers: Vec::new(),
            unicast_fault_no_peer: false,
            unicast_ttl: None,
            check_unicast_src: false,
            track_src_ip: false,
            use_vmac: None,
            use_vmac_addr: false,
            promote_secondaries: false,
            notify: Notifies::default(),
            smtp_alert: None,
            notify_priority_changes: None,
            timer_expired_backup: None,
            sync_group: None,
            config_faults: Vec::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Other blocks
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncGroup {
    pub name: String,
    pub span: Span,
    pub members: Vec<String>,
    pub track_interfaces: Vec<TrackInterface>,
    pub track_scripts: Vec<TrackRef>,
    pub track_files: Vec<TrackRef>,
    pub notify: Notifies,
    pub smtp_alert: Option<bool>,
    pub sync_group_tracking_weight: bool,
    pub notify_priority_changes: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VrrpScript {
    pub name: String,
    pub span: Span,
    pub script: ScriptCommand,
    pub interval: Duration,
    /// `None`: equal to the interval (keepalived's default).
    pub timeout: Option<Duration>,
    pub weight: i32,
    pub weight_reverse: bool,
    pub rise: u32,
    pub fall: u32,
    pub init_fail: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackFileDef {
    pub name: String,
    pub span: Span,
    pub file: String,
    pub weight: i32,
    pub weight_reverse: bool,
    /// `init_file [VAL] [overwrite]`.
    pub init_file: Option<(i64, bool)>,
}

/// `garp_group { … }`: GARP/NA pacing shared by a set of interfaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GarpGroup {
    pub garp_interval: Option<Duration>,
    pub gna_interval: Option<Duration>,
    pub interfaces: Vec<String>,
    pub span: Span,
}

/// `track_group NAME { group { INSTANCE … } }`: instances put in FAULT when a static
/// address/route/rule naming this group cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackGroup {
    pub name: String,
    pub members: Vec<String>,
    pub span: Span,
}

/// One line of `interface_up_down_delays { IF DOWN [UP] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceDelays {
    pub interface: String,
    pub down: Duration,
    pub up: Duration,
}

/// One line of `linkbeat_interfaces { IF [MII|ETHTOOL|IOCTL] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkbeatInterface {
    pub interface: String,
    pub method: Option<String>,
}

/// Sections that kad reads but does not act on (LVS, BFD, ...): kept so that `-d`
/// can say what was skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedSection {
    pub keyword: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Config {
    pub global: GlobalDefs,
    pub instances: Vec<VrrpInstance>,
    pub sync_groups: Vec<SyncGroup>,
    pub scripts: Vec<VrrpScript>,
    pub track_files: Vec<TrackFileDef>,
    pub static_addresses: Vec<AddressEntry>,
    pub static_routes: Vec<RouteEntry>,
    pub static_rules: Vec<RuleEntry>,
    pub skipped: Vec<SkippedSection>,
    pub garp_groups: Vec<GarpGroup>,
    pub track_groups: Vec<TrackGroup>,
    pub interface_delays: Vec<InterfaceDelays>,
    pub linkbeat_interfaces: Vec<LinkbeatInterface>,
}
