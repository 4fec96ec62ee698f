//! The protocol loop: framed requests in on stdin, events and answers out on stdout.
//!
//! The loop reads and answers requests on the calling thread; each card operation runs on a
//! worker thread with a fresh backend, so `pin`, `cancel`, `status` and `quit` are served while
//! it waits for a card or a PIN. One card operation runs at a time; a second gets `BUSY`.
//! stdout is the protocol channel: nothing else is ever written there.

use std::io::{Read, Write};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use geid_protocol::framing::{read_frame, write_frame, MAX_INCOMING_FRAME, MAX_OUTGOING_FRAME};
use geid_protocol::messages::{
    Command, CommandResult, Done, ErrorBody, Event, HostMessage, PinRequired, Request, RequestId,
    StatusResult, PROTOCOL_VERSION,
};
use geid_protocol::{ErrorCode, Pin};
use zeroize::Zeroizing;

use crate::backend::{BackendFactory, CancelToken, HostError};
use crate::operation::{self, Conversation, Timeouts};

/// Why the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// The browser closed the port (end of stdin).
    PortClosed,
    /// A `quit` request.
    Quit,
    /// The input stream broke (truncated frame, I/O error); the reason is logged.
    BrokenStream(String),
}

enum PinMessage {
    Pin(Pin),
    Cancel,
}

/// Where answers go: one writer shared by the loop and the worker.
#[derive(Clone)]
struct Output(Arc<Mutex<Box<dyn Write + Send>>>);

impl Output {
    fn send(&self, message: &HostMessage) {
        let mut json = message.to_json();
        if json.len() > MAX_OUTGOING_FRAME {
            tracing::error!(len = json.len(), "answer exceeds the 1 MiB frame limit");
            json = HostMessage::error(
                message.id.clone(),
                ErrorBody::new(
                    ErrorCode::Internal,
                    "the answer exceeded the 1 MiB message limit",
                ),
            )
            .to_json();
        }
        match self.0.lock() {
            Ok(mut w) => {
                if let Err(e) = write_frame(&mut *w, &json, MAX_OUTGOING_FRAME) {
                    tracing::warn!("cannot write to the browser: {e}");
                }
            }
            Err(_) => tracing::error!("output lock poisoned"),
        }
    }

    fn error(&self, id: Option<RequestId>, e: &HostError) {
        let mut body = ErrorBody::new(e.code.clone(), &e.message);
        body.retries_left = e.retries_left;
        self.send(&HostMessage::error(id, body));
    }
}

/// The running card operation.
struct Running {
    id: RequestId,
    cancel: CancelToken,
    /// Set while the operation waits for a PIN.
    pin: Arc<Mutex<Option<Sender<PinMessage>>>>,
}

type Current = Arc<Mutex<Option<Running>>>;

/// Host settings that the protocol loop uses.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Whether the calling extension is allowed; when not, every request gets
    /// `ORIGIN_NOT_ALLOWED`.
    pub caller_allowed: bool,
    /// User timeouts.
    pub timeouts: Timeouts,
}

/// The protocol loop.
pub struct Server {
    factory: BackendFactory,
    config: ServerConfig,
}

struct WorkerConversation {
    id: RequestId,
    out: Output,
    cancel: CancelToken,
    pin: Arc<Mutex<Option<Sender<PinMessage>>>>,
}

impl Conversation for WorkerConversation {
    fn event(&mut self, event: Event) {
        self.out.send(&HostMessage::event(self.id.clone(), event));
    }

    fn ask_pin(&mut self, request: PinRequired, timeout: Duration) -> Result<Pin, HostError> {
        let (tx, rx) = mpsc::channel();
        if let Ok(mut slot) = self.pin.lock() {
            *slot = Some(tx);
        }
        // A cancel that raced ahead of the slot being set is seen here.
        if self.cancel.is_cancelled() {
            return Err(HostError::new(ErrorCode::UserCancelled, "cancelled"));
        }
        self.event(Event::PinRequired(request));
        let answer = rx.recv_timeout(timeout);
        if let Ok(mut slot) = self.pin.lock() {
            *slot = None;
        }
        match answer {
            Ok(PinMessage::Pin(pin)) => Ok(pin),
            Ok(PinMessage::Cancel) | Err(RecvTimeoutError::Disconnected) => Err(HostError::new(
                ErrorCode::UserCancelled,
                "cancelled while waiting for the PIN",
            )),
            Err(RecvTimeoutError::Timeout) => Err(HostError::new(
                ErrorCode::Timeout,
                format!("no PIN within {} s", timeout.as_secs()),
            )),
        }
    }

    fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }
}

impl Server {
    /// A server making one backend per operation with `factory`.
    pub fn new(factory: BackendFactory, config: ServerConfig) -> Server {
        Server { factory, config }
    }

    /// Serves until the port closes, `quit`, or the stream breaks.
    pub fn run(&self, mut input: impl Read, output: impl Write + Send + 'static) -> Exit {
        let out = Output(Arc::new(Mutex::new(Box::new(output))));
        let current: Current = Arc::new(Mutex::new(None));
        loop {
            let frame = match read_frame(&mut input, MAX_INCOMING_FRAME) {
                Ok(Some(frame)) => Zeroizing::new(frame),
                Ok(None) => {
                    cancel_running(&current);
                    return Exit::PortClosed;
                }
                Err(e) if !e.is_fatal() => {
                    tracing::warn!("refused a frame: {e}");
                    out.error(
                        None,
                        &HostError::new(ErrorCode::MessageTooLarge, e.to_string()),
                    );
                    continue;
                }
                Err(e) => {
                    cancel_running(&current);
                    tracing::error!("input stream broken: {e}");
                    return Exit::BrokenStream(e.to_string());
                }
            };
            let request = match Request::parse(&frame) {
                Ok(r) => r,
                Err(e) => {
                    tracing::info!(code = %e.code, "refused a request: {}", e.message);
                    out.send(&e.to_host_message());
                    continue;
                }
            };
            drop(frame);
            tracing::info!(id = %request.id, command = request.command.name(), "request");
            if !self.config.caller_allowed {
                out.error(
                    Some(request.id),
                    &HostError::new(
                        ErrorCode::OriginNotAllowed,
                        "this extension is not allowed to use geid-host; install the official geid extension or run `geid-host install`",
                    ),
                );
                continue;
            }
            if let Some(exit) = self.handle(request, &out, &current) {
                return exit;
            }
        }
    }

    fn handle(&self, request: Request, out: &Output, current: &Current) -> Option<Exit> {
        let id = request.id;
        match request.command {
            Command::Status => {
                let result = self.status();
                out.send(&HostMessage::result(id, CommandResult::Status(result)));
            }
            Command::Quit => {
                cancel_running(current);
                out.send(&HostMessage::result(id, CommandResult::Done(Done {})));
                return Some(Exit::Quit);
            }
            Command::Cancel => {
                let running = current.lock().ok().and_then(|c| {
                    c.as_ref()
                        .filter(|r| r.id == id)
                        .map(|r| (r.cancel.clone(), r.pin.clone()))
                });
                match running {
                    Some((cancel, pin)) => {
                        cancel.cancel();
                        if let Some(tx) = pin.lock().ok().and_then(|p| p.clone()) {
                            let _ = tx.send(PinMessage::Cancel);
                        }
                    }
                    None => out.error(
                        Some(id),
                        &HostError::new(
                            ErrorCode::InvalidArgument,
                            "no running request has this id",
                        ),
                    ),
                }
            }
            Command::Pin(pin) => {
                let slot = current
                    .lock()
                    .ok()
                    .and_then(|c| c.as_ref().filter(|r| r.id == id).map(|r| r.pin.clone()));
                match slot {
                    Some(slot) => match slot.lock().ok().and_then(|p| p.clone()) {
                        Some(tx) => {
                            let _ = tx.send(PinMessage::Pin(pin));
                        }
                        // The request runs but is not waiting for a PIN (PIN pad, or the
                        // answer crossed a cancel): the PIN is dropped and wiped.
                        None => tracing::info!(id = %id, "PIN arrived while none was asked for"),
                    },
                    None => out.error(
                        Some(id),
                        &HostError::new(
                            ErrorCode::InvalidArgument,
                            "no running request has this id",
                        ),
                    ),
                }
            }
            command @ (Command::Authenticate(_)
            | Command::GetSigningCertificate(_)
            | Command::Sign(_)) => self.start(id, command, out, current),
            _ => out.error(
                Some(id),
                &HostError::new(ErrorCode::NotImplemented, "this command is not implemented"),
            ),
        }
        None
    }

    fn status(&self) -> StatusResult {
        let mut backend = (self.factory)();
        let (pcsc_available, readers) = match backend.readers() {
            Ok(readers) => (true, readers),
            Err(e) => (e.code != ErrorCode::PcscUnavailable, Vec::new()),
        };
        StatusResult {
            version: env!("CARGO_PKG_VERSION").into(),
            protocol: PROTOCOL_VERSION.into(),
            pcsc_available,
            readers,
        }
    }

    fn start(&self, id: RequestId, command: Command, out: &Output, current: &Current) {
        let Ok(mut slot) = current.lock() else {
            out.error(
                Some(id),
                &HostError::new(ErrorCode::Internal, "state lock poisoned"),
            );
            return;
        };
        if let Some(running) = slot.as_ref() {
            if running.id == id {
                // Answering with this id would end the running request in the extension's eyes.
                out.error(
                    None,
                    &HostError::new(
                        ErrorCode::InvalidArgument,
                        format!("request id {id} is already in use by a running request"),
                    ),
                );
            } else {
                out.error(
                    Some(id),
                    &HostError::new(
                        ErrorCode::Busy,
                        format!(
                            "request {} is using the card; finish or cancel it first",
                            running.id
                        ),
                    ),
                );
            }
            return;
        }
        let running = Running {
            id: id.clone(),
            cancel: CancelToken::new(),
            pin: Arc::new(Mutex::new(None)),
        };
        let mut conv = WorkerConversation {
            id: id.clone(),
            out: out.clone(),
            cancel: running.cancel.clone(),
            pin: running.pin.clone(),
        };
        *slot = Some(running);
        drop(slot);
        let factory = self.factory.clone();
        let timeouts = self.config.timeouts;
        let worker_current = current.clone();
        let worker_out = out.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("op-{id}"))
            .spawn(move || {
                let started = Instant::now();
                let mut backend = factory();
                let answer = match &command {
                    Command::Authenticate(args) => {
                        operation::authenticate(&mut *backend, &mut conv, args, timeouts)
                            .map(CommandResult::Token)
                    }
                    Command::GetSigningCertificate(_) => {
                        operation::signing_certificate(&mut *backend, &mut conv, timeouts)
                            .map(CommandResult::SigningCertificate)
                    }
                    Command::Sign(args) => operation::sign(&mut *backend, &mut conv, args, timeouts)
                        .map(CommandResult::Signature),
                    _ => Err(HostError::new(ErrorCode::Internal, "not a card command")),
                };
                drop(backend); // releases the card before the answer goes out
                if let Ok(mut c) = worker_current.lock() {
                    *c = None;
                }
                match answer {
                    Ok(result) => {
                        tracing::info!(id = %conv.id, ms = started.elapsed().as_millis() as u64, "done");
                        worker_out.send(&HostMessage::result(conv.id.clone(), result));
                    }
                    Err(e) => {
                        tracing::info!(id = %conv.id, code = %e.code, "failed: {}", e.message);
                        worker_out.error(Some(conv.id.clone()), &e);
                    }
                }
            });
        if let Err(e) = spawned {
            if let Ok(mut c) = current.lock() {
                *c = None;
            }
            out.error(
                Some(id),
                &HostError::new(ErrorCode::Internal, format!("cannot start: {e}")),
            );
        }
    }
}

fn cancel_running(current: &Current) {
    if let Some((cancel, pin)) = current
        .lock()
        .ok()
        .and_then(|c| c.as_ref().map(|r| (r.cancel.clone(), r.pin.clone())))
    {
        cancel.cancel();
        if let Some(tx) = pin.lock().ok().and_then(|p| p.clone()) {
            let _ = tx.send(PinMessage::Cancel);
        }
    }
}
