//! Fuzzes the configuration reader the way the daemon uses it: the input is the main
//! keepalived.conf. No input may panic, every diagnostic must render, and whatever loads
//! must dump (`-d`) to text that loads again to the same model and dumps to the same text.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kad::config::{dump, load, load_str, same_config, InterfaceCheck, LoadOptions};
use libfuzzer_sys::fuzz_target;

/// The interfaces the corpus in tests/configs expects; eth7 and eth9 stay missing so the
/// interface errors are reachable.
const INTERFACES: &[&str] = &["eth0", "eth1", "eth2", "eth3", "eth4", "eth5", "lo"];

static HARNESS: OnceLock<Harness> = OnceLock::new();

struct Harness {
    input: PathBuf,
    opts: LoadOptions,
}

/// The input goes through `load`, not `load_str`, so that raw bytes, lexer diagnostics and
/// include errors follow the daemon's path. The file sits next to an `inc` link to the
/// corpus's include tree, so the seeds' relative includes resolve as in the corpus.
fn harness() -> &'static Harness {
    HARNESS.get_or_init(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("config-input");
        std::fs::create_dir_all(&dir).expect("cannot create the fuzz input directory");
        let link = dir.join("inc");
        if std::fs::symlink_metadata(&link).is_err() {
            // Parallel jobs race to create it; any one of them succeeding is enough.
            let _ = std::os::unix::fs::symlink(repo.join("tests/configs/inc"), &link);
        }
        let input = dir.join(format!("input-{}.conf", std::process::id()));
        // libFuzzer leaves through exit() when a run ends normally.
        // SAFETY: remove_input is an extern "C" fn without arguments, as atexit requires.
        unsafe { libc::atexit(remove_input) };
        let opts = LoadOptions {
            // The host name must not decide which `@id` lines count.
            config_id: Some("kadtest".into()),
            interfaces: InterfaceCheck::Fake(INTERFACES.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        Harness { input, opts }
    })
}

extern "C" fn remove_input() {
    if let Some(h) = HARNESS.get() {
        let _ = std::fs::remove_file(&h.input);
    }
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    std::fs::write(&h.input, data).expect("cannot write the fuzz input");
    let first = load(&h.input, &h.opts);
    for d in &first.diags.list {
        let _ = d.render();
    }
    let _ = first.diags.config_test_exit_code();
    let Some(config) = first.config else { return };

    let dumped = dump(&config);
    let again = load_str(&dumped, "dump.conf", &h.opts);
    let Some(second) = again.config else {
        let messages: Vec<_> = again.diags.list.iter().map(|d| d.render()).collect();
        panic!("the dump does not load:\n{dumped}\n{messages:#?}");
    };
    assert!(same_config(&config, &second), "the dump loads to a different model:\n{dumped}");
    // Skipped sections only survive as comments, which the second read does not see.
    let mut without_skipped = config;
    without_skipped.skipped.clear();
    assert_eq!(dump(&second), dump(&without_skipped), "the dump of the dump differs");
});
