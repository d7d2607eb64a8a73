//! The node's rules without a socket: what each boundary call yields.

use std::path::PathBuf;

use rumqttc::{Publish, QoS};

use super::*;
use crate::store::{StoreConfig, SyncPolicy};

const NOW: u64 = 1_700_000_000_000;

fn topics() -> NodeTopics {
    NodeTopics::new("Plant", "flexy").expect("topics")
}

fn node() -> NodeState {
    NodeState::new(topics(), History::in_memory(), None)
}

fn metrics(list: &[(&str, Value)]) -> Vec<(String, Option<Value>)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), Some(v.clone())))
        .collect()
}

fn decode(publish: &Publish) -> Payload {
    Payload::from_bytes(&publish.payload).expect("a Sparkplug payload")
}

/// A node with two node metrics and one device with one metric.
fn defined_node() -> NodeState {
    let mut node = node();
    node.set_node_metrics(
        metrics(&[
            ("Temperature", Value::Double(20.5)),
            ("Count", Value::Int64(7)),
        ]),
        NOW - 1000,
    )
    .expect("node metrics");
    node.set_device_metrics(
        "plc",
        metrics(&[("Running", Value::Boolean(true))]),
        NOW - 1000,
    )
    .expect("device metrics");
    node
}

/// CONNECT + CONNACK: returns the births.
fn connect(node: &mut NodeState, now: u64) -> Vec<Publish> {
    node.will(now).expect("a will");
    let mut out = Vec::new();
    node.session_started(now, &mut out);
    out
}

fn drain(node: &mut NodeState, now: u64) -> Vec<Publish> {
    std::iter::from_fn(|| node.next_outgoing(now)).collect()
}

fn metric<'a>(payload: &'a Payload, name: &str) -> &'a Metric {
    payload
        .metrics
        .iter()
        .find(|m| m.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("metric {name} in {payload:?}"))
}

fn bd_seq_of(payload: &Payload) -> u64 {
    match metric(payload, BD_SEQ_METRIC).value {
        Some(MetricValue::LongValue(v)) => v,
        ref other => panic!("bdSeq value {other:?}"),
    }
}

fn ncmd_rebirth() -> Publish {
    let payload = Payload {
        timestamp: Some(NOW),
        metrics: vec![Metric {
            name: Some(REBIRTH_METRIC.to_owned()),
            datatype: Some(data_type::BOOLEAN),
            value: Some(MetricValue::BooleanValue(true)),
            ..Metric::default()
        }],
        ..Payload::default()
    };
    Publish::new(
        "spBv1.0/Plant/NCMD/flexy",
        QoS::AtLeastOnce,
        payload.to_bytes(),
    )
}

fn state(payload: &str) -> Publish {
    Publish::new(
        "spBv1.0/STATE/scada",
        QoS::AtLeastOnce,
        payload.as_bytes().to_vec(),
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "etkmqtt-node-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn will_is_ndeath_with_bdseq_qos1_not_retained_and_no_seq() {
    let mut node = defined_node();
    let will = node.will(NOW).expect("will");
    assert_eq!(will.topic, "spBv1.0/Plant/NDEATH/flexy");
    assert_eq!(will.qos, QoS::AtLeastOnce);
    assert!(!will.retain);
    let payload = Payload::from_bytes(&will.message).expect("payload");
    assert_eq!(payload.seq, None, "NDEATH has no seq");
    assert_eq!(payload.metrics.len(), 1, "only bdSeq");
    assert_eq!(bd_seq_of(&payload), 0, "bdSeq starts at 0");
    assert_eq!(
        metric(&payload, BD_SEQ_METRIC).datatype,
        Some(data_type::INT64)
    );
}

#[test]
fn nbirth_has_seq_0_the_wills_bdseq_rebirth_false_and_every_metric_then_dbirths() {
    let mut node = defined_node();
    let births = connect(&mut node, NOW);
    assert_eq!(births.len(), 2, "NBIRTH and one DBIRTH");
    let nbirth = &births[0];
    assert_eq!(nbirth.topic, "spBv1.0/Plant/NBIRTH/flexy");
    assert_eq!((nbirth.qos, nbirth.retain), (QoS::AtMostOnce, false));
    let payload = decode(nbirth);
    assert_eq!(payload.seq, Some(0));
    assert_eq!(payload.timestamp, Some(NOW));
    assert_eq!(bd_seq_of(&payload), u64::from(node.bd_seq()));
    let rebirth = metric(&payload, REBIRTH_METRIC);
    assert_eq!(rebirth.value, Some(MetricValue::BooleanValue(false)));
    assert_eq!(rebirth.datatype, Some(data_type::BOOLEAN));
    assert_eq!(rebirth.alias, None, "Rebirth carries no alias");
    let temperature = metric(&payload, "Temperature");
    assert_eq!(temperature.datatype, Some(data_type::DOUBLE));
    assert_eq!(temperature.value, Some(MetricValue::DoubleValue(20.5)));
    assert_eq!(temperature.timestamp, Some(NOW - 1000));
    assert!(temperature.alias.is_some());
    let count = metric(&payload, "Count");
    assert_eq!(count.datatype, Some(data_type::INT64));
    assert_eq!(count.value, Some(MetricValue::LongValue(7)));

    let dbirth = &births[1];
    assert_eq!(dbirth.topic, "spBv1.0/Plant/DBIRTH/flexy/plc");
    assert_eq!(dbirth.qos, QoS::AtMostOnce);
    let payload = decode(dbirth);
    assert_eq!(payload.seq, Some(1));
    let running = metric(&payload, "Running");
    assert_eq!(running.value, Some(MetricValue::BooleanValue(true)));
    assert!(node.is_born());
}

#[test]
fn data_uses_the_birth_aliases_without_names_and_numbers_on_from_the_births() {
    let mut node = defined_node();
    let births = connect(&mut node, NOW);
    let nbirth = decode(&births[0]);
    let alias = metric(&nbirth, "Temperature").alias;
    node.publish_node_data(metrics(&[("Temperature", Value::Double(21.0))]), NOW + 5)
        .expect("data");
    node.publish_device_data("plc", vec![("Running".to_owned(), None)], NOW + 6)
        .expect("device data");
    let sent = drain(&mut node, NOW + 10);
    assert_eq!(sent.len(), 2);
    let ndata = decode(&sent[0]);
    assert_eq!(sent[0].topic, "spBv1.0/Plant/NDATA/flexy");
    assert_eq!(ndata.seq, Some(2), "after NBIRTH 0 and DBIRTH 1");
    assert_eq!(ndata.timestamp, Some(NOW + 10), "stamped when sent");
    let m = &ndata.metrics[0];
    assert_eq!((m.name.as_deref(), m.alias), (None, alias));
    assert_eq!(m.datatype, None, "DATA omits the datatype");
    assert_eq!(m.timestamp, Some(NOW + 5), "acquisition time");
    assert_eq!(m.is_historical, None, "live data");
    assert_eq!(m.value, Some(MetricValue::DoubleValue(21.0)));
    let ddata = decode(&sent[1]);
    assert_eq!(sent[1].topic, "spBv1.0/Plant/DDATA/flexy/plc");
    assert_eq!(ddata.seq, Some(3));
    assert_eq!(ddata.metrics[0].is_null, Some(true));
    assert_eq!(ddata.metrics[0].value, None);
}

#[test]
fn aliases_are_unique_across_the_node_and_its_devices() {
    let mut node = defined_node();
    node.set_device_metrics(
        "drive",
        metrics(&[
            ("Speed", Value::Float(1.5)),
            ("Running", Value::Boolean(false)),
        ]),
        NOW,
    )
    .expect("second device");
    let births = connect(&mut node, NOW);
    let mut aliases: Vec<u64> = births
        .iter()
        .flat_map(|b| decode(b).metrics)
        .filter_map(|m| m.alias)
        .collect();
    let count = aliases.len();
    assert_eq!(count, 5, "two node metrics and three device metrics");
    aliases.sort_unstable();
    aliases.dedup();
    assert_eq!(aliases.len(), count, "no alias twice");
}

#[test]
fn seq_wraps_from_255_to_0_without_a_gap() {
    let mut node = defined_node();
    let births = connect(&mut node, NOW);
    let mut seqs: Vec<u64> = births.iter().map(|b| decode(b).seq.expect("seq")).collect();
    for i in 0..300 {
        node.publish_node_data(metrics(&[("Count", Value::Int64(i))]), NOW + i as u64)
            .expect("data");
        seqs.extend(
            drain(&mut node, NOW)
                .iter()
                .map(|p| decode(p).seq.expect("seq")),
        );
    }
    assert_eq!(seqs.len(), 302);
    for (i, seq) in seqs.iter().enumerate() {
        assert_eq!(*seq, (i % 256) as u64, "message {i}");
    }
}

#[test]
fn bdseq_goes_up_at_every_connect_wraps_at_255_and_survives_a_restart() {
    let dir = temp_dir("bdseq");
    let mut node = NodeState::new(
        topics(),
        History::in_memory(),
        Some(BdSeqFile::in_dir(&dir)),
    );
    assert_eq!(node.bd_seq(), 0, "first run, before connect");
    for expected in 0..3u8 {
        let births = connect(&mut node, NOW);
        assert_eq!(node.bd_seq(), expected);
        assert_eq!(bd_seq_of(&decode(&births[0])), u64::from(expected));
        node.session_ended();
    }
    // A new run (new JVM) on the same STOREDIR: never the last one again.
    let mut node = NodeState::new(
        topics(),
        History::in_memory(),
        Some(BdSeqFile::in_dir(&dir)),
    );
    assert_eq!(node.bd_seq(), 3, "the next one, before connect");
    let will = node.will(NOW).expect("will");
    assert_eq!(
        bd_seq_of(&Payload::from_bytes(&will.message).expect("payload")),
        3
    );

    BdSeqFile::in_dir(&dir).save(254).expect("save");
    let mut node = NodeState::new(
        topics(),
        History::in_memory(),
        Some(BdSeqFile::in_dir(&dir)),
    );
    let seen: Vec<u8> = (0..3)
        .map(|_| {
            node.will(NOW).expect("will");
            node.bd_seq()
        })
        .collect();
    assert_eq!(seen, [255, 0, 1]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn data_for_an_unknown_metric_or_device_is_refused_naming_it_and_nothing_is_queued() {
    let mut node = defined_node();
    connect(&mut node, NOW);
    let err = node
        .publish_node_data(
            metrics(&[
                ("Temperature", Value::Double(1.0)),
                ("Humidity", Value::Double(2.0)),
            ]),
            NOW,
        )
        .expect_err("unknown metric")
        .to_string();
    assert!(err.contains("'Humidity'"), "{err}");
    let err = node
        .publish_node_data(metrics(&[("Temperature", Value::Int32(1))]), NOW)
        .expect_err("wrong type")
        .to_string();
    assert!(
        err.contains("Temperature") && err.contains("Double"),
        "{err}"
    );
    let err = node
        .publish_device_data("pump", metrics(&[("Running", Value::Boolean(true))]), NOW)
        .expect_err("unknown device")
        .to_string();
    assert!(err.contains("'pump'"), "{err}");
    assert_eq!(node.queued(), 0);
    assert!(drain(&mut node, NOW).is_empty());
}

#[test]
fn data_recorded_offline_goes_out_after_the_births_as_history_in_order() {
    let mut node = defined_node();
    // Recorded before the first connect and while the connection is down.
    for i in 0..3 {
        node.publish_node_data(metrics(&[("Count", Value::Int64(i))]), NOW + i as u64)
            .expect("offline data");
    }
    let births = connect(&mut node, NOW + 100);
    // The births carry the latest value.
    assert_eq!(
        metric(&decode(&births[0]), "Count").value,
        Some(MetricValue::LongValue(2))
    );
    node.publish_node_data(metrics(&[("Count", Value::Int64(9))]), NOW + 200)
        .expect("live data");
    let sent: Vec<Payload> = drain(&mut node, NOW + 300).iter().map(decode).collect();
    let values: Vec<(Option<MetricValue>, Option<bool>, Option<u64>)> = sent
        .iter()
        .map(|p| {
            (
                p.metrics[0].value.clone(),
                p.metrics[0].is_historical,
                p.seq,
            )
        })
        .collect();
    assert_eq!(
        values,
        [
            (Some(MetricValue::LongValue(0)), Some(true), Some(2)),
            (Some(MetricValue::LongValue(1)), Some(true), Some(3)),
            (Some(MetricValue::LongValue(2)), Some(true), Some(4)),
            (Some(MetricValue::LongValue(9)), None, Some(5)),
        ]
    );
    assert_eq!(
        sent[0].metrics[0].timestamp,
        Some(NOW),
        "recorded time kept"
    );
}

#[test]
fn data_recorded_in_a_session_that_ended_before_sending_it_is_history_next_time() {
    let mut node = defined_node();
    connect(&mut node, NOW);
    node.publish_node_data(metrics(&[("Count", Value::Int64(1))]), NOW + 1)
        .expect("data");
    node.session_ended();
    assert!(
        node.next_outgoing(NOW).is_none(),
        "nothing goes out while disconnected"
    );
    node.session_ended();
    let births = connect(&mut node, NOW + 50);
    assert_eq!(
        decode(&births[0]).seq,
        Some(0),
        "a new NBIRTH starts at 0 again"
    );
    let sent = drain(&mut node, NOW + 60);
    assert_eq!(sent.len(), 1);
    let payload = decode(&sent[0]);
    assert_eq!(payload.seq, Some(2));
    assert_eq!(payload.metrics[0].is_historical, Some(true));
}

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
fn redefined_node_metrics_while_born_give_a_new_full_birth_before_data() {
    let mut node = defined_node();
    connect(&mut node, NOW);
    node.set_node_metrics(
        metrics(&[
            ("Temperature", Value::Double(1.0)),
            ("Count", Value::Int64(2)),
        ]),
        NOW,
    )
    .expect("same definition");
    assert!(
        drain(&mut node, NOW).is_empty(),
        "new values only: no birth"
    );
    node.set_node_metrics(metrics(&[("Pressure", Value::Float(1.5))]), NOW + 1)
        .expect("new definition");
    node.publish_node_data(metrics(&[("Pressure", Value::Float(1.6))]), NOW + 2)
        .expect("data");
    let sent = drain(&mut node, NOW + 3);
    let topics: Vec<&str> = sent.iter().map(|p| p.topic.as_str()).collect();
    assert_eq!(
        topics,
        [
            "spBv1.0/Plant/NBIRTH/flexy",
            "spBv1.0/Plant/DBIRTH/flexy/plc",
            "spBv1.0/Plant/NDATA/flexy"
        ]
    );
    let seqs: Vec<Option<u64>> = sent.iter().map(|p| decode(p).seq).collect();
    assert_eq!(seqs, [Some(0), Some(1), Some(2)]);
    assert_eq!(
        decode(&sent[2]).metrics[0].is_historical,
        Some(true),
        "recorded before the birth it is sent under"
    );
}

#[test]
fn a_device_declared_while_born_gets_its_dbirth_before_its_data() {
    let mut node = defined_node();
    connect(&mut node, NOW);
    node.set_device_metrics("drive", metrics(&[("Speed", Value::Int32(-3))]), NOW)
        .expect("device");
    node.publish_device_data("drive", metrics(&[("Speed", Value::Int32(-4))]), NOW + 1)
        .expect("data");
    let sent = drain(&mut node, NOW + 2);
    assert_eq!(sent[0].topic, "spBv1.0/Plant/DBIRTH/flexy/drive");
    assert_eq!(decode(&sent[0]).seq, Some(2));
    assert_eq!(
        metric(&decode(&sent[0]), "Speed").value,
        Some(MetricValue::IntValue((-4i32) as u32)),
        "a birth made when sent carries the latest value"
    );
    assert_eq!(sent[1].topic, "spBv1.0/Plant/DDATA/flexy/drive");
    assert_eq!(decode(&sent[1]).metrics[0].is_historical, None);
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

#[test]
fn close_sends_ddeaths_then_ndeath_then_nothing_more() {
    let mut node = defined_node();
    connect(&mut node, NOW);
    node.publish_node_data(metrics(&[("Count", Value::Int64(1))]), NOW)
        .expect("data");
    assert!(node.begin_close());
    assert!(!node.begin_close(), "once");
    assert!(node.close_pending());
    let sent = drain(&mut node, NOW + 1);
    let topics: Vec<&str> = sent.iter().map(|p| p.topic.as_str()).collect();
    assert_eq!(
        topics,
        [
            "spBv1.0/Plant/DDEATH/flexy/plc",
            "spBv1.0/Plant/NDEATH/flexy"
        ],
        "deaths before queued data, which stays queued"
    );
    assert_eq!(decode(&sent[0]).seq, Some(2));
    assert_eq!(decode(&sent[1]).seq, None);
    assert_eq!(bd_seq_of(&decode(&sent[1])), u64::from(node.bd_seq()));
    assert!(!node.close_pending());
    node.finish_close().expect("closed");
    assert!(
        node.will(NOW).is_none(),
        "the client's own will from now on"
    );
    assert!(node
        .publish_node_data(metrics(&[("Count", Value::Int64(2))]), NOW)
        .is_err());
    assert!(node.incoming(&state("ONLINE"), NOW, &mut Vec::new()));
}

#[test]
fn durable_history_of_an_earlier_run_is_sent_as_history_and_undeclared_devices_are_dropped() {
    let dir = temp_dir("durable");
    let config = StoreConfig::new(&dir, "flexy#sparkplug");
    {
        let (store, recovery) = Store::open(config.clone()).expect("open");
        let mut node = NodeState::new(
            topics(),
            History::durable(store, SyncPolicy::Always, recovery.messages),
            None,
        );
        node.set_node_metrics(metrics(&[("Count", Value::Int64(0))]), NOW)
            .expect("metrics");
        node.set_device_metrics("old-plc", metrics(&[("X", Value::Int32(0))]), NOW)
            .expect("device");
        for i in 1..=3 {
            node.publish_node_data(metrics(&[("Count", Value::Int64(i))]), NOW + i as u64)
                .expect("data");
        }
        node.publish_device_data("old-plc", metrics(&[("X", Value::Int32(1))]), NOW)
            .expect("device data");
        node.finish_close().expect("close");
    }
    let (store, recovery) = Store::open(config).expect("reopen");
    assert_eq!(recovery.messages.len(), 4);
    let mut node = NodeState::new(
        topics(),
        History::durable(store, SyncPolicy::Always, recovery.messages),
        None,
    );
    node.set_node_metrics(metrics(&[("Count", Value::Int64(0))]), NOW + 100)
        .expect("metrics");
    let births = connect(&mut node, NOW + 200);
    assert_eq!(births.len(), 1);
    let sent: Vec<Payload> = drain(&mut node, NOW + 300).iter().map(decode).collect();
    let values: Vec<Option<MetricValue>> =
        sent.iter().map(|p| p.metrics[0].value.clone()).collect();
    assert_eq!(
        values,
        [
            Some(MetricValue::LongValue(1)),
            Some(MetricValue::LongValue(2)),
            Some(MetricValue::LongValue(3))
        ]
    );
    assert!(sent
        .iter()
        .all(|p| p.metrics[0].is_historical == Some(true)));
    assert_eq!(node.dropped(), 1, "the undeclared device's reading");
    assert!(node.take_problems().iter().any(|p| p.contains("old-plc")));
    assert_eq!(node.queued(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
