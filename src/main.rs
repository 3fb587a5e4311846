fn main() {
    secwrap::main(std::env::args_os().collect())
}
