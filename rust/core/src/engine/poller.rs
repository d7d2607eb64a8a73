//! The I/O thread's one place to sleep: a mio poll over the socket and the
//! waker, and the commands the API sent meanwhile.

use std::io;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Duration;

use mio::{Events, Poll, Registry, Token};

use super::Command;
use crate::shared::Shared;

pub(crate) const WAKER: Token = Token(0);
pub(super) const SOCKET: Token = Token(1);

pub(super) struct Poller {
    poll: Poll,
    events: Events,
    commands: Receiver<Command>,
    /// A command taken while checking the channel before sleeping.
    stashed: Option<Command>,
    /// The socket reported readable (mio is edge-triggered: read until
    /// WouldBlock before relying on the next event).
    socket_readable: bool,
}

impl Poller {
    pub fn new(poll: Poll, commands: Receiver<Command>) -> Poller {
        Poller {
            poll,
            events: Events::with_capacity(16),
            commands,
            stashed: None,
            socket_readable: false,
        }
    }

    pub fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// Sleeps until the socket or a command wants us, or for `timeout`
    /// (`None`: until then).
    pub fn sleep(&mut self, shared: &Shared, timeout: Option<Duration>) -> io::Result<()> {
        shared.going_to_sleep();
        let timeout = if self.stashed.is_some() {
            Some(Duration::ZERO)
        } else {
            match self.commands.try_recv() {
                Ok(command) => {
                    self.stashed = Some(command);
                    Some(Duration::ZERO)
                }
                Err(TryRecvError::Disconnected) => Some(Duration::ZERO),
                Err(TryRecvError::Empty) => timeout,
            }
        };
        let polled = self.poll.poll(&mut self.events, timeout);
        shared.woke_up();
        match polled {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => return Err(e),
            _ => {}
        }
        for event in self.events.iter() {
            if event.token() == SOCKET
                && (event.is_readable() || event.is_read_closed() || event.is_error())
            {
                self.socket_readable = true;
            }
        }
        Ok(())
    }

    /// The next command; `Close` once the client is gone.
    pub fn next_command(&mut self) -> Option<Command> {
        if let Some(command) = self.stashed.take() {
            return Some(command);
        }
        match self.commands.try_recv() {
            Ok(command) => Some(command),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Command::Close),
        }
    }

    /// Whether the socket became readable since the last call.
    pub fn take_readable(&mut self) -> bool {
        std::mem::take(&mut self.socket_readable)
    }
}
