//! The ConfigMaps and Secrets of a region, each assembled only when it is applied.
//!
//! A shard holds a few hundred tenants' files. Built all at once, a region's shards were a copy
//! of every file it serves (about 40 MiB at 10,000 tenants), held by each region's pass at the
//! same time and most of the operator's peak memory. Here a shard keeps only shared references
//! to its tenants' rendered files: the apply step asks for its [content key](DesiredFile::content_key)
//! (no copy) and builds the object only when the region does not already hold it, one at a time.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::TenantFiles;

/// A kind of object that holds files: a ConfigMap holds a tenant's public files, a Secret its
/// sensitive ones.
pub trait FilesObject: Sized {
    /// The tenant's files this kind holds.
    fn of(files: &TenantFiles) -> &BTreeMap<String, String>;
    fn assemble<'a>(
        meta: ObjectMeta,
        files: impl Iterator<Item = (&'a String, &'a String)>,
    ) -> Self;
}

impl FilesObject for ConfigMap {
    fn of(files: &TenantFiles) -> &BTreeMap<String, String> {
        &files.public
    }

    fn assemble<'a>(
        meta: ObjectMeta,
        files: impl Iterator<Item = (&'a String, &'a String)>,
    ) -> Self {
        let data = files.map(|(name, content)| (name.clone(), content.clone()));
        ConfigMap {
            metadata: meta,
            data: Some(data.collect()),
            ..ConfigMap::default()
        }
    }
}

impl FilesObject for Secret {
    fn of(files: &TenantFiles) -> &BTreeMap<String, String> {
        &files.sensitive
    }

    fn assemble<'a>(
        meta: ObjectMeta,
        files: impl Iterator<Item = (&'a String, &'a String)>,
    ) -> Self {
        let data =
            files.map(|(name, content)| (name.clone(), ByteString(content.clone().into_bytes())));
        Secret {
            metadata: meta,
            type_: Some("Opaque".into()),
            data: Some(data.collect()),
            ..Secret::default()
        }
    }
}

/// One desired object of kind `K`: its metadata and where its files come from.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredFile<K> {
    meta: ObjectMeta,
    source: Source,
    kind: PhantomData<K>,
}

#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// Files of the region itself (`region.json`).
    Files(BTreeMap<String, String>),
    /// The files of these tenants that `K` holds, shared with the operator's renders.
    Tenants(Vec<Arc<TenantFiles>>),
}

impl<K: FilesObject> DesiredFile<K> {
    pub fn name(&self) -> &str {
        self.meta.name.as_deref().unwrap_or_default()
    }

    pub fn meta(&self) -> &ObjectMeta {
        &self.meta
    }

    /// What the object holds, reduced to a number without building it: equal keys mean equal
    /// objects, so an object the region already holds need not be built again.
    pub fn content_key(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        serde_json::to_string(&self.meta)
            .expect("object metadata serializes")
            .hash(&mut hasher);
        for (name, content) in self.files() {
            (name, content).hash(&mut hasher);
        }
        hasher.finish()
    }

    /// The object, assembled now.
    pub fn build(&self) -> K {
        K::assemble(self.meta.clone(), self.files())
    }

    fn files(&self) -> Box<dyn Iterator<Item = (&String, &String)> + '_> {
        match &self.source {
            Source::Files(files) => Box::new(files.iter()),
            Source::Tenants(tenants) => Box::new(tenants.iter().flat_map(|t| K::of(t).iter())),
        }
    }
}

/// The desired objects of one kind that hold files, in the order they are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredFiles<K>(Vec<DesiredFile<K>>);

impl<K> Default for DesiredFiles<K> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<K: FilesObject> DesiredFiles<K> {
    /// An object holding `files` as they are.
    pub fn push_files(&mut self, meta: ObjectMeta, files: BTreeMap<String, String>) {
        self.push(meta, Source::Files(files));
    }

    /// An object holding the files of `tenants` that `K` holds.
    pub fn push_tenants(&mut self, meta: ObjectMeta, tenants: Vec<Arc<TenantFiles>>) {
        self.push(meta, Source::Tenants(tenants));
    }

    fn push(&mut self, meta: ObjectMeta, source: Source) {
        self.0.push(DesiredFile {
            meta,
            source,
            kind: PhantomData,
        });
    }

    pub fn iter(&self) -> impl Iterator<Item = &DesiredFile<K>> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(DesiredFile::name)
    }

    /// Every object, built: for tests and small regions, never for a region's pass.
    pub fn built(&self) -> Vec<K> {
        self.0.iter().map(DesiredFile::build).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str, config: &str) -> Arc<TenantFiles> {
        Arc::new(TenantFiles {
            public: BTreeMap::from([(format!("{name}.tenant.json"), config.to_owned())]),
            sensitive: BTreeMap::from([(format!("{name}.keys.json"), format!("{name} keys"))]),
        })
    }

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn a_shard_holds_its_tenants_files_of_its_kind() {
        let tenants = vec![tenant("acme", "{}"), tenant("globex", "{\"a\":1}")];
        let mut config_maps = DesiredFiles::<ConfigMap>::default();
        config_maps.push_tenants(meta("shard-0"), tenants.clone());
        let mut secrets = DesiredFiles::<Secret>::default();
        secrets.push_tenants(meta("shard-0"), tenants);

        let config_map = &config_maps.built()[0];
        assert_eq!(
            config_map.data.as_ref().unwrap().keys().collect::<Vec<_>>(),
            ["acme.tenant.json", "globex.tenant.json"]
        );
        let secret = &secrets.built()[0];
        assert_eq!(
            secret.data.as_ref().unwrap()["globex.keys.json"].0,
            b"globex keys"
        );
        assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    }

    #[test]
    fn the_content_key_changes_exactly_when_the_built_object_would() {
        let key = |config: &str, name: &str| {
            let mut files = DesiredFiles::<ConfigMap>::default();
            files.push_tenants(meta(name), vec![tenant("acme", config)]);
            files.iter().next().unwrap().content_key()
        };
        assert_eq!(key("{}", "shard-0"), key("{}", "shard-0"));
        assert_ne!(
            key("{}", "shard-0"),
            key("{\"a\":1}", "shard-0"),
            "a file changed"
        );
        assert_ne!(
            key("{}", "shard-0"),
            key("{}", "shard-1"),
            "its metadata changed"
        );

        // A sensitive file's change does not touch the ConfigMap, and does the Secret.
        let secret_key = |keys: &str| {
            let mut files = DesiredFiles::<Secret>::default();
            let mut changed = (*tenant("acme", "{}")).clone();
            changed
                .sensitive
                .insert("acme.keys.json".into(), keys.to_owned());
            files.push_tenants(meta("shard-0"), vec![Arc::new(changed)]);
            files.iter().next().unwrap().content_key()
        };
        assert_ne!(secret_key("one"), secret_key("two"));
    }
}
