//! keepalived's command line.

pub fn main() -> i32 {
    eprintln!("kad: not yet");
    1
}
