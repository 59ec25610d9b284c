//! keepalived's parse-time quirks, reproduced exactly.

use super::support::*;
use crate::config::diag::ErrClass;
use crate::config::model::InitialState;

#[test]
fn unknown_keyword_is_reported_and_skipped() {
    let l = load(&instance(" priorty 50"));
    assert_eq!(class_of(&l, "Unknown keyword 'priorty'"), Some(ErrClass::UnknownKeyword));
    let d = l.diags.list.iter().find(|d| d.message.contains("priorty")).unwrap();
    assert_eq!(d.did_you_mean.as_deref(), Some("priority"));
    assert_eq!(d.span.as_ref().unwrap().line, 7);
    assert_eq!(exit(&l), 5);
    assert_eq!(l.config.unwrap().instances[0].priority, 100);
}

#[test]
fn unknown_block_body_is_read_at_current_level_and_its_brace_closes_the_enclosing_block() {
    let text = "vrrp_instance VI {\n interface eth0\n virtual_router_id 51\n frob {\n  priority 50\n }\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n";
    let l = load(text);
    let m = messages(&l);
    assert!(has(&l, "Unknown keyword 'frob'"), "{m:?}");
    assert_eq!(class_of(&l, "Unexpected '{' - ignoring"), Some(ErrClass::UnexpectedBob));
    assert!(has(&l, "closes the enclosing block"));
    let close = l.diags.list.iter().find(|d| d.message.contains("not the block opened on line 4")).unwrap();
    assert_eq!(close.span.as_ref().unwrap().line, 6);
    // `priority 50` was applied to the instance; the '}' of frob closed vrrp_instance, so
    // virtual_ipaddress is an unknown root keyword.
    assert!(has(&l, "Unknown keyword 'virtual_ipaddress'"), "{m:?}");
    let d = l.diags.list.iter().find(|d| d.message.contains("'virtual_ipaddress'")).unwrap();
    assert_eq!(d.span.as_ref().unwrap().line, 7);
}

#[test]
fn keyword_missing_its_argument_stops_everything_with_exit_2() {
    let l = load(&instance(" priority\n nopreempt"));
    assert_eq!(l.diags.immediate_exit, Some(2));
    assert_eq!(exit(&l), 2);
    assert!(has(&l, "*** Configuration line starting `priority` is missing a parameter after keyword `priority` at word position 2"));
    assert!(l.config.is_none());
}

#[test]
fn route_missing_a_word_after_via_exits_2_like_keepalived() {
    let l = load(&instance(" virtual_routes {\n  198.51.100.0/24 via\n }"));
    assert_eq!(l.diags.immediate_exit, Some(2));
    assert!(has(&l, "missing a parameter after keyword `via` at word position 3"));
}

#[test]
fn block_keyword_without_brace_reports_missing_bob() {
    let l = load("vrrp_instance VI\n interface eth0\n");
    assert_eq!(class_of(&l, "Missing '{' at beginning of configuration block"), Some(ErrClass::MissingBob));
}

#[test]
fn value_block_with_extra_parameters_is_reported() {
    let l = load(&instance(" virtual_ipaddress_excluded extra {\n  192.0.2.9\n }"));
    assert!(has(&l, "Block virtual_ipaddress_excluded has extra parameters extra ..."));
    assert_eq!(l.config.unwrap().instances[0].excluded_vips.len(), 1);
}

#[test]
fn duplicate_instance_name_is_an_error_and_its_block_is_skipped() {
    let text = format!("{}vrrp_instance VI {{\n interface eth1\n priority 10\n}}\n", instance(""));
    let l = load(&text);
    assert!(has(&l, "vrrp instance VI already defined"));
    let c = l.config.unwrap();
    assert_eq!(c.instances.len(), 1);
    assert_eq!(c.instances[0].interface.as_deref(), Some("eth0"));
}

#[test]
fn out_of_range_priority_reports_range_and_falls_back_to_100() {
    let l = load(&instance(" priority 300"));
    assert_eq!(class_of(&l, "number '300' outside range [1, 255]"), Some(ErrClass::InvalidNumber));
    assert!(has(&l, "(VI) Priority not valid! must be between 1 & 255. Using default 100"));
    assert_eq!(l.config.unwrap().instances[0].priority, 100);
}

#[test]
fn unknown_state_defaults_to_backup_with_an_error() {
    let l = load(&instance(" state master\n priority 255"));
    assert!(has(&l, "(VI) unknown state 'master', defaulting to BACKUP"));
    assert_eq!(l.config.unwrap().instances[0].initial_state, InitialState::Backup);
}

#[test]
fn backup_after_master_is_ignored() {
    let l = load(&instance(" state MASTER\n state BACKUP"));
    assert!(has(&l, "(VI) state previously set as MASTER - ignoring BACKUP"));
    assert_eq!(l.config.unwrap().instances[0].initial_state, InitialState::Master);
}

#[test]
fn auth_pass_is_truncated_to_8_with_an_error() {
    let l = load(&instance(" authentication {\n  auth_type PASS\n  auth_pass 0123456789\n }"));
    assert!(has(&l, "Truncating auth_pass to 8 characters"));
    let c = l.config.unwrap();
    assert_eq!(c.instances[0].auth, Some(crate::config::model::Auth::Pass(b"01234567".to_vec())));
}

#[test]
fn second_notify_of_a_kind_is_ignored_with_an_error() {
    let l = load(&instance(" notify_master /bin/a\n notify_master /bin/b"));
    assert!(has(&l, "(VI) notify_master script already specified - ignoring /bin/b"));
    assert_eq!(l.config.unwrap().instances[0].notify.master.as_ref().unwrap().argv, vec!["/bin/a"]);
}

#[test]
fn skip_check_adv_addr_false_still_sets_the_flag() {
    let c = config(&instance(" skip_check_adv_addr false"));
    assert!(c.instances[0].skip_check_adv_addr);
    let l = load(&instance(" skip_check_adv_addr maybe"));
    assert!(has(&l, "(VI) invalid skip_check_adv_addr maybe specified"));
    assert!(!l.config.unwrap().instances[0].skip_check_adv_addr);
}

#[test]
fn track_script_must_be_defined_before_use() {
    let text = format!("{}vrrp_script chk {{\n script \"/bin/true\"\n}}\n", instance(" track_script {\n  chk\n }"));
    let l = load(&text);
    assert!(has(&l, "(VI) track script chk not found, ignoring..."));
    assert!(has(&l, "defined further down"));
    assert!(l.config.unwrap().instances[0].track_scripts.is_empty());
}

#[test]
fn global_garp_values_after_an_instance_do_not_reach_it() {
    let text = format!("{}global_defs {{\n vrrp_garp_master_repeat 9\n}}\n", instance(""));
    let c = config(&text);
    assert_eq!(c.instances[0].garp.master_repeat, 5);
    assert_eq!(c.global.vrrp_garp_master_repeat, 9);
}

#[test]
fn extra_closing_brace_at_root_is_an_unknown_keyword() {
    let l = load(&format!("{}}}\n", instance("")));
    assert!(has(&l, "Unknown keyword '}'"));
}

#[test]
fn skipped_sections_are_consumed_whole_without_raising_the_exit_code() {
    let text = format!(
        "virtual_server 192.0.2.50 80 {{\n  lb_algo rr\n  real_server 192.0.2.51 80 {{\n   weight 1\n   HTTP_GET {{\n    url {{\n     path /\n    }}\n   }}\n  }}\n}}\n{}",
        instance("")
    );
    let l = load(&text);
    assert_eq!(exit(&l), 0, "{:?}", messages(&l));
    let c = l.config.clone().unwrap();
    assert_eq!(c.skipped.len(), 1);
    assert_eq!(c.skipped[0].keyword, "virtual_server");
    assert!(has(&l, "'virtual_server' is not implemented by kad"));
}

#[test]
fn kad_extensions_are_errors_in_keepalived_compat_mode() {
    let text = instance(" backup_routes {\n  0.0.0.0/0 via 192.0.2.254 dev eth0\n }");
    let l = load(&text);
    assert_eq!(exit(&l), 0, "{:?}", messages(&l));
    assert_eq!(l.config.unwrap().instances[0].backup_routes.len(), 1);
    let mut o = opts();
    o.keepalived_compat = true;
    let l = crate::config::load_str(&text, "t.conf", &o);
    assert!(has(&l, "'backup_routes' is a kad extension"));
    assert_eq!(exit(&l), 5);
    assert!(l.config.unwrap().instances[0].backup_routes.is_empty());
}

#[test]
fn nonexistent_interface_stops_the_vrrp_side() {
    let l = load("vrrp_instance VI {\n interface nosuch0\n virtual_router_id 5\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n");
    assert!(has(&l, "WARNING - interface nosuch0 for vrrp_instance VI doesn't exist"));
    assert_eq!(class_of(&l, "Non-existent interface specified in configuration"), Some(ErrClass::BadIf));
    assert_eq!(exit(&l), 5);
    assert!(l.config.is_none());
    assert!(l.diags.is_fatal());
}

#[test]
fn dynamic_interfaces_accepts_missing_interfaces() {
    let text = "global_defs {\n dynamic_interfaces\n}\nvrrp_instance VI {\n interface nosuch0\n virtual_router_id 5\n virtual_ipaddress {\n 192.0.2.1 dev nosuch1\n }\n}\n";
    let l = load(text);
    assert_eq!(exit(&l), 0, "{:?}", messages(&l));
    assert!(l.config.is_some());
}

#[test]
fn vip_on_missing_device_is_dropped() {
    let l = load(&instance(" virtual_ipaddress {\n  192.0.2.7 dev nosuch9\n }"));
    assert!(has(&l, "WARNING - interface nosuch9 for ip address 192.0.2.7 doesn't exist"));
    assert!(l.config.is_none());
}

#[test]
fn unmatched_quote_in_a_script_is_reported() {
    let l = load(&instance(" notify_master \"/bin/echo 'a\""));
    assert_eq!(class_of(&l, "missing terminating '"), Some(ErrClass::UnmatchedQuote));
}

#[test]
fn keyword_of_another_block_says_where_it_belongs() {
    let l = load(&instance(" vrrp_strict"));
    assert!(has(&l, "Unknown keyword 'vrrp_strict' (it belongs in a global_defs block)"));
    let l = load("global_defs {\n virtual_router_id 5\n}\n");
    assert!(has(&l, "Unknown keyword 'virtual_router_id' (it belongs in a vrrp_instance block)"));
}

#[test]
fn real_interface_check_reads_the_system_and_refuses_loopback() {
    let o = crate::config::LoadOptions::default();
    let text = "vrrp_instance VI {\n interface lo\n virtual_router_id 5\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n";
    let l = crate::config::load_str(text, "t.conf", &o);
    assert!(has(&l, "(VI) cannot use a loopback interface (lo) for vrrp - ignoring"));
    assert!(has(&l, "(VI) Unknown interface!"));
    let l = crate::config::load_str(&text.replace(" lo\n", " kad-no-such-if\n"), "t.conf", &o);
    assert!(has(&l, "Non-existent interface specified in configuration"));
}
