//! Reading speed on a large configuration: prints figures, asserts nothing about time.
//! Run with `cargo test --release -p kad --lib config::tests::bench -- --ignored --nocapture`.

use super::support::*;
use std::time::{Duration, Instant};

/// 1000 instances × 10 VIPs (≈ 19k lines), spread over four interfaces.
pub fn big_config() -> String {
    let mut out = String::from("global_defs {\n router_id bench\n}\n");
    for i in 0..1000 {
        let vrid = i % 255 + 1;
        let iface = format!("eth{}", [0, 1, 2, 4][i / 255]);
        out.push_str(&format!(
            "vrrp_instance VI_{i} {{\n    state BACKUP\n    interface {iface}\n    virtual_router_id {vrid}\n    priority 100\n    advert_int 1\n    virtual_ipaddress {{\n"
        ));
        for j in 0..10 {
            out.push_str(&format!("        10.{}.{}.{}/24 dev {iface}\n", i / 250, i % 250, j + 1));
        }
        out.push_str("    }\n}\n");
    }
    out
}

#[test]
fn big_config_loads_without_diagnostics() {
    let l = load(&big_config());
    assert_eq!(exit(&l), 0, "{:?}", messages(&l).iter().take(5).collect::<Vec<_>>());
    let c = l.config.expect("loads");
    assert_eq!(c.instances.len(), 1000);
    assert!(c.instances.iter().all(|i| i.vips.len() == 10));
}

#[test]
#[ignore]
fn time_big_config() {
    let text = big_config();
    let opts = opts();
    let (mut lex, mut parse, mut total) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        let start = Instant::now();
        let lines = crate::config::lexer::lex_str(&text, "big.conf");
        lex = lex.min(start.elapsed());
        let start = Instant::now();
        let mut diags = crate::config::diag::Diagnostics::default();
        let raw = crate::config::parser::Parser::new(&lines, &opts, &mut diags).run().expect("parses");
        let config = crate::config::validate::complete(raw, &opts, &mut diags);
        parse = parse.min(start.elapsed());
        assert!(config.is_some());
        let start = Instant::now();
        assert!(load(&text).config.is_some());
        total = total.min(start.elapsed());
    }
    println!("big config ({} bytes), best of 5: lexing {lex:?}, parse+validate {parse:?}, load_str {total:?}", text.len());
}
