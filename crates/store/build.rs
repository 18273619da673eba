//! `sqlx::migrate!` embeds the migrations at compile time; without this, adding a migration file
//! (and changing no Rust source) would not rebuild the crate, and the new file would be missing.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
