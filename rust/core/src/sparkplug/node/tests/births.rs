//! Births and deaths, `seq` and bdSeq.

use super::*;

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
