//! Plain TCP.

use std::io::{self, Read, Write};

use super::Transport;
use crate::error::ConnectError;

pub(crate) struct TcpTransport {
    socket: mio::net::TcpStream,
}

impl TcpTransport {
    pub(crate) fn new(socket: mio::net::TcpStream) -> TcpTransport {
        TcpTransport { socket }
    }
}

impl Transport for TcpTransport {
    fn handshake(&mut self) -> Result<bool, ConnectError> {
        Ok(true)
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.socket.read(buf)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.socket.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn wants_write(&self) -> bool {
        false
    }

    fn socket_mut(&mut self) -> &mut mio::net::TcpStream {
        &mut self.socket
    }
}
