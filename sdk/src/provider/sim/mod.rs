//! The embedded AWS simulator (being written; see provider/sim in the tree).

use super::*;

/// The embedded simulator.
pub struct SimProvider;

impl SimProvider {
    /// A simulator that keeps its cloud in memory.
    pub fn in_memory() -> Self {
        SimProvider
    }
}

#[async_trait]
impl Provider for SimProvider {
    fn name(&self) -> &str {
        "sim"
    }
    async fn create(&self, r: CreateRequest) -> Result<CreateResponse, ProviderError> {
        Err(ProviderError::new("NotImplemented", r.urn.to_string()))
    }
    async fn read(&self, r: ReadRequest) -> Result<Option<Outputs>, ProviderError> {
        Err(ProviderError::new("NotImplemented", r.urn.to_string()))
    }
    async fn update(&self, r: UpdateRequest) -> Result<Outputs, ProviderError> {
        Err(ProviderError::new("NotImplemented", r.urn.to_string()))
    }
    async fn delete(&self, r: DeleteRequest) -> Result<(), ProviderError> {
        Err(ProviderError::new("NotImplemented", r.urn.to_string()))
    }
}
