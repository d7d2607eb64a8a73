use super::*;

fn set(options: &mut Options, name: &str, value: &str) -> Result<(), Error> {
    options.set(name, value)
}

#[test]
fn names_are_case_insensitive() {
    let mut options = Options::default();
    set(&mut options, "port", "1884").expect("port");
    set(&mut options, "KeepAlive", "15").expect("keepalive");
    assert_eq!(options.port(), 1884);
    assert_eq!(options.keep_alive, Duration::from_secs(15));
}

#[test]
fn unknown_option_lists_the_accepted_names() {
    let err = Options::default().set("PROT", "1").expect_err("unknown");
    let text = err.to_string();
    assert!(text.contains("unknown option 'PROT'"), "{text}");
    assert!(
        text.contains("PORT") && text.contains("PSK-IDENTITY"),
        "{text}"
    );
}

#[test]
fn bad_values_name_the_option_and_the_accepted_range() {
    let cases = [
        ("PORT", "0", "PORT", "(1-65535)"),
        ("PORT", "70000", "PORT", "(1-65535)"),
        ("PORT", "abc", "PORT", "'abc'"),
        ("KEEPALIVE", "-1", "KEEPALIVE", "(0-65535)"),
        ("MAXINFLIGHT", "0", "MAXINFLIGHT", "(1-65535)"),
        ("WILLQOS", "3", "WILLQOS", "(0-2)"),
        ("CLEANSESSION", "yes", "CLEANSESSION", "\"0\", \"1\""),
        ("TLSVERSION", "tlsv1.1", "TLSVERSION", "\"tlsv1.2\""),
        ("PROTOCOLVERSION", "5", "PROTOCOLVERSION", "\"3.1.1\""),
        ("LOG", "9", "LOG", "0 off"),
        ("CONNECTTIMEOUT", "0", "CONNECTTIMEOUT", "(1-3600)"),
        ("WILLTOPIC", "a/#", "WILLTOPIC", "wildcard"),
        ("STORESYNC", "sometimes", "STORESYNC", "\"batch\""),
        ("STOREFULL", "wait", "STOREFULL", "\"dropoldest\""),
        ("STOREMAXBYTES", "10", "STOREMAXBYTES", "(4096-"),
        ("TAGTIMEOFFSET", "2000", "TAGTIMEOFFSET", "(-1440-1440)"),
        ("MAXPAYLOAD", "0", "MAXPAYLOAD", "(1-268435455)"),
        ("MAXPAYLOAD", "268435456", "MAXPAYLOAD", "(1-268435455)"),
        ("WILLTOPIC", "dead/\u{1}", "WILLTOPIC", "U+0001"),
        ("WILLTOPIC", "dead/\u{85}", "WILLTOPIC", "U+0085"),
        ("PSK-IDENTITY", "gw\0x", "PSK-IDENTITY", "U+0000"),
        ("PSK-IDENTITY", "gw\u{ffff}", "PSK-IDENTITY", "U+FFFF"),
        ("USERNAME", "plant\u{7f}", "USERNAME", "U+007F"),
    ];
    for (name, value, expect_name, expect_text) in cases {
        let err = Options::default().set(name, value).expect_err(name);
        let text = err.to_string();
        assert!(
            matches!(err, Error::InvalidOption { name, .. } if name == expect_name),
            "{text}"
        );
        assert!(text.contains(expect_text), "{name}={value}: {text}");
    }
}

#[test]
fn maxpayload_defaults_to_the_protocol_limit_and_takes_smaller_brokers_limits() {
    assert_eq!(Options::default().max_payload, 268_435_455);
    let mut options = Options::default();
    set(&mut options, "MAXPAYLOAD", "131072").expect("AWS IoT Core's limit");
    assert_eq!(options.max_payload, 131_072);
    set(&mut options, "maxpayload", "268435455").expect("the protocol limit");
    assert_eq!(options.max_payload, 268_435_455);
    assert!(OPTION_NAMES.contains(&"MAXPAYLOAD"));
}

#[test]
fn willpayload_longer_than_65535_bytes_is_refused() {
    let mut options = Options::default();
    set(&mut options, "WILLPAYLOAD", &"x".repeat(65535)).expect("the limit");
    let err = options
        .set("WILLPAYLOAD", &"x".repeat(65536))
        .expect_err("over");
    assert!(err.to_string().contains("65536 bytes"), "{err}");
}

#[test]
fn port_defaults_to_8883_with_tls_or_psk_and_1883_without() {
    let mut options = Options::default();
    assert_eq!(options.port(), 1883);
    set(&mut options, "CAFILE", "/tmp/ca.pem").expect("cafile");
    assert_eq!(options.port(), 8883);

    let mut psk = Options::default();
    set(&mut psk, "PSK", "00ff").expect("psk");
    set(&mut psk, "PSK-IDENTITY", "flexy").expect("identity");
    assert_eq!(psk.port(), 8883);
    set(&mut psk, "PORT", "18883").expect("port");
    assert_eq!(psk.port(), 18883);
}

#[test]
fn psk_is_parsed_from_hex_and_never_echoed_in_errors() {
    let mut options = Options::default();
    set(&mut options, "PSK", "DEADbeef").expect("psk");
    set(&mut options, "PSK-IDENTITY", "gw1").expect("identity");
    let psk = options.psk().expect("psk set");
    assert_eq!(psk.key.expose(), &[0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(psk.ciphers, DEFAULT_PSK_CIPHERS);

    for bad in ["abc", "", "zz11", &"00".repeat(65)] {
        let text = Options::default()
            .set("PSK", bad)
            .expect_err(bad)
            .to_string();
        assert!(text.contains("PSK"), "{text}");
        if bad.len() > 2 {
            assert!(!text.contains(bad), "error repeats the secret: {text}");
        }
    }
    assert!(!format!("{options:?}").contains("deadbeef"));
}

#[test]
fn psk_needs_both_parts_and_excludes_certificates() {
    let mut only_key = Options::default();
    set(&mut only_key, "PSK", "0011").expect("psk");
    assert!(only_key
        .validate()
        .expect_err("half")
        .to_string()
        .contains("PSK-IDENTITY is not"));

    let mut only_identity = Options::default();
    set(&mut only_identity, "PSK-IDENTITY", "id").expect("identity");
    assert!(only_identity.validate().is_err());

    let mut both = Options::default();
    set(&mut both, "CAFILE", "/tmp/ca.pem").expect("cafile");
    assert!(matches!(
        both.set("PSK", "0011"),
        Err(Error::ConflictingOptions(_))
    ));
    let mut reverse = Options::default();
    set(&mut reverse, "PSK-IDENTITY", "id").expect("identity");
    assert!(matches!(
        reverse.set("CERTFILE", "/c.pem"),
        Err(Error::ConflictingOptions(_))
    ));
}

#[test]
fn validate_catches_options_that_need_each_other() {
    let mut cert_without_ca = Options::default();
    set(&mut cert_without_ca, "CERTFILE", "/c.pem").expect("cert");
    set(&mut cert_without_ca, "KEYFILE", "/k.pem").expect("key");
    assert!(cert_without_ca
        .validate()
        .expect_err("no ca")
        .to_string()
        .contains("CAFILE"));

    let mut password_only = Options::default();
    set(&mut password_only, "PASSWORD", "pw").expect("pw");
    assert!(password_only
        .validate()
        .expect_err("no user")
        .to_string()
        .contains("USERNAME"));

    let mut key_password_only = Options::default();
    set(&mut key_password_only, "KEYPASSWORD", "pw").expect("keypassword");
    assert!(key_password_only
        .validate()
        .expect_err("no key")
        .to_string()
        .contains("KEYFILE"));

    let mut ciphers_only = Options::default();
    set(&mut ciphers_only, "PSK-CIPHERS", "PSK-AES128-GCM-SHA256").expect("ciphers");
    assert!(ciphers_only
        .validate()
        .expect_err("no psk")
        .to_string()
        .contains("PSK is not"));

    let mut will_qos_only = Options::default();
    set(&mut will_qos_only, "WILLQOS", "1").expect("qos");
    assert!(will_qos_only
        .validate()
        .expect_err("no topic")
        .to_string()
        .contains("WILLTOPIC"));

    let mut ok = Options::default();
    set(&mut ok, "WILLTOPIC", "dead/gw1").expect("topic");
    set(&mut ok, "WILLPAYLOAD", "offline").expect("payload");
    set(&mut ok, "WILLQOS", "1").expect("qos");
    set(&mut ok, "WILLRETAIN", "1").expect("retain");
    ok.validate().expect("valid");
    let will = ok.will().expect("will");
    assert_eq!(
        (
            will.topic.as_str(),
            will.payload.as_slice(),
            will.qos,
            will.retain
        ),
        ("dead/gw1", &b"offline"[..], 1, true)
    );
}

#[test]
fn cloud_options_that_need_each_other_are_named() {
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("ALPN", "x-amzn-mqtt-ca")],
            "ALPN is set but neither CAFILE nor PSK is",
        ),
        (
            &[("WSPATH", "/ws")],
            "WSPATH is set but TRANSPORT is not websocket",
        ),
        (
            &[("SASKEY", "AAECAw=="), ("USERNAME", "u"), ("PASSWORD", "p")],
            "SASKEY and PASSWORD are both set",
        ),
        (&[("SASTTL", "600")], "SASTTL is set but SASKEY is not"),
    ];
    for (settings, words) in cases {
        let mut options = Options::default();
        for (name, value) in settings {
            set(&mut options, name, value).expect(name);
        }
        let text = options.validate().expect_err(words).to_string();
        assert!(text.contains(words), "{text}");
    }
    for (name, value, words) in [
        ("TRANSPORT", "ws", "\"websocket\""),
        ("SASTTL", "30", "(60-31536000)"),
        ("SASTTL", "31536001", "(60-31536000)"),
    ] {
        let text = Options::default()
            .set(name, value)
            .expect_err(name)
            .to_string();
        assert!(text.contains(words), "{text}");
    }
}

#[test]
fn websocket_port_defaults_to_80_or_443_with_tls() {
    let mut options = Options::default();
    set(&mut options, "TRANSPORT", "WebSocket").expect("transport");
    assert_eq!((options.port(), options.ws_path()), (80, "/mqtt"));
    set(&mut options, "CAFILE", "/tmp/ca.pem").expect("cafile");
    assert_eq!(options.port(), 443);
    set(&mut options, "TRANSPORT", "tcp").expect("transport");
    assert_eq!(options.port(), 8883);
}

#[test]
fn credentials_are_username_and_password_without_saskey() {
    let mut options = Options::default();
    let now = SystemTime::now();
    assert!(options.credentials("gw", "h", now).expect("none").is_none());
    set(&mut options, "USERNAME", "user").expect("user");
    set(&mut options, "PASSWORD", "pw").expect("pw");
    let (user, password) = options
        .credentials("gw", "h", now)
        .expect("ok")
        .expect("some");
    assert_eq!((user.as_str(), password.expose()), ("user", &b"pw"[..]));
    assert_eq!(options.session_lifetime(), None);
}

#[test]
fn saskey_makes_the_login_and_a_session_lifetime_of_80_percent() {
    let mut options = Options::default();
    set(&mut options, "SASKEY", "AAECAw==").expect("key");
    assert_eq!(options.session_lifetime(), Some(Duration::from_secs(2880)));
    set(&mut options, "SASTTL", "60").expect("ttl");
    assert_eq!(options.session_lifetime(), Some(Duration::from_secs(48)));
    let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let (user, token) = options
        .credentials("gw1", "hub.azure-devices.net", now)
        .expect("ok")
        .expect("some");
    assert_eq!(user, "hub.azure-devices.net/gw1/?api-version=2021-04-12");
    let token = String::from_utf8(token.expose().to_vec()).expect("utf-8");
    assert!(
        token.starts_with("SharedAccessSignature sr=hub.azure-devices.net%2Fdevices%2Fgw1&sig="),
        "{token}"
    );
    assert!(token.ends_with("&se=1700000060"), "{token}");
    assert!(
        !format!("{options:?}").contains("AAECAw"),
        "the key leaks into Debug"
    );
    assert!(options
        .explain_login_refusal(ConnAckRefusal::NotAuthorized, now)
        .is_some());
    assert!(options
        .explain_login_refusal(ConnAckRefusal::IdentifierRejected, now)
        .is_none());
}
