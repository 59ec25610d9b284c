//! Whether a state change is mailed (keepalived: vrrp.c resolves `smtp_alert` when an
//! instance or sync group is completed; vrrp_notify.c applies `no_email_faults`; smtp.c
//! gives up without a server or a recipient).

use std::collections::{HashMap, HashSet};

use super::{MailState, MailTarget};
use crate::config::model::{Config, GlobalDefs};

/// The global_defs settings that take part in the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlertDefaults {
    pub smtp_alert: Option<bool>,
    pub smtp_alert_vrrp: Option<bool>,
    pub no_email_faults: bool,
    /// `smtp_server` is set and `notification_email` has at least one entry.
    pub relay_configured: bool,
}

impl AlertDefaults {
    pub fn from_global(global: &GlobalDefs) -> AlertDefaults {
        AlertDefaults {
            smtp_alert: global.smtp_alert,
            smtp_alert_vrrp: global.smtp_alert_vrrp,
            no_email_faults: global.no_email_faults,
            relay_configured: global.smtp_server.is_some() && !global.notification_email.is_empty(),
        }
    }
}

/// keepalived's order: the instance's (or group's) own `smtp_alert`, else the global
/// `smtp_alert_vrrp`, else the global `smtp_alert`, else off.
pub fn smtp_alert_resolved(own: Option<bool>, defaults: &AlertDefaults) -> bool {
    own.or(defaults.smtp_alert_vrrp)
        .or(defaults.smtp_alert)
        .unwrap_or(false)
}

/// Whether a change to `state` of an instance or group whose own `smtp_alert` is
/// `own` produces a mail. Deciding that the state differs from the last mailed one is
/// the protocol core's job; a suppressed FAULT must not count as mailed there either.
pub fn should_mail(own: Option<bool>, defaults: &AlertDefaults, state: MailState) -> bool {
    defaults.relay_configured
        && smtp_alert_resolved(own, defaults)
        && !(defaults.no_email_faults && state == MailState::Fault)
}

/// [`should_mail`] for every instance and sync group of one configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MailPolicy {
    defaults: AlertDefaults,
    /// Only the targets with their own `smtp_alert`: the others (most of a thousand
    /// instances) follow the defaults and cost nothing here.
    own: HashMap<MailTarget, bool>,
}

impl MailPolicy {
    pub fn from_config(config: &Config) -> MailPolicy {
        let instances = config
            .instances
            .iter()
            .filter_map(|i| Some((MailTarget::Instance(i.name.clone()), i.smtp_alert?)));
        let groups = config
            .sync_groups
            .iter()
            .filter_map(|g| Some((MailTarget::Group(g.name.clone()), g.smtp_alert?)));
        MailPolicy {
            defaults: AlertDefaults::from_global(&config.global),
            own: instances.chain(groups).collect(),
        }
    }

    /// A target no configuration has named follows the global defaults.
    pub fn allows(&self, target: &MailTarget, state: MailState) -> bool {
        let own = self.own.get(target).copied();
        should_mail(own, &self.defaults, state)
    }

    /// After a reload, an instance the new configuration (`config`, which this policy
    /// was made from) dropped still gets its DELETED mail as keepalived decides it, from
    /// the instance's old `smtp_alert`; targets still configured take the new setting,
    /// their own or the defaults.
    pub fn keep_departed(&mut self, previous: &MailPolicy, config: &Config) {
        let instances: HashSet<&str> = config.instances.iter().map(|i| i.name.as_str()).collect();
        let groups: HashSet<&str> = config.sync_groups.iter().map(|g| g.name.as_str()).collect();
        for (target, own) in &previous.own {
            let still_configured = match target {
                MailTarget::Instance(name) => instances.contains(name.as_str()),
                MailTarget::Group(name) => groups.contains(name.as_str()),
            };
            if !still_configured {
                self.own.entry(target.clone()).or_insert(*own);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{SmtpServer, SyncGroup};

    fn group(name: &str, smtp_alert: Option<bool>) -> SyncGroup {
        SyncGroup {
            name: name.into(),
            span: Default::default(),
            members: vec![],
            track_interfaces: vec![],
            track_scripts: vec![],
            track_files: vec![],
            notify: Default::default(),
            smtp_alert,
            sync_group_tracking_weight: false,
            notify_priority_changes: None,
        }
    }

    fn configured() -> AlertDefaults {
        AlertDefaults {
            relay_configured: true,
            ..AlertDefaults::default()
        }
    }

    #[test]
    fn own_setting_wins_over_both_globals() {
        let d = AlertDefaults {
            smtp_alert: Some(true),
            smtp_alert_vrrp: Some(true),
            ..configured()
        };
        assert!(!smtp_alert_resolved(Some(false), &d));
        let d = AlertDefaults {
            smtp_alert: Some(false),
            smtp_alert_vrrp: Some(false),
            ..configured()
        };
        assert!(smtp_alert_resolved(Some(true), &d));
    }

    #[test]
    fn smtp_alert_vrrp_wins_over_smtp_alert() {
        let d = AlertDefaults {
            smtp_alert: Some(true),
            smtp_alert_vrrp: Some(false),
            ..configured()
        };
        assert!(!smtp_alert_resolved(None, &d));
        let d = AlertDefaults {
            smtp_alert: Some(false),
            smtp_alert_vrrp: Some(true),
            ..configured()
        };
        assert!(smtp_alert_resolved(None, &d));
    }

    #[test]
    fn smtp_alert_applies_when_nothing_more_specific_is_set() {
        let d = AlertDefaults {
            smtp_alert: Some(true),
            ..configured()
        };
        assert!(smtp_alert_resolved(None, &d));
        assert!(!smtp_alert_resolved(None, &configured()));
    }

    #[test]
    fn nothing_is_mailed_without_server_and_recipient() {
        let d = AlertDefaults {
            smtp_alert: Some(true),
            relay_configured: false,
            ..Default::default()
        };
        assert!(!should_mail(Some(true), &d, MailState::Master));

        let mut global = GlobalDefs {
            smtp_alert: Some(true),
            ..GlobalDefs::default()
        };
        global.smtp_server = Some(SmtpServer {
            host: "192.0.2.25".into(),
            port: 25,
        });
        assert!(
            !AlertDefaults::from_global(&global).relay_configured,
            "no recipient"
        );
        global.notification_email = vec!["ops@example.com".into()];
        assert!(AlertDefaults::from_global(&global).relay_configured);
        global.smtp_server = None;
        assert!(
            !AlertDefaults::from_global(&global).relay_configured,
            "no server"
        );
    }

    #[test]
    fn no_email_faults_suppresses_fault_only() {
        let d = AlertDefaults {
            no_email_faults: true,
            ..configured()
        };
        assert!(!should_mail(Some(true), &d, MailState::Fault));
        for state in [
            MailState::Master,
            MailState::Backup,
            MailState::Stop,
            MailState::Deleted,
        ] {
            assert!(should_mail(Some(true), &d, state), "{state:?}");
        }
        assert!(should_mail(Some(true), &configured(), MailState::Fault));
    }

    #[test]
    fn policy_resolves_instances_and_groups_separately() {
        let mut config = Config::default();
        config.global.smtp_server = Some(SmtpServer {
            host: "192.0.2.25".into(),
            port: 25,
        });
        config.global.notification_email = vec!["ops@example.com".into()];
        config.global.smtp_alert_vrrp = Some(true);
        config.sync_groups.push(group("G", Some(false)));
        let policy = MailPolicy::from_config(&config);
        assert!(!policy.allows(&MailTarget::Group("G".into()), MailState::Master));
        assert!(policy.allows(&MailTarget::Group("unknown".into()), MailState::Master));
        // Same name, other kind: an instance called G follows the global default.
        assert!(policy.allows(&MailTarget::Instance("G".into()), MailState::Master));
    }

    #[test]
    fn a_departed_target_keeps_its_old_setting_and_a_present_one_takes_the_new() {
        let mut old_config = Config::default();
        old_config.global.smtp_server = Some(SmtpServer {
            host: "192.0.2.25".into(),
            port: 25,
        });
        old_config.global.notification_email = vec!["ops@example.com".into()];
        old_config.sync_groups =
            vec![group("gone", Some(true)), group("stays", Some(true)), group("unset", Some(true))];
        let old = MailPolicy::from_config(&old_config);

        let mut new_config = old_config.clone();
        new_config.sync_groups = vec![group("stays", Some(false)), group("unset", None)];
        let mut new = MailPolicy::from_config(&new_config);
        assert!(!new.allows(&MailTarget::Group("gone".into()), MailState::Deleted));
        new.keep_departed(&old, &new_config);
        assert!(new.allows(&MailTarget::Group("gone".into()), MailState::Deleted));
        assert!(!new.allows(&MailTarget::Group("stays".into()), MailState::Master));
        // Still configured, without a setting of its own now: the defaults (no mail).
        assert!(!new.allows(&MailTarget::Group("unset".into()), MailState::Master));
    }
}
