//! The Sparkplug B payload (`sparkplug_b.proto`, proto2, package
//! `org.eclipse.tahu.protobuf`) as prost message types, written from the
//! Sparkplug 3.0 specification, chapter 6 ("Payloads"), so that building
//! needs no `protoc`.
//!
//! Field numbers and wire types are the specification's; names follow Rust
//! style. proto2 `extensions` ranges have no equivalent in prost: extension
//! fields in a received payload are skipped like any unknown field. Repeated
//! scalars (`DataSet.types`) are not packed, as proto2 does by default.
//!
//! Integer values travel in unsigned fields: an `Int32` metric's value is the
//! two's-complement bit pattern in `int_value` (uint32), an `Int64`'s in
//! `long_value` (uint64). [`crate::sparkplug::value`] does that conversion.

/// The `datatype` numbers of the specification's `DataType` enum (6.4.16).
pub mod data_type {
    pub const UNKNOWN: u32 = 0;
    pub const INT8: u32 = 1;
    pub const INT16: u32 = 2;
    pub const INT32: u32 = 3;
    pub const INT64: u32 = 4;
    pub const UINT8: u32 = 5;
    pub const UINT16: u32 = 6;
    pub const UINT32: u32 = 7;
    pub const UINT64: u32 = 8;
    pub const FLOAT: u32 = 9;
    pub const DOUBLE: u32 = 10;
    pub const BOOLEAN: u32 = 11;
    pub const STRING: u32 = 12;
    pub const DATE_TIME: u32 = 13;
    pub const TEXT: u32 = 14;
    pub const UUID: u32 = 15;
    pub const DATA_SET: u32 = 16;
    pub const BYTES: u32 = 17;
    pub const FILE: u32 = 18;
    pub const TEMPLATE: u32 = 19;
    pub const PROPERTY_SET: u32 = 20;
    pub const PROPERTY_SET_LIST: u32 = 21;
}

/// `Payload`: the top-level message of every Sparkplug B MQTT payload.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Payload {
    /// Milliseconds since the epoch (UTC) at which the message was published.
    #[prost(uint64, optional, tag = "1")]
    pub timestamp: Option<u64>,
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
    /// 0–255; absent only in NDEATH (and in host commands).
    #[prost(uint64, optional, tag = "3")]
    pub seq: Option<u64>,
    #[prost(string, optional, tag = "4")]
    pub uuid: Option<String>,
    #[prost(bytes = "vec", optional, tag = "5")]
    pub body: Option<Vec<u8>>,
}

/// `Payload.Metric`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Metric {
    /// Sent in births; DATA and CMD messages carry only the alias.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(uint64, optional, tag = "2")]
    pub alias: Option<u64>,
    /// Milliseconds since the epoch (UTC) at which the value was acquired.
    #[prost(uint64, optional, tag = "3")]
    pub timestamp: Option<u64>,
    /// One of [`data_type`]; required in births.
    #[prost(uint32, optional, tag = "4")]
    pub datatype: Option<u32>,
    /// Recorded earlier: a host stores it but does not update the live tag.
    #[prost(bool, optional, tag = "5")]
    pub is_historical: Option<bool>,
    #[prost(bool, optional, tag = "6")]
    pub is_transient: Option<bool>,
    #[prost(bool, optional, tag = "7")]
    pub is_null: Option<bool>,
    #[prost(message, optional, tag = "8")]
    pub metadata: Option<MetaData>,
    #[prost(message, optional, tag = "9")]
    pub properties: Option<PropertySet>,
    #[prost(oneof = "MetricValue", tags = "10, 11, 12, 13, 14, 15, 16, 17, 18, 19")]
    pub value: Option<MetricValue>,
}

/// The `value` oneof of `Payload.Metric`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum MetricValue {
    #[prost(uint32, tag = "10")]
    IntValue(u32),
    #[prost(uint64, tag = "11")]
    LongValue(u64),
    #[prost(float, tag = "12")]
    FloatValue(f32),
    #[prost(double, tag = "13")]
    DoubleValue(f64),
    #[prost(bool, tag = "14")]
    BooleanValue(bool),
    #[prost(string, tag = "15")]
    StringValue(String),
    #[prost(bytes = "vec", tag = "16")]
    BytesValue(Vec<u8>),
    #[prost(message, tag = "17")]
    DatasetValue(DataSet),
    #[prost(message, tag = "18")]
    TemplateValue(Template),
    #[prost(message, tag = "19")]
    ExtensionValue(Extension),
}

/// The `*ValueExtension` messages: only extension fields, which prost skips.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Extension {}

/// `Payload.MetaData`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetaData {
    #[prost(bool, optional, tag = "1")]
    pub is_multi_part: Option<bool>,
    #[prost(string, optional, tag = "2")]
    pub content_type: Option<String>,
    #[prost(uint64, optional, tag = "3")]
    pub size: Option<u64>,
    #[prost(uint64, optional, tag = "4")]
    pub seq: Option<u64>,
    #[prost(string, optional, tag = "5")]
    pub file_name: Option<String>,
    #[prost(string, optional, tag = "6")]
    pub file_type: Option<String>,
    #[prost(string, optional, tag = "7")]
    pub md5: Option<String>,
    #[prost(string, optional, tag = "8")]
    pub description: Option<String>,
}

/// `Payload.PropertySet`: `keys[i]` names `values[i]`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PropertySet {
    #[prost(string, repeated, tag = "1")]
    pub keys: Vec<String>,
    #[prost(message, repeated, tag = "2")]
    pub values: Vec<PropertyValue>,
}

/// `Payload.PropertySetList`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PropertySetList {
    #[prost(message, repeated, tag = "1")]
    pub propertyset: Vec<PropertySet>,
}

/// `Payload.PropertyValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PropertyValue {
    #[prost(uint32, optional, tag = "1")]
    pub r#type: Option<u32>,
    #[prost(bool, optional, tag = "2")]
    pub is_null: Option<bool>,
    #[prost(oneof = "PropertyValueValue", tags = "3, 4, 5, 6, 7, 8, 9, 10, 11")]
    pub value: Option<PropertyValueValue>,
}

/// The `value` oneof of `Payload.PropertyValue`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum PropertyValueValue {
    #[prost(uint32, tag = "3")]
    IntValue(u32),
    #[prost(uint64, tag = "4")]
    LongValue(u64),
    #[prost(float, tag = "5")]
    FloatValue(f32),
    #[prost(double, tag = "6")]
    DoubleValue(f64),
    #[prost(bool, tag = "7")]
    BooleanValue(bool),
    #[prost(string, tag = "8")]
    StringValue(String),
    #[prost(message, tag = "9")]
    PropertysetValue(PropertySet),
    #[prost(message, tag = "10")]
    PropertysetsValue(PropertySetList),
    #[prost(message, tag = "11")]
    ExtensionValue(Extension),
}

/// `Payload.DataSet`: a table with typed columns.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DataSet {
    #[prost(uint64, optional, tag = "1")]
    pub num_of_columns: Option<u64>,
    #[prost(string, repeated, tag = "2")]
    pub columns: Vec<String>,
    #[prost(uint32, repeated, packed = "false", tag = "3")]
    pub types: Vec<u32>,
    #[prost(message, repeated, tag = "4")]
    pub rows: Vec<DataSetRow>,
}

/// `Payload.DataSet.Row`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DataSetRow {
    #[prost(message, repeated, tag = "1")]
    pub elements: Vec<DataSetValue>,
}

/// `Payload.DataSet.DataSetValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DataSetValue {
    #[prost(oneof = "DataSetValueValue", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub value: Option<DataSetValueValue>,
}

/// The `value` oneof of `Payload.DataSet.DataSetValue`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum DataSetValueValue {
    #[prost(uint32, tag = "1")]
    IntValue(u32),
    #[prost(uint64, tag = "2")]
    LongValue(u64),
    #[prost(float, tag = "3")]
    FloatValue(f32),
    #[prost(double, tag = "4")]
    DoubleValue(f64),
    #[prost(bool, tag = "5")]
    BooleanValue(bool),
    #[prost(string, tag = "6")]
    StringValue(String),
    #[prost(message, tag = "7")]
    ExtensionValue(Extension),
}

/// `Payload.Template`: a user-defined type (definition) or an instance of one.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Template {
    #[prost(string, optional, tag = "1")]
    pub version: Option<String>,
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
    #[prost(message, repeated, tag = "3")]
    pub parameters: Vec<TemplateParameter>,
    #[prost(string, optional, tag = "4")]
    pub template_ref: Option<String>,
    #[prost(bool, optional, tag = "5")]
    pub is_definition: Option<bool>,
}

/// `Payload.Template.Parameter`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TemplateParameter {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(uint32, optional, tag = "2")]
    pub r#type: Option<u32>,
    #[prost(oneof = "ParameterValue", tags = "3, 4, 5, 6, 7, 8, 9")]
    pub value: Option<ParameterValue>,
}

/// The `value` oneof of `Payload.Template.Parameter`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum ParameterValue {
    #[prost(uint32, tag = "3")]
    IntValue(u32),
    #[prost(uint64, tag = "4")]
    LongValue(u64),
    #[prost(float, tag = "5")]
    FloatValue(f32),
    #[prost(double, tag = "6")]
    DoubleValue(f64),
    #[prost(bool, tag = "7")]
    BooleanValue(bool),
    #[prost(string, tag = "8")]
    StringValue(String),
    #[prost(message, tag = "9")]
    ExtensionValue(Extension),
}

impl Payload {
    /// The protobuf encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }

    /// Decodes a payload; the error says where the bytes stopped making sense.
    pub fn from_bytes(bytes: &[u8]) -> Result<Payload, prost::DecodeError> {
        prost::Message::decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload encoded by hand from the wire format (field numbers and
    /// wire types of the specification), so the derive attributes are
    /// checked against the specification and not against themselves.
    #[test]
    fn decodes_a_payload_laid_out_byte_by_byte_from_the_specification() {
        let bytes = [
            0x08, 0x96, 0x01, // 1 timestamp varint 150
            0x12, 0x0d, // 2 metrics, 13 bytes:
            0x0a, 0x01, b'a', //   1 name "a"
            0x10, 0x07, //   2 alias 7
            0x20, 0x03, //   4 datatype Int32
            0x50, 0xfb, 0xff, 0xff, 0xff, 0x0f, //   10 int_value 0xFFFFFFFB (-5)
            0x18, 0x2a, // 3 seq 42
        ];
        let payload = Payload::from_bytes(&bytes).expect("decodes");
        assert_eq!(payload.timestamp, Some(150));
        assert_eq!(payload.seq, Some(42));
        let metric = &payload.metrics[0];
        assert_eq!(metric.name.as_deref(), Some("a"));
        assert_eq!(metric.alias, Some(7));
        assert_eq!(metric.datatype, Some(data_type::INT32));
        assert_eq!(metric.value, Some(MetricValue::IntValue(0xFFFF_FFFB)));
        // Encoding gives the same bytes back, field for field in number order
        // (prost writes fields in tag order; the hand layout above has seq last).
        let again = Payload::from_bytes(&payload.to_bytes()).expect("round trip");
        assert_eq!(again, payload);
    }

    #[test]
    fn boolean_and_string_values_use_fields_14_and_15() {
        let metric = Metric {
            value: Some(MetricValue::BooleanValue(true)),
            ..Metric::default()
        };
        assert_eq!(prost::Message::encode_to_vec(&metric), [0x70, 0x01]);
        let metric = Metric {
            value: Some(MetricValue::StringValue("x".to_owned())),
            ..Metric::default()
        };
        assert_eq!(prost::Message::encode_to_vec(&metric), [0x7a, 0x01, b'x']);
    }

    #[test]
    fn unknown_extension_fields_are_skipped_not_refused() {
        // Field 6 of Payload lies in its extension range: a varint 1.
        let bytes = [0x18, 0x05, 0x30, 0x01];
        let payload = Payload::from_bytes(&bytes).expect("decodes");
        assert_eq!(payload.seq, Some(5));
    }

    #[test]
    fn garbage_is_a_decode_error_not_a_panic() {
        assert!(Payload::from_bytes(&[0x12, 0x05, 0x0a]).is_err());
        assert!(Payload::from_bytes(b"{\"online\":true}").is_err());
    }
}
