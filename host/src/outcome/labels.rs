//! A sample's labels: name to value, in name order, each name once.
//!
//! A sorted vector, not a `BTreeMap`: a sample carries a handful of labels (at most
//! eight), so the list a plugin sent is sorted where it was lifted, with no tree nodes
//! to allocate and free for each of a device's hundred samples (a tenth of the host's
//! work on a sample was building and dropping those maps).

use serde::Serialize;
use serde::ser::SerializeMap;

/// See the module documentation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// `pairs` in name order; `Err` is a name given twice.
    pub fn new(mut pairs: Vec<(String, String)>) -> Result<Self, String> {
        pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        match pairs.windows(2).find(|two| two[0].0 == two[1].0) {
            Some(two) => Err(two[0].0.clone()),
            None => Ok(Self(pairs)),
        }
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// (name, value) in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&String, &String)> {
        self.0.iter().map(|(name, value)| (name, value))
    }

    /// The names, in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &String> {
        self.0.iter().map(|(name, _)| name)
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = (&'a String, &'a String);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (String, String)>, fn(&'a (String, String)) -> Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(name, value)| (name, value))
    }
}

/// For tests and the host's own samples, whose names are known to differ: a name given
/// twice keeps its last value, as a map would.
impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Labels {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut pairs: Vec<(String, String)> = pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        // Stable, so that among equal names the last given comes last and is kept.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut kept: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match kept.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => kept.push(pair),
            }
        }
        Self(kept)
    }
}

/// A JSON object, name to value, as a map of the same labels is written.
impl Serialize for Labels {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn labels_are_kept_in_name_order_whatever_order_they_came_in() {
        let labels = Labels::new(pairs(&[("port", "1"), ("lane", "3"), ("module", "m")])).unwrap();
        let names: Vec<&str> = labels.keys().map(String::as_str).collect();
        assert_eq!(names, ["lane", "module", "port"]);
        assert_eq!(labels, Labels::new(pairs(&[("module", "m"), ("port", "1"), ("lane", "3")])).unwrap());
    }

    #[test]
    fn a_name_given_twice_is_refused_by_name() {
        assert_eq!(Labels::new(pairs(&[("port", "1"), ("lane", "0"), ("port", "2")])), Err("port".to_string()));
        assert!(Labels::new(Vec::new()).unwrap().is_empty());
    }

    #[test]
    fn collected_labels_keep_a_repeated_name_last_value_as_a_map_does() {
        let labels: Labels = [("b", "1"), ("a", "2"), ("b", "3")].into_iter().collect();
        let map: BTreeMap<&str, &str> = [("b", "1"), ("a", "2"), ("b", "3")].into_iter().collect();
        let as_map: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(as_map, map.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn labels_serialize_as_the_map_of_the_same_pairs() {
        let list = [("port", "1"), ("lane", "a\"b"), ("z", "")];
        let labels = Labels::new(pairs(&list)).unwrap();
        let map: BTreeMap<&str, &str> = list.into_iter().collect();
        assert_eq!(serde_json::to_string(&labels).unwrap(), serde_json::to_string(&map).unwrap());
        assert_eq!(labels.len(), 3);
    }
}
