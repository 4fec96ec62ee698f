//! Generates the test PKI, reports how long that took, and writes it if given a directory.
//!
//! ```sh
//! cargo run --release -p geid-testkit --example generate_pki -- [DIR]
//! ```

use std::time::Instant;

use geid_testkit::{Pki, PkiOptions};

fn main() -> Result<(), geid_testkit::Error> {
    let started = Instant::now();
    let pki = Pki::generate(&PkiOptions::default())?;
    let generated = started.elapsed();
    println!(
        "generated {} citizens in {:.2?} on {} threads",
        pki.citizens().len(),
        generated,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if let Some(dir) = std::env::args_os().nth(1) {
        let written = pki.write_to(&dir)?;
        let loaded = Pki::load(&dir)?;
        println!(
            "wrote {} files, manifest {}; loaded back {} citizens",
            written.files.len(),
            written.manifest.display(),
            loaded.citizens().len()
        );
    }
    Ok(())
}
