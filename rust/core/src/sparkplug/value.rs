//! Metric values as the application gives them (Java `Integer`, `Long`,
//! `Float`, `Double`, `Boolean`, `String`) and their Sparkplug datatypes.

use std::fmt;

use super::payload::{data_type, MetricValue};

/// The Sparkplug datatypes a node's metrics can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Int32,
    Int64,
    Float,
    Double,
    Boolean,
    String,
}

impl DataType {
    /// The number in the payload's `datatype` field.
    pub fn code(self) -> u32 {
        match self {
            DataType::Int32 => data_type::INT32,
            DataType::Int64 => data_type::INT64,
            DataType::Float => data_type::FLOAT,
            DataType::Double => data_type::DOUBLE,
            DataType::Boolean => data_type::BOOLEAN,
            DataType::String => data_type::STRING,
        }
    }

    pub fn from_code(code: u32) -> Option<DataType> {
        Some(match code {
            data_type::INT32 => DataType::Int32,
            data_type::INT64 => DataType::Int64,
            data_type::FLOAT => DataType::Float,
            data_type::DOUBLE => DataType::Double,
            data_type::BOOLEAN => DataType::Boolean,
            data_type::STRING => DataType::String,
            _ => return None,
        })
    }

    /// The Java class that carries a value of this type.
    pub fn java_class(self) -> &'static str {
        match self {
            DataType::Int32 => "Integer",
            DataType::Int64 => "Long",
            DataType::Float => "Float",
            DataType::Double => "Double",
            DataType::Boolean => "Boolean",
            DataType::String => "String",
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            DataType::Int32 => "Int32",
            DataType::Int64 => "Int64",
            DataType::Float => "Float",
            DataType::Double => "Double",
            DataType::Boolean => "Boolean",
            DataType::String => "String",
        };
        f.write_str(name)
    }
}

/// One metric value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int32(i32),
    Int64(i64),
    Float(f32),
    Double(f64),
    Boolean(bool),
    String(String),
}

impl Value {
    pub fn data_type(&self) -> DataType {
        match self {
            Value::Int32(_) => DataType::Int32,
            Value::Int64(_) => DataType::Int64,
            Value::Float(_) => DataType::Float,
            Value::Double(_) => DataType::Double,
            Value::Boolean(_) => DataType::Boolean,
            Value::String(_) => DataType::String,
        }
    }

    /// The payload's `value` oneof. Signed integers travel as their
    /// two's-complement bits in the unsigned fields, as the specification
    /// and Eclipse Tahu do (Java reads the same bits back as `int`/`long`).
    pub fn to_wire(&self) -> MetricValue {
        match self {
            Value::Int32(v) => MetricValue::IntValue(*v as u32),
            Value::Int64(v) => MetricValue::LongValue(*v as u64),
            Value::Float(v) => MetricValue::FloatValue(*v),
            Value::Double(v) => MetricValue::DoubleValue(*v),
            Value::Boolean(v) => MetricValue::BooleanValue(*v),
            Value::String(v) => MetricValue::StringValue(v.clone()),
        }
    }

    /// Reads a `value` oneof as `data_type` (a payload number). Integer
    /// types of other widths than ours are widened to Int32 or Int64, the
    /// way Tahu hands them to Java; `Text` and `UUID` read as String and
    /// `DateTime` as Int64 (epoch ms). `None` when the value does not fit
    /// the type or the type is one this node does not decode (DataSet,
    /// Template, Bytes, File, arrays, PropertySets).
    pub fn from_wire(datatype: u32, value: &MetricValue) -> Option<Value> {
        use data_type as t;
        Some(match (datatype, value) {
            (t::INT8, MetricValue::IntValue(v)) => Value::Int32(i32::from(*v as u8 as i8)),
            (t::INT16, MetricValue::IntValue(v)) => Value::Int32(i32::from(*v as u16 as i16)),
            (t::INT32, MetricValue::IntValue(v)) => Value::Int32(*v as i32),
            (t::UINT8 | t::UINT16, MetricValue::IntValue(v)) => Value::Int32(*v as i32),
            (t::UINT32, MetricValue::IntValue(v)) => Value::Int64(i64::from(*v)),
            (t::UINT32 | t::INT64 | t::UINT64 | t::DATE_TIME, MetricValue::LongValue(v)) => {
                Value::Int64(*v as i64)
            }
            (t::FLOAT, MetricValue::FloatValue(v)) => Value::Float(*v),
            (t::DOUBLE, MetricValue::DoubleValue(v)) => Value::Double(*v),
            (t::BOOLEAN, MetricValue::BooleanValue(v)) => Value::Boolean(*v),
            (t::STRING | t::TEXT | t::UUID, MetricValue::StringValue(v)) => {
                Value::String(v.clone())
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_integers_round_trip_through_the_unsigned_wire_fields() {
        for v in [0, 1, -1, i32::MIN, i32::MAX] {
            let wire = Value::Int32(v).to_wire();
            assert_eq!(
                Value::from_wire(data_type::INT32, &wire),
                Some(Value::Int32(v))
            );
        }
        assert_eq!(
            Value::Int32(-5).to_wire(),
            MetricValue::IntValue(0xFFFF_FFFB)
        );
        for v in [0, -1, i64::MIN, i64::MAX] {
            let wire = Value::Int64(v).to_wire();
            assert_eq!(
                Value::from_wire(data_type::INT64, &wire),
                Some(Value::Int64(v))
            );
        }
    }

    #[test]
    fn narrow_signed_types_are_sign_extended_and_mismatches_refused() {
        assert_eq!(
            Value::from_wire(data_type::INT8, &MetricValue::IntValue(0xFF)),
            Some(Value::Int32(-1))
        );
        assert_eq!(
            Value::from_wire(data_type::INT16, &MetricValue::IntValue(0xFFFE)),
            Some(Value::Int32(-2))
        );
        assert_eq!(
            Value::from_wire(data_type::UINT32, &MetricValue::IntValue(u32::MAX)),
            Some(Value::Int64(i64::from(u32::MAX)))
        );
        assert_eq!(
            Value::from_wire(data_type::INT32, &MetricValue::BooleanValue(true)),
            None
        );
        assert_eq!(
            Value::from_wire(data_type::DATA_SET, &MetricValue::IntValue(1)),
            None
        );
    }

    #[test]
    fn every_type_maps_to_its_specification_number_and_back() {
        for t in [
            DataType::Int32,
            DataType::Int64,
            DataType::Float,
            DataType::Double,
            DataType::Boolean,
            DataType::String,
        ] {
            assert_eq!(DataType::from_code(t.code()), Some(t));
        }
        assert_eq!(DataType::Int32.code(), 3);
        assert_eq!(DataType::Int64.code(), 4);
        assert_eq!(DataType::Float.code(), 9);
        assert_eq!(DataType::Double.code(), 10);
        assert_eq!(DataType::Boolean.code(), 11);
        assert_eq!(DataType::String.code(), 12);
    }
}
