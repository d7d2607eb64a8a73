//! What hosts send: Rebirth and other commands, and the primary host's STATE.

use super::*;

#[test]
fn rebirth_ncmd_is_answered_with_current_births_and_the_same_bdseq() {
    let mut node = defined_node();
    let births = connect(&mut node, NOW);
    let bd_seq = bd_seq_of(&decode(&births[0]));
    node.publish_node_data(metrics(&[("Temperature", Value::Double(30.0))]), NOW + 1)
        .expect("data");
    assert_eq!(drain(&mut node, NOW + 2).len(), 1);
    // Recorded but not yet sent when the Rebirth arrives.
    node.publish_node_data(metrics(&[("Temperature", Value::Double(31.0))]), NOW + 3)
        .expect("data");

    let mut out = Vec::new();
    assert!(
        node.incoming(&ncmd_rebirth(), NOW + 4, &mut out),
        "the application sees the NCMD too"
    );
    assert_eq!(out.len(), 2, "NBIRTH and DBIRTH");
    let nbirth = decode(&out[0]);
    assert_eq!(nbirth.seq, Some(0));
    assert_eq!(bd_seq_of(&nbirth), bd_seq, "no new CONNECT, same bdSeq");
    assert_eq!(
        metric(&nbirth, "Temperature").value,
        Some(MetricValue::DoubleValue(31.0)),
        "current value"
    );
    assert_eq!(decode(&out[1]).seq, Some(1));
    let sent = drain(&mut node, NOW + 5);
    assert_eq!(sent.len(), 1);
    let payload = decode(&sent[0]);
    assert_eq!(payload.seq, Some(2));
    assert_eq!(
        payload.metrics[0].is_historical,
        Some(true),
        "recorded before the new birth"
    );
    let commands = node
        .decode_command(&ncmd_rebirth().topic, &ncmd_rebirth().payload)
        .expect("decodes");
    assert_eq!(commands, Some(Vec::new()), "Rebirth is handled inside");
}

#[test]
fn rebirth_false_or_garbage_in_ncmd_does_not_birth() {
    let mut node = defined_node();
    connect(&mut node, NOW);
    let mut payload = decode(&ncmd_rebirth());
    payload.metrics[0].value = Some(MetricValue::BooleanValue(false));
    let mut out = Vec::new();
    node.incoming(
        &Publish::new(
            "spBv1.0/Plant/NCMD/flexy",
            QoS::AtLeastOnce,
            payload.to_bytes(),
        ),
        NOW,
        &mut out,
    );
    node.incoming(
        &Publish::new(
            "spBv1.0/Plant/NCMD/flexy",
            QoS::AtLeastOnce,
            b"\xff\xff".to_vec(),
        ),
        NOW,
        &mut out,
    );
    assert!(out.is_empty());
}

#[test]
fn primary_host_online_births_offline_ndeath_and_pause_stale_offline_ignored() {
    let mut node = defined_node();
    let topic = node.set_primary_host("scada").expect("host");
    assert_eq!(topic, "spBv1.0/STATE/scada");
    assert!(
        connect(&mut node, NOW).is_empty(),
        "births wait for the host"
    );
    node.publish_node_data(metrics(&[("Count", Value::Int64(1))]), NOW + 1)
        .expect("recorded while waiting");
    assert!(drain(&mut node, NOW).is_empty());

    let mut out = Vec::new();
    assert!(
        !node.incoming(
            &state(r#"{"online":true,"timestamp":1000}"#),
            NOW + 2,
            &mut out
        ),
        "STATE is the node's, not the application's"
    );
    assert_eq!(out.len(), 2, "births once the host is online");
    let sent = drain(&mut node, NOW + 3);
    assert_eq!(decode(&sent[0]).metrics[0].is_historical, Some(true));

    // An offline STATE older than the online one is stale.
    out.clear();
    node.incoming(
        &state(r#"{"online":false,"timestamp":999}"#),
        NOW + 4,
        &mut out,
    );
    assert!(out.is_empty() && node.is_born());

    out.clear();
    node.incoming(
        &state(r#"{"online":false,"timestamp":2000}"#),
        NOW + 5,
        &mut out,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].topic, "spBv1.0/Plant/NDEATH/flexy");
    assert_eq!(bd_seq_of(&decode(&out[0])), u64::from(node.bd_seq()));
    assert!(!node.is_born());
    node.publish_node_data(metrics(&[("Count", Value::Int64(2))]), NOW + 6)
        .expect("recorded while the host is away");
    assert!(
        drain(&mut node, NOW + 7).is_empty(),
        "nothing new while offline"
    );
    out.clear();
    node.incoming(&ncmd_rebirth(), NOW + 7, &mut out);
    assert!(out.is_empty(), "no rebirth while the host is offline");

    // An online STATE older than the offline one is stale too.
    node.incoming(
        &state(r#"{"online":true,"timestamp":1500}"#),
        NOW + 8,
        &mut out,
    );
    assert!(out.is_empty());
    node.incoming(
        &state(r#"{"online":true,"timestamp":3000}"#),
        NOW + 9,
        &mut out,
    );
    assert_eq!(out.len(), 2);
    assert_eq!(decode(&out[0]).seq, Some(0));
    let sent = drain(&mut node, NOW + 10);
    assert_eq!(sent.len(), 1);
    assert_eq!(decode(&sent[0]).metrics[0].is_historical, Some(true));
}

#[test]
fn primary_host_must_be_seen_online_again_in_every_session_and_2_2_text_counts() {
    let mut node = defined_node();
    node.set_primary_host("scada").expect("host");
    connect(&mut node, NOW);
    let mut out = Vec::new();
    node.incoming(&state("ONLINE"), NOW, &mut out);
    assert_eq!(out.len(), 2, "Sparkplug 2.2 text");
    node.session_ended();
    assert!(
        connect(&mut node, NOW).is_empty(),
        "a new session waits again"
    );
    out.clear();
    node.incoming(&state("not a state"), NOW, &mut out);
    assert!(out.is_empty());
    assert!(!node.take_problems().is_empty(), "a bad STATE is reported");
    node.incoming(&state("OFFLINE"), NOW, &mut out);
    node.incoming(&state(r#"{"online":true,"timestamp":5}"#), NOW, &mut out);
    assert_eq!(out.len(), 2);
}

#[test]
fn commands_are_decoded_by_alias_and_name_with_device_prefix() {
    let mut node = defined_node();
    let births = connect(&mut node, NOW);
    let temperature_alias = metric(&decode(&births[0]), "Temperature").alias;
    let running_alias = metric(&decode(&births[1]), "Running").alias;
    let ncmd = Payload {
        timestamp: Some(NOW),
        metrics: vec![
            Metric {
                alias: temperature_alias,
                value: Some(MetricValue::DoubleValue(42.0)),
                ..Metric::default()
            },
            Metric {
                name: Some("Count".to_owned()),
                timestamp: Some(NOW - 5),
                datatype: Some(data_type::INT64),
                value: Some(MetricValue::LongValue(u64::MAX)),
                ..Metric::default()
            },
        ],
        ..Payload::default()
    };
    let commands = node
        .decode_command("spBv1.0/Plant/NCMD/flexy", &ncmd.to_bytes())
        .expect("decodes")
        .expect("an NCMD of this node");
    assert_eq!(
        commands,
        [
            CommandValue {
                name: "Temperature".to_owned(),
                value: Some(Value::Double(42.0)),
                timestamp: Some(NOW),
            },
            CommandValue {
                name: "Count".to_owned(),
                value: Some(Value::Int64(-1)),
                timestamp: Some(NOW - 5),
            },
        ]
    );
    let dcmd = Payload {
        metrics: vec![Metric {
            alias: running_alias,
            value: Some(MetricValue::BooleanValue(false)),
            ..Metric::default()
        }],
        ..Payload::default()
    };
    let commands = node
        .decode_command("spBv1.0/Plant/DCMD/flexy/plc", &dcmd.to_bytes())
        .expect("decodes")
        .expect("a DCMD of this node");
    assert_eq!(commands[0].name, "plc/Running");
    assert_eq!(commands[0].value, Some(Value::Boolean(false)));

    let unknown = Payload {
        metrics: vec![Metric {
            alias: Some(999),
            value: Some(MetricValue::BooleanValue(false)),
            ..Metric::default()
        }],
        ..Payload::default()
    };
    let err = node
        .decode_command("spBv1.0/Plant/NCMD/flexy", &unknown.to_bytes())
        .expect_err("unknown alias")
        .to_string();
    assert!(err.contains("999"), "{err}");
    assert!(node
        .decode_command("spBv1.0/Plant/NCMD/flexy", b"\xff\xff")
        .is_err());
    assert_eq!(
        node.decode_command("factory/commands", &unknown.to_bytes())
            .expect("not ours"),
        None
    );
}
