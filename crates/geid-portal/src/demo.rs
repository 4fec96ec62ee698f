//! `--demo`: a generated test PKI in the data folder and the testkit OCSP responder in-process.
//! Only built with the `demo` feature; a production build cannot trust the test PKI.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use anyhow::Context;
use geid_testkit::{OcspServer, Pki, PkiOptions, ResponderOptions};
use geid_verify::VerifierBuilder;

/// The running demo world.
pub struct Demo {
    /// Where the PKI files are (for `geid testkit card --pki DIR`).
    pub pki_dir: PathBuf,
    /// The PKI.
    pub pki: Pki,
    /// The OCSP responder; stops when dropped.
    pub ocsp: OcspServer,
}

/// Loads the PKI in `data_dir/pki` when its OCSP URLs point at `ocsp_port`, else generates and
/// writes a fresh one; then starts the OCSP responder on `127.0.0.1:ocsp_port`.
pub fn start(data_dir: &Path, ocsp_port: u16) -> anyhow::Result<Demo> {
    let listener = TcpListener::bind(("127.0.0.1", ocsp_port))
        .with_context(|| format!("binding the demo OCSP responder to 127.0.0.1:{ocsp_port}"))?;
    let port = listener.local_addr()?.port();
    let options = PkiOptions::with_base_url(&format!("http://127.0.0.1:{port}"));
    let pki_dir = data_dir.join("pki");
    let existing = Pki::load(&pki_dir)
        .ok()
        .filter(|p| p.options().ocsp_base_url == options.ocsp_base_url);
    let pki = match existing {
        Some(p) => p,
        None => {
            let p = Pki::generate(&options).context("generating the demo PKI")?;
            p.write_to(&pki_dir)
                .with_context(|| format!("writing the demo PKI to {}", pki_dir.display()))?;
            p
        }
    };
    let ocsp = OcspServer::start_on(listener, pki.clone(), ResponderOptions::default())
        .context("starting the demo OCSP responder")?;
    Ok(Demo { pki_dir, pki, ocsp })
}

/// Trusts only the demo PKI's root, with its authentication and signing CAs as intermediates.
pub fn trust(pki: &Pki, builder: VerifierBuilder) -> VerifierBuilder {
    builder
        .trust_anchor(pki.root().cert.clone())
        .intermediate(pki.auth_ca().cert.clone())
        .intermediate(pki.sign_ca().cert.clone())
}
