//! A live connection: the transport and the bytes waiting to go in and out.

use std::io;

use bytes::BytesMut;
use mio::Registry;

use crate::error::ConnectError;
use crate::session::ConnectionEnd;
use crate::transport::{is_reset, Transport};

/// Largest packet accepted from the broker. Messages end up on a small Java
/// heap; a larger one is a protocol error rather than an OutOfMemoryError.
pub(super) const MAX_INCOMING_PACKET: usize = 16 * 1024 * 1024;
/// Serialized bytes to hold before waiting for the socket to drain.
pub(super) const TX_HIGH_WATER: usize = 64 * 1024;
const READ_CHUNK: usize = 16 * 1024;

pub(super) struct Link {
    pub transport: Box<dyn Transport>,
    /// Where reads land before they join `rx`: filled with zeros once, so
    /// a read does not cost zeroing a fresh chunk of `rx` every time.
    scratch: Box<[u8; READ_CHUNK]>,
    pub rx: BytesMut,
    pub tx: BytesMut,
    /// "host:port", for messages.
    pub target: String,
    /// The CONNACK's session-present flag.
    pub session_present: bool,
    /// Bytes may be waiting in the socket (mio is edge-triggered).
    pub readable: bool,
}

/// Why a connection could not go on.
pub(super) struct Failure {
    /// Boxed: failures are rare, results of every read and write are not.
    pub error: Box<ConnectError>,
    pub end: ConnectionEnd,
}

impl Failure {
    pub fn new(error: ConnectError, end: ConnectionEnd) -> Failure {
        Failure {
            error: Box::new(error),
            end,
        }
    }

    /// The broker closed the connection: a refusal of what we sent last,
    /// as far as the session is concerned.
    pub fn closed_by_broker(error: ConnectError) -> Failure {
        let reason = error.to_string();
        Failure::new(error, ConnectionEnd::BrokerClosed { reason })
    }

    fn from_io(transport: &dyn Transport, e: &io::Error) -> Failure {
        match transport.explain(e) {
            // The system's words ("Connection reset by peer (os error 104)")
            // say less than these.
            ConnectError::ConnectionLost(_) if is_reset(e) => Failure::closed_by_broker(
                ConnectError::ConnectionLost("the broker reset the connection".to_owned()),
            ),
            error if is_reset(e) => Failure::closed_by_broker(error),
            error => Failure::new(error, ConnectionEnd::Other),
        }
    }
}

impl Link {
    pub fn new(transport: Box<dyn Transport>, target: String) -> Link {
        Link {
            transport,
            scratch: Box::new([0; READ_CHUNK]),
            rx: BytesMut::with_capacity(READ_CHUNK),
            tx: BytesMut::with_capacity(READ_CHUNK),
            target,
            session_present: false,
            readable: true,
        }
    }

    pub fn read_chunk(&mut self) -> io::Result<usize> {
        let read = self.transport.read(&mut self.scratch[..])?;
        self.rx.extend_from_slice(&self.scratch[..read]);
        Ok(read)
    }

    /// Reads what the socket holds now into `rx`; `Ok(false)` once it would
    /// block. End of stream is the broker closing the connection.
    pub fn fill(&mut self) -> Result<bool, Failure> {
        loop {
            match self.read_chunk() {
                Ok(0) => {
                    return Err(Failure::closed_by_broker(ConnectError::ConnectionLost(
                        "the broker closed the connection".to_owned(),
                    )))
                }
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::from_io(self.transport.as_ref(), &e)),
            }
        }
    }

    /// Writes `tx` to the transport until done or it would block.
    pub fn flush(&mut self) -> Result<(), Failure> {
        while !self.tx.is_empty() {
            match self.transport.write(&self.tx) {
                Ok(0) => {
                    return Err(Failure::new(
                        ConnectError::ConnectionLost("the socket accepts no more data".to_owned()),
                        ConnectionEnd::Other,
                    ))
                }
                Ok(n) => {
                    let _ = self.tx.split_to(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::from_io(self.transport.as_ref(), &e)),
            }
        }
        match self.transport.flush() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => {
                Err(Failure::from_io(self.transport.as_ref(), &e))
            }
            _ => Ok(()),
        }
    }

    /// Nothing is left to write, here or inside the transport.
    pub fn flushed(&self) -> bool {
        self.tx.is_empty() && !self.transport.wants_write()
    }

    pub fn deregister(&mut self, registry: &Registry) {
        let _ = registry.deregister(self.transport.socket_mut());
    }
}
