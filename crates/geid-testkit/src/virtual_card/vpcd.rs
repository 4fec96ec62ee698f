//! The virtual card as a vpcd client: pcscd's vpcd driver listens on a TCP port per reader
//! slot, and the "card" connects to it.
//!
//! Wire format (vsmartcard `vpcd`): every message is a 2-byte big-endian length and a payload.
//! From the reader, a 1-byte payload is a control code — `0` power off, `1` power on, `2` reset,
//! `4` get ATR (answered with the ATR) — and anything longer is a command APDU, answered with
//! the response APDU. Closing the connection removes the card from the reader.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{VirtualCard, VirtualCardError};

/// Connects to vpcd at `addr`, retrying until `connect_timeout` (pcscd may still be starting).
pub fn connect(addr: SocketAddr, connect_timeout: Duration) -> io::Result<TcpStream> {
    let deadline = Instant::now() + connect_timeout;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Serves `card` on `stream` until vpcd closes the connection, `stop` is set, or the card is
/// "removed" by a fault (then the connection is closed, which pcscd sees as a removal).
pub fn serve(
    card: &Arc<Mutex<VirtualCard>>,
    mut stream: TcpStream,
    stop: &AtomicBool,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        // vpcd writes the length and the payload separately; without quick ACKs, Nagle on its
        // side and delayed ACK on ours add ~40 ms to every APDU.
        let _ = socket2::SockRef::from(&stream).set_quickack(true);
        let mut len = [0u8; 2];
        match stream.read_exact(&mut len) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let n = usize::from(u16::from_be_bytes(len));
        let mut payload = vec![0u8; n];
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.read_exact(&mut payload)?;
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut card = card
            .lock()
            .map_err(|_| io::Error::other("virtual card poisoned"))?;
        let answer = match payload.as_slice() {
            [0] | [1] | [2] => {
                card.reset();
                None
            }
            [4] => Some(card.atr().to_vec()),
            [_] => None,
            apdu => match card.process(apdu) {
                Ok(r) => Some(r),
                Err(VirtualCardError::Removed) => {
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                    return Ok(());
                }
            },
        };
        drop(card);
        if let Some(a) = answer {
            let mut msg = (a.len() as u16).to_be_bytes().to_vec();
            msg.extend_from_slice(&a);
            stream.write_all(&msg)?;
        }
    }
}

/// A virtual card served to vpcd on a background thread.
pub struct VpcdCard {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
    /// The card (inspect counters, inject faults).
    pub card: Arc<Mutex<VirtualCard>>,
}

impl VpcdCard {
    /// Connects `card` to vpcd at `addr` and serves it on a thread.
    pub fn start(
        card: Arc<Mutex<VirtualCard>>,
        addr: SocketAddr,
        connect_timeout: Duration,
    ) -> io::Result<VpcdCard> {
        let stream = connect(addr, connect_timeout)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (card.clone(), stop.clone());
        let thread = std::thread::spawn(move || serve(&c, stream, &s));
        Ok(VpcdCard {
            stop,
            thread: Some(thread),
            card,
        })
    }

    /// Whether the serving thread has ended (vpcd closed the connection or the card was removed).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Removes the card: closes the connection and waits for the thread.
    pub fn remove(mut self) -> io::Result<()> {
        self.stop_thread()
    }

    fn stop_thread(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("vpcd thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for VpcdCard {
    fn drop(&mut self) {
        let _ = self.stop_thread();
    }
}
