//! Readings: aliases, refusals, and history (recorded offline, in an
//! ended session, or by an earlier run).

use super::*;
use crate::store::Store;

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
fn durable_history_of_an_earlier_run_is_sent_as_history_and_undeclared_devices_are_dropped() {
    let dir = temp_dir("durable");
    let config = StoreConfig::new(&dir, "flexy#sparkplug");
    {
        let (store, recovery) = Store::open(config.clone()).expect("open");
        let mut node = NodeState::new(topics(), History::durable(store, recovery.messages), None);
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
    let mut node = NodeState::new(topics(), History::durable(store, recovery.messages), None);
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
