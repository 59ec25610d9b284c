fn main() {
    std::process::exit(kad::cli::main());
}
