//! A sample's labels: name to value, in name order.
//!
//! A sorted vector, not a `BTreeMap`: a sample carries a handful of labels (at most
//! eight), so the list a plugin sent is sorted where it was lifted, with no tree nodes
//! to allocate and free for each of a device's hundred samples (a tenth of the host's
//! work on a sample was building and dropping those maps). A name given twice is kept
//! twice, for the metric rules to refuse by name ([`Labels::repeated`]); a map would
//! have kept one of the two values silently.

use serde::Serialize;
use serde::ser::SerializeMap;

/// See the module documentation. The labels of an accepted sample never repeat a name
/// (the metric rules refuse it); renderers rely on that, and assert it in debug builds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// `pairs` in name order (a repeated name's pairs in the order given).
    pub fn new(mut pairs: Vec<(String, String)>) -> Self {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        Self(pairs)
    }

    /// A name given more than once.
    pub fn repeated(&self) -> Option<&str> {
        self.0.windows(2).find(|two| two[0].0 == two[1].0).map(|two| two[0].0.as_str())
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
        self.into_iter()
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

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Labels {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Self::new(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
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
        let labels = Labels::new(pairs(&[("port", "1"), ("lane", "3"), ("module", "m")]));
        let names: Vec<&str> = labels.keys().map(String::as_str).collect();
        assert_eq!(names, ["lane", "module", "port"]);
        assert_eq!(labels, Labels::new(pairs(&[("module", "m"), ("port", "1"), ("lane", "3")])));
        assert_eq!(labels.repeated(), None);
    }

    #[test]
    fn a_name_given_twice_is_kept_twice_and_named() {
        let labels = Labels::new(pairs(&[("port", "1"), ("lane", "0"), ("port", "2")]));
        assert_eq!(labels.len(), 3);
        assert_eq!(labels.repeated(), Some("port"));
        assert!(Labels::new(Vec::new()).is_empty());
    }

    #[test]
    fn labels_serialize_as_the_map_of_the_same_pairs() {
        let list = [("port", "1"), ("lane", "a\"b"), ("z", "")];
        let labels = Labels::new(pairs(&list));
        let map: BTreeMap<&str, &str> = list.into_iter().collect();
        assert_eq!(serde_json::to_string(&labels).unwrap(), serde_json::to_string(&map).unwrap());
        assert_eq!(labels.len(), 3);
    }
}
