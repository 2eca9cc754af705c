//! `check-credentials`: tries candidate OmniLab credentials, read from standard input, before
//! they go into the secret. All the work is in the shared crate (`bookings::check_credentials`).

fn main() -> std::process::ExitCode {
    bookings::check_credentials::main()
}
