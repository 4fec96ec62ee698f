//! Card commands: readers, info, auth, pin, trace (and `testkit card` with the testkit feature).

use std::io::BufRead;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use geid_card::pcsc::{PcscContext, PcscTransport};
use geid_card::{Card, KeySlot, PinEntry, PinKind, Trace, Transport};
use geid_protocol::{ChallengeNonce, Origin, Pin};
use zeroize::Zeroizing;

/// Options shared by the commands that talk to a card.
#[derive(Debug, Args)]
pub struct ReaderArgs {
    /// The reader to use (default: the only one holding a supported card).
    #[arg(long, value_name = "NAME")]
    reader: Option<String>,
    /// Seconds to wait for a card.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    wait: u64,
}

/// How PINs are entered.
#[derive(Debug, Args)]
pub struct PinArgs {
    /// Read PINs from standard input, one per line.
    #[arg(long)]
    pin_stdin: bool,
    /// Enter the PIN on the reader's PIN pad.
    #[arg(long, conflicts_with = "pin_stdin")]
    pin_pad: bool,
}

/// `geid info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    reader: ReaderArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `geid auth`.
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// The site origin, e.g. https://portal.example.ge.
    #[arg(long, value_name = "URL")]
    origin: String,
    /// The challenge nonce the portal issued.
    #[arg(long, value_name = "NONCE")]
    nonce: String,
    #[command(flatten)]
    reader: ReaderArgs,
    #[command(flatten)]
    pin: PinArgs,
}

/// Which PIN.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WhichPin {
    /// The authentication PIN (4 digits).
    Auth,
    /// The signature PIN (6 digits).
    Sign,
}

/// `geid pin …`.
#[derive(Debug, Subcommand)]
pub enum PinCommand {
    /// Show the retry counters.
    Status(ReaderArgs),
    /// Change a PIN: reads the current and the new PIN from stdin. With `--transport`, sets the
    /// signature PIN for the first time from the transport PIN.
    Change {
        /// Which PIN.
        #[arg(long, value_enum)]
        which: WhichPin,
        /// The current PIN is the 5-digit transport PIN (first setting of the signature PIN).
        #[arg(long)]
        transport: bool,
        #[command(flatten)]
        reader: ReaderArgs,
    },
    /// Unblock the authentication PIN: reads the PUK and the new PIN from stdin.
    Unblock(ReaderArgs),
}

/// `geid trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Where to write the JSON trace.
    #[arg(long, value_name = "FILE")]
    out: std::path::PathBuf,
    /// Also authenticate for this origin (needs --nonce and a PIN option).
    #[arg(long, value_name = "URL", requires = "nonce")]
    origin: Option<String>,
    /// The nonce for the authentication.
    #[arg(long, value_name = "NONCE")]
    nonce: Option<String>,
    #[command(flatten)]
    reader: ReaderArgs,
    #[command(flatten)]
    pin: PinArgs,
}

pub(crate) fn connect(r: &ReaderArgs) -> anyhow::Result<Card<PcscTransport>> {
    let ctx = PcscContext::establish()?;
    let t = ctx.wait_and_connect(r.reader.as_deref(), Duration::from_secs(r.wait))?;
    Ok(Card::open(t)?)
}

fn read_pin(lines: &mut impl BufRead, what: &str) -> anyhow::Result<Pin> {
    let mut line = Zeroizing::new(String::new());
    lines
        .read_line(&mut line)
        .with_context(|| format!("reading the {what} from stdin"))?;
    Pin::new(line.trim_end_matches(['\r', '\n'])).map_err(|e| anyhow!("{what}: {e}"))
}

pub(crate) fn pin_entry(p: &PinArgs, what: &str) -> anyhow::Result<PinEntry> {
    if p.pin_pad {
        return Ok(PinEntry::PinPad);
    }
    if !p.pin_stdin {
        bail!("give --pin-stdin (PIN on standard input) or --pin-pad");
    }
    Ok(PinEntry::Pin(read_pin(&mut std::io::stdin().lock(), what)?))
}

/// `geid readers`.
pub fn readers(json: bool) -> anyhow::Result<()> {
    let readers = PcscContext::establish()?.readers()?;
    if json {
        println!("{}", serde_json::to_string(&readers)?);
        return Ok(());
    }
    if readers.is_empty() {
        println!("no readers");
    }
    for r in readers {
        let card = match (&r.atr, r.supported) {
            (None, _) => "no card".to_string(),
            (Some(atr), true) => format!("supported card, ATR {}", geid_card::apdu::hex(atr)),
            (Some(atr), false) => format!("unsupported card, ATR {}", geid_card::apdu::hex(atr)),
        };
        println!("{}: {card}", r.name);
    }
    Ok(())
}

fn info_json<T: geid_card::Transport>(card: &mut Card<T>) -> anyhow::Result<serde_json::Value> {
    let auth = card.certificate_info(KeySlot::Authentication)?;
    let sign = card.certificate_info(KeySlot::Signing).ok();
    let mut pins = serde_json::Map::new();
    for (name, kind) in [
        ("authentication", PinKind::Authentication),
        ("signing", PinKind::Signing),
        ("puk", PinKind::Puk),
    ] {
        let v = match card.pin_status(kind) {
            Ok(s) => serde_json::to_value(s)?,
            Err(e) => serde_json::json!({"error": e.code().as_str()}),
        };
        pins.insert(name.into(), v);
    }
    Ok(serde_json::json!({
        "reader": card.transport().reader_name(),
        "atr": geid_card::apdu::hex(card.transport().atr()),
        "card": card.profile().name,
        "holder": {"givenName": auth.given_name, "surname": auth.surname, "personalNumber": auth.personal_number},
        "authenticationCertificate": auth,
        "signingCertificate": sign,
        "pins": pins,
        "profilePlaceholders": card.profile().placeholders().len(),
    }))
}

/// `geid info`.
pub fn info(a: InfoArgs) -> anyhow::Result<()> {
    let mut card = connect(&a.reader)?;
    let v = info_json(&mut card)?;
    if a.json {
        println!("{v}");
    } else {
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    Ok(())
}

/// `geid auth`.
pub fn auth(a: AuthArgs) -> anyhow::Result<()> {
    let origin = Origin::parse(&a.origin)?;
    let nonce = ChallengeNonce::parse(&a.nonce)?;
    let pin = pin_entry(&a.pin, "authentication PIN")?;
    let mut card = connect(&a.reader)?;
    let token = card.authenticate(&origin, &nonce, pin)?;
    println!("{}", token.to_json());
    Ok(())
}

/// `geid pin …`.
pub fn pin(c: PinCommand) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    match c {
        PinCommand::Status(r) => {
            let mut card = connect(&r)?;
            for (name, kind) in [
                ("authentication PIN", PinKind::Authentication),
                ("signature PIN", PinKind::Signing),
                ("PUK", PinKind::Puk),
            ] {
                println!("{name}: {:?}", card.pin_status(kind)?);
            }
        }
        PinCommand::Change {
            which,
            transport,
            reader,
        } => {
            let mut card = connect(&reader)?;
            let mut lines = stdin.lock();
            let current = read_pin(&mut lines, "current PIN")?;
            let new = read_pin(&mut lines, "new PIN")?;
            match (which, transport) {
                (WhichPin::Sign, true) => card.set_signing_pin(current, new)?,
                (WhichPin::Auth, true) => bail!("--transport applies to the signature PIN only"),
                (WhichPin::Auth, false) => {
                    card.change_pin(PinKind::Authentication, current, new)?
                }
                (WhichPin::Sign, false) => card.change_pin(PinKind::Signing, current, new)?,
            }
            println!("PIN changed");
        }
        PinCommand::Unblock(reader) => {
            let mut card = connect(&reader)?;
            let mut lines = stdin.lock();
            let puk = read_pin(&mut lines, "PUK")?;
            let new = read_pin(&mut lines, "new PIN")?;
            card.unblock_pin(PinKind::Authentication, puk, new)?;
            println!("authentication PIN unblocked");
        }
    }
    Ok(())
}

/// `geid trace`.
pub fn trace(a: TraceArgs) -> anyhow::Result<()> {
    let mut card = connect(&a.reader)?;
    let trace = Trace::new();
    card.set_trace(trace.clone());
    let info = info_json(&mut card).map_err(|e| e.to_string());
    let auth = match (&a.origin, &a.nonce) {
        (Some(o), Some(n)) => {
            let origin = Origin::parse(o)?;
            let nonce = ChallengeNonce::parse(n)?;
            let pin = pin_entry(&a.pin, "authentication PIN")?;
            Some(
                card.authenticate(&origin, &nonce, pin)
                    .map(|t| t.to_json())
                    .map_err(|e| e.to_string()),
            )
        }
        _ => None,
    };
    let doc = serde_json::json!({
        "geid": env!("CARGO_PKG_VERSION"),
        "reader": card.transport().reader_name(),
        "atr": geid_card::apdu::hex(card.transport().atr()),
        "profile": card.profile(),
        "info": info.as_ref().ok(),
        "infoError": info.as_ref().err(),
        "authentication": auth.as_ref().map(|r| r.as_ref().map_or_else(|e| serde_json::json!({"error": e}), |_| serde_json::json!("ok"))),
        "apdus": trace.entries(),
    });
    std::fs::write(&a.out, serde_json::to_string_pretty(&doc)?)
        .with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "wrote {} APDUs to {} (PIN bytes redacted)",
        trace.entries().len(),
        a.out.display()
    );
    Ok(())
}

/// `geid testkit card`.
#[cfg(feature = "testkit")]
#[derive(Debug, Args)]
pub struct TestkitCardArgs {
    /// A test PKI directory written by `geid testkit pki`.
    #[arg(long, value_name = "DIR")]
    pki: std::path::PathBuf,
    /// The citizen whose keys the card holds (a name from the PKI's manifest.json). A citizen
    /// without a signing certificate (expired, revoked, …) gets the signing pair of `citizen`.
    #[arg(long, value_name = "NAME", default_value = "citizen")]
    citizen: String,
    /// The vpcd address to connect to (pcscd's vpcd reader slot).
    #[arg(long, value_name = "HOST:PORT")]
    vpcd: std::net::SocketAddr,
    /// Which card generation (ATR) to present.
    #[arg(long, value_enum, default_value = "v1")]
    generation: GenerationArg,
    /// Leave the signature PIN unset (transport PIN 12345 sets it).
    #[arg(long)]
    sign_pin_unset: bool,
}

/// A card generation on the command line.
#[cfg(feature = "testkit")]
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GenerationArg {
    /// First generation (2011).
    Ge1,
    /// New card (2025).
    V1,
}

/// `geid testkit card`: serves a virtual card to vpcd until pcscd closes the connection.
#[cfg(feature = "testkit")]
pub fn testkit_card(a: TestkitCardArgs) -> anyhow::Result<()> {
    use geid_testkit::virtual_card::{vpcd, CardKeys, PinValues, VirtualCard};
    let pki = geid_testkit::Pki::load(&a.pki).context("loading the test PKI")?;
    let c = pki
        .citizen(&a.citizen)
        .ok_or_else(|| anyhow!("no citizen {:?} in the PKI", a.citizen))?;
    // The broken variants (expired, revoked, …) have an authentication pair only; a card
    // needs a signing pair too, so theirs is borrowed from the valid citizen. Authentication,
    // which is what those variants test, uses the citizen's own certificate and key.
    let keys = match CardKeys::for_citizen(c) {
        Some(k) => k,
        None => {
            let donor = pki
                .citizen(geid_testkit::pki::CITIZEN)
                .and_then(CardKeys::for_citizen)
                .ok_or_else(|| {
                    anyhow!("the PKI has no valid citizen to borrow a signing pair from")
                })?;
            eprintln!(
                "citizen {:?} has no signing certificate; the card holds the signing pair of {:?}",
                a.citizen,
                geid_testkit::pki::CITIZEN
            );
            CardKeys {
                auth_cert: c.auth_cert.clone(),
                auth_key: c.auth_key.clone(),
                ..donor
            }
        }
    };
    let (atr, generation) = match a.generation {
        GenerationArg::Ge1 => (geid_card::atr::ATR_GE1, geid_card::Generation::Ge1),
        GenerationArg::V1 => (
            geid_card::atr::ATR_GEID_V1,
            geid_card::Generation::GeorgiaEidV1,
        ),
    };
    let mut pins = PinValues::default();
    if a.sign_pin_unset {
        pins.sign_pin = None;
    }
    let card = VirtualCard::new(
        atr,
        geid_card::CardProfile::for_generation(generation),
        keys,
        pins,
    )?;
    let card = std::sync::Arc::new(std::sync::Mutex::new(card));
    let stream = vpcd::connect(a.vpcd, Duration::from_secs(30))
        .with_context(|| format!("connecting to vpcd at {}", a.vpcd))?;
    eprintln!(
        "virtual card for {:?} inserted at vpcd {} (PINs 1234 / 123456, PUK 12345678)",
        a.citizen, a.vpcd
    );
    vpcd::serve(&card, stream, &std::sync::atomic::AtomicBool::new(false))?;
    Ok(())
}
