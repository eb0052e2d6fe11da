//! The connected parts of a Sportello process, built once from the settings.

use anyhow::{Context, bail};
use sportello_shared::catalog::Catalog;
use sportello_shared::config::{Settings, redact_url};
use sportello_shared::objects::ObjectStore;
use sportello_shared::store::Store;
use sportello_shared::topology::Topology;
use std::sync::Arc;

pub struct App {
    pub settings: Settings,
    pub store: Store,
    pub objects: ObjectStore,
    pub catalog: Arc<Catalog>,
    pub topology: Arc<Topology>,
}

/// The catalog the settings name, or the one compiled in.
pub fn load_catalog(settings: &Settings) -> anyhow::Result<Catalog> {
    Ok(if settings.catalog.file.is_empty() {
        Catalog::embedded()?
    } else {
        Catalog::load(std::path::Path::new(&settings.catalog.file))?
    })
}

/// The topology the settings name, in the settings' namespace.
pub fn load_topology(settings: &Settings) -> anyhow::Result<Topology> {
    Ok(Topology::load(&settings.broker.topology_file)?.namespaced(&settings.broker.namespace))
}

/// Every back office the catalog routes to must have its queue in `queues.toml`: a practice
/// type with nowhere to go is a configuration error, found at start, not a silent drop later.
pub fn check_routes(catalog: &Catalog, topology: &Topology) -> anyhow::Result<()> {
    let missing: Vec<&str> = catalog
        .back_offices()
        .into_iter()
        .filter(|office| topology.back_office_queue(office).is_none())
        .collect();
    if !missing.is_empty() {
        bail!(
            "queues.toml: `back_offices` has no queue for {} (named by the catalog)",
            missing.join(", ")
        );
    }
    Ok(())
}

impl App {
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        let catalog = load_catalog(&settings)?;
        let topology = load_topology(&settings)?;
        check_routes(&catalog, &topology)?;
        let store = Store::connect(&settings.database)
            .await
            .with_context(|| format!("PostgreSQL at {}", redact_url(settings.database.url())))?;
        let objects = ObjectStore::new(&settings.object_store)?;
        Ok(App {
            settings,
            store,
            objects,
            catalog: Arc::new(catalog),
            topology: Arc::new(topology),
        })
    }

    /// The object store as `party` (a worker kind, `api`) reaches it: with its own key when
    /// `[object_store.keys]` has one, so that each holds only the bucket rights it needs.
    pub fn objects_for(&self, party: &str) -> anyhow::Result<ObjectStore> {
        ObjectStore::for_party(&self.settings.object_store, party)
            .with_context(|| format!("object store key of {party}"))
    }

    pub fn exchange(&self, logical: &str) -> anyhow::Result<String> {
        Ok(self.topology.exchange(logical)?.name.clone())
    }
}
