//! The HTTP API: routes, bodies, and the mapping of every outcome to a status and a JSON
//! body (errors are `{"error": {"message": ...}}`). The routes and statuses are documented
//! in `openapi.json`, served at `/v1/openapi.json` and checked against what the service
//! answers by the tests.

use crate::auth::Token;
use crate::metrics::Metrics;
use crate::writer::Command;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, mpsc};
use std::time::Instant;
use tokio::sync::oneshot;
use unlearn::data::Dataset;
use unlearn::deletions::{DeletionError, DeletionRequest, ErrorKind, Reader};
use unlearn::predict::Prediction;
use unlearn::requests::Erasure;

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Longest error message returned, in characters: messages echo ids and refs, which a
/// client may have made arbitrarily long.
const MAX_MESSAGE_CHARS: usize = 400;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The writer's queue.
    pub writer: mpsc::Sender<Command>,
    /// The engine's snapshot.
    pub reader: Reader,
    /// Request metrics.
    pub metrics: Arc<Metrics>,
    /// The requesters' bearer token.
    pub token: Arc<Token>,
    /// The operator's token, the only one `/metrics` admits (`None`: 403).
    pub metrics_token: Option<Arc<Token>>,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
}

/// The router: `/v1/health` is open, `/metrics` needs the operator's token, every other
/// route the requesters' bearer token; every answer, refusals included, is counted in the
/// metrics.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/v1/deletions", post(post_deletion))
        .route("/v1/deletions/{ref}", get(get_deletion))
        .route("/v1/model", get(get_model))
        .route("/v1/predict", post(post_predict))
        .route("/v1/openapi.json", get(get_openapi))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    let operator = Router::new()
        .route("/metrics", get(get_metrics))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            authenticate_operator,
        ));
    Router::new()
        .route("/v1/health", get(get_health))
        .merge(protected)
        .merge(operator)
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(state.clone(), measure))
        .with_state(state)
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = if self.message.chars().count() > MAX_MESSAGE_CHARS {
            let cut: String = self.message.chars().take(MAX_MESSAGE_CHARS).collect();
            format!("{cut}… (message truncated)")
        } else {
            self.message
        };
        json_response(self.status, &json!({"error": {"message": message}}))
    }
}

impl From<DeletionError> for ApiError {
    fn from(e: DeletionError) -> Self {
        let status = match e.kind() {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Failed => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, e.to_string())
    }
}

fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(value).expect("a response body serialises");
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Counts every answer by method, route template and status, with its latency.
async fn measure(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let response = next.run(request).await;
    state.metrics.record(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Refuses a request without `Authorization: Bearer <token>` (401).
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.token.admits(authorization(&request)) {
        return next.run(request).await;
    }
    unauthorized("the service's token")
}

/// `/metrics`: the operator's token only (never the requesters'), 403 without one.
async fn authenticate_operator(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(operator) = &state.metrics_token else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "/metrics is operator-only and this service has no operator token: start `unlearn serve` with --metrics-token-file FILE (a token other than the requesters') and send that token",
        )
        .into_response();
    };
    if operator.admits(authorization(&request)) {
        return next.run(request).await;
    }
    unauthorized("the operator's metrics token")
}

fn authorization(request: &Request) -> Option<&[u8]> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
}

/// 401 with `WWW-Authenticate: Bearer`, naming which token the route wants.
fn unauthorized(which: &str) -> Response {
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        format!("missing or wrong token: send `Authorization: Bearer <token>` with {which}"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

async fn unknown_route(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route {} {}; see /v1/openapi.json",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn wrong_method(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} does not take {}; see /v1/openapi.json",
            request.uri().path(),
            request.method()
        ),
    )
}

/// Reads a body of at most `limit` bytes (413 past it).
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {limit} bytes: split the request"),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("cannot read the body: {e}"),
        )),
    }
}

/// Parses JSON, with a message saying what was expected.
fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8], expected: &str) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("expected {expected}: {e}")))
}

/// `POST /v1/deletions` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeletionBody {
    #[serde(default)]
    ids: Option<Vec<String>>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default, rename = "ref")]
    reference: Option<String>,
}

const DELETION_SHAPE: &str =
    r#"{"ids": ["..."], "ref": "..."} or {"subject": "...", "ref": "..."} ("ref" optional)"#;

fn deletion_request(bytes: &[u8]) -> Result<DeletionRequest, ApiError> {
    let body: DeletionBody = parse_json(bytes, DELETION_SHAPE)?;
    let invalid = |message: String| ApiError::new(StatusCode::BAD_REQUEST, message);
    let erasure = match (body.ids, body.subject) {
        (Some(ids), None) => {
            if ids.is_empty() {
                return Err(invalid("\"ids\" is empty: name at least one id".into()));
            }
            if let Some(i) = ids.iter().position(|id| id.is_empty()) {
                return Err(invalid(format!("\"ids\"[{i}] is the empty string")));
            }
            Erasure::Ids(ids)
        }
        (None, Some(subject)) if subject.is_empty() => {
            return Err(invalid("\"subject\" is the empty string".into()));
        }
        (None, Some(subject)) => Erasure::Subject(subject),
        _ => {
            return Err(invalid(format!(
                "give exactly one of \"ids\" and \"subject\": {DELETION_SHAPE}"
            )));
        }
    };
    Ok(DeletionRequest {
        erasure,
        reference: body.reference,
    })
}

/// `POST /v1/deletions`: queued to the writer; answered once durable.
async fn post_deletion(State(state): State<AppState>, body: Body) -> Result<Response, ApiError> {
    let bytes = read_body(body, state.body_limit).await?;
    let request = deletion_request(&bytes)?;
    let stopped = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is shutting down; the request was not served: retry it",
        )
    };
    let (reply, outcome) = oneshot::channel();
    state
        .writer
        .send(Command::Delete(request, reply))
        .map_err(|_| stopped())?;
    let receipt = outcome.await.map_err(|_| stopped())??;
    Ok(json_response(StatusCode::OK, &receipt))
}

/// `GET /v1/deletions/{ref}`: a receipt by requester's ref or ledger entry digest.
async fn get_deletion(
    State(state): State<AppState>,
    reference: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    // A ref that does not decode to UTF-8 names no deletion (refs are JSON strings).
    let reference = reference.map_or(String::new(), |Path(r)| r);
    match state.reader.receipt(&reference) {
        Some(receipt) => Ok(json_response(StatusCode::OK, &receipt)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no deletion has the ref or ledger entry '{reference}'"),
        )),
    }
}

/// `GET /v1/model`: the published model, as `model.json`.
async fn get_model(State(state): State<AppState>) -> Response {
    let model = state.reader.model();
    json_response(StatusCode::OK, &unlearn::store::model_file_json(&model))
}

/// One row to predict: values in the model's feature order, or an object by feature name.
#[derive(Deserialize)]
#[serde(untagged)]
enum Row {
    Values(Vec<f64>),
    Named(BTreeMap<String, f64>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PredictBody {
    rows: Vec<Row>,
}

const PREDICT_SHAPE: &str = r#"{"rows": [[x1, x2, ...], {"feature": x, ...}, ...]}"#;

/// `POST /v1/predict`: predictions of the published model (its recorded preprocessing
/// applied), one per row.
async fn post_predict(State(state): State<AppState>, body: Body) -> Result<Response, ApiError> {
    let bytes = read_body(body, state.body_limit).await?;
    let body: PredictBody = parse_json(&bytes, PREDICT_SHAPE)?;
    let model = state.reader.model();
    let invalid = |message: String| ApiError::new(StatusCode::BAD_REQUEST, message);
    if body.rows.is_empty() {
        return Err(invalid("\"rows\" is empty: give at least one row".into()));
    }
    let names = &model.feature_names;
    let mut features = Vec::with_capacity(body.rows.len() * names.len());
    for (i, row) in body.rows.iter().enumerate() {
        match row {
            Row::Values(values) if values.len() == names.len() => features.extend(values),
            Row::Values(values) => {
                return Err(invalid(format!(
                    "row {i} has {} values; the model reads {} features ({})",
                    values.len(),
                    names.len(),
                    names.join(", ")
                )));
            }
            Row::Named(map) => {
                if let Some(unknown) = map.keys().find(|k| !names.contains(k)) {
                    return Err(invalid(format!(
                        "row {i}: the model has no feature '{unknown}'"
                    )));
                }
                for name in names {
                    let value = map
                        .get(name)
                        .ok_or_else(|| invalid(format!("row {i}: feature '{name}' is missing")))?;
                    features.push(*value);
                }
            }
        }
    }
    let ids = (0..body.rows.len()).map(|i| format!("row{i}")).collect();
    let rows = Dataset::new(ids, names.clone(), features, None)
        .map_err(|e| invalid(format!("the rows are not usable: {e}")))?;
    let predictions = model
        .predict(&rows)
        .map_err(|e| invalid(format!("the rows are not usable: {e}")))?;
    let predictions: Vec<Value> = predictions
        .into_iter()
        .map(|p| match p {
            Prediction::Label(label) => json!(label),
            Prediction::Value(value) => json!(value),
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"predictions": predictions, "model_digest": model.digest}),
    ))
}

/// `GET /v1/health`: 200 while the service serves deletions, 503 once the engine stopped.
async fn get_health(State(state): State<AppState>) -> Result<Response, ApiError> {
    match state.reader.status().stopped {
        None => Ok(json_response(StatusCode::OK, &json!({"status": "ok"}))),
        // The cause (a path, an I/O error) is for the operator: logged, not told to anyone.
        Some(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the deletion engine stopped after a store failure (see the service's log); fix the store, then restart the service",
        )),
    }
}

/// `GET /metrics`: Prometheus text.
async fn get_metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(&state.reader.status());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
        .into_response()
}

/// `GET /v1/openapi.json`.
async fn get_openapi() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}
