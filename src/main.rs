//! The binary is wired up once the core and the console adapter exist.
fn main() {}
