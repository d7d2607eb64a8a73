//! The metrics of the node or of one device: names, aliases, datatypes and
//! current values, as the next birth announces them.

use std::collections::HashMap;

use super::payload::Metric;
use super::value::{DataType, Value};
use super::SparkplugError;

/// One metric as born: its alias is used instead of the name in DATA.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDef {
    pub name: String,
    pub alias: u64,
    pub data_type: DataType,
    /// The latest value; `None` once a DATA message recorded a null.
    pub value: Option<Value>,
    /// When `value` was acquired (epoch ms).
    pub timestamp: u64,
}

impl MetricDef {
    /// The metric as a birth lists it: name, alias, datatype, value, timestamp.
    pub fn birth_metric(&self) -> Metric {
        Metric {
            name: Some(self.name.clone()),
            alias: Some(self.alias),
            timestamp: Some(self.timestamp),
            datatype: Some(self.data_type.code()),
            is_null: self.value.is_none().then_some(true),
            value: self.value.as_ref().map(Value::to_wire),
            ..Metric::default()
        }
    }
}

/// Hands out aliases unique across the whole edge node
/// (tck-id-payloads-alias-uniqueness), never reused while the node lives.
#[derive(Debug)]
pub struct AliasCounter {
    next: u64,
}

impl Default for AliasCounter {
    fn default() -> AliasCounter {
        AliasCounter { next: 1 }
    }
}

impl AliasCounter {
    fn take(&mut self) -> u64 {
        let alias = self.next;
        self.next += 1;
        alias
    }
}

/// The metrics of one birth (the node's or one device's), in birth order.
#[derive(Debug, Default)]
pub struct MetricSet {
    metrics: Vec<MetricDef>,
    by_name: HashMap<String, usize>,
    by_alias: HashMap<u64, usize>,
}

impl MetricSet {
    /// Replaces the definition with `metrics` (every one with a value, so its
    /// datatype is known). A metric that keeps its name and datatype keeps its
    /// alias. Returns whether the definition (names or datatypes) changed,
    /// which needs a new birth. `owner` names the node or device in errors.
    pub fn define(
        &mut self,
        owner: &str,
        metrics: Vec<(String, Option<Value>)>,
        now: u64,
        reserved: &[&str],
        aliases: &mut AliasCounter,
    ) -> Result<bool, SparkplugError> {
        let mut seen = HashMap::with_capacity(metrics.len());
        for (index, (name, value)) in metrics.iter().enumerate() {
            if reserved.contains(&name.as_str()) {
                return Err(SparkplugError::ReservedName { name: name.clone() });
            }
            if value.is_none() {
                return Err(SparkplugError::NullInBirth {
                    name: name.clone(),
                    owner: owner.to_owned(),
                });
            }
            if seen.insert(name.as_str(), index).is_some() {
                return Err(SparkplugError::DuplicateMetric { name: name.clone() });
            }
        }
        let mut changed = metrics.len() != self.metrics.len();
        let mut defined = Vec::with_capacity(metrics.len());
        for (name, value) in metrics {
            let Some(value) = value else { continue };
            let data_type = value.data_type();
            let alias = match self.get(&name) {
                Some(old) if old.data_type == data_type => old.alias,
                _ => {
                    changed = true;
                    aliases.take()
                }
            };
            defined.push(MetricDef {
                name,
                alias,
                data_type,
                value: Some(value),
                timestamp: now,
            });
        }
        self.by_name = defined
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.clone(), i))
            .collect();
        self.by_alias = defined
            .iter()
            .enumerate()
            .map(|(i, m)| (m.alias, i))
            .collect();
        self.metrics = defined;
        Ok(changed)
    }

    pub fn get(&self, name: &str) -> Option<&MetricDef> {
        self.by_name.get(name).map(|&i| &self.metrics[i])
    }

    pub fn by_alias(&self, alias: u64) -> Option<&MetricDef> {
        self.by_alias.get(&alias).map(|&i| &self.metrics[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = &MetricDef> {
        self.metrics.iter()
    }

    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    /// Checks that a DATA value fits the born metric: it exists and has its
    /// datatype (a null fits any). The error names the metric.
    pub fn check(
        &self,
        owner: &str,
        declare: &'static str,
        name: &str,
        value: Option<&Value>,
    ) -> Result<&MetricDef, SparkplugError> {
        let Some(def) = self.get(name) else {
            return Err(SparkplugError::UnknownMetric {
                name: name.to_owned(),
                owner: owner.to_owned(),
                known: self.known_names(),
                declare,
            });
        };
        if let Some(value) = value {
            if value.data_type() != def.data_type {
                return Err(SparkplugError::TypeMismatch {
                    name: name.to_owned(),
                    owner: owner.to_owned(),
                    born: def.data_type,
                    given: value.data_type(),
                });
            }
        }
        Ok(def)
    }

    /// Records a DATA value as the current one, unless an even newer value
    /// is known already (history recorded out of order must not regress the
    /// value the next birth carries).
    pub fn update(&mut self, name: &str, value: Option<Value>, timestamp: u64) {
        if let Some(&i) = self.by_name.get(name) {
            let def = &mut self.metrics[i];
            if timestamp >= def.timestamp {
                def.value = value;
                def.timestamp = timestamp;
            }
        }
    }

    /// The names, for error messages: up to 10, then a count.
    fn known_names(&self) -> String {
        if self.metrics.is_empty() {
            return "it has none".to_owned();
        }
        let mut names: Vec<String> = self
            .metrics
            .iter()
            .take(10)
            .map(|m| format!("'{}'", m.name))
            .collect();
        if self.metrics.len() > 10 {
            names.push(format!("and {} more", self.metrics.len() - 10));
        }
        format!("it has {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(list: &[(&str, Value)]) -> Vec<(String, Option<Value>)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), Some(v.clone())))
            .collect()
    }

    #[test]
    fn redefining_keeps_aliases_of_unchanged_metrics_and_reports_the_change() {
        let mut aliases = AliasCounter::default();
        let mut set = MetricSet::default();
        let changed = set
            .define(
                "node",
                metrics(&[("a", Value::Int32(1)), ("b", Value::Double(2.0))]),
                10,
                &[],
                &mut aliases,
            )
            .expect("define");
        assert!(changed);
        let (a, b) = (
            set.get("a").expect("a").alias,
            set.get("b").expect("b").alias,
        );
        assert_ne!(a, b);

        // Same names and types, new values: no new birth needed.
        let changed = set
            .define(
                "node",
                metrics(&[("b", Value::Double(3.0)), ("a", Value::Int32(4))]),
                20,
                &[],
                &mut aliases,
            )
            .expect("define");
        assert!(!changed);
        assert_eq!(set.get("a").expect("a").alias, a);
        assert_eq!(set.get("b").expect("b").value, Some(Value::Double(3.0)));

        // A new type is a new metric with a new alias.
        let changed = set
            .define(
                "node",
                metrics(&[("a", Value::String("x".into())), ("b", Value::Double(3.0))]),
                30,
                &[],
                &mut aliases,
            )
            .expect("define");
        assert!(changed);
        let new_a = set.get("a").expect("a").alias;
        assert!(new_a != a && new_a != b);
        assert_eq!(set.by_alias(new_a).map(|m| m.name.as_str()), Some("a"));
        assert!(set.by_alias(a).is_none());
    }

    #[test]
    fn birth_definitions_refuse_nulls_duplicates_and_reserved_names() {
        let mut aliases = AliasCounter::default();
        let mut set = MetricSet::default();
        let err = set
            .define("node", vec![("t".to_owned(), None)], 0, &[], &mut aliases)
            .expect_err("null");
        assert!(err.to_string().contains("'t'"), "{err}");
        let err = set
            .define(
                "node",
                metrics(&[("t", Value::Int32(1)), ("t", Value::Int32(2))]),
                0,
                &[],
                &mut aliases,
            )
            .expect_err("duplicate");
        assert!(err.to_string().contains("twice"), "{err}");
        let err = set
            .define(
                "node",
                metrics(&[("bdSeq", Value::Int64(1))]),
                0,
                &["bdSeq"],
                &mut aliases,
            )
            .expect_err("reserved");
        assert!(err.to_string().contains("bdSeq"), "{err}");
        assert_eq!(set.len(), 0, "a refused definition changes nothing");
    }

    #[test]
    fn data_checks_name_the_unknown_metric_and_the_wrong_type() {
        let mut aliases = AliasCounter::default();
        let mut set = MetricSet::default();
        set.define(
            "edge node 'n'",
            metrics(&[("Temperature", Value::Double(1.0))]),
            0,
            &[],
            &mut aliases,
        )
        .expect("define");
        let err = set
            .check("edge node 'n'", "setNodeMetrics", "Pressure", None)
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("'Pressure'"), "{err}");
        assert!(err.contains("'Temperature'"), "{err}");
        assert!(err.contains("setNodeMetrics"), "{err}");
        let err = set
            .check(
                "edge node 'n'",
                "setNodeMetrics",
                "Temperature",
                Some(&Value::Int32(3)),
            )
            .expect_err("type")
            .to_string();
        assert!(err.contains("Double") && err.contains("Int32"), "{err}");
        assert!(set
            .check("edge node 'n'", "setNodeMetrics", "Temperature", None)
            .is_ok());
    }

    #[test]
    fn older_data_does_not_replace_a_newer_current_value() {
        let mut aliases = AliasCounter::default();
        let mut set = MetricSet::default();
        set.define(
            "node",
            metrics(&[("t", Value::Int32(1))]),
            100,
            &[],
            &mut aliases,
        )
        .expect("define");
        set.update("t", Some(Value::Int32(2)), 50);
        assert_eq!(set.get("t").expect("t").value, Some(Value::Int32(1)));
        set.update("t", None, 150);
        let t = set.get("t").expect("t");
        assert_eq!((t.value.clone(), t.timestamp), (None, 150));
        let birth = t.birth_metric();
        assert_eq!(birth.is_null, Some(true));
        assert_eq!(birth.value, None);
        assert_eq!(birth.datatype, Some(DataType::Int32.code()));
    }
}
