use std::sync::{Arc, Mutex, MutexGuard};

use geid_card::transport::{CardChannel, ReaderFeatures, Transport};
use geid_card::CardError;

use super::{VirtualCard, VirtualCardError};

/// Control code the virtual PIN pad announces for FEATURE_VERIFY_PIN_DIRECT.
const VERIFY_PIN_DIRECT: u32 = 0x4233_0006;

/// An in-process [`Transport`] to a [`VirtualCard`].
///
/// The card is shared (`Arc<Mutex<…>>`) so a test can inspect counters or inject faults while
/// a [`geid_card::Card`] owns the transport. With [`VirtualTransport::with_pin_pad`] the
/// "reader" has a PIN pad on which the given digits are typed.
#[derive(Clone)]
pub struct VirtualTransport {
    card: Arc<Mutex<VirtualCard>>,
    atr: Vec<u8>,
    pin_pad: Option<String>,
    /// When set, the next transaction reports that the card was reset (once).
    pub reset_pending: Arc<Mutex<bool>>,
}

impl VirtualTransport {
    /// A transport to `card`.
    pub fn new(card: VirtualCard) -> VirtualTransport {
        let atr = card.atr().to_vec();
        VirtualTransport {
            card: Arc::new(Mutex::new(card)),
            atr,
            pin_pad: None,
            reset_pending: Arc::new(Mutex::new(false)),
        }
    }

    /// A reader with a PIN pad on which `digits` are typed for every VERIFY.
    pub fn with_pin_pad(mut self, digits: &str) -> VirtualTransport {
        self.pin_pad = Some(digits.into());
        self
    }

    /// The shared card.
    pub fn card(&self) -> Arc<Mutex<VirtualCard>> {
        self.card.clone()
    }

    fn lock(&self) -> Result<MutexGuard<'_, VirtualCard>, CardError> {
        self.card.lock().map_err(|_| CardError::Pcsc {
            operation: "virtual card",
            message: "poisoned".into(),
        })
    }
}

impl Transport for VirtualTransport {
    fn reader_name(&self) -> &str {
        "geid virtual reader"
    }

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn begin_transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, CardError> {
        Ok(Box::new(VirtualChannel { t: self }))
    }

    fn reconnect(&mut self) -> Result<(), CardError> {
        self.lock()?.reset();
        Ok(())
    }
}

struct VirtualChannel<'a> {
    t: &'a VirtualTransport,
}

impl CardChannel for VirtualChannel<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, CardError> {
        if let Ok(mut r) = self.t.reset_pending.lock() {
            if *r {
                *r = false;
                return Err(CardError::CardReset);
            }
        }
        self.t
            .lock()?
            .process(command)
            .map_err(|VirtualCardError::Removed| CardError::CardRemoved)
    }

    fn features(&mut self) -> Result<ReaderFeatures, CardError> {
        Ok(ReaderFeatures {
            verify_pin_direct: self.t.pin_pad.as_ref().map(|_| VERIFY_PIN_DIRECT),
            modify_pin_direct: None,
        })
    }

    fn control(&mut self, code: u32, data: &[u8]) -> Result<Vec<u8>, CardError> {
        let digits = self
            .t
            .pin_pad
            .as_ref()
            .filter(|_| code == VERIFY_PIN_DIRECT)
            .ok_or(CardError::NoPinPad)?;
        let (min, max, mut apdu) = geid_card::pinpad::parse_verify_pin_direct(data)
            .ok_or(CardError::MalformedCommand("PIN_VERIFY_STRUCTURE"))?;
        if digits.is_empty() {
            return Ok(vec![0x64, 0x01]); // cancelled on the pad
        }
        if digits.len() < usize::from(min) || digits.len() > usize::from(max) {
            return Ok(vec![0x64, 0x03]);
        }
        // bmFormatString 0x82: ASCII at offset 0 of the data field.
        if apdu.len() < 5 + digits.len() {
            return Err(CardError::MalformedCommand(
                "PIN block shorter than the PIN",
            ));
        }
        apdu[5..5 + digits.len()].copy_from_slice(digits.as_bytes());
        self.transmit(&apdu)
    }
}
