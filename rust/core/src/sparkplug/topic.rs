//! The Sparkplug topic namespace (specification chapter 4):
//! `spBv1.0/<group_id>/<message_type>/<edge_node_id>[/<device_id>]` and
//! `spBv1.0/STATE/<host_id>`.

use super::SparkplugError;

/// The namespace element of Sparkplug B topics.
pub const NAMESPACE: &str = "spBv1.0";

/// Checks a group, edge node, device or host id: a non-empty UTF-8 string
/// without the reserved `+`, `/` and `#` (tck-id-topic-structure-namespace-valid-*).
pub fn validate_id(what: &'static str, id: &str) -> Result<(), SparkplugError> {
    let reason = if id.is_empty() {
        "it is empty"
    } else if id.contains('/') {
        "it contains '/', which separates topic levels"
    } else if id.contains(['+', '#']) {
        "it contains '+' or '#', which are MQTT wildcards"
    } else if id.contains('\0') {
        "it contains a NUL character"
    } else if id.len() > 1024 {
        "it is longer than 1024 bytes"
    } else {
        return Ok(());
    };
    Err(SparkplugError::InvalidId {
        what,
        id: id.to_owned(),
        reason,
    })
}

/// The topics of one edge node, built once.
#[derive(Debug, Clone)]
pub struct NodeTopics {
    pub group_id: String,
    pub edge_node_id: String,
    pub nbirth: String,
    pub ndeath: String,
    pub ndata: String,
    pub ncmd: String,
    /// `spBv1.0/<group>/DCMD/<node>/+`: the node's subscription for device commands.
    pub dcmd_filter: String,
    /// `spBv1.0/<group>/DCMD/<node>/`; a device id follows.
    dcmd_prefix: String,
    /// `spBv1.0/<group>/DDATA/<node>/`; a device id follows.
    ddata_prefix: String,
}

/// Whom a node-level or device-level message is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    Node,
    Device(&'a str),
}

impl NodeTopics {
    pub fn new(group_id: &str, edge_node_id: &str) -> Result<NodeTopics, SparkplugError> {
        validate_id("group id", group_id)?;
        validate_id("edge node id", edge_node_id)?;
        let topic = |kind: &str| format!("{NAMESPACE}/{group_id}/{kind}/{edge_node_id}");
        Ok(NodeTopics {
            group_id: group_id.to_owned(),
            edge_node_id: edge_node_id.to_owned(),
            nbirth: topic("NBIRTH"),
            ndeath: topic("NDEATH"),
            ndata: topic("NDATA"),
            ncmd: topic("NCMD"),
            dcmd_filter: format!("{}/+", topic("DCMD")),
            dcmd_prefix: format!("{}/", topic("DCMD")),
            ddata_prefix: format!("{}/", topic("DDATA")),
        })
    }

    pub fn device(&self, kind: &str, device_id: &str) -> String {
        format!(
            "{NAMESPACE}/{}/{kind}/{}/{device_id}",
            self.group_id, self.edge_node_id
        )
    }

    /// The target of an NCMD or DCMD topic of this node; `None` for any other topic.
    pub fn command_target<'a>(&self, topic: &'a str) -> Option<Target<'a>> {
        if topic == self.ncmd {
            return Some(Target::Node);
        }
        device_suffix(topic, &self.dcmd_prefix).map(Target::Device)
    }

    /// The target of an NDATA or DDATA topic of this node (queued data).
    pub fn data_target<'a>(&self, topic: &'a str) -> Option<Target<'a>> {
        if topic == self.ndata {
            return Some(Target::Node);
        }
        device_suffix(topic, &self.ddata_prefix).map(Target::Device)
    }
}

fn device_suffix<'a>(topic: &'a str, prefix: &str) -> Option<&'a str> {
    let device = topic.strip_prefix(prefix)?;
    (!device.is_empty() && !device.contains('/')).then_some(device)
}

/// `spBv1.0/STATE/<host_id>`: where a primary host announces itself.
pub fn state_topic(host_id: &str) -> String {
    format!("{NAMESPACE}/STATE/{host_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_follow_the_namespace_layout() {
        let topics = NodeTopics::new("Plant 1", "flexy-42").expect("valid");
        assert_eq!(topics.nbirth, "spBv1.0/Plant 1/NBIRTH/flexy-42");
        assert_eq!(topics.ndeath, "spBv1.0/Plant 1/NDEATH/flexy-42");
        assert_eq!(topics.ndata, "spBv1.0/Plant 1/NDATA/flexy-42");
        assert_eq!(topics.ncmd, "spBv1.0/Plant 1/NCMD/flexy-42");
        assert_eq!(topics.dcmd_filter, "spBv1.0/Plant 1/DCMD/flexy-42/+");
        assert_eq!(
            topics.device("DBIRTH", "plc"),
            "spBv1.0/Plant 1/DBIRTH/flexy-42/plc"
        );
        assert_eq!(state_topic("scada"), "spBv1.0/STATE/scada");
    }

    #[test]
    fn command_topics_name_their_target_and_others_are_not_commands() {
        let topics = NodeTopics::new("g", "n").expect("valid");
        assert_eq!(
            topics.command_target("spBv1.0/g/NCMD/n"),
            Some(Target::Node)
        );
        assert_eq!(
            topics.command_target("spBv1.0/g/DCMD/n/plc"),
            Some(Target::Device("plc"))
        );
        assert_eq!(topics.command_target("spBv1.0/g/DCMD/n/"), None);
        assert_eq!(topics.command_target("spBv1.0/g/DCMD/n/a/b"), None);
        assert_eq!(topics.command_target("spBv1.0/g/NCMD/other"), None);
        assert_eq!(topics.command_target("spBv1.0/g/NDATA/n"), None);
        assert_eq!(
            topics.data_target("spBv1.0/g/DDATA/n/plc"),
            Some(Target::Device("plc"))
        );
    }

    #[test]
    fn reserved_characters_in_ids_are_refused_with_the_reason() {
        for (id, phrase) in [
            ("", "empty"),
            ("a/b", "'/'"),
            ("a+", "wildcard"),
            ("#", "wildcard"),
        ] {
            let err = validate_id("group id", id).expect_err(id).to_string();
            assert!(err.contains(phrase), "{err}");
            assert!(err.contains("group id"), "{err}");
        }
        assert!(validate_id("device id", "PLC 1 (line A)").is_ok());
    }
}
