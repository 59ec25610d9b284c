//! Test helpers shared by the lexer's test modules.

use super::{read_config_detailed, ConfigRead, LexOptions};
use crate::config::diag::Diagnostics;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory unique to this run and test, removed on drop (also on panic).
pub(super) struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("kad-lexer-{}-{n}-{tag}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn read(&self, main: &str, opts: &LexOptions) -> (ConfigRead, Diagnostics) {
        let mut d = Diagnostics::default();
        let r = read_config_detailed(&self.0.join(main), opts, &mut d);
        (r, d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
