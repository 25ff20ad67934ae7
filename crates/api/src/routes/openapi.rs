//! `GET /api/openapi.json`, built from the route table.

use axum::Json;
use serde_json::{Map, Value, json};

use super::ENDPOINTS;
use crate::auth::Access;

pub async fn document() -> Json<Value> {
    Json(build())
}

fn reason(code: u16) -> &'static str {
    match code {
        400 => "bad parameter (names the parameter and its allowed range)",
        401 => "no or unknown API key",
        403 => "the key's role or teams do not allow this",
        404 => "no such employee, team, intervention or route",
        413 => "body too large",
        415 => "unsupported Content-Type",
        422 => "a row or a request that cannot be applied (names the row and field)",
        503 => "database unavailable or pool exhausted; see Retry-After",
        _ => "error",
    }
}

/// The route's path as OpenAPI writes it: axum's catch-all `{*file}` is an
/// ordinary path parameter `{file}` there (OpenAPI has no catch-all; the
/// parameter's description says it may contain slashes).
pub fn document_path(route: &str) -> String {
    route.replace("{*", "{")
}

pub fn build() -> Value {
    let mut paths = Map::new();
    for e in ENDPOINTS {
        let params: Vec<Value> = e
            .params
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "in": p.location,
                    "required": p.required,
                    "description": p.description,
                    "schema": serde_json::from_str::<Value>(p.schema).unwrap_or(Value::Null),
                })
            })
            .collect();
        let mut responses = Map::new();
        responses.insert("200".into(), json!({"description": "success"}));
        let error_schema = json!({"$ref": "#/components/schemas/Error"});
        for code in e.errors {
            responses.insert(
                code.to_string(),
                json!({"description": reason(*code), "content": {"application/json": {"schema": error_schema}}}),
            );
        }
        let mut operation = json!({
            "summary": e.summary,
            "operationId": format!("{}_{}", e.method, document_path(e.path).trim_matches('/').replace(['/', '{', '}', '-', '.'], "_")),
            "parameters": params,
            "responses": responses,
        });
        match e.access {
            Access::Public => operation["security"] = json!([]),
            access => {
                operation["security"] = json!([{"bearer": []}]);
                operation["x-required-role"] = json!(match access {
                    Access::Read => "reader or admin",
                    Access::Write => "writer or admin",
                    Access::Admin => "admin",
                    _ => "any",
                });
            }
        }
        if !e.body.is_empty() {
            let content: Map<String, Value> =
                e.body.iter().map(|t| (t.to_string(), json!({}))).collect();
            operation["requestBody"] = json!({"required": true, "content": content});
        }
        let entry = paths
            .entry(document_path(e.path))
            .or_insert_with(|| json!({}));
        entry[e.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Organism Trends",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Time-series memory of the Causal Organism platform: network metrics over time, interventions and their audit trail.",
        },
        "paths": paths,
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
            "description": "an API key made by `organism keys create`"}},
          "schemas": {"Error": {
            "type": "object",
            "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"},
                "field": {"type": "string"}, "row": {"type": "integer"}}}}
        }}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_table_is_in_the_document() {
        let doc = build();
        for e in ENDPOINTS {
            assert!(
                doc["paths"][document_path(e.path)][e.method].is_object(),
                "{} {}",
                e.method,
                e.path
            );
        }
    }
}
