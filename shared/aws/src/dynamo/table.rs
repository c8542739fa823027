//! The table's definition, read from the `Table` resource of
//! `infra/template.yaml` — the one source for deployed, local and test
//! tables.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use parking_app::StoreError;
use serde::Deserialize;

const TEMPLATE: &str = include_str!("../../../../infra/template.yaml");

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeSpec {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySpec {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionSpec {
    pub projection_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexSpec {
    pub index_name: String,
    pub key_schema: Vec<KeySpec>,
    pub projection: ProjectionSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TtlSpec {
    pub attribute_name: String,
    pub enabled: bool,
}

/// The parts of the `AWS::DynamoDB::Table` resource a table is made of.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    pub attribute_definitions: Vec<AttributeSpec>,
    pub key_schema: Vec<KeySpec>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexSpec>,
    pub time_to_live_specification: Option<TtlSpec>,
}

impl TableDefinition {
    /// The definition in the SAM template this crate was built with.
    pub fn from_template() -> Result<TableDefinition, String> {
        Self::parse(TEMPLATE)
    }

    /// Reads the `Table` resource from a SAM/CloudFormation template.
    pub fn parse(template: &str) -> Result<TableDefinition, String> {
        let doc: serde_norway::Value =
            serde_norway::from_str(template).map_err(|e| format!("template: {e}"))?;
        let props = doc
            .get("Resources")
            .and_then(|r| r.get("Table"))
            .and_then(|t| t.get("Properties"))
            .ok_or("template: no Resources.Table.Properties")?;
        serde_norway::from_value(props.clone()).map_err(|e| format!("template Table: {e}"))
    }

    fn key_schema(keys: &[KeySpec]) -> Result<Vec<KeySchemaElement>, StoreError> {
        keys.iter()
            .map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(&k.attribute_name)
                    .key_type(KeyType::from(k.key_type.as_str()))
                    .build()
                    .map_err(|e| StoreError::invalid(e.to_string()))
            })
            .collect()
    }

    /// Creates a table with this definition (on-demand billing) and turns
    /// on its TTL.
    pub async fn create(&self, client: &Client, name: &str) -> Result<(), StoreError> {
        let unavailable =
            |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Unavailable { source: e };
        let mut req = client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(Self::key_schema(&self.key_schema)?));
        for a in &self.attribute_definitions {
            req = req.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(&a.attribute_name)
                    .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                    .build()
                    .map_err(|e| StoreError::invalid(e.to_string()))?,
            );
        }
        for g in &self.global_secondary_indexes {
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&g.index_name)
                    .set_key_schema(Some(Self::key_schema(&g.key_schema)?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(
                                g.projection.projection_type.as_str(),
                            ))
                            .build(),
                    )
                    .build()
                    .map_err(|e| StoreError::invalid(e.to_string()))?,
            );
        }
        req.send().await.map_err(|e| unavailable(Box::new(e)))?;
        if let Some(ttl) = self
            .time_to_live_specification
            .as_ref()
            .filter(|t| t.enabled)
        {
            client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(&ttl.attribute_name)
                        .enabled(true)
                        .build()
                        .map_err(|e| StoreError::invalid(e.to_string()))?,
                )
                .send()
                .await
                .map_err(|e| unavailable(Box::new(e)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_defines_the_table() {
        let def = TableDefinition::from_template().expect("table definition");
        assert_eq!(
            def.key_schema,
            [
                KeySpec {
                    attribute_name: "PK".into(),
                    key_type: "HASH".into()
                },
                KeySpec {
                    attribute_name: "SK".into(),
                    key_type: "RANGE".into()
                },
            ]
        );
        let names: Vec<&str> = def
            .global_secondary_indexes
            .iter()
            .map(|g| g.index_name.as_str())
            .collect();
        assert_eq!(names, ["GSI1", "GSI2", "GSI3"]);
        assert_eq!(
            def.time_to_live_specification
                .map(|t| t.attribute_name)
                .as_deref(),
            Some("expires_at")
        );
    }
}
