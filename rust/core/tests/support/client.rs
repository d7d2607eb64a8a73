//! A client for the integration tests and the waits on it, each with a
//! deadline (the tests run on a busy machine).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use etkmqtt_core::{Client, ConnectionStatus, Message};

/// How long a local broker may take for anything a test waits on.
pub const WAIT: Duration = Duration::from_secs(20);

/// A client closed on drop, so a failing test leaves no thread retrying.
pub struct TestClient(pub Client);

impl Drop for TestClient {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A client for a broker on 127.0.0.1 with `options` set, connecting.
pub fn client(id: &str, options: &[(&str, &str)]) -> TestClient {
    let client = Client::new(id, "127.0.0.1").expect("new client");
    for (name, value) in options {
        client
            .set_option(name, value)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    client.connect().expect("connect");
    TestClient(client)
}

/// Polls `check` until it gives a value, for at most [`WAIT`].
pub fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for status 5; on failure shows the last error and `logs()`.
pub fn wait_connected(client: &TestClient, logs: &dyn Fn() -> String) {
    let deadline = Instant::now() + WAIT;
    while client.0.status() != ConnectionStatus::Connected {
        assert!(
            Instant::now() < deadline,
            "not connected; last error: {:?}\n{}",
            client.0.last_error(),
            logs()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The first failure `getLastError()` reports; the client keeps retrying.
pub fn first_error(client: &TestClient) -> String {
    let error = wait_until("a connection error", || client.0.last_error());
    assert_ne!(client.0.status(), ConnectionStatus::Connected);
    error
}

/// The next message on `topic` the client reads.
pub fn wait_message(client: &TestClient, topic: &str) -> Message {
    wait_until(&format!("a message on {topic}"), || {
        client
            .0
            .read_message()
            .ok()
            .flatten()
            .filter(|m| m.topic == topic)
    })
}
