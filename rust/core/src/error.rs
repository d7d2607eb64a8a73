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

    /// A string from the caller that is not text (a Java string with a lone
    /// surrogate): refused rather than changed.
    #[error("invalid string: {0}")]
    InvalidString(String),

    /// A file or setting that connect() checks (CAFILE, CERTFILE, KEYFILE,
    /// PSK) cannot be used; the text says which and why.
    #[error(transparent)]
    Configuration(ConnectError),

    #[error("offline queue full: {queued} messages are waiting to be sent (limit {limit}: MAXINFLIGHT plus {offline} queued); the message was not accepted")]
    QueueFull {
        queued: usize,
        limit: usize,
        offline: usize,
    },

    #[error("connect() was already called on this client")]
    AlreadyConnected,

    #[error("a SparkplugNode must be created before connect() is called on its client")]
    PluginAfterConnect,

    #[error(
        "this client already carries a SparkplugNode; a client can be the session of one node only"
    )]
    PluginAlreadyAttached,

    #[error("option {name} cannot be set after a SparkplugNode was created on this client: set the STORE* options first")]
    OptionAfterPlugin { name: String },

    #[error("the client is closed")]
    Closed,

    #[error(transparent)]
    Store(#[from] crate::store::StoreError),

    #[error(transparent)]
    TagJson(#[from] crate::tagjson::TagJsonError),

    #[error("could not start the client's {what} thread: {reason}")]
    Thread { what: &'static str, reason: String },

    #[error("the client stopped after an internal error ({0}); close it and create a new one")]
    Stopped(String),
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

    /// The broker refused the login made from SASKEY (CONNACK code 4 or 5).
    /// `clock` names a system clock before 2020 as the likely cause.
    #[error("the broker refused the SharedAccessSignature made from SASKEY (CONNACK code {code}){}", match clock {
        Some(now) => format!(": the likely cause is the system clock, which says {now}, before 2020 — the token's expiry is counted from it, so the hub sees a token that expired long ago; set the clock (NTP) and the next attempt makes a new token"),
        None => ": check SASKEY (the device's primary or secondary key), that the MqttId is the device id, and the hub's host name".to_owned(),
    })]
    SasTokenRefused { code: u8, clock: Option<String> },

    #[error("SASKEY: cannot make a SharedAccessSignature: {0}")]
    SasToken(String),

    #[error("TLS: the broker accepted none of the ALPN protocols offered ({offered}){}; check ALPN (AWS IoT Core takes x-amzn-mqtt-ca on port 443 with a client certificate)", if *alert { ": it answered with TLS alert 120 (no_application_protocol)" } else { ": it chose no protocol in the handshake" })]
    NoAlpnProtocol { offered: String, alert: bool },

    #[error("cannot reach the proxy {proxy}: {reason} (check PROXY)")]
    ProxyUnreachable { proxy: String, reason: String },

    #[error("the proxy {proxy} refused to connect to {target}: {reply}{hint}")]
    ProxyRefused {
        proxy: String,
        target: String,
        /// "HTTP 403 Forbidden", or "SOCKS5 reply 2 (connection not allowed by ruleset)".
        reply: String,
        hint: &'static str,
    },

    #[error("the proxy {proxy} requires a user name and password ({reply}): give them in PROXY as {scheme}://user:password@host:port")]
    ProxyAuthRequired {
        proxy: String,
        reply: String,
        scheme: &'static str,
    },

    #[error("the proxy {proxy} rejected the user name and password in PROXY ({reply})")]
    ProxyAuthRejected { proxy: String, reply: String },

    #[error("the proxy {proxy} {reason}")]
    ProxyProtocol { proxy: String, reason: String },

    #[error("WebSocket: {target} refused the upgrade on WSPATH {path}: HTTP {status} {reason}{}{hint}", body.as_ref().map(|line| format!(" — {line}")).unwrap_or_default())]
    WebSocketRefused {
        target: String,
        path: String,
        status: u16,
        reason: String,
        /// The first line of the answer's body, if it has one.
        body: Option<String>,
        hint: &'static str,
    },

    #[error("WebSocket: {0}")]
    WebSocket(String),

    #[error("WebSocket: the broker closed the WebSocket ({})", match (code, reason.is_empty()) {
        (Some(code), true) => format!("close code {code}"),
        (Some(code), false) => format!("close code {code}: {reason}"),
        (None, _) => "no close code".to_owned(),
    })]
    WebSocketClosed { code: Option<u16>, reason: String },

    #[error("protocol error: {0}")]
    Protocol(String),

    #[error("protocol error: {0}")]
    ProtocolViolation(#[from] crate::session::ProtocolViolation),

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

impl ConnAckRefusal {
    /// The CONNACK return code.
    pub fn code(self) -> u8 {
        match self {
            ConnAckRefusal::ProtocolVersion => 1,
            ConnAckRefusal::IdentifierRejected => 2,
            ConnAckRefusal::ServerUnavailable => 3,
            ConnAckRefusal::BadUsernameOrPassword => 4,
            ConnAckRefusal::NotAuthorized => 5,
        }
    }
}
