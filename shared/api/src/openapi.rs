//! The OpenAPI 3.1 document, generated from the route table and the
//! bodies' schemas. `shared/api/openapi.json` is this document as
//! committed; a test keeps the two equal.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::problem::{PROBLEM_JSON, Problem};
use crate::routes::{Op, Success, path_params};

fn status_text(code: u16) -> &'static str {
    http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// The OpenAPI document of every route.
pub fn document() -> Value {
    let mut g = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "#/components/schemas/".into())
        .into_generator();
    let problem = g.subschema_for::<Problem>();
    let problem_response = |desc: &str| {
        json!({
            "description": desc,
            "content": { PROBLEM_JSON: { "schema": problem.clone() } }
        })
    };
    let mut paths: Map<String, Value> = Map::new();
    for op in Op::ALL {
        let d = op.doc();
        let mut params: Vec<Value> = path_params(d.path)
            .into_iter()
            .map(|name| {
                json!({"name": name, "in": "path", "required": true,
                       "schema": {"type": "string", "minLength": 1}})
            })
            .collect();
        for (place, list) in [("query", d.query), ("header", d.headers)] {
            for p in list {
                let mut schema = json!({"type": "string", "minLength": 1});
                if let Some(f) = p.format {
                    schema["format"] = json!(f);
                }
                params.push(json!({"name": p.name, "in": place, "required": p.required,
                                   "description": p.description, "schema": schema}));
            }
        }
        let mut responses = Map::new();
        match d.success {
            Success::Json(code, f) => {
                let mut ok = json!({"description": status_text(code),
                       "content": {"application/json": {"schema": f(&mut g)}}});
                if d.role == crate::claims::Role::Public {
                    ok["headers"] = json!({"Cache-Control": {
                        "description": "Anyone may keep the answer this long.",
                        "required": true,
                        "schema": {"type": "string"}
                    }});
                }
                if matches!(op, Op::OperatorGetLot | Op::OperatorPutLot) {
                    ok["headers"] = json!({"ETag": {
                        "description": "The lot's revision, quoted: send it as If-Match to change the lot.",
                        "required": true,
                        "schema": {"type": "string"}
                    }});
                }
                responses.insert(code.to_string(), ok);
                if *op == Op::OperatorResolveSession {
                    responses.insert(
                        "202".into(),
                        json!({"description": "Accepted: above the lot's approval limit, waiting for a second operator",
                               "content": {"application/json": {"schema": g.subschema_for::<crate::dto::ApprovalOut>()}}}),
                    );
                }
            }
            Success::Html => {
                responses.insert(
                    "200".into(),
                    json!({"description": "OK",
                           "content": {"text/html": {"schema": {"type": "string"}}}}),
                );
            }
            Success::Csv => {
                responses.insert(
                    "200".into(),
                    json!({"description": "OK",
                           "content": {"text/csv": {"schema": {"type": "string"}}}}),
                );
            }
            Success::NoContent => {
                responses.insert("204".into(), json!({"description": "No Content"}));
            }
        }
        let public = d.role == crate::claims::Role::Public;
        let denied: &[u16] = if public { &[] } else { &[401, 403] };
        for code in denied.iter().chain(d.errors) {
            responses.insert(code.to_string(), problem_response(status_text(*code)));
        }
        responses.insert(
            "default".into(),
            problem_response("Any other error, as a problem document"),
        );
        let mut operation = json!({
            "operationId": d.id,
            "summary": d.summary,
            "tags": [d.tag],
            "description": format!("Role: `{}`.", d.role),
            "parameters": params,
            "responses": responses,
        });
        if public {
            // No token: none is asked for.
            operation["security"] = json!([]);
        }
        if let Some(body) = d.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": body(&mut g)}}
            });
        }
        let item = paths.entry(d.path.to_owned()).or_insert_with(|| json!({}));
        item[d.method.as_str().to_ascii_lowercase()] = operation;
    }
    let schemas = Value::Object(g.take_definitions(true));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Seamless Parking API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Drivers, operators, merchants and kiosks of ticketless car parks. Every call but the open-data feed's (`/v1/public/…`, no token needed) carries a Cognito JWT; its `cognito:groups` claim gives the role, `custom:scopes` the lots each of an operator's, merchant's or kiosk's roles acts on (`operator:demo-1 merchant:demo-2`). Errors are RFC 9457 problem documents with a stable `code`."
        },
        "servers": [{"url": "/"}],
        "security": [{"jwt": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
        }
    })
}

/// The document as committed: pretty JSON with a final newline.
pub fn document_text() -> String {
    let mut s = serde_json::to_string_pretty(&document()).unwrap_or_default();
    s.push('\n');
    s
}
