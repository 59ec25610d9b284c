use super::support::*;

pub const FLAGSHIP: &str = r#"
global_defs {
    notification_email {
        ops@example.net
    }
    notification_email_from fw1@example.net
    smtp_server 127.0.0.1
    smtp_connect_timeout 60
    router_id fw1
}

vrrp_instance VI_INT {
    interface eth0
    state MASTER
    virtual_router_id 151
    priority 101
    advert_int 1
    smtp_alert
    virtual_ipaddress {
        192.0.2.1/24 dev eth0
        203.0.113.10/24 dev eth4
        198.51.100.10/24 dev eth5
        198.51.100.11/24 dev eth5
    }
    notify_master /etc/keepalived/master_active
    notify_backup /etc/keepalived/backup_active
}
"#;

#[test]
fn flagship_config_loads() {
    let l = load(FLAGSHIP);
    for d in &l.diags.list {
        eprintln!("{}", d.render());
    }
    let c = l.config.clone().expect("flagship must load");
    assert_eq!(c.instances.len(), 1);
    assert_eq!(exit(&l), 0);
}
