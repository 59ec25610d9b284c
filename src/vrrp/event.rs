//! The engine's inputs (`Event`) and outputs (`Action`). Both are plain serialisable
//! data so that a daemon run can be recorded and replayed as a test.

use crate::config::model::{Family, RouteEntry, RouteKey, RuleEntry};
use super::vip::Vip;
use kad_packet::Advert;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;

use super::params::{RouterConfig, TrackedObject};

/// Index of an instance inside one `Router`. Stable for the life of the instance:
/// a reload keeps the id of every instance it matches and never reuses an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InstanceId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupId(pub u32);

/// Who a received packet is for: an instance the daemon already resolved, or the
/// receive socket it arrived on (one socket per interface and family, demultiplexed
/// by VRID here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Recipient {
    Instance(InstanceId),
    Socket {
        vrid: u8,
        family: Family,
        interface: Option<String>,
    },
}

/// IP-level facts about a received advert that the codec does not see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Received {
    pub to: Recipient,
    pub advert: Advert,
    pub src: IpAddr,
    /// The packet's destination: multicast or not is derived from it.
    pub dst: IpAddr,
    /// IPv4 TTL / IPv6 hop limit; `None` when the kernel did not report it.
    pub ttl: Option<u8>,
    /// The sequence number of the IPSEC-AH header, whose integrity value the daemon has
    /// already verified; `None` when the packet had no AH header.
    #[serde(default)]
    pub ah_sequence: Option<u32>,
}

/// A packet that failed to decode, counted against the instance it was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PacketErrorKind {
    /// Truncated / wrong length / IP total length mismatch: `packet_len_err`.
    Length,
    /// VRRP type is not ADVERTISEMENT: `invalid_type_rcvd`.
    InvalidType,
    /// v2 auth type not 0, 1 or 2: `invalid_authtype`.
    InvalidAuthType,
    /// AH header present or absent against the configuration: `authtype_mismatch`.
    AuthTypeMismatch,
    /// AH ICV check failed: `auth_failure`.
    AuthFailure,
    /// Checksum mismatch (keepalived keeps no stats counter for it; logged).
    Checksum,
}

/// A tracker status report. Scripts report their rise/fall outcome, not every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrackerStatus {
    /// The script has not completed yet: weight-0 trackers hold the instance back.
    ScriptInit,
    ScriptOk,
    ScriptFailed,
    /// The integer read from a track_file.
    FileValue(i64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// Leave INIT. Facts reported before it (interfaces, trackers, source addresses)
    /// decide where each instance starts.
    Startup,
    AdvertReceived(Received),
    PacketError {
        to: Recipient,
        kind: PacketErrorKind,
    },
    /// A deadline was reached (any deadline due at `now` is processed on every event).
    Tick,
    InterfaceUp(String),
    InterfaceDown(String),
    TrackerUpdate {
        object: TrackedObject,
        status: TrackerStatus,
    },
    /// The address this instance sends adverts from; `None` when it has none
    /// (keepalived: "no IPv4 address for interface", or a tracked source deleted).
    SourceAddress {
        instance: InstanceId,
        addr: Option<IpAddr>,
    },
    OwnedAddressDeleted {
        instance: InstanceId,
        addr: IpAddr,
    },
    OwnedRouteDeleted {
        instance: InstanceId,
        key: RouteKey,
    },
    OwnedRuleDeleted {
        instance: InstanceId,
        rule: RuleEntry,
    },
    Shutdown,
    Reload(Box<RouterConfig>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Destinations {
    Multicast(IpAddr),
    /// One packet per peer, in configuration order.
    Unicast(Vec<IpAddr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GarpKind {
    /// The burst sent on becoming MASTER.
    MasterBurst,
    /// The second burst, `garp_master_delay` later.
    MasterDelayed,
    /// Every `garp_master_refresh`.
    Refresh,
    /// After receiving a lower-priority advert as MASTER.
    LowerPriority,
    /// `garp_lower_prio_delay` after that.
    LowerPriorityDelayed,
    /// A unicast instance leaving FAULT announces its own source address so the master
    /// can reach it at once.
    UnicastSource,
    /// After a reload that added addresses or with refresh configured.
    Reload,
    /// Every `garp_extra_if` interval: one GARP/NA per address of
    /// `GarpParams::extra_interfaces`.
    ExtraInterfaces,
}

/// The states keepalived reports to scripts, the FIFO and mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotifyState {
    Master,
    Backup,
    Fault,
    Stop,
    Deleted,
}

impl NotifyState {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyState::Master => "MASTER",
            NotifyState::Backup => "BACKUP",
            NotifyState::Fault => "FAULT",
            NotifyState::Stop => "STOP",
            NotifyState::Deleted => "DELETED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotifyTarget {
    Instance { id: InstanceId, name: String },
    Group { id: GroupId, name: String },
}

/// Instance states as seen from outside (status dumps, `StateChanged`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StateName {
    Init,
    Backup,
    Master,
    Fault,
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
}

/// What the daemon must do, in order.
///
/// Notifications: `Notify` stands for everything keepalived does on a state change
/// except mail — the state script (`notify_master` ...), the generic `notify` script
/// and the FIFO line, all derivable from target/state/priority. `Mail` is separate
/// because whether one is sent depends on the last mailed state (keepalived's
/// `last_email_state`), which the core tracks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Action {
    SendAdvert {
        instance: InstanceId,
        advert: Advert,
        destinations: Destinations,
        /// The IPSEC-AH sequence number (`auth_type AH`): one per advert, the same in
        /// every unicast copy.
        #[serde(default)]
        ah_sequence: Option<u32>,
    },
    AddVips {
        instance: InstanceId,
        vips: Arc<[Vip]>,
    },
    RemoveVips {
        instance: InstanceId,
        vips: Arc<[Vip]>,
    },
    AddExcludedVips {
        instance: InstanceId,
        vips: Arc<[Vip]>,
    },
    RemoveExcludedVips {
        instance: InstanceId,
        vips: Arc<[Vip]>,
    },
    /// Installed with replace semantics: a same-key backup route is swapped in place.
    InstallVirtualRoutes {
        instance: InstanceId,
        routes: Arc<[RouteEntry]>,
    },
    RemoveVirtualRoutes {
        instance: InstanceId,
        routes: Arc<[RouteEntry]>,
    },
    InstallVirtualRules {
        instance: InstanceId,
        rules: Arc<[RuleEntry]>,
    },
    RemoveVirtualRules {
        instance: InstanceId,
        rules: Arc<[RuleEntry]>,
    },
    /// Installed with replace semantics: a same-key virtual route is swapped in place.
    InstallBackupRoutes {
        instance: InstanceId,
        routes: Arc<[RouteEntry]>,
    },
    RemoveBackupRoutes {
        instance: InstanceId,
        routes: Arc<[RouteEntry]>,
    },
    InstallBackupRules {
        instance: InstanceId,
        rules: Arc<[RuleEntry]>,
    },
    RemoveBackupRules {
        instance: InstanceId,
        rules: Arc<[RuleEntry]>,
    },
    /// GARP/NA for every VIP and excluded VIP (the source address for `UnicastSource`,
    /// the extra-interface addresses for `ExtraInterfaces`), the whole list `repeat`
    /// times.
    SendGarp {
        instance: InstanceId,
        kind: GarpKind,
        repeat: u32,
    },
    StateChanged {
        instance: InstanceId,
        from: StateName,
        to: StateName,
    },
    Notify {
        target: NotifyTarget,
        state: NotifyState,
        priority: u8,
    },
    /// `notify_master_rx_lower_pri` and the FIFO `MASTER_RX_LOWER_PRI` line.
    NotifyMasterRxLowerPri {
        instance: InstanceId,
        name: String,
        priority: u8,
    },
    /// FIFO `MASTER_PRIORITY` / `BACKUP_PRIORITY` line (`notify_priority_changes`).
    PriorityChanged {
        instance: InstanceId,
        name: String,
        master: bool,
        priority: u8,
    },
    Mail {
        target: NotifyTarget,
        state: NotifyState,
    },
    Log {
        level: LogLevel,
        message: String,
    },
}
