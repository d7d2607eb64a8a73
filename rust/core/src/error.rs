//! Errors: what a call rejected ([`Error`]) and why a connection failed
//! ([`ConnectError`]). The `Display` text is what users read in an
//! `EWException` or in `getLastError()`, so each names the cause and, where
//! there is one, the fix. No variant carries a secret.

use std::net::SocketAddr;

/// A call that was rejected. Nothing was sent when a call returns one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("unknown option '{name}'; accepted options: {accepted}")]
    UnknownOption { name: String, accepted: String },

    #[error("invalid value for option {name}: {reason}")]
    InvalidOption { name: &'static str, reason: String },

    #[error("options do not fit together: {0}")]
    ConflictingOptions(String),

    #[error("option {name} cannot be set after connect(); set every option before connecting")]
    OptionAfterConnect { name: String },

    #[error("invalid topic: {0}")]
    InvalidTopic(String),

    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(String),

    #[error("invalid QoS {0}: must be 0, 1 or 2")]
    InvalidQos(i32),

    /// The payload is larger than one PUBLISH can carry, or than MAXPAYLOAD.
    #[error("payload too large: {len} bytes, but {limit} allows at most {max}; the message was not accepted")]
    PayloadTooLarge {
        len: usize,
        max: usize,
        limit: PayloadLimit,
    },

    #[error("invalid client id: {0}")]
    InvalidClientId(String),

    #[error("invalid host: {0}")]
    InvalidHost(String),

    #[error("offline queue full: {queued} messages are waiting to be sent (limit {limit}: MAXINFLIGHT plus {offline} queued); the message was not accepted")]
    QueueFull {
        queued: usize,
        limit: usize,
        offline: usize,
    },

    #[error("connect() was already called on this client")]
    AlreadyConnected,

    #[error("the client is closed")]
    Closed,

    #[error(transparent)]
    Store(#[from] crate::store::StoreError),

    #[error(transparent)]
    TagJson(#[from] crate::tagjson::TagJsonError),

    #[error("could not start the client's {what} thread: {reason}")]
    Thread { what: &'static str, reason: String },
}

/// Where a payload limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadLimit {
    /// MQTT 3.1.1: 268 435 455 bytes per packet, less the PUBLISH header.
    #[error("MQTT 3.1.1 (268435455 bytes per packet, less the topic and header)")]
    Protocol,
    /// The MAXPAYLOAD option.
    #[error("MAXPAYLOAD")]
    MaxPayload,
}

/// Why a connection attempt failed or a connection ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    #[error("cannot resolve host name '{host}': {reason}")]
    Dns { host: String, reason: String },

    #[error("connection refused by {addr}: no broker is listening on that port")]
    Refused { addr: SocketAddr },

    #[error("cannot reach {addr}: {reason}")]
    Unreachable { addr: SocketAddr, reason: String },

    #[error("timed out after {seconds} s {phase} {target} (CONNECTTIMEOUT {seconds})")]
    Timeout {
        phase: &'static str,
        target: String,
        seconds: u64,
    },

    #[error("TLS: certificate is valid for [{}], not {expected}; connect by one of those names or set TLSVERIFYHOSTNAME 0 (insecure)", presented.join(", "))]
    CertificateNameMismatch {
        expected: String,
        presented: Vec<String>,
    },

    #[error("TLS: the broker's certificate is signed by an unknown CA: it does not chain to a certificate in CAFILE {ca_file}")]
    UnknownCa { ca_file: String },

    #[error("TLS: the broker's certificate has expired{}", not_after.as_ref().map(|t| format!(" (valid until {t})")).unwrap_or_default())]
    CertificateExpired { not_after: Option<String> },

    #[error("TLS: the broker's certificate is not valid yet{}", not_before.as_ref().map(|t| format!(" (valid from {t})")).unwrap_or_default())]
    CertificateNotYetValid { not_before: Option<String> },

    #[error("TLS: the broker's certificate was rejected: {0}")]
    CertificateInvalid(String),

    #[error("TLS: the broker requires a client certificate: set CERTFILE and KEYFILE")]
    ClientCertificateRequired,

    #[error("TLS: the broker rejected our client certificate ({alert}): is CERTFILE signed by a CA the broker trusts?")]
    ClientCertificateRejected { alert: String },

    #[error("TLS: the broker closed the connection during the TLS handshake: is port {port} a TLS listener?")]
    HandshakeEof { port: u16 },

    #[error("TLS: {0}")]
    Tls(String),

    #[error("cannot read {option} file '{path}': {reason}")]
    File {
        option: &'static str,
        path: String,
        reason: String,
    },

    #[error("{option} '{path}' is {kind}, not a regular file; give the path of a PEM file")]
    NotARegularFile {
        option: &'static str,
        path: String,
        kind: &'static str,
    },

    #[error(
        "{option} '{path}' is {size} bytes; certificate and key files may be at most {limit} bytes"
    )]
    FileTooLarge {
        option: &'static str,
        path: String,
        size: u64,
        limit: u64,
    },

    #[error("KEYFILE '{path}' is encrypted: set KEYPASSWORD to its password")]
    KeyEncrypted { path: String },

    #[error("KEYPASSWORD is wrong for KEYFILE '{path}': the key could not be decrypted with it")]
    WrongKeyPassword { path: String },

    #[error("KEYFILE '{path}': {reason}")]
    KeyUnusable { path: String, reason: String },

    #[error("TLS-PSK: PSK key rejected — check the key for identity '{identity}'")]
    PskKeyRejected { identity: String },

    #[error("TLS-PSK: the broker does not know the identity '{identity}' (check PSK-IDENTITY and the broker's psk_file)")]
    PskIdentityUnknown { identity: String },

    #[error("TLS-PSK: the listener on port {port} does not accept TLS-PSK (it may be a certificate or plain listener)")]
    NotPskListener { port: u16 },

    /// TLS 1.2 gives the same alert for "no shared cipher" and "not a PSK
    /// listener", so the text names both.
    #[error("TLS-PSK: the listener on port {port} accepts none of the cipher suites in PSK-CIPHERS ({offered}), or is not a TLS-PSK listener; unset PSK-CIPHERS to offer the default list, which PSK listeners with default settings accept")]
    PskNoSharedCipher { port: u16, offered: String },

    #[error("broker refused the connection: {0}")]
    ConnAckRefused(ConnAckRefusal),

    #[error("protocol error: {0}")]
    Protocol(String),

    #[error("connection lost: {0}")]
    ConnectionLost(String),

    #[error("the broker closed the connection before answering CONNECT{hint}")]
    ClosedBeforeConnAck { hint: &'static str },
}

/// The CONNACK return codes of MQTT 3.1.1 other than "accepted".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnAckRefusal {
    #[error(
        "unacceptable protocol version (CONNACK code 1): the broker does not speak MQTT 3.1.1"
    )]
    ProtocolVersion,
    #[error("identifier rejected (CONNACK code 2): the broker does not accept this MqttId")]
    IdentifierRejected,
    #[error("server unavailable (CONNACK code 3)")]
    ServerUnavailable,
    #[error("bad username or password (CONNACK code 4): check USERNAME and PASSWORD")]
    BadUsernameOrPassword,
    #[error("not authorized (CONNACK code 5): this user may not connect")]
    NotAuthorized,
}
