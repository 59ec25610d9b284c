//! Helpers shared by the integration tests: network namespaces, commands with a time
//! limit, temporary directories, and the keepalived.conf corpus.

// Every test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

pub mod capture;
pub mod corpus;
pub mod e2e;
pub mod kernel_watch;
pub mod lab;
pub mod netns;
pub mod scenario;
pub mod tmp;
pub mod wire;

/// Whether a test that needs root (namespaces, raw sockets) can run. As root it always
/// runs. Otherwise it fails when KAD_TEST_REQUIRE_ROOT is set (CI), and is skipped with a
/// notice on a developer's unprivileged run.
pub fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var_os("KAD_TEST_REQUIRE_ROOT").is_some() {
        panic!("{test} needs root (KAD_TEST_REQUIRE_ROOT is set)");
    }
    eprintln!("skipping {test}: needs root");
    false
}
